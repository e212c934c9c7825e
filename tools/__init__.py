"""tools: the project's development tools, kept out of the installed package.

DESCRIPTION
    Code the tests, the shipped sample and the benchmarks need, and maillog-sasl's users do not:
    pyproject.toml installs only maillog_sasl, so nothing here is in the wheel. Run from the
    repository root (`python -m tools.simulate ...`); tests/conftest.py puts the root on sys.path
    for pytest.

    simulate/   the log generator: realistic Postfix logs with their ground truth
"""
