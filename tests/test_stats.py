"""alsel.stats (issue 3): values worked out by hand on a small fixed table."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from alsel import stats
from alsel.stats import (
    bootstrap_ci,
    combined_p,
    describe,
    format_p,
    holm,
    mean_ci,
    min_sign_flip_p,
    pair_by_key,
    paired_difference,
    paired_t_pvalue,
    percent_of,
    sentence_test,
    sign_flip_test,
)

# accuracy by seed: the strategy beats the baseline by 1, 2 and 3 points
TABLE = pd.DataFrame(
    {
        "strategy": ["kmeans"] * 3 + ["random"] * 3 + ["full"],
        "seed": [0, 1, 2, 0, 1, 2, 0],
        "accuracy": [0.80, 0.82, 0.84, 0.79, 0.80, 0.81, 0.90],
    }
)
T_975_2 = 4.302652729911275  # t quantile 0.975 with 2 degrees of freedom


def test_doctests():
    assert doctest.testmod(stats).failed == 0


def test_describe_by_hand():
    d = describe([0.80, 0.82, 0.84])
    assert d["n"] == 3
    assert d["mean"] == pytest.approx(0.82)
    # deviations -0.02, 0, 0.02: s^2 = 0.0008 / 2, s = 0.02
    assert d["std"] == pytest.approx(0.02)
    half = T_975_2 * 0.02 / math.sqrt(3)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((0.82 - half, 0.82 + half))
    assert mean_ci([0.80, 0.82, 0.84]) == pytest.approx((0.82 - half, 0.82 + half))


def test_exact_sign_flip_by_hand():
    # sums over the 8 sign patterns of (1, 2, 3): ±6, ±4, ±2, 0, 0; |sum| >= 6 twice
    result = sign_flip_test([1.0, 2.0, 3.0])
    assert result.p_value == 2 / 8 and result.exact and result.n_patterns == 8
    assert "exact sign-flip permutation test" in result.method
    assert sign_flip_test([1.0, -2.0, 3.0]).p_value == 6 / 8  # observed |2|: all but the two zeros
    assert sign_flip_test([1.0, 1.0, 1.0, 1.0]).p_value == 2 / 16
    assert sign_flip_test([0.0, 1.0, 2.0]).p_value == 4 / 8  # a zero difference flips to itself
    assert sign_flip_test([-1.0, -2.0, -3.0]).p_value == 2 / 8  # two-sided
    assert sign_flip_test([0.01, 0.02, 0.03]).p_value == 2 / 8  # float sums tie exactly
    assert min_sign_flip_p(3) == 0.25


def test_monte_carlo_sign_flip_above_the_exact_limit():
    rng = np.random.default_rng(5)
    d = rng.normal(0.3, 1.0, size=17)  # 2**17 > 65536 patterns: Monte Carlo
    mc = sign_flip_test(d, random_state=1)
    assert not mc.exact and "Monte Carlo" in mc.method and mc.n_patterns == 100_000
    assert sign_flip_test(d, random_state=1).p_value == mc.p_value  # seeded
    exact = sign_flip_test(d, max_exact=2**17)
    assert exact.exact and abs(mc.p_value - exact.p_value) < 0.01


def test_paired_difference_by_hand():
    a = TABLE[TABLE.strategy == "kmeans"].set_index("seed")["accuracy"]
    b = TABLE[TABLE.strategy == "random"].set_index("seed")["accuracy"]
    r = paired_difference(a, b)
    assert r["n"] == 3 and r["keys"] == [0, 1, 2]
    assert r["mean_diff"] == pytest.approx(0.02)
    assert r["std_diff"] == pytest.approx(0.01)
    half = T_975_2 * 0.01 / math.sqrt(3)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.02 - half, 0.02 + half))
    assert r["p_value"] == pytest.approx(0.25) and "exact sign-flip" in r["test"]
    # t = 0.02 / (0.01 / sqrt 3) = 2 sqrt 3 with 2 df
    assert r["p_ttest"] == pytest.approx(2 * sps.t.sf(2 * math.sqrt(3), 2))
    assert r["p_ttest"] == pytest.approx(sps.ttest_rel(a.to_numpy(), b.to_numpy()).pvalue)
    # the bootstrap interval lies within the range of the differences and is reproducible
    assert 0.01 - 1e-12 <= r["boot_low"] <= r["boot_high"] <= 0.03 + 1e-12
    assert paired_difference(a, b)["boot_low"] == r["boot_low"]


def test_pairing_uses_common_seeds_only():
    keys, a, b = pair_by_key({0: 0.9, 1: 0.8, 2: float("nan"), 3: 0.7}, {1: 0.6, 2: 0.5, 3: 0.6, 4: 0.1})
    assert keys == [1, 3] and a.tolist() == [0.8, 0.7] and b.tolist() == [0.6, 0.6]


def test_single_seed_is_not_applicable():
    r = paired_difference({0: 0.8}, {0: 0.7})
    assert r["n"] == 1 and r["mean_diff"] == pytest.approx(0.1)
    for key in ("std_diff", "ci_low", "ci_high", "boot_low", "boot_high", "p_value", "p_ttest"):
        assert math.isnan(r[key]), key
    assert format_p(r["p_value"]) == "n/a"
    assert math.isnan(describe([0.5])["std"]) and describe([0.5])["mean"] == 0.5
    assert all(math.isnan(v) for v in mean_ci([0.5]))
    assert all(math.isnan(v) for v in bootstrap_ci([0.5]))
    assert describe([])["n"] == 0 and math.isnan(describe([])["mean"])
    empty = paired_difference({}, {})
    assert empty["n"] == 0 and math.isnan(empty["mean_diff"]) and math.isnan(empty["p_value"])


def test_no_variance():
    assert math.isnan(paired_t_pvalue([0.01, 0.01, 0.01]))
    assert bootstrap_ci([0.01, 0.01, 0.01]) == pytest.approx((0.01, 0.01))
    assert sign_flip_test([0.0, 0.0, 0.0]).p_value == 1.0


def test_percent_of_full():
    full = TABLE[TABLE.strategy == "full"]["accuracy"].mean()
    assert percent_of(0.81, full) == pytest.approx(90.0)
    assert math.isnan(percent_of(0.8, float("nan"))) and math.isnan(percent_of(0.8, 0.0))


def test_format_p():
    assert format_p(0.25) == "0.250" and format_p(float("nan")) == "n/a" and format_p(None) == "n/a"
    assert format_p(0.0004) == "<0.001"


def test_sentence_test_flips_whole_sentences():
    rng = np.random.default_rng(0)
    baseline = rng.random((3, 400)) < 0.8
    # the same 30 sentences won on every seed: 30 net scores of +1..+3, no losses
    better = baseline.copy()
    wrong = np.flatnonzero(~baseline.all(axis=0))[:30]
    better[:, wrong] = True
    r = sentence_test(better, baseline)
    assert r["losses"] == 0 and r["wins"] == int((~baseline[:, wrong]).sum()) and r["p_value"] < 1e-3
    assert "over sentences" in r["test"]
    # one seed: the exact McNemar test (a binomial test of wins among disagreements), up to Monte Carlo error
    a, b = better[:1].copy(), baseline[:1]
    wins, losses = int((a & ~b).sum()), int((~a & b).sum())
    a[0, np.flatnonzero(a[0] & b[0])[:10]] = False  # ten losses too
    r1 = sentence_test(a, b, n_resamples=200_000)
    exact = sps.binomtest(wins, wins + losses + 10, 0.5).pvalue
    assert abs(r1["p_value"] - exact) < 0.01
    # identical models: nothing to test against; swapped roles: same p, wins and losses swapped
    assert sentence_test(baseline, baseline)["p_value"] == 1.0
    swapped = sentence_test(baseline, better)
    assert (swapped["wins"], swapped["losses"]) == (r["losses"], r["wins"]) and swapped["p_value"] == r["p_value"]
    with pytest.raises(ValueError, match="differ in shape"):
        sentence_test(baseline, baseline[:2])


def test_holm_matches_the_step_down_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 with running max
    assert holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0] and holm([]).size == 0
    assert combined_p(0.2, 0.01) == 0.2 and math.isnan(combined_p(0.2, float("nan")))
