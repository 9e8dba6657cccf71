"""The loop controller end to end with a tiny random BERT on synthetic data."""

import os

import numpy as np
import pytest

from alsel.data import load_data
from alsel.errors import ConfigError
from alsel.io import read_json, read_jsonl, write_json
from alsel.loops.config import LoopConfig
from alsel.progress import Progress
from alsel.run import run_loop
from conftest import Recorder


@pytest.fixture()
def options(synthetic_csv, tiny_training):
    return dict(tiny_training, dataset=str(synthetic_csv / "train.csv"), eval=str(synthetic_csv / "eval.csv"), epochs=2, budget=60)


def loop(out, **options):
    return run_loop(LoopConfig.from_options(**options), out)


@pytest.mark.slow
def test_multi_round_loop_writes_the_run_directory(tmp_path, options):
    metrics = loop(tmp_path / "run", init="kmeans", acq="low_conf", rounds=2, **options)
    rounds = read_jsonl(tmp_path / "run" / "rounds.jsonl")
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    config = read_json(tmp_path / "run" / "config.json")
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert [r["n_labeled"] for r in rounds] == [20, 40, 60] and [r["n_acquired"] for r in rounds] == [20, 20, 0]
    assert all(sum(r["class_counts"].values()) == r["n_labeled"] for r in rounds)
    assert len({e["id"] for e in selection}) == 60 and [e["round"] for e in selection] == [0] * 20 + [1] * 20 + [2] * 20
    for round_ in (1, 2):
        scores = [e["score"] for e in selection if e["round"] == round_]
        assert scores == sorted(scores)  # low_conf: lowest p_gold first
        assert rounds[round_ - 1]["scores"]["acquired"]["p_gold"]["max"] <= rounds[round_ - 1]["scores"]["candidates"]["p_gold"]["mean"]
    assert metrics["n_train"] == 60 and metrics["accuracy"] == rounds[-1]["accuracy"] and metrics["n_eval"] == 100
    assert config["plan"] == {"budget": 60, "init_size": 20, "round_sizes": [20, 20], "keep_init": True}
    assert config["model"] == options["model"] and "torch" in config["versions"]
    assert read_json(tmp_path / "run" / "metrics.json") == metrics
    # the final model's probabilities on the evaluation set reproduce its accuracy
    eval_probs = np.load(tmp_path / "run" / "eval_probs.npy", allow_pickle=False)
    eval_labels = load_data(options["dataset"], eval_spec=options["eval"]).eval.labels
    assert eval_probs.shape == (100, 2) and np.allclose(eval_probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(eval_probs.argmax(axis=1) == eval_labels) == pytest.approx(metrics["accuracy"], abs=1e-6)
    predictions = np.load(tmp_path / "run" / "eval_predictions.npy", allow_pickle=False)  # the compact copy
    assert predictions.dtype == np.uint8 and np.array_equal(predictions, eval_probs.argmax(axis=1))


def test_a_final_model_that_predicts_one_class_is_reported(tmp_path, options, monkeypatch):
    from alsel.loops import controller

    real = controller.evaluate

    def predicting(classes):
        def evaluate(learner, texts, labels, n_classes, progress):
            metrics, probs = real(learner, texts, labels, n_classes, progress=progress)
            probs = np.zeros_like(probs)
            probs[np.arange(len(probs)), classes[: len(probs)]] = 1.0
            return metrics, probs

        return evaluate

    monkeypatch.setattr(controller, "evaluate", predicting(np.ones(100, dtype=int)))
    collapsed = Recorder()
    run_loop(LoopConfig.from_options(preset="random", **options), tmp_path / "collapsed", progress=collapsed)
    warnings = [line for line in collapsed.lines if line.startswith("warning:")]
    assert len(warnings) == 1 and "predicts 'pos' for every evaluation example" in warnings[0] and "--lr" in warnings[0]
    monkeypatch.setattr(controller, "evaluate", predicting(np.arange(100) % 2))
    healthy = Recorder()
    run_loop(LoopConfig.from_options(preset="random", seed=1, **options), tmp_path / "healthy", progress=healthy)
    assert healthy.lines and not [line for line in healthy.lines if line.startswith("warning:")]


@pytest.mark.slow
def test_same_seed_gives_a_byte_identical_selection_and_resume_matches(tmp_path, options):
    spec = dict(init="kmeans", acq="low_conf", rounds=2, **options)
    loop(tmp_path / "a", **spec)
    loop(tmp_path / "b", **{**spec, "cache_dir": str(tmp_path / "other-cache")})
    reference = (tmp_path / "a" / "selection.jsonl").read_bytes()
    assert (tmp_path / "b" / "selection.jsonl").read_bytes() == reference

    resumed = dict(spec, cache_dir=str(tmp_path / "third-cache"))  # nothing cached: rounds retrain
    with pytest.raises(KeyboardInterrupt):
        run_loop(LoopConfig.from_options(**resumed), tmp_path / "c", progress=Recorder(stop_after=0))
    assert len(read_jsonl(tmp_path / "c" / "rounds.jsonl")) == 1 and not (tmp_path / "c" / "metrics.json").exists()
    config = read_json(tmp_path / "c" / "config.json")
    assert config["machine"]["cores"] == os.cpu_count() and config["machine"]["cpu"]
    write_json(tmp_path / "c" / "config.json", {**config, "machine": {"cpu": "another CPU", "cores": 96, "accelerator": "a GPU"}})
    loop(tmp_path / "c", **resumed)  # a run may resume on another machine
    assert (tmp_path / "c" / "selection.jsonl").read_bytes() == reference
    assert [r["round"] for r in read_jsonl(tmp_path / "c" / "rounds.jsonl")] == [0, 1, 2]

    other = loop(tmp_path / "d", **{**spec, "seed": 1})
    assert (tmp_path / "d" / "selection.jsonl").read_bytes() != reference and other["n_train"] == 60


def test_low_conf_preset_drops_its_seed_pool_and_high_conf_reuses_the_seed_model(tmp_path, options):
    loop(tmp_path / "low", preset="low_conf", **options)
    rounds = read_jsonl(tmp_path / "low" / "rounds.jsonl")
    selection = read_jsonl(tmp_path / "low" / "selection.jsonl")
    seed_pool = set(read_json(tmp_path / "low" / "checkpoint.json")["seed_pool_ids"])
    assert len(seed_pool) == 60 and len(selection) == 60 and not seed_pool & {e["id"] for e in selection}
    assert rounds[0]["in_result"] is False and rounds[0]["n_labeled"] == 60 and rounds[1]["n_labeled"] == 60
    assert all(e["round"] == 1 for e in selection)

    loop(tmp_path / "high", preset="high_conf", **options)
    high_rounds = read_jsonl(tmp_path / "high" / "rounds.jsonl")
    assert high_rounds[0]["cached"] is True and high_rounds[0]["accuracy"] == rounds[0]["accuracy"]
    assert (tmp_path / "high" / "eval_probs.npy").exists()
    high = [e["score"] for e in read_jsonl(tmp_path / "high" / "selection.jsonl")]
    assert min(high) >= max(e["score"] for e in selection)  # same scores, opposite ends


def test_typiclust_preset_chooses_the_whole_budget_as_the_initial_pool(tmp_path, options):
    metrics = loop(tmp_path / "run", preset="typiclust", **options)
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    rounds = read_jsonl(tmp_path / "run" / "rounds.jsonl")
    assert read_json(tmp_path / "run" / "config.json")["init"] == "typiclust"
    assert len({e["id"] for e in selection}) == 60 and all(e["round"] == 0 for e in selection)
    assert all(e["score"] > 0 for e in selection)  # each pick's typicality
    assert [r["n_labeled"] for r in rounds] == [60] and metrics["n_train"] == 60


@pytest.mark.parametrize("preset, acq", [("cluster_margin_proxy", "cluster_margin"), ("badge_proxy", "badge")])
@pytest.mark.slow
def test_proxy_presets_score_the_rounds_with_logreg_and_fine_tune_only_the_final_model(tmp_path, options, preset, acq):
    metrics = loop(tmp_path / "run", preset=preset, **options)
    config = read_json(tmp_path / "run" / "config.json")
    rounds = read_jsonl(tmp_path / "run" / "rounds.jsonl")
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    assert (config["init"], config["acq"], config["learner"], config["final_learner"]) == ("kmeans", acq, "logreg", "transformer")
    assert [r["n_labeled"] for r in rounds] == [20, 40, 60]
    assert [r["epochs"] is None for r in rounds] == [True, True, False]  # logreg has no epochs; the fine-tuner has
    assert len({e["id"] for e in selection}) == 60 and [e["round"] for e in selection] == [0] * 20 + [1] * 20 + [2] * 20
    assert metrics["n_train"] == 60 and metrics["accuracy"] == rounds[-1]["accuracy"]


def test_hybrid_preset_with_a_tiny_modernbert(tmp_path, options, tiny_modernbert):
    metrics = loop(tmp_path / "run", preset="hybrid", **{**options, "model": tiny_modernbert})
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    assert [e["round"] for e in selection] == [0] * 30 + [1] * 30 and metrics["n_train"] == 60


def test_a_finished_run_returns_at_once_and_other_options_are_refused(tmp_path, options, monkeypatch):
    first = loop(tmp_path / "run", preset="random", **options)
    before = (tmp_path / "run" / "selection.jsonl").read_bytes()
    monkeypatch.setattr("alsel.learners.transformer.TransformerLearner.fit", lambda *a, **k: pytest.fail("retrained a finished run"))
    assert loop(tmp_path / "run", preset="random", **options) == first
    with pytest.raises(ConfigError, match="other options"):
        loop(tmp_path / "run", preset="random", **{**options, "budget": 50})
    assert (tmp_path / "run" / "selection.jsonl").read_bytes() == before


@pytest.mark.parametrize("scorer", ["probe", "cv:2"])
def test_cross_fitted_scorers(tmp_path, options, scorer):
    loop(tmp_path / "run", init="random", acq="low_conf", rounds=1, scorer=scorer, **options)
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    acquired = [e for e in selection if e["round"] == 1]
    assert len(acquired) == 30 and all(0 <= e["score"] <= 1 for e in acquired)


def test_probe_scores_candidates_out_of_fold():
    from alsel.data import TextDataset
    from alsel.loops.scorers import ScoringContext, score_candidates

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    x = rng.normal(size=(200, 8)) + labels[:, None] * 3.0
    x[7] -= (2 * labels[7] - 1) * 20  # a mislabelled-looking point
    pool = TextDataset(ids=np.arange(200), texts=[""] * 200, labels=labels, label_names=("a", "b"))
    ctx = ScoringContext(
        pool=pool,
        train=np.arange(50),
        candidates=np.arange(50, 200),
        learner=None,
        make_learner=None,
        embeddings=lambda: x,
        seed=0,
        progress=Progress(),
    )
    probs, _ = score_candidates("probe", ctx, frozenset({"probs"}))
    assert probs.shape == (150, 2)
    ctx.candidates = np.arange(0, 200)
    probs, _ = score_candidates("probe", ctx, frozenset({"probs"}))
    p_gold = probs[np.arange(200), labels]
    assert np.argmin(p_gold) == 7 and np.median(p_gold) > 0.9


def test_the_validation_split_comes_from_the_selection_and_is_in_the_cache_key(tmp_path, options, monkeypatch):
    """The fine-tuner stops on rows held out of the round's selection, never on evaluation rows;
    the split is recorded in rounds.jsonl and a different split is a different cache entry."""
    from alsel.learners.transformer import TransformerLearner

    seen = []
    real_fit = TransformerLearner.fit

    def spy(self, texts, labels, n_classes, *, validation=None, **kw):
        seen.append((list(texts), list(validation[0]) if validation else []))
        return real_fit(self, texts, labels, n_classes, validation=validation, **kw)

    monkeypatch.setattr(TransformerLearner, "fit", spy)
    options = {**options, "budget": 200, "preset": "random"}
    loop(tmp_path / "a", **options)
    ((fit_texts, held_texts),) = seen
    splits = load_data(options["dataset"], eval_spec=options["eval"])
    chosen = splits.pool.positions([e["id"] for e in read_jsonl(tmp_path / "a" / "selection.jsonl")])
    assert sorted(fit_texts + held_texts) == sorted(splits.pool.texts[i] for i in chosen)  # all from the selection
    assert len(held_texts) == 20 and len(fit_texts) == 180
    training = read_jsonl(tmp_path / "a" / "rounds.jsonl")[0]["training"]
    assert training["validation"] == 20 and 1 <= training["best_epoch"] <= training["epochs"] <= 2

    loop(tmp_path / "b", **options)  # the same run elsewhere: served by the round cache
    assert read_jsonl(tmp_path / "b" / "rounds.jsonl")[0]["cached"] is True and len(seen) == 1
    assert read_jsonl(tmp_path / "b" / "rounds.jsonl")[0]["training"] == training
    loop(tmp_path / "c", **options, validation_fraction=0.2)  # another split: trained again
    assert read_jsonl(tmp_path / "c" / "rounds.jsonl")[0]["cached"] is False and len(seen[1][1]) == 40


def test_a_fine_tuning_built_to_collapse_is_retried_recorded_and_fails_the_run(tmp_path, tiny_bert):
    """One text with two labels: every training predicts one class. The guard retrains twice,
    rounds.jsonl records each retry, and the run reports itself failed."""
    import pandas as pd

    frame = pd.DataFrame({"text": ["the same words"] * 50, "label": ["a"] * 35 + ["b"] * 15})
    frame.to_csv(tmp_path / "same.csv", index=False)
    progress = Recorder()
    config = LoopConfig.from_options(
        dataset=str(tmp_path / "same.csv"),
        eval="0.2",
        model=tiny_bert,
        preset="random",
        budget=30,
        epochs=2,
        lr=1e-3,
        batch_size=16,
        cache_dir=str(tmp_path / "cache"),
    )
    metrics = run_loop(config, tmp_path / "run", progress=progress)
    training = read_jsonl(tmp_path / "run" / "rounds.jsonl")[0]["training"]
    assert [r["seed"] for r in training["retries"]] == [0, 1] and "one class" in training["collapsed"]
    assert metrics["failed"].startswith("the final fine-tuning collapsed after 2 retries")
    assert read_json(tmp_path / "run" / "metrics.json")["failed"] == metrics["failed"]
    assert sum(line.startswith("the fine-tuning collapsed") for line in progress.lines) == 2
    assert any(line.startswith("failed: ") for line in progress.lines)


def test_training_dynamics_are_recorded_for_the_candidates_epoch_by_epoch(tmp_path, options, monkeypatch):
    """ambiguous reads per-epoch p_gold of every candidate: one column per epoch of the kept training."""
    from alsel.strategies.ambiguous import Ambiguous

    seen = {}
    real = Ambiguous._select

    def spy(self, state, k):
        seen["dynamics"] = state.extras["dynamics"]
        return real(self, state, k)

    monkeypatch.setattr(Ambiguous, "_select", spy)
    loop(tmp_path / "run", init="random", acq="ambiguous", rounds=1, **options)
    rounds = read_jsonl(tmp_path / "run" / "rounds.jsonl")
    assert seen["dynamics"].shape == (300 - 30, rounds[0]["training"]["epochs"])
