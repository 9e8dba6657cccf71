"""alsel report (issue 3): a report from synthetic run directories."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsel.errors import ConfigError
from alsel.io import write_json, write_jsonl, write_npy, write_text
from alsel.loops.config import budget_label, parse_size
from alsel.report import (
    collect_eval_correct,
    collect_failures,
    collect_results,
    markdown_table,
    render_summary_table,
    run_costs,
    summarize,
    write_report,
)

N_POOL = 300
SEEDS = [0, 1, 2]
# accuracy = base + budget bonus + seed effect; kmeans beats random by 1, 2, 3 points
BASE = {"random": 0.80, "kmeans": 0.81, "low_conf": 0.78, "loop": 0.805, "full": 0.90}
PRESETS = {"random": "random", "kmeans": "kmeans", "low_conf": "low_conf", "loop": None, "full": "full"}
ROUNDS = {"random": 0, "kmeans": 0, "low_conf": 1, "loop": 2, "full": 0}


def accuracy(strategy, budget, seed):
    if strategy == "full":
        return round(0.90 + 0.002 * seed, 6)
    return round(BASE[strategy] + (0.02 if budget == 0.2 else 0.0) + 0.01 * seed * (2 if strategy == "kmeans" else 1), 6)


def write_eval_probs(run_dir: Path, labels: np.ndarray, correct: np.ndarray) -> None:
    """Two-class probabilities whose argmax is right exactly where ``correct`` is."""
    p_gold = np.where(correct, 0.9, 0.1)
    probs = np.empty((len(labels), 2), dtype=np.float32)
    probs[np.arange(len(labels)), labels] = p_gold
    probs[np.arange(len(labels)), 1 - labels] = 1 - p_gold
    write_npy(run_dir / "eval_probs.npy", probs)


def make_study(root: Path, pool, eval_labels, *, embeddings=True, failed=True, accuracy_of=accuracy, budgets=(0.1, 0.2)) -> Path:
    """A study directory as `alsel study` leaves it, with made-up numbers (``accuracy_of(strategy,
    budget, seed)``, default :func:`accuracy`). Each run's final model
    gets the first ``accuracy * 872`` sentences of one fixed order right, so a more accurate run
    wins every sentence on which the two disagree."""
    from alsel.embed import Embedder

    study = root / "study"
    cache = root / "cache"
    data = {
        "dataset": "sst2",
        "n_pool": len(pool),
        "n_eval": 872,
        "label_names": list(pool.label_names),
        "pool_class_counts": pool.class_counts(),
        "eval_class_counts": {"negative": 428, "positive": 444},
        "pool_fingerprint": pool.fingerprint(),
    }
    runs = []
    rng = np.random.default_rng(0)
    order = rng.permutation(len(eval_labels))
    for seed in SEEDS:
        for budget in budgets:
            for strategy in ("random", "kmeans", "low_conf", "loop", "full"):
                if strategy == "full" and budget != budgets[0]:
                    continue
                b = 1.0 if strategy == "full" else budget
                rel = f"runs/{strategy}/budget-{budget_label(b)}/seed-{seed}"
                runs.append({"strategy": strategy, "budget": b, "seed": seed, "preset": PRESETS[strategy], "run_dir": rel, "options": {}})
                if failed and strategy == "low_conf" and seed == 2 and budget == budgets[1]:
                    write_text(study / rel / "error.txt", "low_conf failed\n\nTraceback ...\nRuntimeError: CUDA out of memory\n")
                    continue
                n = len(pool) if strategy == "full" else parse_size(b, len(pool), "budget", len(pool.label_names))
                config = {
                    "dataset": "sst2",
                    "limit": N_POOL,
                    "eval": None,
                    "eval_limit": None,
                    "data_seed": 0,
                    "text_column": None,
                    "label_column": "label",
                    "preset": PRESETS[strategy],
                    "budget": b,
                    "rounds": ROUNDS[strategy],
                    "init": "random",
                    "acq": "low_conf" if ROUNDS[strategy] else None,
                    "seed": seed,
                    "model": "minilm",
                    "epochs": 3,
                    "lr": 1e-4,
                    "batch_size": 32,
                    "max_length": 128,
                    "warmup_ratio": 0.1,
                    "weight_decay": 0.01,
                    "precision": "auto",
                    "embedder": "minilm",
                    "cache_dir": str(cache),
                    "data": data,
                    "versions": {"alsel": "0.1.0", "torch": "2.x"},
                }
                write_json(study / rel / "config.json", config)
                acc = accuracy_of(strategy, b, seed)
                n_rounds = ROUNDS[strategy] + 1
                rows = [
                    {
                        "round": r,
                        "n_labeled": n * (r + 1) // n_rounds if strategy != "low_conf" else n,
                        "in_result": not (strategy == "low_conf" and r == 0),
                        "accuracy": acc - 0.02 * (n_rounds - 1 - r),
                        "f1": acc,
                        "train_seconds": 6.0,
                        "score_seconds": 2.0 if r < n_rounds - 1 else 0.0,
                        "seconds": 10.0,
                        "cached": False,
                    }
                    for r in range(n_rounds)
                ]
                correct = np.zeros(len(eval_labels), dtype=bool)
                correct[order[: round(acc * len(eval_labels))]] = True
                write_eval_probs(study / rel, eval_labels, correct)
                write_jsonl(study / rel / "rounds.jsonl", rows)
                chosen = rng.choice(len(pool), size=n, replace=False)
                write_jsonl(
                    study / rel / "selection.jsonl",
                    [{"id": int(pool.ids[p]), "round": 0, "score": None, "label": int(pool.labels[p])} for p in chosen],
                )
                write_json(
                    study / rel / "metrics.json",
                    {"accuracy": acc, "f1": round(acc - 0.01, 6), "n_train": n, "n_eval": 872, "seconds": 10.0 + seed},
                )
    # one planned run that never started
    runs.append(
        {
            "strategy": "random",
            "budget": budgets[0],
            "seed": 3,
            "preset": "random",
            "run_dir": f"runs/random/budget-{budget_label(budgets[0])}/seed-3",
            "options": {},
        }
    )
    write_json(
        study / "study.json",
        {
            "name": "synthetic",
            "description": "A made-up study for the tests.",
            "options": {"limit": N_POOL},
            "strategies": {
                s: {"preset": PRESETS[s], "options": {} if PRESETS[s] else {"init": "random", "acq": "low_conf", "rounds": 2}} for s in BASE
            },
            "budgets": list(budgets),
            "seeds": SEEDS + [3],
            "runs": runs,
        },
    )
    if embeddings:
        path = Embedder(model="minilm", cache_dir=cache).cache_path(pool.fingerprint())
        write_npy(path, np.random.default_rng(1).standard_normal((len(pool), 16)).astype(np.float32))
    return study


@pytest.fixture(scope="module")
def pool():
    from alsel.data import load_data

    return load_data("sst2", limit=N_POOL, data_seed=0).pool


@pytest.fixture(scope="module")
def eval_labels():
    from alsel.data import load_data

    return load_data("sst2", limit=N_POOL, data_seed=0).eval.labels


@pytest.fixture
def study(tmp_path, pool, eval_labels):
    return make_study(tmp_path, pool, eval_labels)


def test_collect_results(study):
    results = collect_results(study)
    assert len(results) == 4 * 2 * 3 + 3 - 1  # one failed
    assert list(results.columns) == [
        "strategy",
        "budget",
        "seed",
        "preset",
        "n_train",
        "per_class",
        "accuracy",
        "f1",
        "seconds",
        "train_seconds",
        "score_seconds",
        "embed_seconds",
        "other_seconds",
        "cost_seconds",
        "rounds",
        "run_dir",
        "failed",
    ]
    assert list(dict.fromkeys(results["strategy"])) == ["random", "kmeans", "low_conf", "loop", "full"]  # study order
    row = results[(results.strategy == "kmeans") & (results.budget == 0.2) & (results.seed == 1)].iloc[0]
    assert row.accuracy == pytest.approx(0.81 + 0.02 + 0.02) and row.n_train == 60 and row.rounds == 0 and row.preset == "kmeans"
    assert row.per_class == 30.0  # 60 examples of a two-class task
    loop = results[(results.strategy == "loop")].iloc[0]  # three rounds of 10 s: 6 training, 2 scoring (not the last)
    assert (loop.train_seconds, loop.score_seconds, loop.other_seconds, loop.cost_seconds) == (18.0, 4.0, 8.0, 30.0)
    assert set(results.loc[results.strategy == "full", "budget"]) == {1.0}
    failures = collect_failures(study)
    assert len(failures) == 1 and failures.iloc[0].error == "RuntimeError: CUDA out of memory"


def test_summarize(study):
    from scipy import stats as sps

    results = collect_results(study)
    correct, note = collect_eval_correct(results)
    assert len(correct) == len(results) and note is None
    kmeans0 = results[(results.strategy == "kmeans") & (results.budget == 0.1) & (results.seed == 0)].run_dir.iloc[0]
    assert correct[kmeans0].mean() == pytest.approx(0.81, abs=1 / 872)
    summary = summarize(results, correct=correct).set_index(["strategy", "budget"])
    k = summary.loc[("kmeans", 0.1)]
    assert k.n == 3 and k.accuracy_mean == pytest.approx(0.83) and k.accuracy_std == pytest.approx(0.02)
    assert k.diff_mean == pytest.approx(0.02) and k.n_pairs == 3 and k.baseline == "random"
    assert k.p_signflip == pytest.approx(0.25) and "exact sign-flip" in k.signflip_test
    assert k.p_ttest == pytest.approx(sps.ttest_1samp([0.01, 0.02, 0.03], 0).pvalue)
    # kmeans is right on a superset of random's sentences: only wins
    assert k.sentence_losses == 0 and k.sentence_wins == pytest.approx(872 * 0.06, abs=3) and k.p_sentences < 1e-4
    # the seed-level test does not reject: no verdict, whatever the sentences say
    assert k.p_holm >= k.p_ttest and k.verdict == "no significant difference"
    full_mean = np.mean([accuracy("full", 1.0, s) for s in SEEDS])
    assert k.pct_full == pytest.approx(100 * 0.83 / full_mean)
    r = summary.loc[("random", 0.1)]
    assert pd.isna(r.baseline) and math.isnan(r.p_signflip) and pd.isna(r.verdict)
    assert summary.loc[("full", 1.0)].pct_full == pytest.approx(100.0)
    assert math.isnan(summary.loc[("full", 1.0)].diff_mean)
    lc = summary.loc[("low_conf", 0.2)]  # seed 2 failed: two pairs
    assert lc.n == 2 and lc.n_pairs == 2 and lc.p_signflip == pytest.approx(0.5)
    # low_conf and loop differ from random by a constant: no spread, so the t-test is undefined
    assert math.isnan(lc.p_ttest) and lc.verdict == "untested"
    # Holm over the six comparisons with a defined combined p
    tested = summary[summary.baseline.notna() & summary.p_holm.notna()]
    assert len(tested) == 2 and (tested.p_holm >= tested[["p_ttest", "p_sentences"]].max(axis=1)).all()
    assert summary.loc[("kmeans", 0.1)].cost_seconds == pytest.approx(10.0)


def test_summarize_without_predictions_has_no_verdict(study):
    summary = summarize(collect_results(study)).set_index(["strategy", "budget"])
    k = summary.loc[("kmeans", 0.1)]
    assert math.isnan(k.p_sentences) and math.isnan(k.p_holm) and k.verdict == "untested"


def test_run_costs_count_reused_rounds_at_their_recorded_cost():
    rows = [
        {"round": 0, "seconds": 0.5, "train_seconds": 100.0, "score_seconds": 30.0, "cached": True},
        {"round": 1, "seconds": 112.0, "train_seconds": 100.0, "score_seconds": 0.0, "cached": False},
    ]
    assert run_costs(rows) == {
        "train_seconds": 200.0,
        "score_seconds": 30.0,
        "embed_seconds": 0.0,
        "other_seconds": 12.5,
        "cost_seconds": 242.5,
    }
    assert all(math.isnan(v) for v in run_costs([]).values())


def test_run_costs_count_embeddings_once_whoever_computed_them():
    computed = [
        {
            "round": 0,
            "seconds": 60.0,
            "train_seconds": 30.0,
            "score_seconds": 5.0,
            "embed_seconds": 20.0,
            "embed_cached_seconds": 0.0,
            "cached": False,
        }
    ]
    from_cache = [
        {
            "round": 0,
            "seconds": 40.0,
            "train_seconds": 30.0,
            "score_seconds": 5.0,
            "embed_seconds": 20.0,
            "embed_cached_seconds": 20.0,
            "cached": False,
        }
    ]
    for rows in (computed, from_cache):
        assert run_costs(rows) == {
            "train_seconds": 30.0,
            "score_seconds": 5.0,
            "embed_seconds": 20.0,
            "other_seconds": 5.0,
            "cost_seconds": 60.0,
        }
    # a pool embedded here, an evaluation set read from the cache in a later round
    mixed = computed + [
        {
            "round": 1,
            "seconds": 38.0,
            "train_seconds": 30.0,
            "score_seconds": 0.0,
            "embed_seconds": 6.0,
            "embed_cached_seconds": 6.0,
            "cached": False,
        }
    ]
    assert (
        run_costs(mixed)["embed_seconds"] == 26.0
        and run_costs(mixed)["other_seconds"] == 13.0
        and run_costs(mixed)["cost_seconds"] == 104.0
    )


@pytest.mark.slow
def test_write_report(study):
    import matplotlib.image

    paths = write_report(study)
    assert set(paths) == {"results", "summary", "report", "accuracy", "differences", "budget_curve", "rounds", "subsets"}
    for key in ("accuracy", "differences", "budget_curve", "rounds", "subsets"):
        data = paths[key].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", key
        image = matplotlib.image.imread(paths[key])
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300, (key, image.shape)
    results = pd.read_csv(paths["results"])
    assert len(results) == 26 and set(results["strategy"]) == {"random", "kmeans", "low_conf", "loop", "full"}
    summary = pd.read_csv(paths["summary"])
    assert len(summary) == 9 and {"diff_boot_low", "p_ttest", "p_sentences", "p_holm", "verdict", "cost_seconds", "pct_full"} <= set(
        summary.columns
    )

    text = paths["report"].read_text()
    for needle in (
        "# Study report: synthetic",
        "A made-up study for the tests.",
        "Pool: **300** examples",
        "Model: `minilm`",
        "epochs 3, batch_size 32, lr 0.0001",
        "| kmeans | 10% | 30 (15.0/class) | 3 | 83.00 ± 2.00 |",
        "+2.00 [",
        "| 0.074 | <0.001 | 0.148 | no significant difference |",
        "Full-pool accuracy: **90.20%** (3 seeds).",
        "Better than `random` (Holm-adjusted p < 0.05 on both tests):\n\n- none",
        "- `kmeans` at 10%: +2.00 points (p seeds 0.074, p sentences <0.001, Holm 0.148; 3 seeds, 52 sentences won / 0 lost)",
        "cannot go below 0.25 (2/2^3)",
        "at least 6 seeds",
        "## Cost",
        "| loop | 10% | 30 (15.0/class) | 18 | 4 | 0 | 8 | 30 | 0.5 |",
        "![accuracy](accuracy.png)",
        "![subsets](subsets.png)",
        "1 failed",
        "RuntimeError: CUDA out of memory",
        "1 not run yet",
        "random budget 0.1 seed 3",
        "| seed 0 | seed 1 | seed 2 |",
    ):
        assert needle in text, needle


def test_significant_difference_is_reported(tmp_path, pool, eval_labels):
    """Four seeds where kmeans wins by 5 points every time, on the same sentences: both tests
    reject, so the verdict is "better"; low_conf loses by a spread-out margin and is "worse"."""
    study = tmp_path / "four"
    data = {
        "dataset": "sst2",
        "n_pool": len(pool),
        "n_eval": 872,
        "label_names": list(pool.label_names),
        "pool_class_counts": pool.class_counts(),
        "eval_class_counts": {"negative": 428, "positive": 444},
        "pool_fingerprint": pool.fingerprint(),
    }
    order = np.random.default_rng(0).permutation(len(eval_labels))
    for seed in range(4):
        for strategy, acc in (("random", 0.80 + 0.001 * seed), ("kmeans", 0.85 + 0.002 * seed), ("low_conf", 0.60 - 0.01 * seed)):
            rel = study / f"runs/{strategy}/budget-0.1/seed-{seed}"
            write_json(
                rel / "config.json", {"preset": strategy, "model": "minilm", "rounds": 0, "dataset": "sst2", "limit": N_POOL, "data": data}
            )
            write_jsonl(rel / "selection.jsonl", [])
            correct = np.zeros(len(eval_labels), dtype=bool)
            correct[order[: round(acc * 872)]] = True
            write_eval_probs(rel, eval_labels, correct)
            write_json(rel / "metrics.json", {"accuracy": acc, "f1": acc, "n_train": 30, "n_eval": 872, "seconds": 1.0})
    paths = write_report(study)
    text = paths["report"].read_text()
    assert "Better than `random` (Holm-adjusted p < 0.05 on both tests):\n\n- `kmeans` at 10%: +5.15 points" in text
    assert "Worse than `random` (Holm-adjusted p < 0.05 on both tests):\n\n- `low_conf` at 10%: -21.65 points" in text
    assert "| **better** |" in text and "| **worse** |" in text
    assert "subsets.png skipped" in text and "rounds.png skipped" in text
    assert set(paths) == {"results", "summary", "report", "accuracy", "differences"}


@pytest.mark.slow
def test_runs_without_predictions_are_named(tmp_path, pool, eval_labels):
    study = make_study(tmp_path, pool, eval_labels, embeddings=False, failed=False)
    (study / "runs/kmeans/budget-0.1/seed-0/eval_probs.npy").unlink()
    warnings = []
    text = write_report(study, warn=warnings.append)["report"].read_text()
    assert (
        "Sentence-level tests leave out runs without per-sentence predictions (1 run(s) saved no eval_predictions.npy or eval_probs.npy)"
        in text
    )
    assert len(warnings) == 1 and warnings[0] in text and "get no verdict (untested)" in warnings[0]
    assert pd.read_csv(study / "summary.csv").set_index(["strategy", "budget"]).loc[("kmeans", 0.1), "verdict"] == "untested"


@pytest.mark.slow
def test_runs_that_kept_only_their_predictions_give_the_same_report(tmp_path, pool, eval_labels):
    """A study kept in git drops eval_probs.npy (too big for many classes) and keeps
    eval_predictions.npy; the sentence-level tests must not change."""
    study = make_study(tmp_path, pool, eval_labels, embeddings=False, failed=False)
    before = write_report(study)["summary"].read_bytes()
    for path in study.glob("runs/*/*/*/eval_probs.npy"):
        probs = np.load(path)
        write_npy(path.parent / "eval_predictions.npy", probs.argmax(axis=1).astype(np.uint8))
        path.unlink()
    summary = write_report(study)["summary"]
    assert summary.read_bytes() == before
    assert pd.read_csv(summary)["p_sentences"].notna().any()
    damaged = next(study.glob("runs/kmeans/*/*/eval_predictions.npy"))
    damaged.write_bytes(damaged.read_bytes()[:20])
    assert "eval_predictions.npy: damaged" in write_report(study)["report"].read_text()


@pytest.mark.slow
def test_subsets_skipped_without_cached_embeddings(tmp_path, pool, eval_labels):
    study = make_study(tmp_path, pool, eval_labels, embeddings=False, failed=False)
    paths = write_report(study)
    assert "subsets" not in paths and not (study / "subsets.png").exists()
    assert "subsets.png skipped: no cached pool embeddings" in paths["report"].read_text()


def test_single_seed_says_n_a(tmp_path):
    study = tmp_path / "one"
    for strategy in ("random", "kmeans"):
        rel = study / f"runs/{strategy}/budget-0.1/seed-0"
        write_json(rel / "config.json", {"preset": strategy, "rounds": 0})
        write_json(
            rel / "metrics.json",
            {"accuracy": 0.8 if strategy == "random" else 0.82, "f1": 0.8, "n_train": 30, "n_eval": 100, "seconds": 1.0},
        )
    rel = study / "runs/loop/budget-0.1/seed-0"  # a loop spec, no preset, no study.json
    write_json(rel / "config.json", {"preset": None, "init": "random", "acq": "entropy", "rounds": 3})
    write_json(rel / "metrics.json", {"accuracy": 0.81, "f1": 0.8, "n_train": 30, "n_eval": 100, "seconds": 1.0})
    results = collect_results(study)
    assert list(results["strategy"]) == ["random", "kmeans", "loop"]  # baseline first
    summary = summarize(results)
    table = render_summary_table(summary)
    assert "| kmeans | 10% | 30 | 1 | 82.00 | n/a |" in table and "+2.00 | n/a | n/a | n/a | untested |" in table
    text = write_report(study)["report"].read_text()
    assert "With a single seed" in text
    assert "| loop | — | initial pool by `random`, then 3 round(s) of `entropy` acquisition" in text
    assert " nan" not in text.lower()


def test_no_runs_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no finished runs"):
        write_report(tmp_path)


@pytest.mark.parametrize("module", ["collect", "analysis", "formatting", "markdown", "plots"])
def test_doctests(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(f"alsel.report.{module}")).failed == 0


def test_markdown_table_escapes_pipes():
    assert markdown_table([["a|b"]], ["x"]) == "| x |\n| :--- |\n| a\\|b |"


@pytest.mark.slow
def test_report_renders_from_memory(study):
    """Everything report.md shows is read once: it renders with the study directory gone."""
    import shutil

    from alsel.loops.presets import PRESETS as PRESET_SPECS
    from alsel.report import collect_study, render_report

    read = collect_study(study)
    summary = summarize(read.runs, correct=read.correct)
    shutil.rmtree(study)
    text = render_report(read, summary, figures={"accuracy": "accuracy.png"}, notes=["a note"])
    assert "| kmeans | 10% | 30 (15.0/class) | 3 | 83.00 ± 2.00 |" in text and "![accuracy](accuracy.png)" in text and "- a note" in text
    assert f"| kmeans | kmeans | {PRESET_SPECS['kmeans'].description} |" in text  # presets are described once
    assert "1 failed" in text and "1 not run yet" in text
    assert "each at budgets 10%, 20% of the pool" in text


def test_strategies_with_budgets_of_their_own_are_not_said_to_share_them(study):
    from dataclasses import replace

    from alsel.report import collect_study, render_report

    read = collect_study(study, subsets=False)
    runs = read.runs[~((read.runs["strategy"] == "kmeans") & (read.runs["budget"] == 0.2))]  # a budget curve for the others
    text = render_report(replace(read, runs=runs), summarize(runs, correct=read.correct))
    assert "pool, at budgets 10%, 20% of the pool" in text and "each at" not in text


def test_options_that_differ_between_runs_are_the_config_groups():
    from alsel.loops.config import options
    from alsel.report.analysis import DATA_KEYS, TRAINING_KEYS, differing_options

    assert set(TRAINING_KEYS) == set(options("training")) - {"seed"} | {"final_learner"} and options("data") == DATA_KEYS
    configs = [{"epochs": 3, "trust_remote_code": False}, None, {"epochs": 3, "trust_remote_code": True, "seed": 1}]
    assert differing_options(configs, TRAINING_KEYS + DATA_KEYS) == ["trust_remote_code"]
    # a cheap proxy in the rounds that trains the same final model is like for like
    proxy = [{"learner": "transformer", "final_learner": None}, {"learner": "logreg", "final_learner": "transformer"}]
    assert differing_options(proxy, TRAINING_KEYS) == []
    assert differing_options(proxy + [{"learner": "logreg"}], TRAINING_KEYS) == ["final_learner"]


def test_a_strategy_is_described_with_its_other_options():
    from alsel.report.markdown import _how_it_chooses

    balanced = _how_it_chooses({"preset": None, "options": {"init": "kmeans", "acq": "margin", "rounds": 2, "balance": True}}, {})
    assert balanced == "initial pool by `kmeans`, then 2 round(s) of `margin` acquisition, retraining each round (balance=True)"
    proxy = _how_it_chooses({"preset": "kmeans_margin", "options": {"learner": "logreg", "final_learner": "transformer"}}, {})
    assert proxy == "preset kmeans_margin with learner=logreg, final_learner=transformer"


@pytest.mark.slow
def test_a_run_whose_final_fine_tuning_collapsed_is_named_in_the_report(study):
    """A collapse the guard could not undo stays in the statistics (paired) but never silently."""
    from alsel.io import read_json

    metrics_path = study / "runs/kmeans/budget-0.1/seed-1/metrics.json"
    write_json(
        metrics_path, {**read_json(metrics_path), "failed": "the final fine-tuning collapsed after 2 retries (it predicts one class)"}
    )
    paths = write_report(study)
    text = paths["report"].read_text()
    assert "1 finished with a failed fine-tuning" in text
    assert "- kmeans budget 10% seed 1: the final fine-tuning collapsed after 2 retries" in text
    results = pd.read_csv(paths["results"])
    assert results["failed"].notna().sum() == 1
