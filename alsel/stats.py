"""Statistics for a study: the spread of a strategy's runs and paired comparisons across seeds.

A study runs every strategy with the same seeds, and a seed fixes the fine-tuning (classifier
head, dropout, data order), so strategy A with seed 3 and the baseline with seed 3 form a *pair*.
Comparisons are made on the per-seed differences ``d_i = a_i - b_i``:

- the mean difference with a t-based 95% confidence interval and a percentile-bootstrap one;
- an exact **sign-flip permutation test**: under the null hypothesis that the strategy makes no
  difference, each ``d_i`` is as likely to be ``+|d_i|`` as ``-|d_i|``, so the p-value is the
  share of the ``2**n`` sign patterns whose ``|sum|`` is at least the observed one. It assumes no
  normality, but with ``n`` seeds the smallest two-sided p-value it can give is ``2 / 2**n``
  (0.25 with 3 seeds): few seeds cannot show significance, whatever the effect;
- the paired t-test p-value from scipy.

The seeds vary the subset and the fine-tuning, but every run is scored on the same evaluation
sentences, so a second question is whether a difference is larger than the luck of which
sentences the evaluation set holds. :func:`sentence_test` answers it with a sign-flip
permutation test over the evaluation sentences (each sentence's wins minus losses over the paired
seeds; with one seed, McNemar's test). A strategy is
called better or worse only when both tests reject (an intersection-union test: the larger of the
two p-values, :func:`combined_p`), Holm-adjusted over all comparisons (:func:`holm`).

Across studies (one per data set), :func:`random_effects` pools the per-set mean differences
with a DerSimonian-Laird random-effects meta-analysis, so a strategy's pooled effect allows the
true effect to differ between sets.

Everything is a pure function of its inputs; randomness (bootstrap, Monte Carlo sign flips)
comes from a seeded generator, so a report is reproducible. With fewer than two values an
interval or p-value is undefined and comes back as NaN, which :func:`format_p` shows as "n/a".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "describe",
    "mean_ci",
    "pair_by_key",
    "bootstrap_ci",
    "SignFlipResult",
    "sign_flip_test",
    "paired_t_pvalue",
    "paired_difference",
    "sentence_test",
    "combined_p",
    "holm",
    "random_effects",
    "percent_of",
    "min_sign_flip_p",
    "format_p",
]

#: Exact enumeration of sign patterns up to this many (2**16: 16 seeds).
MAX_EXACT = 65536
N_RESAMPLES = 100_000
N_BOOT = 10_000


def _values(values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """t-based confidence interval of the mean: ``mean ± t(1-α/2, n-1) · s / √n``.

    Parameters
    ----------
    values : array-like of shape (n,)
        NaNs are dropped.
    confidence : float
        Coverage of the interval.

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` when fewer than two values remain.

    Examples
    --------
    >>> low, high = mean_ci([1.0, 2.0, 3.0])
    >>> round(low, 4), round(high, 4)
    (-0.4841, 4.4841)
    """
    from scipy import stats

    x = _values(values)
    if len(x) < 2:
        return math.nan, math.nan
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean - half, mean + half


def describe(values, confidence: float = 0.95) -> dict[str, float]:
    """Count, mean, sample standard deviation (ddof=1) and t-based CI of the mean.

    Returns
    -------
    dict
        ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``; ``std`` and the CI are NaN for
        ``n < 2``, everything but ``n`` is NaN for ``n == 0``.

    Examples
    --------
    >>> d = describe([0.80, 0.82, 0.84])
    >>> d["n"], round(d["mean"], 4), round(d["std"], 4)
    (3, 0.82, 0.02)
    """
    x = _values(values)
    low, high = mean_ci(x, confidence)
    return {
        "n": int(len(x)),
        "mean": float(x.mean()) if len(x) else math.nan,
        "std": float(x.std(ddof=1)) if len(x) >= 2 else math.nan,
        "ci_low": low,
        "ci_high": high,
    }


def pair_by_key(values: Mapping, baseline: Mapping) -> tuple[list, np.ndarray, np.ndarray]:
    """Align two ``{key: value}`` mappings (or Series indexed by seed) on their common keys.

    Keys whose value is NaN on either side are left out.

    Returns
    -------
    keys : list
        Sorted common keys.
    a, b : ndarray of shape (n,)

    Examples
    --------
    >>> pair_by_key({0: 0.9, 1: 0.8, 2: 0.7}, {1: 0.5, 2: 0.6, 3: 0.1})
    ([1, 2], array([0.8, 0.7]), array([0.5, 0.6]))
    """
    a_map = dict(values.items())
    b_map = dict(baseline.items())
    keys = sorted(k for k in set(a_map) & set(b_map) if not (pd.isna(a_map[k]) or pd.isna(b_map[k])))
    return keys, np.array([a_map[k] for k in keys], dtype=np.float64), np.array([b_map[k] for k in keys], dtype=np.float64)


def bootstrap_ci(values, confidence: float = 0.95, *, n_boot: int = N_BOOT, random_state=0) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean.

    Parameters
    ----------
    values : array-like of shape (n,)
    n_boot : int
        Resamples (with replacement) of the ``n`` values.
    random_state : None, int or numpy.random.Generator
        Seeds the resampling; the default 0 makes the interval reproducible.

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` for fewer than two values.

    Examples
    --------
    >>> bootstrap_ci([2.0, 2.0, 2.0])
    (2.0, 2.0)
    """
    x = _values(values)
    if len(x) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(random_state)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


@dataclass(frozen=True)
class SignFlipResult:
    """Result of :func:`sign_flip_test`.

    Attributes
    ----------
    p_value : float
        Two-sided; NaN for fewer than two differences.
    method : str
        The test as a report should name it, e.g. "exact sign-flip permutation test (8 sign
        patterns)".
    exact : bool
    n_patterns : int
        Sign patterns enumerated (exact) or drawn (Monte Carlo).
    """

    p_value: float
    method: str
    exact: bool
    n_patterns: int


def min_sign_flip_p(n: int) -> float:
    """The smallest two-sided p-value the exact sign-flip test can give with ``n`` pairs.

    >>> min_sign_flip_p(3), min_sign_flip_p(5)
    (0.25, 0.0625)
    """
    return math.nan if n < 2 else min(1.0, 2.0 / 2.0**n)


def sign_flip_test(diffs, *, max_exact: int = MAX_EXACT, n_resamples: int = N_RESAMPLES, random_state=0) -> SignFlipResult:
    """Paired permutation test of "mean difference = 0" by flipping the signs of the differences.

    The statistic is ``|sum(d)|``; the p-value is the share of sign patterns ``s`` with
    ``|sum(s·d)| >= |sum(d)|``. All ``2**n`` patterns are enumerated when ``2**n <= max_exact``;
    otherwise ``n_resamples`` random patterns are drawn and ``p = (1 + hits) / (1 + n_resamples)``.

    Parameters
    ----------
    diffs : array-like of shape (n,)
        Paired differences (NaNs dropped).
    max_exact : int
    n_resamples : int
    random_state : None, int or numpy.random.Generator
        Used only for the Monte Carlo version.

    Returns
    -------
    SignFlipResult

    Examples
    --------
    >>> sign_flip_test([1.0, 2.0, 3.0]).p_value
    0.25
    >>> sign_flip_test([1.0, -1.0]).p_value
    1.0
    """
    d = _values(diffs)
    n = len(d)
    if n < 2:
        return SignFlipResult(math.nan, "sign-flip permutation test (n/a: fewer than 2 pairs)", True, 0)
    observed = abs(float(d.sum()))
    tolerance = 1e-12 * max(1.0, float(np.abs(d).sum()))
    if 2**n <= max_exact:
        patterns = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        hits = int(np.count_nonzero(np.abs(patterns @ d) >= observed - tolerance))
        return SignFlipResult(hits / 2**n, f"exact sign-flip permutation test ({2**n:,} sign patterns)", True, 2**n)
    rng = np.random.default_rng(random_state)
    hits, left = 0, n_resamples
    while left:
        size = min(left, 8192)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        hits += int(np.count_nonzero(np.abs(signs @ d) >= observed - tolerance))
        left -= size
    return SignFlipResult(
        (1 + hits) / (1 + n_resamples),
        f"Monte Carlo sign-flip permutation test ({n_resamples:,} random sign patterns)",
        False,
        n_resamples,
    )


def paired_t_pvalue(diffs) -> float:
    """Two-sided p-value of the one-sample t-test of the differences against 0 (scipy).

    NaN for fewer than two differences or when all differences are equal (no variance).

    >>> round(paired_t_pvalue([1.0, 2.0, 3.0]), 4)
    0.0742
    """
    from scipy import stats

    d = _values(diffs)
    # Equal differences (up to float noise) have no variance: t is undefined, not huge.
    if len(d) < 2 or np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_1samp(d, 0.0).pvalue)


def paired_difference(
    values: Mapping,
    baseline: Mapping,
    *,
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    max_exact: int = MAX_EXACT,
    n_resamples: int = N_RESAMPLES,
    random_state=0,
) -> dict:
    """Compare ``values`` with ``baseline``, paired by key (the seed).

    Parameters
    ----------
    values, baseline : mapping or Series, key -> float
        E.g. accuracy by seed of a strategy and of the baseline strategy.
    confidence : float
    n_boot, max_exact, n_resamples, random_state
        See :func:`bootstrap_ci` and :func:`sign_flip_test`.

    Returns
    -------
    dict
        ``n`` (pairs), ``keys``, ``mean_diff``, ``std_diff``, ``ci_low``/``ci_high`` (t),
        ``boot_low``/``boot_high`` (percentile bootstrap), ``p_value`` (sign-flip test), ``test``
        (its name), ``p_ttest`` (paired t-test, for reference).

    Examples
    --------
    >>> r = paired_difference({0: 0.81, 1: 0.82, 2: 0.83}, {0: 0.80, 1: 0.80, 2: 0.80})
    >>> r["n"], round(r["mean_diff"], 4), r["p_value"]
    (3, 0.02, 0.25)
    """
    keys, a, b = pair_by_key(values, baseline)
    d = a - b
    ci_low, ci_high = mean_ci(d, confidence)
    boot_low, boot_high = bootstrap_ci(d, confidence, n_boot=n_boot, random_state=random_state)
    test = sign_flip_test(d, max_exact=max_exact, n_resamples=n_resamples, random_state=random_state)
    return {
        "n": len(d),
        "keys": keys,
        "mean_diff": float(d.mean()) if len(d) else math.nan,
        "std_diff": float(d.std(ddof=1)) if len(d) >= 2 else math.nan,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "boot_low": boot_low,
        "boot_high": boot_high,
        "p_value": test.p_value,
        "test": test.method,
        "p_ttest": paired_t_pvalue(d),
    }


def sentence_test(correct, baseline_correct, *, n_resamples: int = N_RESAMPLES, random_state=0) -> dict:
    """Paired permutation test over evaluation sentences, pooled across seeds.

    Each sentence's net score is its wins minus its losses over the paired seeds (a win: the
    strategy's model right, the baseline's wrong). Under the null hypothesis the two strategies
    are exchangeable on every sentence, so each net score is as likely to have either sign;
    :func:`sign_flip_test` over the sentences gives the p-value. Flipping whole sentences rather
    than (seed, sentence) pairs keeps a sentence's seeds together: a hard sentence tends to be
    missed by every seed's model, and treating those as independent would overstate the evidence.
    With one seed this is McNemar's test.

    Parameters
    ----------
    correct, baseline_correct : array-like of bool, same shape (n_seeds, n_sentences)
        Whether each seed's model of the strategy / the baseline got each sentence right; row
        ``i`` of both must come from the same seed.
    n_resamples, random_state
        See :func:`sign_flip_test` (exact up to 16 sentences that differ, Monte Carlo above).

    Returns
    -------
    dict
        ``wins`` and ``losses`` over all (seed, sentence) pairs, ``p_value`` (two-sided; NaN
        when nothing is scored, 1.0 when the models never disagree) and ``test`` (its name).

    Examples
    --------
    >>> r = sentence_test([[1, 1, 1, 0]], [[0, 0, 1, 0]])
    >>> r["wins"], r["losses"], r["p_value"]
    (2, 0, 0.5)
    """
    a = np.atleast_2d(np.asarray(correct, dtype=bool))
    b = np.atleast_2d(np.asarray(baseline_correct, dtype=bool))
    if a.shape != b.shape:
        raise ValueError(f"paired correctness arrays differ in shape: {a.shape} vs {b.shape}")
    if a.size == 0:
        return {"wins": 0, "losses": 0, "p_value": math.nan, "test": "n/a: no sentences"}
    wins, losses = int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))
    net = (a.astype(np.int64) - b.astype(np.int64)).sum(axis=0)
    net = net[net != 0].astype(np.float64)  # a zero flips to itself: it cannot change the p-value
    if len(net) < 2:  # at most one sentence differs: either sign is as extreme
        return {"wins": wins, "losses": losses, "p_value": 1.0, "test": "sign-flip permutation test over sentences"}
    result = sign_flip_test(net, n_resamples=n_resamples, random_state=random_state)
    return {
        "wins": wins,
        "losses": losses,
        "p_value": result.p_value,
        "test": result.method.replace("sign-flip permutation test", "sign-flip permutation test over sentences"),
    }


def combined_p(*p_values: float) -> float:
    """p-value of the intersection-union test that rejects only when every test rejects: the
    largest of them (NaN if any is undefined). It keeps its level without adjustment.

    >>> combined_p(0.01, 0.03), combined_p(0.01, float("nan"))
    (0.03, nan)
    """
    return math.nan if any(p is None or pd.isna(p) for p in p_values) else float(max(p_values))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment for multiple comparisons (family-wise error rate).

    NaNs stay NaN and do not count as comparisons.

    >>> holm([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def random_effects(effects, standard_errors, confidence: float = 0.95) -> dict[str, float]:
    """DerSimonian-Laird random-effects pooling of independent estimates.

    With weights ``w_i = 1 / se_i**2``, Cochran's ``Q = sum w_i (y_i - y_fixed)**2`` around the
    inverse-variance (fixed-effect) mean gives the between-estimate variance
    ``tau2 = max(0, (Q - (k - 1)) / (sum w - sum w**2 / sum w))``; the pooled estimate weights each
    ``y_i`` by ``1 / (se_i**2 + tau2)``, with a normal confidence interval. With ``tau2 = 0`` it
    is the fixed-effect estimate.

    Parameters
    ----------
    effects, standard_errors : array-like of shape (k,)
        Each estimate and its standard error (finite, > 0).
    confidence : float

    Returns
    -------
    dict
        ``k``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value`` (two-sided z-test of
        no effect), ``q``, ``tau2`` and ``i2`` (the share of the spread beyond chance,
        ``max(0, (Q - (k - 1)) / Q)``); all NaN but ``k`` with fewer than two estimates.

    Examples
    --------
    >>> r = random_effects([0.01, 0.03], [0.01, 0.01])
    >>> round(r["estimate"], 4), round(r["tau2"], 6), round(r["i2"], 2)
    (0.02, 0.0001, 0.5)
    """
    from scipy import stats

    y = np.asarray(effects, dtype=np.float64)
    se = np.asarray(standard_errors, dtype=np.float64)
    if y.shape != se.shape or not (np.isfinite(se).all() and (se > 0).all() and np.isfinite(y).all()):
        raise ValueError("random_effects needs finite effects and finite, positive standard errors of the same length")
    k = len(y)
    if k < 2:
        return {"k": k, **dict.fromkeys(("estimate", "se", "ci_low", "ci_high", "p_value", "q", "tau2", "i2"), math.nan)}
    w = 1.0 / se**2
    fixed = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - fixed) ** 2))
    tau2 = max(0.0, (q - (k - 1)) / float(np.sum(w) - np.sum(w**2) / np.sum(w)))
    w_star = 1.0 / (se**2 + tau2)
    estimate = float(np.sum(w_star * y) / np.sum(w_star))
    pooled_se = float(math.sqrt(1.0 / np.sum(w_star)))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return {
        "k": k,
        "estimate": estimate,
        "se": pooled_se,
        "ci_low": estimate - z * pooled_se,
        "ci_high": estimate + z * pooled_se,
        "p_value": float(2 * stats.norm.sf(abs(estimate) / pooled_se)),
        "q": q,
        "tau2": tau2,
        "i2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0,
    }


def percent_of(value: float, reference: float) -> float:
    """``100 · value / reference``; NaN when either is missing or the reference is 0.

    >>> percent_of(0.85, 0.9)
    94.44444444444444
    """
    if value is None or reference is None or pd.isna(value) or pd.isna(reference) or reference == 0:
        return math.nan
    return 100.0 * float(value) / float(reference)


def format_p(p: float) -> str:
    """A p-value for a table: "n/a" when undefined, "<0.001" when tiny, else 3 decimals.

    >>> format_p(float("nan")), format_p(0.25), format_p(1e-5)
    ('n/a', '0.250', '<0.001')
    """
    if p is None or pd.isna(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
