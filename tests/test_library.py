"""The library's own interface: the README's example, problems carried in the result, and the
package's structure (no import cycle, argparse only in cli.py, no generator in the package)."""

import ast
import csv
import gzip
import inspect
import io
import re
from pathlib import Path

import pytest

import maillog_sasl
from maillog_sasl import FilterError, Selection, analyze, open_logs, report
from maillog_sasl.render import render
from maillog_sasl.reports import REPORTS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(maillog_sasl.__file__).parent
SEED = ROOT / "sample_logs" / "seed-maillog.txt"
SAMPLE = ROOT / "sample_logs" / "maillog-sample.log"


def test_the_readme_library_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Library"):readme.index("## Tests")]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    code = code.replace('"/var/log/maillog"', repr(str(ROOT / "sample_logs/maillog-sample.log")))
    exec(code.replace("*@example.jp", "*@shop.example"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.split()[0].endswith("@shop.example") for line in lines)
    assert all(line.split()[1].isdigit() and line.split()[2].isdigit() for line in lines)


def test_the_stages_are_the_modules_the_readme_names():
    # The package bound `correlate` to the function: `from maillog_sasl import correlate` and
    # `import maillog_sasl.correlate as stage` gave it, and stage.Correlator was no attribute.
    import maillog_sasl.correlate as stage
    from maillog_sasl import correlate, events, filters, reports, sources, syslog

    assert stage is correlate and callable(stage.correlate) and stage.Correlator
    assert all(inspect.ismodule(module) for module in (
        sources, syslog, events, correlate, filters, reports, maillog_sasl.render))


def test_a_truncated_gz_is_named_in_problems(tmp_path):
    # Not starting as SEED does: its first lines would make it SEED's compressed copy.
    whole = gzip.compress(SEED.read_bytes().split(b"\n", 1)[1] + SEED.read_bytes() * 49)
    cut = tmp_path / "maillog.1.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    analysis = analyze([str(cut), str(SEED)], year=2018)
    assert [problem.path for problem in analysis.problems] == [str(cut)]
    assert "read failed part way" in analysis.problems[0].message
    assert analysis.sessions and analysis.messages  # what was read is kept


def test_problems_come_in_the_order_met(tmp_path):
    garbage = tmp_path / "binary"
    garbage.write_bytes(bytes(range(1, 256)) * 40)
    result = report("users", [str(tmp_path / "missing"), str(garbage), str(SEED)], year=2018)
    assert [(Path(p.path).name, p.message.split(":")[0]) for p in result.problems] == [
        ("missing", "cannot read"), ("binary", "not a syslog file")]
    assert [row["user"] for row in result.rows] == ["centos7@phoenixknight.jp"]


def test_a_report_names_the_inputs_it_read_once(tmp_path):
    # Debian's mail.log and mail.info (the same lines), and mail.warn (its warnings): a caller
    # of report() saw one log's figures and no word of why the others counted nothing.
    log = tmp_path / "mail.log"
    log.write_bytes(SEED.read_bytes())
    (tmp_path / "mail.info").write_bytes(SEED.read_bytes())
    result = report("users", [str(log), str(tmp_path / "mail.info")], year=2018)
    assert [(Path(note.path).name, note.message) for note in result.notes] == [
        ("mail.info", "the same file as " + str(log) + "; read once")]
    assert result.problems == [] and len(result.rows) == 1


def test_a_stream_is_read_once_and_its_problems_follow(tmp_path):
    analysis = open_logs([str(tmp_path / "missing"), str(SEED)], year=2018)
    assert len(analysis.problems) == 1  # known at open
    items = list(analysis)
    assert len(items) == 2 and list(analysis) == []


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_rows_are_keyed_by_the_columns_and_nothing_else(name):
    # csv.DictWriter(out, result.columns) refuses a row with a key of its own (the messages
    # report's rows carried the queue report's first_deferred).
    result = report(name, [str(SAMPLE)])
    assert result.rows
    assert all(sorted(row) == sorted(result.columns) for row in result.rows)
    writer = csv.DictWriter(io.StringIO(), result.columns)
    writer.writerows(result.rows)


def test_one_path_alone_is_one_path_and_what_is_no_path_is_a_type_error(tmp_path):
    # A string was read a character at a time (a Problem for "/", "w", "o", ...), and a
    # descriptor was read and closed under its owner.
    assert [row["user"] for row in report("users", str(SEED), year=2018).rows] == [
        "centos7@phoenixknight.jp"]
    assert len(analyze(SEED, year=2018).items) == len(analyze([str(SEED)], year=2018).items)
    with open(SEED, "rb") as held:
        for wrong in (held.fileno(), held, None):
            with pytest.raises(TypeError, match="not a path"):
                open_logs([str(SEED), wrong])
        assert held.read(4) == b"Sep "  # still open, not read


def test_a_filter_takes_one_value_alone_and_refuses_none():
    # A string alone was read a character at a time: users="*@shop.example" selected nothing
    # (patterns "*", "@", "s", ...); None inside failed with an AttributeError.
    alone = Selection.build(users="*@SHOP.example", hosts="mail", ips="198.18.0.0/16",
                            countries="jp", asns=64496)
    listed = Selection.build(users=["*@SHOP.example"], hosts=["mail"], ips=["198.18.0.0/16"],
                             countries=["jp"], asns=[64496])
    assert (alone.user_patterns, alone.hosts, alone.networks, alone.countries, alone.asns) == (
        listed.user_patterns, listed.hosts, listed.networks, listed.countries, listed.asns)
    shop = report("users", [str(SAMPLE)], Selection.build(users="*@shop.example")).rows
    assert shop and all(row["user"].endswith("@shop.example") for row in shop)
    assert Selection.build(users=None, hosts=None).selects_all()
    for name in ("users", "hosts", "ips", "countries", "asns"):
        with pytest.raises(FilterError, match="^not (a|an) .*: '?None'?"):
            Selection.build(**{name: [None]})


def test_stdin_given_as_text_is_read_by_its_bytes_and_text_alone_is_refused_at_once():
    # A text stream (sys.stdin, a file opened "r") failed once iterated, deep in the reader:
    # TypeError: sequence item 0: expected a bytes-like object, str found.
    expected = [row["user"] for row in report("users", [str(SEED)], year=2018).rows]
    with open(SEED) as text:
        analysis = analyze(["-"], stdin=text, year=2018)
    assert (len(analysis.sessions), analysis.problems) == (1, [])
    assert analysis.sessions[0].sasl_username == expected[0]
    with pytest.raises(TypeError, match="stdin: a binary stream, not text"):
        open_logs(["-"], stdin=io.StringIO(SEED.read_text()))


def test_render_leaves_the_callers_stream_as_it_is():
    # It reconfigured the stream it was given to UTF-8: a host's sys.stdout in a Latin-1
    # locale wrote the host's own text in UTF-8 from then on.
    result = report("users", [str(SEED)], year=2018)
    out = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert render("csv", result.columns, result.rows, out) == 1
    assert out.encoding == "latin-1"


@pytest.mark.parametrize("fmt, columns, rows, error, said", [
    ("JSON", None, None, ValueError, "no format 'JSON': one of table, csv, json, ndjson, ids"),
    ("xml", None, None, ValueError, "no format 'xml'"),
    ("csv", "user", None, TypeError, "columns and rows: lists"),
    ("json", None, "first", TypeError, "columns and rows: lists"),
])
def test_render_refuses_what_it_would_write_wrong(fmt, columns, rows, error, said):
    # A format that is none wrote a table; a column given as a string wrote its characters
    # (`u,s,e,r`); one row alone failed with an AttributeError from inside.
    result = report("users", [str(SEED)], year=2018)
    out = io.StringIO()
    with pytest.raises(error, match=re.escape(said)):
        render(fmt, columns or result.columns, result.rows[0] if rows else result.rows, out)
    assert out.getvalue() == ""


def test_a_report_that_fails_lets_go_of_its_inputs(tmp_path):
    # report() opened the logs, then build_report() raised (an unknown report name was a
    # KeyError from there), and the files stayed open until garbage collection.
    log = tmp_path / "maillog"
    log.write_bytes(SEED.read_bytes())
    opened = []
    real_open = open

    def watched_open(*args, **kwargs):
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    def failing(*args, **kwargs):
        raise KeyError("failed")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("builtins.open", watched_open)
        patch.setattr(maillog_sasl, "build_report", failing)
        with pytest.raises(KeyError):
            report("users", [str(log)], year=2018)
    assert len(opened) == 1 and opened[0].closed


@pytest.mark.parametrize("call, error, said", [
    (lambda log: report("user", log), ValueError, "no report 'user': one of failures, "),
    (lambda log: report("failures", log, by="users"), ValueError, "by: one of ip, user, not"),
    (lambda log: report("users", log, show_al=True), TypeError, "no report option 'show_al'"),
    (lambda log: report("users", log, top=0), ValueError, "top: a number of rows, at least 1"),
    (lambda log: report("users", log, top="3"), TypeError, "top: a whole number, not '3'"),
    (lambda log: report("suspicious", log, thresholds={"burst_min": 5}), TypeError,
     "thresholds: a Thresholds, not"),
    (lambda log: report("users", log, {"users": ["x"]}), TypeError, "selection: a Selection"),
    (lambda log: report("users", log, year="2018"), TypeError, "year: a whole number"),
    (lambda log: report("users", log, zone="+09:00"), TypeError, "zone: a tzinfo"),
    (lambda log: open_logs(log, jobs="2"), TypeError, "jobs: a whole number"),
    (lambda log: report("users", open(log)), TypeError, "not a path: <_io.TextIOWrapper"),
    (lambda log: analyze(3), TypeError, "not a path: 3 "),
])
def test_wrong_arguments_are_said_before_anything_is_read(tmp_path, call, error, said):
    # A misspelt option or view was ignored and the whole log reported; top=0 gave no rows; a
    # file object alone was read as paths, each of its lines a "cannot read" problem; a year,
    # a zone or a number given as text failed deep inside the reading.
    log = tmp_path / "maillog"
    log.write_bytes(SEED.read_bytes())
    with pytest.raises(error) as raised:
        call(str(log))
    assert str(raised.value).startswith(said)


def package_modules(node) -> set:
    """The package's modules an import statement names (`__init__` for the package itself)."""
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[1] if "." in alias.name else "__init__"
                for alias in node.names if alias.name.startswith("maillog_sasl")}
    if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("maillog_sasl"):
        return set()
    if node.module == "maillog_sasl":
        return {alias.name for alias in node.names
                if (PACKAGE / f"{alias.name}.py").exists()} or {"__init__"}
    return {node.module.split(".")[1]}


def imports_of(path: Path):
    """(module names of the package it imports, those of them imported inside a function)."""
    tree = ast.parse(path.read_text())
    names, nested = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                nested |= package_modules(inner)
        names |= package_modules(node)
    return names, nested


# The subcommands' modules, which cli.py imports in the subcommand that runs them, so that a
# report's start-up does not pay for them (its comment). Nothing else imports cli.py: these
# imports cannot hide a cycle, and they are in the graph below all the same.
IMPORTED_BY_THEIR_SUBCOMMAND = {"watch", "state", "alerts", "contain", "auth_test", "cram_md5"}


def test_the_package_imports_form_no_cycle_and_none_hides_in_a_function():
    graph = {}
    for path in PACKAGE.glob("*.py"):
        graph[path.stem], nested = imports_of(path)
        if path.stem == "cli":
            assert nested == IMPORTED_BY_THEIR_SUBCOMMAND
        else:
            assert not nested, f"{path.name} imports a package module inside a function"
    graph["__init__"] = graph.get("__init__", set())
    visiting, done = set(), set()

    def visit(name, trail):
        assert name not in visiting, f"import cycle: {' -> '.join(trail + [name])}"
        if name in done:
            return
        visiting.add(name)
        for dependency in graph.get(name, ()):
            visit(dependency, trail + [name])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        visit(name, [])


def test_only_cli_knows_argparse_and_the_generator_is_not_installed():
    users = sorted(path.name for path in PACKAGE.glob("*.py")
                   if re.search(r"^\s*(import argparse|from argparse )", path.read_text(), re.M))
    assert users == ["cli.py"]
    assert not (PACKAGE / "simulate.py").exists()
