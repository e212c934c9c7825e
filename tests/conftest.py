"""Shared test helpers: run the CLI in-process and read its JSON output."""

import io
import sys

import pytest

from maillog_sasl.cli import main

from support import CliResult


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
