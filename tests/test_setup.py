"""setup.py: mypyc compiles the modules for the commands that build, not for those that only
write the metadata (pip runs egg_info and dist_info before it builds the wheel).

Run on a copy of setup.py, pyproject.toml and the package, with a stand-in for mypyc.build that
notes each call to mypycify: setup.py removes the extensions it finds in its tree, which the
checkout's own may be.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("setuptools")  # (a venv of Python 3.12 or later starts without it)

ROOT = Path(__file__).resolve().parent.parent

STAND_IN = '''
import os
def mypycify(paths, opt_level="3"):
    with open(os.environ["MYPYCIFY_CALLS"], "a") as calls:
        calls.write(" ".join(paths) + "\\n")
    return []
'''


def run_setup(tmp_path, *command) -> str:
    tree = tmp_path / "tree"
    if not tree.exists():
        tree.mkdir()
        for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
            shutil.copy(ROOT / name, tree / name)
        shutil.copytree(ROOT / "maillog_sasl", tree / "maillog_sasl",
                        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
        stand_in = tmp_path / "stand_in" / "mypyc"
        stand_in.mkdir(parents=True)
        (stand_in / "__init__.py").write_text("")
        (stand_in / "build.py").write_text(STAND_IN)
    calls = tmp_path / "calls"
    calls.write_text("")
    environment = dict(os.environ, PYTHONPATH=str(tmp_path / "stand_in"),
                       MYPYCIFY_CALLS=str(calls))
    environment.pop("MAILLOG_SASL_PURE", None)
    done = subprocess.run([sys.executable, "setup.py", *command], cwd=tree, env=environment,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return calls.read_text()


def test_the_metadata_commands_do_not_run_mypyc_and_a_build_does(tmp_path):
    assert run_setup(tmp_path, "-q", "egg_info") == ""
    # (dist_info, pip's second, is told the same way; it needs the wheel package to run.)
    assert "maillog_sasl/correlate.py" in run_setup(tmp_path, "build_ext")
