"""alsel compare (issue 12): the same strategies on several data sets, from synthetic studies."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from alsel.errors import ConfigError
from alsel.report import write_comparison, write_report
from alsel.report.compare import budget_to_match, compare, read_sets
from alsel.report.compare_render import render_comparison
from alsel.stats import random_effects
from conftest import run_cli
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
        (0.84, (0.15, "=")),  # between 10% and 20%
        (0.81, (0.075, "=")),  # between 5% and 10%
        (0.80, (0.05, "=")),  # exactly the first point
        (0.86, (0.2, "=")),  # exactly the last point
        (0.79, (0.05, "<")),  # below the range
        (0.87, (0.2, ">")),  # above the range
    ],
)
def test_budget_to_match_interpolates_inside_the_range(accuracy, expected):
    budget, relation = budget_to_match({0.1: 0.82, 0.05: 0.80, 0.2: 0.86}, accuracy)
    assert (budget, relation) == (pytest.approx(expected[0]), expected[1])


def test_budget_to_match_takes_the_first_crossing_of_a_bumpy_curve():
    assert budget_to_match({0.05: 0.80, 0.1: 0.84, 0.2: 0.82}, 0.83) == (pytest.approx(0.0875), "=")


# --------------------------------------------------------------------------- from studies


@pytest.mark.slow
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
    from alsel.report.decision import decide

    decision = decide(comparison)  # the criterion reads the cached ratio: kmeans passes it
    text = render_comparison(comparison, decision=decision)
    assert "14 s (1.40×; 1.00×)" in text and "| **kmeans** | 3 | none | +2.00 | 1.40× | 1.00× |" in text


def test_pooled_estimate_is_dersimonian_laird_over_the_sets(studies):
    comparison = compare(read_sets(studies), 0.1)
    pooled = comparison.pooled.set_index("strategy")
    # low_conf and loop differ from random by a constant: no standard error, so no pooled row
    assert list(pooled.index) == ["kmeans"]
    expected = random_effects([0.02, 0.03, 0.01], [0.01 / math.sqrt(3)] * 3)
    k = pooled.loc["kmeans"]
    assert (
        k.k == 3
        and k.estimate == pytest.approx(0.02)
        and k.ci_low == pytest.approx(expected["ci_low"])
        and k.tau2 == pytest.approx(expected["tau2"])
    )


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
    assert set(paths) == {"table", "report", "decision", "forest", "budget_curves"}
    for name in ("forest", "budget_curves"):
        assert paths[name] == out / f"{name}.png" and matplotlib.image.imread(paths[name]).shape[0] > 100
    text = paths["report"].read_text()
    assert "| machines (runs) |" in text and "not recorded (" in text  # the made-up runs record no machine
    assert "DerSimonian–Laird" in text and "interpolated linearly" in text and "> 20%" in text and "< 10%" in text
    assert "| kmeans | 3 | +2.00 |" in text
    assert "![forest](forest.png)" in text and "3.00×" in text
    # the budget curves, numerically: random alone (with labels per class: 30 and 60 of a
    # 300-example two-class pool), kmeans paired with it at each budget
    assert "| set | strategy | 10% | 20% |" in text
    assert "| banking77 | random | 81.00% (15.0/class), 3 runs | 83.00% (30.0/class), 3 runs |" in text
    assert "| banking77 | kmeans | 83.00%: +2.00 [" in text


# --------------------------------------------------------------------------- the command line


@pytest.mark.slow
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
        ([str(studies[0]), "--strategies", "kmeans,kcenter"], "no study has finished kcenter runs"),
        ([str(studies[0]), "--strategies", " , "], "--strategies: no strategy named"),
        ([], "Missing argument"),
    ]
    for argv, message in cases:
        code, _, err = run_cli(capsys, "compare", *argv, "--out", str(tmp_path / "c"))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


@pytest.mark.slow
def test_runs_left_out_of_the_sentence_test_are_a_warning_and_fail_the_rule(capsys, studies, tmp_path):
    """A set whose per-sentence predictions cannot be read (a damaged file here; data paths relative
    to another directory in practice) gets no verdicts, loudly, and nothing passes "never worse"."""
    sets = [shutil.copytree(d.parent, tmp_path / d.parent.name) / d.name for d in studies]
    damaged = sets[0] / "runs" / "random" / "budget-0.1" / "seed-0" / "eval_probs.npy"  # make_study saves probabilities
    damaged.write_bytes(damaged.read_bytes()[:20])
    code, out, err = run_cli(capsys, "compare", *map(str, sets), "--out", str(tmp_path / "c"))
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert code == 0 and len(warnings) == 1 and warnings[0].startswith("warning: banking77: Sentence-level tests leave out")
    assert "seed-0" in warnings[0] and "The decision rule does not pass an untested comparison." in warnings[0]
    decision = pd.read_csv(tmp_path / "c" / "decision.csv", keep_default_na=False).set_index("strategy")
    assert decision.loc["kmeans", "untested_on"] == "banking77" and "untested on banking77" in decision.loc["kmeans", "fails"]
    assert "the decision rule chooses: none" in out  # kmeans passed every filter with the file intact
    assert "**banking77**: Sentence-level tests leave out" in (tmp_path / "c" / "compare.md").read_text()


@pytest.mark.slow
def test_the_decision_rule_reads_each_filter_and_chooses(capsys, studies, tmp_path):
    """`loop` plays the expensive loop whose gain a cheaper one must keep (it costs 3x random)."""
    code, out, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "c"), "--keep-gain-of", "loop")
    decision = pd.read_csv(tmp_path / "c" / "decision.csv", keep_default_na=False).set_index("strategy")
    assert code == 0 and "decision:" in out and "the decision rule chooses: kmeans" in out
    assert list(decision.index) == ["kmeans", "low_conf", "loop"]
    assert decision["chosen"].tolist() == [True, False, False]
    kmeans = decision.loc["kmeans"]
    # against loop: +0.5 point plus 1 point a seed plus the set's shift, averaged over seeds 0-2 and pooled
    assert (
        kmeans["fails"] == ""
        and float(kmeans["pooled"]) == pytest.approx(0.02)
        and float(kmeans["reference_pooled"]) == pytest.approx(0.015)
    )
    assert float(kmeans["reference_ci_low"]) < 0.015 < float(kmeans["reference_ci_high"])
    # low_conf and loop differ from random by a constant on every set: no standard error, so no
    # pooled difference (and no test: untested, not worse); low_conf's seed model doubles its cost
    assert decision.loc["low_conf", "worse_on"] == "" and decision.loc["low_conf", "pooled"] == ""
    untested = "untested on banking77, emotion, sms_spam"
    against_loop = "untested against loop on banking77, emotion, sms_spam"  # constant differences to loop too
    assert decision.loc["low_conf", "fails"] == f"{untested}; no pooled difference; cost 2.00× > 1.5×; {against_loop}"
    # the loop's difference to random is constant: no standard error, so no pooled difference; 3x the cost
    assert decision.loc["loop", "fails"] == f"{untested}; no pooled difference; cost 3.00× > 1.5×"  # loop's own gain is not a filter
    text = (tmp_path / "c" / "compare.md").read_text()
    assert "## The decision rule" in text and "**The rule chooses `kmeans`.**" in text and "| **kmeans** | 3 | none |" in text


@pytest.mark.slow
def test_the_rule_without_its_reference_says_so_and_a_looser_rule_chooses_otherwise(capsys, studies, tmp_path):
    code, _, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "c"), "--keep-gain-of", "kmeans_margin")
    text = (tmp_path / "c" / "compare.md").read_text()
    assert code == 0 and "Keeping `kmeans_margin`'s gain: not read: `kmeans_margin` is not measured at 10% on every set." in text
    assert "**The rule chooses `kmeans`.**" in text
    # the rule of today's recommendation keeps no loop's gain: nothing to read, nothing said
    code, _, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "n"))
    text = (tmp_path / "n" / "compare.md").read_text()
    assert code == 0 and "Keeping" not in text and "**The rule chooses `kmeans`.**" in text
    # a reference measured in every study but at another budget (full data) is not read either
    code, out, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "f"), "--keep-gain-of", "full")
    text = (tmp_path / "f" / "compare.md").read_text()
    assert code == 0 and "Keeping `full`'s gain: not read: `full` is not measured at 10% on every set." in text
    assert "the decision rule chooses: kmeans" in out and "difference to full" not in text
    code, out, _ = run_cli(
        capsys, "compare", *map(str, studies), "--out", str(tmp_path / "d"), "--max-cost", "0.5", "--keep-gain-of", "none"
    )
    text = (tmp_path / "d" / "compare.md").read_text()
    assert code == 0 and "**No strategy passes every filter**" in text and "cost 1.00× > 0.5×" in text and "Keeping" not in text
    assert "the decision rule chooses: none" in out
    code, _, err = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "e"), "--tie", "-1")
    assert code == 2 and "--tie" in err and not (tmp_path / "e").exists()


@pytest.mark.slow
def test_budgets_are_read_as_if_the_studies_held_no_others(capsys, studies, tmp_path):
    """A reading at 10% stays the same when budget curves are added: the Holm correction counts
    only the comparisons at the budgets read."""
    code, _, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "c"), "--budgets", "0.1")
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    assert code == 0 and set(table["budget"]) == {0.1}
    only = []
    for study in studies:
        copy = Path(shutil.copytree(study, tmp_path / "only" / study.name))
        for other in copy.glob("runs/*/budget-*"):
            if other.name != "budget-0.1":
                shutil.rmtree(other)
        only.append(copy)
    write_comparison(only, tmp_path / "d", budget=0.1)
    assert (tmp_path / "c" / "compare.csv").read_text() == (tmp_path / "d" / "compare.csv").read_text()
    everything = pd.read_csv(write_comparison(studies, tmp_path / "e", budget=0.1)["table"])
    at = everything[np.isclose(everything["budget"], 0.1)].reset_index(drop=True)
    compared = table["p_holm"].notna()
    assert (table.loc[compared, "p_holm"] <= at.loc[compared, "p_holm"] + 1e-12).all()  # fewer comparisons to correct for
    assert (table.loc[compared, "p_holm"] < at.loc[compared, "p_holm"]).any()
    code, _, err = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "f"), "--budgets", "0.1,ten")
    assert code == 2 and "--budgets 'ten'" in err and not (tmp_path / "f").exists()
    code, _, err = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "f"), "--budgets", "0.3")
    assert code == 2 and err.count("\n") == 1 and "no finished runs at budget 30%" in err and not (tmp_path / "f").exists()


@pytest.mark.slow
def test_strategies_are_compared_as_if_the_studies_held_no_others(capsys, studies, tmp_path):
    code, out, _ = run_cli(capsys, "compare", *map(str, studies), "--out", str(tmp_path / "c"), "--strategies", "kmeans")
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    # random is the baseline and kmeans_margin (the rule's reference) is read too; these studies lack it
    assert code == 0 and set(table["strategy"]) == {"random", "kmeans"} and "the decision rule chooses: kmeans" in out
    only = []
    for study in studies:
        copy = Path(shutil.copytree(study, tmp_path / "only" / study.name))
        for other in ("low_conf", "loop", "full"):
            shutil.rmtree(copy / "runs" / other)
        only.append(copy)
    write_comparison(only, tmp_path / "d", budget=0.1)
    assert (tmp_path / "c" / "compare.csv").read_text() == (tmp_path / "d" / "compare.csv").read_text()
    # the rule's reference is read with the strategies named, not left out
    code, out, _ = run_cli(
        capsys, "compare", *map(str, studies), "--out", str(tmp_path / "f"), "--strategies", "kmeans", "--keep-gain-of", "loop"
    )
    decision = pd.read_csv(tmp_path / "f" / "decision.csv", keep_default_na=False).set_index("strategy")
    assert (
        code == 0
        and list(decision.index) == ["kmeans", "loop"]
        and float(decision.loc["kmeans", "reference_pooled"]) == pytest.approx(0.015)
    )


def hand_comparison(rows, n_sets=2, baseline="random"):
    """A comparison of strategies given as (name, pooled difference, highest cached cost ratio,
    sets where it is significantly worse), with the pooled CI ±1 point around the difference."""
    from alsel.report.compare import COMPARE_COLUMNS, POOLED_COLUMNS, Comparison

    table, pooled = [], []
    for name, estimate, cost, worse_on in rows:
        for k in range(n_sets):
            table.append(
                {
                    **dict.fromkeys(COMPARE_COLUMNS, math.nan),
                    "set": f"set{k}",
                    "strategy": name,
                    "budget": 0.1,
                    "diff_mean": estimate,
                    "verdict": "worse" if f"set{k}" in worse_on else "no significant difference",
                    "cost_ratio": cost,
                    "cached_cost_ratio": cost,
                }
            )
        pooled.append(
            {
                **dict.fromkeys(POOLED_COLUMNS, math.nan),
                "strategy": name,
                "estimate": estimate,
                "ci_low": estimate - 0.01,
                "ci_high": estimate + 0.01,
            }
        )
    return Comparison([None] * n_sets, 0.1, baseline, pd.DataFrame(table), pd.DataFrame(pooled), pd.DataFrame())


@pytest.mark.parametrize(
    "rule, chosen",
    [
        ({"keep_gain_of": None}, "b"),  # a and b tie within 0.5 points: the cheaper b
        ({"keep_gain_of": None, "tie": 0.002}, "a"),  # no tie: the better a
        ({"keep_gain_of": None, "max_cost_ratio": 2.5}, "c"),  # c's cost allowed: the best, alone
        ({"keep_gain_of": None, "max_cost_ratio": 1.0}, None),  # nothing is that cheap
    ],
)
def test_the_rule_ranks_by_pooled_difference_and_breaks_ties_by_cost(rule, chosen):
    from alsel.decision_rule import DecisionRule
    from alsel.report.decision import decide

    comparison = hand_comparison([("a", 0.020, 1.4, ()), ("b", 0.017, 1.1, ()), ("c", 0.030, 2.0, ())])
    decision = decide(comparison, DecisionRule(**rule))
    assert decision.chosen == chosen and decision.table["chosen"].sum() == (chosen is not None)


def test_the_rule_drops_a_loop_worse_on_one_set_or_giving_up_the_reference_gain():
    from alsel.decision_rule import DecisionRule
    from alsel.report.decision import decide

    comparison = hand_comparison([("a", 0.030, 1.0, ("set1",)), ("b", 0.010, 1.0, ()), ("c", 0.005, 1.2, ()), ("ref", 0.02, 3.0, ())])
    assert decide(comparison, DecisionRule(keep_gain_of=None)).chosen == "b"  # a is better pooled, but worse on set1
    # paired with ref: b is 1.1 points behind, its CI [-2.1, -0.1] below zero; c is worse than ref on set0
    versus = hand_comparison([("a", 0.010, 1.0, ()), ("b", -0.011, 1.0, ()), ("c", 0.0, 1.0, ("set0",))], baseline="ref")
    decision = decide(comparison, DecisionRule(keep_gain_of="ref"), versus)
    fails = decision.table.set_index("strategy")["fails"]
    assert decision.chosen is None and fails["a"] == "worse on set1" and fails["b"] == "gives up ref's gain"
    assert fails["c"] == "worse than ref on set0" and fails["ref"] == "cost 3.00× > 1.5×"
    # no verdict against ref on one set cannot show the gain is kept, even with a pooled CI reaching zero
    versus.table.loc[(versus.table["strategy"] == "a") & (versus.table["set"] == "set0"), "verdict"] = "untested"
    comparison.table["verdict"] = "no significant difference"
    decision = decide(comparison, DecisionRule(keep_gain_of="ref"), versus).table.set_index("strategy")
    assert decision.loc["a", "untested_against_reference_on"] == "set0" and decision.loc["a", "fails"] == "untested against ref on set0"
    assert decision.loc["b", "fails"] == "gives up ref's gain"


def test_the_rule_drops_a_loop_without_a_verdict_on_one_set():
    """No p-value on a set (one paired seed, or unreadable predictions) cannot show "never worse"."""
    from alsel.decision_rule import DecisionRule
    from alsel.report.decision import decide

    comparison = hand_comparison([("a", 0.030, 1.0, ()), ("b", 0.010, 1.0, ())])
    assert decide(comparison, DecisionRule(keep_gain_of=None)).chosen == "a"
    comparison.table.loc[(comparison.table["strategy"] == "a") & (comparison.table["set"] == "set1"), "verdict"] = "untested"
    decision = decide(comparison, DecisionRule(keep_gain_of=None))
    assert decision.chosen == "b" and decision.table.set_index("strategy").loc["a", "fails"] == "untested on set1"


@pytest.mark.slow
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


@pytest.mark.slow
def test_two_copies_of_one_study_are_refused(capsys, studies, tmp_path):
    """Issue 26: a copy of a study under another name would be pooled as a second data set."""
    import json

    record = json.loads((studies[0] / "study.json").read_text()) | {"created": "2026-11-30T10:00:00+00:00"}
    copies = [tmp_path / "first", tmp_path / "second"]
    for copy in copies:
        shutil.copytree(studies[0], copy)
        (copy / "study.json").write_text(json.dumps(record))
    code, _, err = run_cli(capsys, "compare", str(copies[0]), str(copies[1]), str(studies[1]), "--out", str(tmp_path / "c"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{copies[0]} and {copies[1]} hold one study ('synthetic', created 2026-11-30T10:00:00+00:00)" in err
    (copies[1] / "study.json").write_text(json.dumps(record | {"created": "2026-12-01T10:00:00+00:00"}))  # another study of that name
    code, _, err = run_cli(capsys, "compare", str(copies[0]), str(copies[1]), "--out", str(tmp_path / "c"))
    assert code == 0, err


def test_budgets_in_labels_per_class_are_compared_on_their_own_scale(tmp_path, pool, eval_labels):
    """Studies run at 15 and 30 labels per class (30 and 60 of a two-class pool): compared at
    "15/class", read with the baseline's curve in labels per class, and written as such."""
    per_class = {"15/class": 0.1, "30/class": 0.2}  # the accuracies make_study gives those fractions
    dirs = []
    for name, shift in list(KMEANS_SHIFT.items())[:2]:
        made = make_study(
            tmp_path / name,
            pool,
            eval_labels,
            embeddings=False,
            budgets=tuple(per_class),
            accuracy_of=lambda s, b, seed, shift=shift: shifted(shift)(s, per_class.get(b, b), seed),
        )
        dirs.append(made.rename(tmp_path / name / name))
    assert (dirs[0] / "runs" / "kmeans" / "budget-15-per-class" / "seed-0").is_dir()
    comparison = compare(read_sets(dirs), "15/class")
    kmeans = comparison.table[(comparison.table["strategy"] == "kmeans") & (comparison.table["budget"] == "15/class")].set_index("set")
    assert list(kmeans["per_class"]) == [15.0, 15.0] and kmeans.loc["banking77", "diff_mean"] == pytest.approx(0.02)
    assert list(comparison.pooled["strategy"]) == ["kmeans"]  # the others differ by a constant: no standard error
    efficiency = comparison.efficiency.set_index(["set", "strategy"])
    # random: 81% at 15/class, 83% at 30/class; kmeans on banking77 at 15/class: 83% -> random needs 30/class
    assert tuple(efficiency.loc[("banking77", "kmeans"), ["random_budget", "relation"]]) == (pytest.approx(30.0), "=")
    text = render_comparison(comparison)
    assert (
        "at 15/class" in text
        and "banking77 81.00% (15.0/class)" in text
        and "| banking77 | random | 81.00%, 3 runs | 83.00%, 3 runs |" in text
    )
    assert "30.0/class" in text  # the efficiency cell
    with pytest.raises(ConfigError, match="no study has runs at budget 10%; measured: 100%, 15/class, 30/class"):
        compare(read_sets(dirs), 0.1)
