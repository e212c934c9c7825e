"""Shared test helpers: run the CLI in-process and read its JSON output.

The repository root goes on sys.path (last, so that an installed maillog_sasl is the one
tested), for the development tools that are not installed: `from tools.simulate import ...`.
"""

import io
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.append(ROOT)

from maillog_sasl.cli import main  # noqa: E402  (after the path, as the docstring says)

from support import CliResult  # noqa: E402


@pytest.fixture
def cli(capsys, monkeypatch):
    """cli(*args, stdin=b"") -> CliResult; the console script's main(), in-process."""

    def run(*args, stdin=b""):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def report(cli):
    """report(name, *paths_and_options) -> rows of --format json, asserting exit status 0."""

    def run(name, *args):
        result = cli("--report", name, "--format", "json", "--tz", "UTC", *args)
        assert result.code == 0, result.err
        return result.json()

    return run


@pytest.fixture(autouse=True)
def no_machine_geoip(monkeypatch):
    """The machine's GeoIP files (/usr/share/GeoIP, /var/lib/GeoIP) stay out of every test: a
    test that wants well-known files points MAILLOG_SASL_GEOIP_DIRS at its own."""
    monkeypatch.setenv("MAILLOG_SASL_GEOIP_DIRS", "")


@pytest.fixture
def small_disk(tmp_path):
    """small_disk(size="64k") -> an empty folder on a tmpfs of that size (root only, where
    mounts are allowed: else the test is skipped), unmounted after."""
    folders = []

    def mount(size="64k"):
        folder = tmp_path / f"small{len(folders) or ''}"
        folder.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                  str(folder)], capture_output=True)
        if mounted.returncode:
            pytest.skip("cannot mount a tmpfs here (not root, or no mounts in this container)")
        folders.append(folder)
        return folder

    yield mount
    for folder in folders:
        subprocess.run(["umount", str(folder)], check=True)
