"""tools/fuzz.py: a few rounds of each of its modes pass on this tree, and a round whose runs
disagree (--jobs, or a form of the input in `sources`) is told, its input kept."""

from tools import fuzz


def test_a_few_rounds_of_each_mode_pass(tmp_path, capsys):
    assert fuzz.main(["jobs", "--rounds", "8", "--keep", str(tmp_path)]) == 0
    assert fuzz.main(["watch", "--rounds", "1", "--seed", "3", "--keep", str(tmp_path)]) == 0
    assert fuzz.main(["sources", "--rounds", "6", "--seed", "3", "--keep", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []


def test_a_round_whose_runs_disagree_is_told_and_its_input_kept(tmp_path, monkeypatch, capsys):
    one_process = fuzz.run
    # Workers that write nothing: every round's --jobs run differs from --jobs 1's.
    monkeypatch.setattr(fuzz, "run", lambda args: one_process(args) if args[1] == "1"
                        else (0, "", ""))
    assert fuzz.main(["jobs", "--rounds", "2", "--keep", str(tmp_path)]) == 1
    told = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in told] == ["round 0", "round 1"]
    assert "wrote otherwise (input in " in told[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["jobs-1-0", "jobs-1-1"]
    assert (tmp_path / "jobs-1-0" / "maillog").stat().st_size > 0


def test_a_form_read_otherwise_is_told_and_its_inputs_kept(tmp_path, monkeypatch, capsys):
    one_process = fuzz.run
    # Standard input read as nothing: every round's `-` differs from the file.
    monkeypatch.setattr(fuzz, "run", lambda args, stdin=None: one_process(args) if stdin is None
                        else (0, "", ""))
    assert fuzz.main(["sources", "--rounds", "1", "--keep", str(tmp_path)]) == 1
    told = capsys.readouterr().out
    assert told.startswith("round 0: stdin reported otherwise than the file (input in ")
    kept = tmp_path / "sources-1-0"
    assert {"maillog", ".gz", ".bz2", ".xz", "fifo", "runs.json"} <= {
        path.name for path in kept.iterdir()}



def test_a_signal_taken_by_the_command_in_this_process_stops_the_fuzzing(tmp_path, monkeypatch,
                                                                          capsys):
    # timeout(1)'s SIGTERM reaches the command run in this process, whose handler ends that
    # run (exit 143): it was counted a failing round, and the fuzzing went on.
    calls = iter(range(100))
    report = fuzz.cli._run

    def sigterm_in_the_third_run(options):
        if next(calls) == 2:
            raise fuzz.cli._Terminated(fuzz.signal.SIGTERM)  # as cli's handler raises it
        return report(options)

    monkeypatch.setattr(fuzz.cli, "_run", sigterm_in_the_third_run)
    assert fuzz.main(["jobs", "--rounds", "5", "--keep", str(tmp_path)]) == 130
    assert capsys.readouterr().out == "stopped in round 1: 1 rounds, 0 failed\n"
    assert list(tmp_path.iterdir()) == []
