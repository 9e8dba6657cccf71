"""The command line: one-line errors with exit status 2, and a full run with a tiny model."""

import json

import pytest

from conftest import run_cli


@pytest.mark.parametrize(
    "argv, message",
    [
        (["loop", "--budget", "5000", "--limit", "3000"], "--budget 5000 asks for 5,000 examples but the pool holds 3,000"),
        (["loop", "--budget", "0"], "budget must be a number > 0"),
        (["loop", "--budget", "1", "--limit", "100"], "fewer than the 2 classes"),
        (["loop", "--budget", "60/class", "--limit", "100"], "--budget 60/class asks for 120 examples but the pool holds 100"),
        (["loop", "--budget", "0/class"], "labels per class must be a whole number of at least 1"),
        (["loop", "--budget", "ten/class"], "budget must be a number > 0 (or N/class) or None, got 'ten/class'"),
        (["loop", "--init-size", "500", "--budget", "100", "--limit", "1000"], "larger than the budget"),
        (["loop", "--acq", "no_such_thing"], "unknown --acq strategy 'no_such_thing'"),
        (["loop", "--acq", "margin"], "--acq margin acts in rounds, and --rounds is 0"),  # the default loop has none
        (["loop", "--init", "low_conf", "--limit", "200", "--budget", "20", "--rounds", "0"], "cannot choose the initial pool"),
        (["loop", "--preset", "nope"], "'nope' is not one of 'random'"),  # a click.Choice of the presets
        (["loop", "--model", "bogus"], "unknown model 'bogus'"),
        (["loop", "--dataset", "/nonexistent.tsv"], "/nonexistent.tsv: no such file"),
        (["loop", "--rounds", "abc"], "'abc' is not a valid integer"),
        (["loop", "--config", "/nonexistent.yaml"], "no such config file"),
        (["loop", "--scorer", "cv:x"], "unknown --scorer"),
        (["show", "/nonexistent-run"], "not a run directory"),
        (["nosuchcommand"], "No such command"),
        # issue 26
        (["loop", "--preset", "full", "--budget", "0.1"], "--preset full takes no --budget: it sets budget 1.0, the whole pool"),
        (["loop", "--projection-dim", "-1"], "--projection-dim -1: give a projection size, or 0 for none"),
        (["loop", "--model", "models/x/y"], "--model models/x/y: no such directory"),  # no hub id: refused at once
        (["loop", "--model", "my models/x"], "--model my models/x: no such directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)  # a default run directory would land here
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in out + err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_data_file_is_one_line(capsys, tmp_path):
    (tmp_path / "d.csv").write_text("words,label\na,1\nb,0\n")
    code, _, err = run_cli(capsys, "loop", "--dataset", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r"))
    assert code == 2 and "no text column found" in err and err.count("\n") == 1
    (tmp_path / "empty.tsv").write_text("")
    code, _, err = run_cli(capsys, "loop", "--dataset", str(tmp_path / "empty.tsv"), "--out", str(tmp_path / "r"))
    assert code == 2 and "empty.tsv" in err and err.count("\n") == 1


def test_loop_then_show(capsys, tmp_path, synthetic_csv, tiny_bert):
    out = tmp_path / "run"
    argv = [
        "loop",
        "--dataset",
        str(synthetic_csv / "train.csv"),
        "--eval",
        str(synthetic_csv / "eval.csv"),
        "--model",
        tiny_bert,
        "--init",
        "random",
        "--acq",
        "margin",
        "--rounds",
        "1",
        "--budget",
        "40",
        "--epochs",
        "1",
        "--min-steps",
        "0",
        "--lr",
        "5e-3",
        "--learner-option",
        "collapse_guard=false",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(out),
    ]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert "done: accuracy" in err
    assert json.loads((out / "metrics.json").read_text())["n_train"] == 40
    code, table, _ = run_cli(capsys, "show", str(out))
    assert code == 0 and "init random, acq margin, 1 rounds" in table and "final: accuracy" in table
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) == 2 and rows[0].split("│")[1].strip() == "0" and rows[1].split("│")[1].strip() == "1"
    assert rows[0].split("│")[7].strip() == "20"  # round 0 acquired 20 by margin
    assert rows[0].split("│")[4].strip() == "1/1"  # the epoch kept, of those run


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; from alsel.cli import main; sys.argv=['alsel','--help']\ntry: main()\nexcept SystemExit: pass\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("False")


@pytest.mark.slow
def test_study_dry_run_and_report_commands(capsys, tmp_path):
    from test_report import N_POOL, make_study
    from test_study import write_config

    code, out, err = run_cli(capsys, "study", str(write_config(tmp_path)), "--out", str(tmp_path / "s"), "--dry-run", "--seeds", "0")
    assert code == 0, err
    assert "random" in out and "planned" in out and not (tmp_path / "s" / "runs").exists()
    code, _, err = run_cli(capsys, "study", str(tmp_path / "missing.yaml"))
    assert code == 2 and err.count("\n") == 1 and "no such study config" in err

    from alsel.data import load_data

    splits = load_data("sst2", limit=N_POOL)
    study = make_study(tmp_path / "done", splits.pool, splits.eval.labels, embeddings=False, failed=False)
    code, out, err = run_cli(capsys, "report", str(study))
    assert code == 0, err
    assert "against random, paired by seed" in out and "report:" in out and (study / "report.md").exists()
    assert "0.148" in out, out  # kmeans at 10%: the Holm-adjusted p
    code, _, err = run_cli(capsys, "report", str(tmp_path / "empty"))
    assert code == 2 and "no such study directory" in err


def test_study_summary_lists_failed_runs_beside_finished_and_skipped_ones(capsys, tmp_path, monkeypatch):
    from test_study import FakeRun, write_config

    monkeypatch.setattr("alsel.study.runner.default_run_fn", lambda: FakeRun(fail={"kmeans"}))
    monkeypatch.setenv("COLUMNS", "200")  # one table line per run
    argv = [
        "study",
        str(write_config(tmp_path)),
        "--out",
        str(tmp_path / "s"),
        "--strategies",
        "random,kmeans",
        "--budgets",
        "0.1",
        "--seeds",
        "0",
    ]
    for status in ("finished", "skipped"):  # the first call, then every rerun
        code, out, err = run_cli(capsys, *argv)
        assert code == 1 and "Traceback" not in out + err, err
        rows = [line.split("│") for line in out.splitlines() if line.startswith("│")]
        assert [(row[1].strip(), row[4].strip()) for row in rows] == [("random", status), ("kmeans", "failed")]
        assert "boom in kmeans" in rows[1][8]
