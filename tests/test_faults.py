"""Faults outside alsel: damaged run files and cache entries, a run that failed before its first
round, two processes on one run directory. Every fault is made in the real files of tiny real
runs (a tiny random BERT on the synthetic data set), copied per test."""

import errno
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alsel.errors import ConfigError, RunInUseError
from alsel.io import read_json, read_jsonl, write_json
from alsel.loops.config import LoopConfig
from alsel.loops.records import RoundOutcome
from alsel.loops.round_cache import load_outcome, save_outcome
from alsel.loops.rundir import RunDir
from alsel.progress import Progress
from alsel.run import run_loop
from conftest import UNGUARDED, Recorder, run_cli

SPEC = dict(
    init="kmeans", acq="low_conf", rounds=2, epochs=2, min_steps=0, lr=5e-3, batch_size=16, budget="60", learner_options=UNGUARDED
)  # as the CLI passes it


@pytest.fixture(scope="module")
def base(tmp_path_factory, synthetic_csv, tiny_bert):
    """A finished 3-round run, the same run interrupted after round 0, their options and the
    round-cache entries they use (the study below adds its own to the same cache)."""
    root = tmp_path_factory.mktemp("faults")
    options = dict(
        SPEC, dataset=str(synthetic_csv / "train.csv"), eval=str(synthetic_csv / "eval.csv"), model=tiny_bert, cache_dir=str(root / "cache")
    )
    run_loop(LoopConfig.from_options(**options), root / "finished")
    with pytest.raises(KeyboardInterrupt):
        run_loop(LoopConfig.from_options(**options), root / "interrupted", progress=Recorder(stop_after=0))
    return root, options, sorted(os.listdir(root / "cache" / "rounds"))


@pytest.fixture()
def finished(base, tmp_path):
    shutil.copytree(base[0] / "finished", tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture()
def interrupted(base, tmp_path):
    shutil.copytree(base[0] / "interrupted", tmp_path / "run")
    return tmp_path / "run"


def reference(base, name="selection.jsonl") -> bytes:
    return (base[0] / "finished" / name).read_bytes()


def resume(base, run, progress=None, **changes):
    return run_loop(LoopConfig.from_options(**{**base[1], **changes}), run, progress=progress or Progress())


def cut(path: Path) -> None:
    """Keep the first half of the file's bytes, as a crash or a bad copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def cut_at_a_line(path: Path) -> None:
    """Keep the first half of the file's lines, as a bad copy that stopped at a line break would."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))


def repeat_lines(path: Path) -> None:
    """Append the last three lines again, as a copy that wrote them twice would."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines + lines[-3:]))


def cli_loop(capsys, base, run):
    o = base[1]
    return run_cli(
        capsys,
        "loop",
        "--dataset",
        o["dataset"],
        "--eval",
        o["eval"],
        "--model",
        o["model"],
        "--init",
        o["init"],
        "--acq",
        o["acq"],
        "--rounds",
        o["rounds"],
        "--budget",
        o["budget"],
        "--epochs",
        o["epochs"],
        "--min-steps",
        o["min_steps"],
        "--lr",
        o["lr"],
        "--learner-option",
        "collapse_guard=false",
        "--batch-size",
        o["batch_size"],
        "--cache-dir",
        o["cache_dir"],
        "--out",
        run,
    )


def assert_one_line_error(code, out, err, *fragments):
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in out + err
    for fragment in fragments:
        assert fragment in err, err


def snapshot(run: Path) -> dict:
    return {p.name: p.read_bytes() for p in run.iterdir()}


# --------------------------------------------------------------------------- run files


@pytest.mark.slow
def test_the_cli_returns_a_finished_run_at_once(capsys, base, finished, monkeypatch):
    monkeypatch.setattr("alsel.learners.transformer.TransformerLearner.fit", lambda *a, **k: pytest.fail("retrained a finished run"))
    code, _, err = cli_loop(capsys, base, finished)
    assert code == 0 and "done: accuracy" in err, err
    assert not (finished / RunDir.LOCK).exists()


def test_a_damaged_metrics_json_is_rebuilt_from_the_checkpoint(base, finished, monkeypatch):
    cut(finished / "metrics.json")
    monkeypatch.setattr("alsel.learners.transformer.TransformerLearner.fit", lambda *a, **k: pytest.fail("every round is checkpointed"))
    progress = Recorder()
    metrics = resume(base, finished, progress)
    assert metrics == read_json(base[0] / "finished" / "metrics.json")
    assert (finished / "metrics.json").read_bytes() == reference(base, "metrics.json")
    assert (finished / "selection.jsonl").read_bytes() == reference(base)
    assert any("metrics.json is damaged" in line for line in progress.lines)


def test_damaged_rows_past_the_checkpoint_are_redone(base, interrupted):
    # Round 1's rows half there, as a bad copy of a run that died while writing round 1.
    for name in ("rounds.jsonl", "selection.jsonl"):
        committed = (interrupted / name).read_bytes()
        whole = reference(base, name)
        (interrupted / name).write_bytes(committed + whole[len(committed) : len(committed) + (len(whole) - len(committed)) // 2])
    assert len(RunDir(interrupted).read_checkpoint().rounds) == 1
    resume(base, interrupted)
    assert (interrupted / "selection.jsonl").read_bytes() == reference(base)
    assert [r["round"] for r in read_jsonl(interrupted / "rounds.jsonl")] == [0, 1, 2]


@pytest.mark.parametrize("name", ["checkpoint.json", "rounds.jsonl", "selection.jsonl", "config.json"])
def test_damage_within_the_checkpoint_is_one_line_and_changes_nothing(capsys, base, finished, name):
    (finished / "metrics.json").unlink()  # unfinished: the damaged file is needed to go on
    cut(finished / name)
    before = snapshot(finished)
    code, out, err = cli_loop(capsys, base, finished)
    assert_one_line_error(code, out, err, f"{finished / name}: damaged", "remove the run directory or pass another --out")
    assert snapshot(finished) == before


@pytest.mark.parametrize("name", ["checkpoint.json", "rounds.jsonl", "selection.jsonl", "config.json", "metrics.json"])
def test_show_names_a_damaged_file(capsys, finished, name):
    cut(finished / name)
    code, out, err = run_cli(capsys, "show", finished)
    assert_one_line_error(code, out, err, f"{finished / name}: damaged")


def test_show_leaves_out_damaged_rows_past_the_checkpoint(capsys, interrupted):
    with open(interrupted / "rounds.jsonl", "ab") as handle:
        handle.write(b'{"round": 1, "n_lab')
    code, out, err = run_cli(capsys, "show", interrupted)
    assert code == 0, err
    assert "unfinished: 1 of 3 rounds done" in out


@pytest.mark.parametrize(
    "name, damage, message",
    [
        ("selection.jsonl", cut_at_a_line, "damaged (cut short: 30 rows, checkpoint.json counts 60)"),
        ("selection.jsonl", repeat_lines, "damaged (63 rows, checkpoint.json counts 60)"),
        ("rounds.jsonl", cut_at_a_line, "damaged (cut short: 1 rows, checkpoint.json counts 3)"),
        ("rounds.jsonl", repeat_lines, "damaged (6 rows, checkpoint.json counts 3)"),
        ("rounds.jsonl", cut, "damaged (cut short: 2 rows, checkpoint.json counts 3)"),  # the second row half there
        ("checkpoint.json", cut, "damaged (not valid JSON)"),
        ("checkpoint.json", Path.unlink, "missing, though metrics.json says the run finished"),
    ],
)
def test_export_refuses_a_finished_run_whose_files_disagree_with_its_checkpoint(capsys, finished, tmp_path, name, damage, message):
    damage(finished / name)
    before = snapshot(finished)
    code, out, err = run_cli(capsys, "export", finished, "--out", tmp_path / "subset.csv")
    assert_one_line_error(code, out, err, f"{finished / name}: {message}")
    assert snapshot(finished) == before and not (tmp_path / "subset.csv").exists()


def test_export_of_an_intact_finished_run(capsys, finished, tmp_path):
    code, out, err = run_cli(capsys, "export", finished, "--out", tmp_path / "subset.csv")
    assert code == 0 and out == f"wrote 60 selected examples to {tmp_path / 'subset.csv'}\n", err
    assert [int(line.split(",")[0]) for line in (tmp_path / "subset.csv").read_text().splitlines()[1:]] == [
        e["id"] for e in read_jsonl(finished / "selection.jsonl")
    ]


# --------------------------------------------------------------------------- studies and reports

STUDY_YAML = """\
name: faults
epochs: 2
min_steps: 0
lr: 0.005
learner_options: {collapse_guard: false}
batch_size: 16
strategies:
  random: {preset: random}
  kmeans: {preset: kmeans}
budgets: [60]
seeds: [0]
"""


@pytest.fixture(scope="module")
def study(base, tmp_path_factory):
    from alsel.study import run_study

    root = tmp_path_factory.mktemp("faults-study")
    o = base[1]
    config = root / "study.yaml"
    config.write_text(STUDY_YAML + f"dataset: {o['dataset']}\neval: {o['eval']}\nmodel: {o['model']}\ncache_dir: {o['cache_dir']}\n")
    summary = run_study(config, out=root / "study")
    assert summary.exit_code == 0, [o.error for o in summary.failed]
    return config, root / "study"


@pytest.fixture()
def study_copy(study, tmp_path):
    shutil.copytree(study[1], tmp_path / "study")
    return tmp_path / "study"


@pytest.mark.slow
def test_a_study_reruns_a_run_whose_metrics_json_is_damaged(study, study_copy):
    from alsel.study import run_study

    metrics = study_copy / "runs" / "kmeans" / "budget-60" / "seed-0" / "metrics.json"
    cut(metrics)
    summary = run_study(study[0], out=study_copy)
    assert summary.exit_code == 0
    assert {o.spec.strategy: o.status for o in summary.outcomes} == {"random": "skipped", "kmeans": "finished"}
    assert metrics.read_bytes() == (study[1] / metrics.relative_to(study_copy)).read_bytes()


def test_a_study_leaves_a_run_in_use_to_its_process(study, study_copy):
    from alsel.study import run_study

    run_dir = study_copy / "runs" / "kmeans" / "budget-60" / "seed-0"
    cut(run_dir / "metrics.json")
    with RunDir(run_dir).lock():
        summary = run_study(study[0], out=study_copy)
    kmeans = next(o for o in summary.outcomes if o.spec.strategy == "kmeans")
    assert summary.exit_code == 1 and kmeans.status == "failed" and "in use by another alsel process" in kmeans.error
    assert not (run_dir / "error.txt").exists()  # the directory is the other process's


def test_a_report_names_a_damaged_run_and_completes(capsys, study_copy):
    metrics = study_copy / "runs" / "kmeans" / "budget-60" / "seed-0" / "metrics.json"
    cut(metrics)
    code, _, err = run_cli(capsys, "report", study_copy)
    assert code == 0, err
    report = (study_copy / "report.md").read_text()
    assert f"{metrics}: damaged" in report and "1 failed" in report
    assert (study_copy / "results.csv").read_text().count("\n") == 2  # the header and random


# --------------------------------------------------------------------------- cache entries


@pytest.mark.parametrize("damage", ["embeddings", "outcome.json", "probs.npy", "eval_probs.npy"])
@pytest.mark.slow
def test_a_damaged_cache_entry_is_recomputed(base, tmp_path, damage):
    cache = tmp_path / "cache"
    shutil.copytree(base[1]["cache_dir"], cache)
    if damage == "embeddings":
        damaged = next((cache / "embeddings").glob("*.npy"))
        cut(damaged)
    else:
        damaged = next(cache / "rounds" / key for key in base[2] if (cache / "rounds" / key / damage).exists())
        cut(damaged / damage)
    progress = Recorder()
    resume(base, tmp_path / "run", progress, cache_dir=str(cache))
    assert (tmp_path / "run" / "selection.jsonl").read_bytes() == reference(base)
    assert f"cache entry {damaged} is damaged; recomputing" in progress.lines
    if damage == "embeddings":
        assert np.load(damaged).shape[0] == 300
    else:  # the recomputed entry replaced the damaged one whole
        probs = Path(base[1]["cache_dir"]) / "rounds" / damaged.name / "probs.npy"
        assert load_outcome(damaged, n_eval=100, n_candidates=np.load(probs).shape[0] if probs.exists() else None) is not None


def test_a_round_cache_entry_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    outcome = RoundOutcome(
        epochs=2,
        accuracy=0.5,
        f1=0.4,
        training={"epochs": 2},
        train_seconds=1.0,
        score_seconds=0.5,
        eval_probs=np.full((4, 2), 0.5),
        probs=np.full((3, 2), 0.5),
        extras={"features": np.zeros((3, 8))},
        key="key",
    )
    entry = tmp_path / "rounds" / "key"

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("alsel.loops.round_cache.write_json", crash)
    with pytest.raises(OSError, match="disk full"):
        save_outcome(entry, outcome)
    assert os.listdir(tmp_path / "rounds") == []
    monkeypatch.undo()
    save_outcome(entry, outcome)
    loaded = load_outcome(entry, n_eval=4, n_candidates=3)
    assert os.listdir(tmp_path / "rounds") == ["key"] and loaded is not None
    assert (loaded.accuracy, loaded.training, loaded.cached, loaded.key, loaded.learner) == (0.5, {"epochs": 2}, True, "key", None)
    assert set(loaded.extras) == {"features"} and loaded.probs is not None and loaded.probs.shape == (3, 2)
    assert load_outcome(entry, n_eval=5, n_candidates=3) is None  # rows of another evaluation set


# --------------------------------------------------------------------------- replacing a configuration


def test_a_configuration_that_never_finished_a_round_is_replaced(base, tmp_path):
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    with pytest.raises(Exception):  # noqa: B017  # fails at model load (the model library's own error), after config.json is written
        resume(base, tmp_path / "run", model=str(not_a_model))
    assert read_json(tmp_path / "run" / "config.json")["model"] == str(not_a_model)
    progress = Recorder()
    resume(base, tmp_path / "run", progress)
    assert (tmp_path / "run" / "selection.jsonl").read_bytes() == reference(base)
    assert any("replacing the configuration of a run that never finished a round (model)" in line for line in progress.lines)


def test_a_damaged_configuration_that_never_finished_a_round_is_replaced(base, tmp_path):
    write_json(tmp_path / "run" / "config.json", {"model": "whatever"})
    cut(tmp_path / "run" / "config.json")
    resume(base, tmp_path / "run")
    assert (tmp_path / "run" / "selection.jsonl").read_bytes() == reference(base)


def test_a_configuration_with_finished_rounds_is_kept(base, interrupted):
    before = snapshot(interrupted)
    with pytest.raises(ConfigError, match="other options"):
        resume(base, interrupted, budget=50)
    assert snapshot(interrupted) == before


# --------------------------------------------------------------------------- the lock


def test_a_second_process_on_a_run_directory_is_refused(capsys, base, interrupted):
    with RunDir(interrupted).lock():
        code, out, err = cli_loop(capsys, base, interrupted)
        assert_one_line_error(
            code, out, err, f"{interrupted} is in use by another alsel process (pid {os.getpid()}", "wait for it or pass another --out"
        )
        with pytest.raises(RunInUseError):
            resume(base, interrupted)
    assert not (interrupted / RunDir.LOCK).exists()  # released, also after the refused attempts
    resume(base, interrupted)
    assert (interrupted / "selection.jsonl").read_bytes() == reference(base)


def test_a_lock_left_by_a_dead_process_does_not_block(base, interrupted):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (interrupted / RunDir.LOCK).write_text(f"pid {dead.pid} on this host\n")
    resume(base, interrupted)
    assert (interrupted / "selection.jsonl").read_bytes() == reference(base)
    assert not (interrupted / RunDir.LOCK).exists()


def test_a_file_system_without_locks_runs_unguarded_and_says_so(base, interrupted, monkeypatch):
    def no_locks(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    progress = Recorder()
    resume(base, interrupted, progress=progress)
    assert (interrupted / "selection.jsonl").read_bytes() == reference(base)
    assert any("cannot lock (No locks available); nothing stops a second alsel process" in line for line in progress.lines)
    assert not (interrupted / RunDir.LOCK).exists()


def test_an_interrupted_run_released_its_lock(interrupted):
    assert not (interrupted / RunDir.LOCK).exists()
    with RunDir(interrupted).lock():
        assert f"pid {os.getpid()}" in (interrupted / RunDir.LOCK).read_text()


# --------------------------------------------------------------------------- a study's directory and data (issue 26)


def test_a_second_study_process_on_a_study_directory_is_refused(capsys, study, study_copy):
    """One process per study directory: a second fails at once, naming the directory and its
    holder, and records nothing (two used to mark each other's runs failed)."""
    from alsel.loops.rundir import hold_directory

    before = (study_copy / "study.json").read_bytes()
    with hold_directory(study_copy):
        code, out, err = run_cli(capsys, "study", study[0], "--out", study_copy)
        assert_one_line_error(
            code, out, err, f"{study_copy} is in use by another alsel process (pid {os.getpid()}", "wait for it or pass another --out"
        )
        code, out, err = run_cli(capsys, "study", study[0], "--out", study_copy, "--dry-run")  # writes nothing: not held back
        assert code == 0, err
    assert (study_copy / "study.json").read_bytes() == before
    assert not (study_copy / RunDir.LOCK).exists()
    assert not list(study_copy.glob(f"runs/*/*/*/{RunDir.ERROR}"))


@pytest.mark.slow
def test_a_second_study_process_fails_while_the_first_runs(study, study_copy):
    """The same with a real second process: it is refused while this one holds the directory."""
    from alsel.loops.rundir import hold_directory

    with hold_directory(study_copy):
        second = subprocess.run(
            [sys.executable, "-m", "alsel", "study", str(study[0]), "--out", str(study_copy)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            timeout=120,
        )
    assert second.returncode == 2 and f"{study_copy} is in use by another alsel process (pid {os.getpid()}" in second.stderr, second.stderr


@pytest.fixture()
def own_data_study(base, tmp_path):
    """A finished one-run study on a copy of the data, which the test may change (the round
    cache is the base runs': same data and training, so nothing trains again)."""
    from alsel.study import run_study

    o = base[1]
    data = tmp_path / "train.csv"
    shutil.copy(o["dataset"], data)
    config = tmp_path / "study.yaml"
    config.write_text(
        STUDY_YAML.replace("  kmeans: {preset: kmeans}\n", "")
        + f"dataset: {data}\neval: {o['eval']}\nmodel: {o['model']}\ncache_dir: {o['cache_dir']}\n"
    )
    assert run_study(config, out=tmp_path / "study").exit_code == 0
    return config, tmp_path / "study", data


def test_a_study_refuses_kept_runs_made_on_other_data(capsys, own_data_study):
    config, study_dir, data = own_data_study
    original = data.read_text()
    flipped = original.replace(",neg\n", ",tmp\n").replace(",pos\n", ",neg\n").replace(",tmp\n", ",pos\n")
    assert flipped != original
    data.write_text(flipped)
    before = {p: p.read_bytes() for p in study_dir.rglob("*") if p.is_file()}
    kept = study_dir / "runs" / "random" / "budget-60" / "seed-0" / "config.json"
    for extra in ([], ["--seeds", "0,1"], ["--dry-run"]):  # new runs would train on the flipped data
        code, out, err = run_cli(capsys, "study", config, "--out", study_dir, *extra)
        assert_one_line_error(code, out, err, f"{data}: the data changed since {kept} recorded it", "pool_labelled_fingerprint")
    assert {p: p.read_bytes() for p in study_dir.rglob("*") if p.is_file()} == before
    data.write_text(original)  # the control: the same data resumes
    code, out, err = run_cli(capsys, "study", config, "--out", study_dir, "--json")
    assert code == 0, err
