"""Warm-started rounds (issue 27, ``--warm-start``): a round continues from the previous round's
saved model; resumable, deterministic and keyed apart in the round cache. Tiny random BERT on the
synthetic data set."""

import shutil

import numpy as np
import pytest

from alsel.errors import ConfigError, RunFileError
from alsel.io import read_json, read_jsonl
from alsel.learners.transformer import TransformerLearner
from alsel.loops.config import LoopConfig
from alsel.loops.rundir import RunDir
from alsel.run import execute_loop, run_loop
from conftest import UNGUARDED, Recorder, run_cli

TIMINGS = ("seconds", "train_seconds", "score_seconds", "select_seconds", "embed_seconds", "embed_cached_seconds")


@pytest.fixture()
def options(synthetic_csv, tiny_bert, tmp_path):
    return {
        "dataset": str(synthetic_csv / "train.csv"),
        "eval": str(synthetic_csv / "eval.csv"),
        "model": tiny_bert,
        "epochs": 2,
        "min_steps": 0,
        "lr": 5e-3,
        "batch_size": 16,
        "budget": 60,
        "cache_dir": str(tmp_path / "cache"),
        "learner_options": UNGUARDED,
    }


@pytest.fixture()
def starts(monkeypatch):
    """A spy on the fine-tuner: each training's starting point in order, ``(warm_from, initial
    weights)`` (``loads``), and the weights each ``fit`` ended with (``fits``)."""
    seen = {"loads": [], "fits": []}
    load, fit = TransformerLearner._fresh_classifier, TransformerLearner.fit

    def spy_load(self, warm_from=None):
        model, new = load(self, warm_from)
        seen["loads"].append((warm_from, _weights(model)))
        return model, new

    def spy_fit(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        seen["fits"].append(_weights(self.model_))
        return self

    monkeypatch.setattr(TransformerLearner, "_fresh_classifier", spy_load)
    monkeypatch.setattr(TransformerLearner, "fit", spy_fit)
    return seen


def _weights(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def loop(out, progress=None, **options):
    return run_loop(LoopConfig.from_options(**options), out, progress=progress or Recorder())


@pytest.mark.parametrize("preset", ["cluster_margin_warm", "badge_warm"])
@pytest.mark.slow
def test_rounds_continue_from_the_previous_round_and_the_final_model_trains_fresh(tmp_path, options, starts, preset):
    progress = Recorder()
    loop(tmp_path / "run", progress, preset=preset, **options)
    config = read_json(tmp_path / "run" / "config.json")
    assert (config["warm_start"], config["rounds"], config["learner"]) == ("rounds", 2, "transformer")
    (r0, w0), (r1, w1), (r2, w2) = starts["loads"]
    assert r0 is None and r2 is None and r1 == RunDir(tmp_path / "run").round_model(0)
    assert _same(w1, starts["fits"][0])  # round 1 starts from round 0's trained weights
    assert _same(w0, w2) and not _same(w1, w0)  # rounds 0 and 2 from the pretrained ones
    rounds = read_jsonl(tmp_path / "run" / "rounds.jsonl")
    assert [r["training"].get("warm_from") for r in rounds] == [None, True, None]
    assert sum("warm start, " in line for line in progress.lines) == 1
    assert not (tmp_path / "run" / RunDir.MODELS).exists()  # dropped once the run finished


@pytest.mark.slow
def test_all_warm_starts_the_final_model_and_a_resumed_run_matches_an_uninterrupted_one(tmp_path, options, starts):
    spec = dict(init="kmeans", acq="margin", rounds=2, warm_start="all", **options)
    loop(tmp_path / "whole", **spec)
    assert [w for w, _ in starts["loads"]] == [None, RunDir(tmp_path / "whole").round_model(0), RunDir(tmp_path / "whole").round_model(1)]
    assert _same(starts["loads"][2][1], starts["fits"][1])  # the final model starts from round 1's
    whole = read_jsonl(tmp_path / "whole" / "rounds.jsonl")
    assert [r["training"].get("warm_from") for r in whole] == [None, True, True]

    resumed = dict(spec, cache_dir=str(tmp_path / "other-cache"))  # nothing cached: every round trains
    with pytest.raises(KeyboardInterrupt):
        loop(tmp_path / "run", Recorder(stop_after=0), **resumed)
    assert sorted(p.name for p in (tmp_path / "run" / RunDir.MODELS).iterdir()) == ["round-0", "round-0.json"]
    shutil.copytree(tmp_path / "run", tmp_path / "lost")
    shutil.rmtree(tmp_path / "lost" / RunDir.MODELS / "round-0")
    with pytest.raises(RunFileError, match="round-0: missing or damaged, though the run continues from it"):
        loop(tmp_path / "lost", **resumed)
    loop(tmp_path / "run", **resumed)
    assert (tmp_path / "run" / "selection.jsonl").read_bytes() == (tmp_path / "whole" / "selection.jsonl").read_bytes()

    def without_timings(rows):
        return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]

    assert without_timings(read_jsonl(tmp_path / "run" / "rounds.jsonl")) == without_timings(whole)

    in_memory = execute_loop(LoopConfig.from_options(**dict(spec, cache_dir=str(tmp_path / "third-cache"))))  # models in a temporary folder
    assert [entry.to_json() for entry in in_memory.selection] == read_jsonl(tmp_path / "whole" / "selection.jsonl")


@pytest.mark.slow
def test_a_warm_start_is_part_of_the_round_cache_key(tmp_path, options):
    """A cold run after a warm one on the same cache shares round 0 (both start from the pretrained
    weights, on the same data) but not round 1, though it trains on the same selection."""
    spec = dict(init="kmeans", acq="margin", rounds=2, **options)
    loop(tmp_path / "warm", **spec, warm_start="rounds")
    loop(tmp_path / "cold", **spec)
    warm, cold = (read_jsonl(tmp_path / name / "rounds.jsonl") for name in ("warm", "cold"))
    assert [r["cached"] for r in warm[:2]] == [False, False]
    assert cold[0]["cached"] is True and cold[1]["cached"] is False

    def first_rounds(name):
        return [e for e in read_jsonl(tmp_path / name / "selection.jsonl") if e["round"] <= 1]

    assert first_rounds("cold") == first_rounds("warm")  # round 1 trained on the same selection


def test_the_warm_start_source_changes_the_cache_key(options):
    from alsel.loops.controller import LoopRun
    from alsel.loops.rundir import MemoryRunDir
    from alsel.progress import SILENT

    run = LoopRun(
        LoopConfig.from_options(init="kmeans", acq="margin", rounds=2, warm_start="rounds", **options).resolved(), MemoryRunDir(), SILENT
    )
    run._splits_and_plan()
    train, held = np.arange(20), np.arange(2)
    keys = {source: run._cache_key(train, held, None, frozenset(), "transformer", source) for source in (None, "key-a", "key-b")}
    assert len(set(keys.values())) == 3


def test_a_collapse_retry_restarts_from_the_same_warm_weights(tmp_path, tiny_bert, starts):
    texts, labels = ["the same words"] * 30, np.array([0] * 20 + [1] * 10)
    first = TransformerLearner(model=tiny_bert, epochs=1, lr=1e-3, batch_size=16, collapse_guard=False).fit(texts, labels, 2)
    first.save(tmp_path / "saved", ["a", "b"])
    learner = TransformerLearner(model=tiny_bert, epochs=1, lr=1e-3, batch_size=16, max_retries=2)
    learner.fit(texts, labels, 2, warm_from=tmp_path / "saved")
    assert [r["seed"] for r in learner.training_["retries"]] == [0, 1] and learner.training_["warm_from"] is True
    warm_loads = starts["loads"][1:]
    assert [w for w, _ in warm_loads] == [tmp_path / "saved"] * 3
    assert all(_same(weights, starts["fits"][0]) for _, weights in warm_loads)
    with pytest.raises(ConfigError, match="a classifier of 2 classes, not 3"):
        TransformerLearner(model=tiny_bert, epochs=1).fit(texts, np.arange(30) % 3, 3, warm_from=tmp_path / "saved")


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"preset": "kmeans", "warm_start": "rounds"},
            "--warm-start rounds continues a round from the previous round's model, and --rounds is 0",
        ),
        (
            {"preset": "kmeans_margin_proxy", "warm_start": "all"},
            "--learner logreg cannot continue from a saved model (its fit takes no warm_from)",
        ),
        ({"preset": "badge_warm", "learner": "logreg"}, "--learner logreg cannot continue from a saved model"),
        ({"preset": "hybrid", "warm_start": "rounds"}, "with --rounds 1 nothing would"),
        ({"preset": "kmeans_margin", "warm_start": "all", "final_learner": "logreg"}, "--final-learner logreg cannot"),
    ],
)
def test_a_warm_start_that_cannot_happen_is_refused_in_one_line(options, changes, message):
    with pytest.raises(ConfigError) as info:
        LoopConfig.from_options(**{**options, "learner_options": {}, **changes}).resolved()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_cli_refuses_a_warm_start_without_rounds_before_any_work(capsys, tmp_path, options):
    data = ["--dataset", options["dataset"], "--eval", options["eval"], "--model", options["model"], "--out", tmp_path / "run"]
    code, _out, err = run_cli(capsys, "loop", *data, "--init", "kmeans", "--warm-start", "rounds")
    assert code == 2 and err.count("\n") == 1 and "--rounds is 0" in err, err
    # the recommended loop has rounds, scored by a learner that cannot continue from a saved model
    code, _out, err = run_cli(capsys, "loop", *data, "--warm-start", "rounds")
    assert code == 2 and err.count("\n") == 1 and "--learner logreg cannot continue from a saved model" in err, err
    assert not (tmp_path / "run").exists()
