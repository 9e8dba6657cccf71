"""alsel report (issue 3): a report from synthetic run directories."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsel.errors import ConfigError
from alsel.io import write_json, write_jsonl, write_npy, write_text
from alsel.report import collect_failures, collect_results, markdown_table, render_summary_table, summarize, write_report

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


def make_study(root: Path, pool, *, embeddings=True, failed=True) -> Path:
    """A study directory as `alsel study` leaves it, with made-up numbers."""
    from alsel.embed import Embedder

    study = root / "study"
    cache = root / "cache"
    data = {
        "dataset": "sst2", "n_pool": len(pool), "n_eval": 872, "label_names": list(pool.label_names),
        "pool_class_counts": pool.class_counts(), "eval_class_counts": {"negative": 428, "positive": 444},
        "pool_fingerprint": pool.fingerprint(),
    }
    runs = []
    rng = np.random.default_rng(0)
    for seed in SEEDS:
        for budget in (0.1, 0.2):
            for strategy in ("random", "kmeans", "low_conf", "loop", "full"):
                if strategy == "full" and budget != 0.1:
                    continue
                b = 1.0 if strategy == "full" else budget
                rel = f"runs/{strategy}/budget-{b!r}/seed-{seed}"
                runs.append({"strategy": strategy, "budget": b, "seed": seed, "preset": PRESETS[strategy], "run_dir": rel, "options": {}})
                if failed and strategy == "low_conf" and seed == 2 and budget == 0.2:
                    write_text(study / rel / "error.txt", "low_conf failed\n\nTraceback ...\nRuntimeError: CUDA out of memory\n")
                    continue
                n = len(pool) if strategy == "full" else int(b * len(pool))
                config = {
                    "dataset": "sst2", "limit": N_POOL, "eval": None, "eval_limit": None, "data_seed": 0, "text_column": None,
                    "label_column": "label", "preset": PRESETS[strategy], "budget": b, "rounds": ROUNDS[strategy],
                    "init": "random", "acq": "low_conf" if ROUNDS[strategy] else None, "seed": seed, "model": "minilm",
                    "epochs": 3, "lr": 1e-4, "batch_size": 32, "max_length": 128, "warmup_ratio": 0.1, "weight_decay": 0.01,
                    "precision": "auto", "embedder": "minilm", "cache_dir": str(cache), "data": data,
                    "versions": {"alsel": "0.1.0", "torch": "2.x"},
                }
                write_json(study / rel / "config.json", config)
                acc = accuracy(strategy, b, seed)
                n_rounds = ROUNDS[strategy] + 1
                rows = [
                    {"round": r, "n_labeled": n * (r + 1) // n_rounds if strategy != "low_conf" else n,
                     "in_result": not (strategy == "low_conf" and r == 0), "accuracy": acc - 0.02 * (n_rounds - 1 - r), "f1": acc}
                    for r in range(n_rounds)
                ]
                write_jsonl(study / rel / "rounds.jsonl", rows)
                chosen = rng.choice(len(pool), size=n, replace=False)
                write_jsonl(study / rel / "selection.jsonl", [{"id": int(pool.ids[p]), "round": 0, "score": None, "label": int(pool.labels[p])} for p in chosen])
                write_json(study / rel / "metrics.json", {"accuracy": acc, "f1": round(acc - 0.01, 6), "n_train": n, "n_eval": 872, "seconds": 10.0 + seed})
    # one planned run that never started
    runs.append({"strategy": "random", "budget": 0.1, "seed": 3, "preset": "random", "run_dir": "runs/random/budget-0.1/seed-3", "options": {}})
    write_json(study / "study.json", {"name": "synthetic", "description": "A made-up study for the tests.", "options": {"limit": N_POOL},
                                      "strategies": {s: {"preset": PRESETS[s], "options": {} if PRESETS[s] else {"init": "random", "acq": "low_conf", "rounds": 2}} for s in BASE},
                                      "budgets": [0.1, 0.2], "seeds": SEEDS + [3], "runs": runs})
    if embeddings:
        path = Embedder(model="minilm", cache_dir=cache).cache_path(pool.fingerprint())
        write_npy(path, np.random.default_rng(1).standard_normal((len(pool), 16)).astype(np.float32))
    return study


@pytest.fixture(scope="module")
def pool():
    from alsel.data import load_data

    return load_data("sst2", limit=N_POOL, data_seed=0).pool


@pytest.fixture
def study(tmp_path, pool):
    return make_study(tmp_path, pool)


def test_collect_results(study):
    results = collect_results(study)
    assert len(results) == 4 * 2 * 3 + 3 - 1  # one failed
    assert list(results.columns) == ["strategy", "budget", "seed", "preset", "n_train", "accuracy", "f1", "seconds", "rounds", "run_dir"]
    assert list(dict.fromkeys(results["strategy"])) == ["random", "kmeans", "low_conf", "loop", "full"]  # study order
    row = results[(results.strategy == "kmeans") & (results.budget == 0.2) & (results.seed == 1)].iloc[0]
    assert row.accuracy == pytest.approx(0.81 + 0.02 + 0.02) and row.n_train == 60 and row.rounds == 0 and row.preset == "kmeans"
    assert set(results.loc[results.strategy == "full", "budget"]) == {1.0}
    failures = collect_failures(study)
    assert len(failures) == 1 and failures.iloc[0].error == "RuntimeError: CUDA out of memory"


def test_summarize(study):
    summary = summarize(collect_results(study)).set_index(["strategy", "budget"])
    k = summary.loc[("kmeans", 0.1)]
    assert k.n == 3 and k.accuracy_mean == pytest.approx(0.83) and k.accuracy_std == pytest.approx(0.02)
    assert k.diff_mean == pytest.approx(0.02) and k.n_pairs == 3 and k.baseline == "random"
    assert k.p_value == pytest.approx(0.25) and "exact sign-flip" in k.test
    full_mean = np.mean([accuracy("full", 1.0, s) for s in SEEDS])
    assert k.pct_full == pytest.approx(100 * 0.83 / full_mean)
    r = summary.loc[("random", 0.1)]
    assert pd.isna(r.baseline) and math.isnan(r.p_value)
    assert summary.loc[("full", 1.0)].pct_full == pytest.approx(100.0)
    assert math.isnan(summary.loc[("full", 1.0)].diff_mean)
    lc = summary.loc[("low_conf", 0.2)]  # seed 2 failed: two pairs
    assert lc.n == 2 and lc.n_pairs == 2 and lc.p_value == pytest.approx(0.5)


def test_write_report(study):
    import matplotlib.image

    paths = write_report(study)
    assert set(paths) == {"results", "summary", "report", "accuracy", "budget_curve", "rounds", "subsets"}
    for key in ("accuracy", "budget_curve", "rounds", "subsets"):
        data = paths[key].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", key
        image = matplotlib.image.imread(paths[key])
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300, (key, image.shape)
    results = pd.read_csv(paths["results"])
    assert len(results) == 26 and set(results["strategy"]) == {"random", "kmeans", "low_conf", "loop", "full"}
    summary = pd.read_csv(paths["summary"])
    assert len(summary) == 9 and {"diff_boot_low", "p_ttest", "pct_full"} <= set(summary.columns)

    text = paths["report"].read_text()
    for needle in (
        "# Study report: synthetic",
        "A made-up study for the tests.",
        "Pool: **300** examples",
        "Model: `minilm`",
        "epochs 3, lr 0.0001, batch_size 32",
        "exact sign-flip permutation test (8 sign patterns)",
        "| kmeans | 10% | 30 | 3 | 83.00 ± 2.00 |",
        "+2.00 [",
        "Full-pool accuracy: **90.20%** (3 seeds).",
        "No difference to `random` is significant at 0.05",
        "- `kmeans` at 10%: +2.00 points (p = 0.250, 3 seeds)",
        "cannot give a p-value below 0.25",
        "at least 6 seeds",
        "![accuracy](accuracy.png)",
        "![subsets](subsets.png)",
        "1 failed",
        "RuntimeError: CUDA out of memory",
        "1 not run yet",
        "random budget 0.1 seed 3",
        "| seed 0 | seed 1 | seed 2 |",
    ):
        assert needle in text, needle


def test_significant_difference_is_reported(tmp_path, pool):
    """Six seeds where kmeans always wins: the exact test can reach 2/64 < 0.05."""
    study = tmp_path / "six"
    for seed in range(6):
        for strategy, acc in (("random", 0.80 + 0.001 * seed), ("kmeans", 0.85 + 0.002 * seed)):
            rel = study / f"runs/{strategy}/budget-0.1/seed-{seed}"
            write_json(rel / "config.json", {"preset": strategy, "model": "minilm", "rounds": 0})
            write_jsonl(rel / "selection.jsonl", [])
            write_json(rel / "metrics.json", {"accuracy": acc, "f1": acc, "n_train": 30, "n_eval": 100, "seconds": 1.0})
    paths = write_report(study)
    text = paths["report"].read_text()
    assert "Significant at 0.05 (sign-flip test):" in text
    assert "- `kmeans` at 10%: +5.25 points vs `random` (better; p = 0.031, 6 seeds)" in text
    assert "subsets.png skipped" in text and "rounds.png skipped" in text
    assert set(paths) == {"results", "summary", "report", "accuracy"}


def test_subsets_skipped_without_cached_embeddings(tmp_path, pool):
    study = make_study(tmp_path, pool, embeddings=False, failed=False)
    paths = write_report(study)
    assert "subsets" not in paths and not (study / "subsets.png").exists()
    assert "subsets.png skipped: no cached pool embeddings" in paths["report"].read_text()


def test_single_seed_says_n_a(tmp_path):
    study = tmp_path / "one"
    for strategy in ("random", "kmeans"):
        rel = study / f"runs/{strategy}/budget-0.1/seed-0"
        write_json(rel / "config.json", {"preset": strategy, "rounds": 0})
        write_json(rel / "metrics.json", {"accuracy": 0.8 if strategy == "random" else 0.82, "f1": 0.8, "n_train": 30, "n_eval": 100, "seconds": 1.0})
    rel = study / "runs/loop/budget-0.1/seed-0"  # a loop spec, no preset, no study.json
    write_json(rel / "config.json", {"preset": None, "init": "random", "acq": "entropy", "rounds": 3})
    write_json(rel / "metrics.json", {"accuracy": 0.81, "f1": 0.8, "n_train": 30, "n_eval": 100, "seconds": 1.0})
    results = collect_results(study)
    assert list(results["strategy"]) == ["random", "kmeans", "loop"]  # baseline first
    summary = summarize(results)
    table = render_summary_table(summary)
    assert "| kmeans | 10% | 30 | 1 | 82.00 | n/a |" in table and "+2.00 | n/a | n/a |" in table
    text = write_report(study)["report"].read_text()
    assert "With a single seed" in text
    assert "| loop | — | initial pool by `random`, then 3 round(s) of `entropy` acquisition" in text
    assert " nan" not in text.lower()


def test_no_runs_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no finished runs"):
        write_report(tmp_path)


def test_doctests():
    import doctest

    import alsel.report

    assert doctest.testmod(alsel.report).failed == 0


def test_markdown_table_escapes_pipes():
    assert markdown_table([["a|b"]], ["x"]) == "| x |\n| :--- |\n| a\\|b |"
