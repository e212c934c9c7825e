"""The oldest Pythons pyproject.toml promises (requires-python) run the tool to the same bytes.

The package is developed and tested on one Python; a construct newer than the oldest promised
(a possessive repeat in a regular expression, new in 3.11, once reached a branch) is only
seen by running there. Each older interpreter found on this machine (on PATH or under pyenv)
runs the reports on the shipped sample, with this interpreter's own dependencies on its path
(python-dateutil and tabulate are pure Python); none found is a skip."""

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import SAMPLE_LOGS

REPO = Path(__file__).parent.parent
SAMPLE = SAMPLE_LOGS / "maillog-sample.log"


def promised_minors():
    text = (REPO / "pyproject.toml").read_text()
    oldest = int(re.search(r'requires-python = ">=3\.(\d+)"', text).group(1))
    return [minor for minor in range(oldest, sys.version_info[1])]


def interpreter(minor):
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    installed = sorted(glob.glob(f"{pyenv}/versions/3.{minor}.*/bin/python3"))
    if installed:
        return installed[-1]
    found = shutil.which(f"python3.{minor}")
    # pyenv's shim answers for every version, and fails for one not selected.
    return found if found and "/shims/" not in found else None


def report(python, *options):
    site = [path for path in sys.path if path.endswith("site-packages")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *site]))
    return subprocess.run([python, "-m", "maillog_sasl", str(SAMPLE), *options],
                          capture_output=True, env=env, cwd=REPO, timeout=300)


@pytest.mark.parametrize("minor", promised_minors())
@pytest.mark.parametrize("options", [(), ("--report", "messages", "--format", "csv")])
def test_an_older_python_gives_the_same_report(minor, options):
    python = interpreter(minor)
    if python is None:
        pytest.skip(f"no Python 3.{minor} on this machine")
    older, ours = report(python, *options), report(sys.executable, *options)
    assert older.stderr.decode() == ours.stderr.decode()
    assert (older.returncode, older.stdout) == (ours.returncode, ours.stdout)
