"""alsel compare (issue 12): the same strategies on several data sets, from synthetic studies."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from alsel.cli import main
from alsel.report import write_report
from alsel.report.compare import budget_to_match, compare, read_sets, write_comparison
from alsel.report.compare_render import render_comparison
from alsel.stats import random_effects
from test_report import accuracy, make_study

#: kmeans's effect over random differs by set; the other strategies are make_study's.
KMEANS_SHIFT = {"banking77": 0.0, "emotion": 0.01, "sms_spam": -0.01}


def shifted(shift):
    return lambda strategy, budget, seed: round(accuracy(strategy, budget, seed) + (shift if strategy == "kmeans" else 0.0), 6)


@pytest.fixture(scope="module")
def pool():
    from alsel.data import load_data

    return load_data("sst2", limit=300, data_seed=0).pool


@pytest.fixture(scope="module")
def eval_labels():
    from alsel.data import load_data

    return load_data("sst2", limit=300, data_seed=0).eval.labels


@pytest.fixture(scope="module")
def studies(tmp_path_factory, pool, eval_labels):
    """Three studies, each in a folder named after its set."""
    root = tmp_path_factory.mktemp("sets")
    dirs = []
    for name, shift in KMEANS_SHIFT.items():
        made = make_study(root / name, pool, eval_labels, embeddings=False, accuracy_of=shifted(shift))
        dirs.append(made.rename(root / name / name))
    return dirs


@pytest.fixture(scope="module")
def written(studies, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return out, write_comparison(studies, out, budget=0.1)


# --------------------------------------------------------------------------- the pure parts


def test_random_effects_by_hand():
    y, se = np.array([0.01, 0.03, -0.01]), np.array([0.005, 0.01, 0.008])
    w = 1 / se**2
    fixed = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - fixed) ** 2)
    tau2 = (q - 2) / (np.sum(w) - np.sum(w**2) / np.sum(w))
    assert tau2 > 0  # these three disagree beyond chance
    w_star = 1 / (se**2 + tau2)
    estimate, pooled_se = np.sum(w_star * y) / np.sum(w_star), np.sqrt(1 / np.sum(w_star))
    r = random_effects(y, se)
    assert r["k"] == 3 and r["q"] == pytest.approx(q) and r["tau2"] == pytest.approx(tau2)
    assert r["estimate"] == pytest.approx(estimate) and r["se"] == pytest.approx(pooled_se)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((estimate - 1.959964 * pooled_se, estimate + 1.959964 * pooled_se))
    assert r["i2"] == pytest.approx((q - 2) / q)
    assert r["p_value"] == pytest.approx(2 * sps.norm.sf(abs(estimate) / pooled_se))


def test_random_effects_without_heterogeneity_is_the_fixed_effect_estimate():
    y, se = np.array([0.02, 0.02, 0.02]), np.array([0.004, 0.01, 0.02])
    w = 1 / se**2
    r = random_effects(y, se)
    assert r["tau2"] == 0 and r["i2"] == 0 and r["q"] == pytest.approx(0)
    assert r["estimate"] == pytest.approx(np.sum(w * y) / np.sum(w)) and r["se"] == pytest.approx(np.sqrt(1 / np.sum(w)))
    # heterogeneity below what chance gives is also tau2 = 0: the fixed-effect estimate
    y = np.array([0.019, 0.021, 0.02])
    r = random_effects(y, se)
    assert r["tau2"] == 0 and r["estimate"] == pytest.approx(np.sum(w * y) / np.sum(w))


def test_random_effects_needs_two_sets_and_usable_errors():
    assert math.isnan(random_effects([0.01], [0.01])["estimate"])
    with pytest.raises(ValueError):
        random_effects([0.01, 0.02], [0.01, 0.0])


@pytest.mark.parametrize(
    "accuracy, expected",
    [
        (0.84, (0.15, "=")),    # between 10% and 20%
        (0.81, (0.075, "=")),   # between 5% and 10%
        (0.80, (0.05, "=")),    # exactly the first point
        (0.86, (0.2, "=")),     # exactly the last point
        (0.79, (0.05, "<")),    # below the range
        (0.87, (0.2, ">")),     # above the range
    ],
)
def test_budget_to_match_interpolates_inside_the_range(accuracy, expected):
    budget, relation = budget_to_match({0.1: 0.82, 0.05: 0.80, 0.2: 0.86}, accuracy)
    assert (budget, relation) == (pytest.approx(expected[0]), expected[1])


def test_budget_to_match_takes_the_first_crossing_of_a_bumpy_curve():
    assert budget_to_match({0.05: 0.80, 0.1: 0.84, 0.2: 0.82}, 0.83) == (pytest.approx(0.0875), "=")


# --------------------------------------------------------------------------- from studies


def test_per_set_rows_are_each_studys_own_summary(studies, written):
    _, paths = written
    table = pd.read_csv(paths["table"])
    assert set(table["set"]) == set(KMEANS_SHIFT)
    for study in studies:
        own = pd.read_csv(write_report(study)["summary"])
        rows = table[table["set"] == study.name].reset_index(drop=True)
        assert list(rows["strategy"]) == list(own["strategy"]) and list(rows["budget"]) == list(own["budget"])
        for column in ("n", "n_pairs", "accuracy_mean", "diff_mean", "diff_ci_low", "diff_ci_high", "p_holm"):
            assert np.allclose(rows[column], own[column], equal_nan=True), column
        assert rows["verdict"].fillna("").tolist() == own["verdict"].fillna("").tolist()
    kmeans = table[(table["strategy"] == "kmeans") & np.isclose(table["budget"], 0.1)].set_index("set")
    assert kmeans.loc["emotion", "diff_mean"] == pytest.approx(0.03) and kmeans.loc["sms_spam", "diff_mean"] == pytest.approx(0.01)
    assert kmeans["diff_se"].tolist() == pytest.approx([0.01 / math.sqrt(3)] * 3)  # diffs 0, 1, 2 points + shift
    # every run costs 10 s a round: one round for random and kmeans, three for the loop
    loop = table[(table["strategy"] == "loop") & np.isclose(table["budget"], 0.1)].iloc[0]
    assert (loop.cost_median, loop.cost_ratio) == (pytest.approx(30.0), pytest.approx(3.0))
    assert (loop.embed_median, loop.cached_cost_ratio) == (0.0, pytest.approx(3.0))  # no embeddings recorded


def test_cost_counts_embeddings_read_from_the_cache_and_says_the_ratio_without_them(studies, tmp_path):
    from alsel.io import read_jsonl, write_jsonl

    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in studies]
    for rounds in copies[0].glob("runs/kmeans/*/*/rounds.jsonl"):  # each read embeddings that took 4 s to compute
        rows = read_jsonl(rounds)
        write_jsonl(rounds, [{**rows[0], "embed_seconds": 4.0, "embed_cached_seconds": 4.0}, *rows[1:]])
    comparison = compare(read_sets(copies), 0.1)
    kmeans = comparison.table[(comparison.table["strategy"] == "kmeans") & np.isclose(comparison.table["budget"], 0.1)].set_index("set")
    name = copies[0].name
    assert (kmeans.loc[name, "cost_median"], kmeans.loc[name, "embed_median"]) == (pytest.approx(14.0), pytest.approx(4.0))
    assert (kmeans.loc[name, "cost_ratio"], kmeans.loc[name, "cached_cost_ratio"]) == (pytest.approx(1.4), pytest.approx(1.0))
    other = kmeans.drop(index=name)
    assert (other["cost_ratio"] == 1.0).all() and (other["cached_cost_ratio"] == 1.0).all()
    text = render_comparison(comparison)
    assert "14 s (1.40×; 1.00×)" in text and "| kmeans | 3 | none |" in text


def test_pooled_estimate_is_dersimonian_laird_over_the_sets(studies):
    comparison = compare(read_sets(studies), 0.1)
    pooled = comparison.pooled.set_index("strategy")
    # low_conf and loop differ from random by a constant: no standard error, so no pooled row
    assert list(pooled.index) == ["kmeans"]
    expected = random_effects([0.02, 0.03, 0.01], [0.01 / math.sqrt(3)] * 3)
    k = pooled.loc["kmeans"]
    assert k.k == 3 and k.estimate == pytest.approx(0.02) and k.ci_low == pytest.approx(expected["ci_low"]) and k.tau2 == pytest.approx(expected["tau2"])


def test_a_strategy_on_one_set_gets_no_pooled_row(studies):
    comparison = compare(read_sets(studies[:1]), 0.1)
    assert comparison.pooled.empty
    assert "gets no pooled row" in render_comparison(comparison)


def test_label_efficiency_from_randoms_budget_curve(studies):
    efficiency = compare(read_sets(studies), 0.1).efficiency.set_index(["set", "strategy"])
    # random: 81% at 10%, 83% at 20%
    assert tuple(efficiency.loc[("banking77", "kmeans"), ["random_budget", "relation"]]) == (pytest.approx(0.2), "=")  # 83%
    assert tuple(efficiency.loc[("emotion", "kmeans"), ["random_budget", "relation"]]) == (pytest.approx(0.2), ">")  # 84%
    assert tuple(efficiency.loc[("banking77", "loop"), ["random_budget", "relation"]]) == (pytest.approx(0.125), "=")  # 81.5%
    assert tuple(efficiency.loc[("banking77", "low_conf"), ["random_budget", "relation"]]) == (pytest.approx(0.1), "<")  # 79%


def test_report_and_figures(written):
    import matplotlib.image

    out, paths = written
    assert set(paths) == {"table", "report", "forest", "budget_curves"}
    for name in ("forest", "budget_curves"):
        assert paths[name] == out / f"{name}.png" and matplotlib.image.imread(paths[name]).shape[0] > 100
    text = paths["report"].read_text()
    assert "| machines (runs) |" in text and "not recorded (" in text  # the made-up runs record no machine
    assert "DerSimonian–Laird" in text and "interpolated linearly" in text and "> 20%" in text and "< 10%" in text
    assert "| kmeans | 3 | +2.00 |" in text
    assert "![forest](forest.png)" in text and "3.00×" in text


# --------------------------------------------------------------------------- the command line


def run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_cli_writes_the_comparison(capsys, studies, tmp_path):
    code, out, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "c"), "--budget", "0.1")
    assert code == 0 and (tmp_path / "c" / "compare.md").exists() and "compare.csv" in out


def test_cli_errors_are_one_line(capsys, studies, tmp_path):
    (tmp_path / "empty").mkdir()
    no_random = tmp_path / "no_random"
    shutil.copytree(studies[0], no_random)
    shutil.rmtree(no_random / "runs" / "random")
    unfinished = tmp_path / "unfinished"
    (unfinished / "runs").mkdir(parents=True)
    cases = [
        ([str(tmp_path / "nope")], "no such study directory"),
        ([str(tmp_path / "empty")], "not a study directory"),
        ([str(unfinished)], "no finished runs"),
        ([str(no_random)], "no finished random runs"),
        ([str(studies[0]), str(studies[0])], "two studies are named"),
        ([str(studies[0]), "--budget", "0.05"], "no study has runs at budget 5%"),
        ([str(studies[0]), "--baseline", "kcenter"], "no finished kcenter runs"),
        ([], "Missing argument"),
    ]
    for argv, message in cases:
        code, _, err = run_cli(capsys, "compare", *argv, "--out", str(tmp_path / "c"))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_the_decision_rule_table(studies):
    from alsel.report.compare import rule_table

    rules = rule_table(compare(read_sets(studies), 0.1)).set_index("strategy")
    assert list(rules.index) == ["kmeans", "low_conf", "loop"] and (rules["sets"] == 3).all()
    assert rules.loc["kmeans", "pooled"] == pytest.approx(0.02) and math.isnan(rules.loc["loop", "pooled"])
    assert rules.loc["loop", "max_cost_ratio"] == pytest.approx(3.0) and rules.loc["kmeans", "worse_on"] == ""


def test_another_baseline_pairs_every_strategy_with_it(capsys, studies, tmp_path):
    """The cost criterion's question: does the cheap loop keep up with the expensive one?"""
    from test_report import BASE

    code, _, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "c"), "--baseline", "loop")
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    at = table[np.isclose(table["budget"], 0.1)].set_index(["set", "strategy"])
    for name, shift in KMEANS_SHIFT.items():  # kmeans gains 2 points a seed, loop 1: mean over seeds 0-2 is +1
        assert at.loc[(name, "kmeans"), "diff_mean"] == pytest.approx(BASE["kmeans"] - BASE["loop"] + 0.01 + shift)
        assert at.loc[(name, "random"), "diff_mean"] == pytest.approx(BASE["random"] - BASE["loop"])
        assert at.loc[(name, "random"), "cost_ratio"] == pytest.approx(1 / 3) and math.isnan(at.loc[(name, "loop"), "diff_mean"])
    text = (tmp_path / "c" / "compare.md").read_text()
    assert code == 0 and text.startswith("# The strategies against loop on 3 data sets")
    assert "decision rule" not in text  # the rule is read against random only
