"""Across studies: one study per data set, the same strategies in each, compared with ``random``.

:func:`read_sets` reads each study directory once (:func:`~alsel.report.collect.collect_study`)
and summarises it exactly as its own report does (:func:`~alsel.report.analysis.summarize`:
paired differences by seed, Holm-adjusted within the study). :func:`compare` turns those into the
tables of :class:`Comparison`, pure functions of the summaries:

- the per-set table (``compare.csv``): each set, strategy and budget with the study's own
  numbers and the median cost of a run, also as a ratio to ``random``'s;
- a pooled difference per strategy at one budget: a DerSimonian-Laird random-effects
  meta-analysis (:func:`~alsel.stats.random_effects`) of the per-set mean paired differences,
  each with its standard error (SD of the paired differences / sqrt(pairs));
- label efficiency: the budget ``random`` needs to match a strategy's mean accuracy, by linear
  interpolation of ``random``'s mean accuracy between its measured budgets.

:func:`alsel.report.write_comparison` writes them, with ``compare.md`` and the figures
(:mod:`~alsel.report.compare_render`) and the decision rule's reading (:mod:`~alsel.report.decision`),
which both read a :class:`Comparison`: this module imports neither.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io import read_json
from ..loops.config import budget_order, per_class
from ..loops.presets import BASELINE
from ..models import describe_machine
from ..stats import random_effects
from ..study.layout import RUNS, STUDY_RECORD
from ..study.spec import strategy_names
from .analysis import summarize
from .collect import at_budget, collect_study, full_strategies, numeric_budgets
from .formatting import budget_text

__all__ = [
    "COMPARE_COLUMNS",
    "POOLED_COLUMNS",
    "EFFICIENCY_COLUMNS",
    "StudySet",
    "Comparison",
    "read_sets",
    "compare",
    "compare_table",
    "pooled_table",
    "efficiency_table",
    "versus",
    "budget_to_match",
    "curve_strategies",
    "compared_rows",
]

COMPARE_COLUMNS = [
    "set",
    "strategy",
    "budget",
    "per_class",
    "n",
    "n_pairs",
    "accuracy_mean",
    "diff_mean",
    "diff_std",
    "diff_se",
    "diff_ci_low",
    "diff_ci_high",
    "p_holm",
    "verdict",
    "cost_median",
    "cost_ratio",
    "embed_median",
    "cached_cost_ratio",
]
POOLED_COLUMNS = ["strategy", "budget", "k", "sets", "estimate", "se", "ci_low", "ci_high", "p_value", "q", "tau2", "i2"]
EFFICIENCY_COLUMNS = ["set", "strategy", "budget", "accuracy_mean", "random_budget", "relation"]
#: What ``relation`` says about ``random_budget``: interpolated, or beyond the measured range.
INTERPOLATED, ABOVE, BELOW = "=", ">", "<"
#: A pooled estimate needs this many sets.
MIN_SETS = 2
#: Standard errors below this are rounding noise of identical paired differences (an accuracy
#: share; one sentence in a million is 1e-6): such a set has no usable standard error.
MIN_SE = 1e-9


@dataclass(frozen=True)
class StudySet:
    """One data set's study, read and summarised.

    Attributes
    ----------
    name : str
        The study directory's name.
    study_dir : Path
    runs : DataFrame
        The finished runs (:data:`~alsel.report.collect.RESULT_COLUMNS`).
    summary : DataFrame
        :func:`~alsel.report.analysis.summarize` of the runs, as the study's summary.csv.
    machines : dict
        Finished runs per machine they recorded (:func:`~alsel.models.describe_machine`).
    correct : dict
        ``run_dir`` -> which evaluation examples the run got right, for the sentence-level test.
    note : str or None
        Why some runs are left out of the sentence-level test (their comparisons get no verdict).
    """

    name: str
    study_dir: Path
    runs: pd.DataFrame
    summary: pd.DataFrame
    machines: dict = field(default_factory=dict)
    correct: dict = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class Comparison:
    """The studies and every table the comparison shows, at one ``budget``.

    Attributes
    ----------
    sets : list of StudySet
    budget : float, int or str
    baseline : str
    table : DataFrame
        :data:`COMPARE_COLUMNS`, every set, strategy and budget.
    pooled : DataFrame
        :data:`POOLED_COLUMNS`, the strategies present in at least two sets at ``budget``.
    efficiency : DataFrame
        :data:`EFFICIENCY_COLUMNS`, the sets whose baseline has a budget curve.
    """

    sets: list
    budget: float | int | str
    baseline: str
    table: pd.DataFrame
    pooled: pd.DataFrame
    efficiency: pd.DataFrame


# --------------------------------------------------------------------------- reading


def read_sets(study_dirs, baseline: str = BASELINE, strategies=None, reference: str | None = None, budgets=None) -> list[StudySet]:
    """Each study directory read and summarised as its own report does. With ``strategies``
    (a list or comma-separated), as if each study held only those, ``baseline`` and
    ``reference`` (a loop read beside them where the studies have it: the decision rule's);
    with ``budgets`` (a list), as if it held only the runs at those budgets. The Holm
    correction within a set then counts only their comparisons, so a reading stays the same
    when runs of other strategies or budgets are added to the studies.

    Raises
    ------
    ConfigError
        A directory that is not a study, one without finished runs or without finished
        ``baseline`` runs, two studies of the same name, an empty ``strategies`` or a strategy
        in it that no study has finished.
    """
    if strategies is not None:
        strategies = strategy_names(strategies)
        if not strategies:
            raise ConfigError("--strategies: no strategy named")
    keep = None if strategies is None else {*strategies, baseline, reference}
    sets = [_read_set(Path(d), baseline, keep, budgets) for d in study_dirs]
    names = [s.name for s in sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"two studies are named {', '.join(repeated)}; a set is named after its study directory")
    _refuse_copies(sets)
    absent = [name for name in strategies or () if not any((s.runs["strategy"] == name).any() for s in sets)]
    if absent:
        raise ConfigError(f"no study has finished {', '.join(absent)} runs")
    return sets


def _refuse_copies(sets: list[StudySet]) -> None:
    """Two directories holding one study (a copy under another name) would be pooled as two
    data sets, counting one twice: refused, naming both. A study is known by its study.json's
    name and creation time, which its copies keep."""
    seen: dict = {}
    for study_set in sets:
        try:
            record = read_json(study_set.study_dir / STUDY_RECORD)
        except (OSError, ValueError):  # no record (runs only) or a damaged one: nothing to tell by
            continue
        identity = (record.get("name"), record.get("created")) if isinstance(record, dict) else (None, None)
        if None in identity:
            continue
        if identity in seen:
            raise ConfigError(
                f"{seen[identity]} and {study_set.study_dir} hold one study ({identity[0]!r}, created {identity[1]}); "
                "a comparison pools different data sets: pass each study once"
            )
        seen[identity] = study_set.study_dir


def _read_set(study_dir: Path, baseline: str, strategies, budgets) -> StudySet:
    if not (study_dir / STUDY_RECORD).is_file() and not (study_dir / RUNS).is_dir():
        raise ConfigError(f"{study_dir}: not a study directory (no {STUDY_RECORD} or {RUNS}/)")
    study = collect_study(study_dir, subsets=False, strategies=strategies, budgets=budgets)
    if not (study.runs["strategy"] == baseline).any():
        raise ConfigError(f"{study_dir}: no finished {baseline} runs; every strategy is compared with {baseline}")
    summary = summarize(study.runs, baseline, correct=study.correct)
    machines = Counter(describe_machine((study.configs.get(r) or {}).get("machine")) for r in study.runs["run_dir"])
    return StudySet(study_dir.resolve().name, study_dir, study.runs, summary, dict(machines), study.correct, study.correct_note)


def versus(sets: list[StudySet], baseline: str, budget: float | int | str) -> list[StudySet] | None:
    """The same studies summarised against another ``baseline``; None when a set lacks it at
    ``budget`` (a comparison there would pair nothing with it)."""
    if not all(((s.runs["strategy"] == baseline) & at_budget(s.runs, budget)).any() for s in sets):
        return None
    return [replace(s, summary=summarize(s.runs, baseline, correct=s.correct)) for s in sets]


# --------------------------------------------------------------------------- tables


def compare(sets: list[StudySet], budget: float | int | str, baseline: str = BASELINE) -> Comparison:
    """Every table of the comparison at ``budget``.

    Raises
    ------
    ConfigError
        No set has runs at ``budget``.
    """
    table = compare_table(sets, baseline)
    if not at_budget(table, budget).any():
        raise ConfigError(
            f"no study has runs at budget {budget_text(budget)}; measured: {', '.join(map(budget_text, sorted(table['budget'].unique(), key=budget_order)))}"
        )
    return Comparison(sets, budget, baseline, table, pooled_table(table, budget, baseline), efficiency_table(table, budget, baseline))


def compare_table(sets: list[StudySet], baseline: str = BASELINE) -> pd.DataFrame:
    """Per set, strategy and budget: the study's own comparison with ``baseline`` (pairs, mean
    accuracy, paired difference with its t-based 95% CI, Holm-adjusted p and verdict), the
    difference's standard error (``diff_std / sqrt(n_pairs)``) and the median cost of a run
    (training + scoring + selection, in seconds) with its ratio to the baseline's at the same
    budget."""
    frames = []
    for s in sets:
        rows = s.summary.assign(set=s.name)
        rows["diff_se"] = rows["diff_std"] / np.sqrt(rows["n_pairs"].where(rows["n_pairs"] > 0))
        runs = s.runs.assign(embed=s.runs["embed_seconds"].fillna(0.0))
        runs["cached_cost"] = runs["cost_seconds"] - runs["embed"]
        by_cell = runs.groupby(["strategy", "budget"], sort=False)
        cost = pd.DataFrame(
            {
                "cost_median": by_cell["cost_seconds"].median(),
                "embed_median": by_cell["embed"].median(),
                "cached_median": by_cell["cached_cost"].median(),
            }
        )
        rows = rows.join(cost, on=["strategy", "budget"])
        base = rows[rows["strategy"] == baseline].set_index("budget")["cost_median"]
        rows["cost_ratio"] = rows["cost_median"] / rows["budget"].map(base)
        rows["cached_cost_ratio"] = rows["cached_median"] / rows["budget"].map(base)
        frames.append(rows[COMPARE_COLUMNS])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COMPARE_COLUMNS)


def compared_rows(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Rows of strategies compared with the baseline (not the baseline, not the full pool)."""
    return table[(table["strategy"] != baseline) & table["diff_mean"].notna()]


def pooled_table(table: pd.DataFrame, budget: float | int | str, baseline: str = BASELINE) -> pd.DataFrame:
    """Per strategy at ``budget``: the random-effects pooled paired difference over the sets
    whose difference has a standard error (finite, > :data:`MIN_SE`), if there are at least two."""
    rows = []
    at = compared_rows(table, baseline)
    at = at[at_budget(at, budget) & np.isfinite(at["diff_se"]) & (at["diff_se"] > MIN_SE)]
    for strategy, group in at.groupby("strategy", sort=False):
        if len(group) < MIN_SETS:
            continue
        pooled = random_effects(group["diff_mean"], group["diff_se"])
        rows.append({"strategy": strategy, "budget": budget, "sets": ", ".join(group["set"]), **pooled})
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


def budget_to_match(curve: dict, accuracy: float) -> tuple[float, str]:
    """The budget at which a curve of mean accuracy by budget first reaches ``accuracy``, by
    linear interpolation between measured budgets.

    Returns
    -------
    (budget, relation)
        ``relation`` is ``"="`` for an interpolated budget, ``">"`` when the curve never
        reaches ``accuracy`` (``budget`` is then the largest measured) and ``"<"`` when it is
        already above at the smallest (``budget`` is then the smallest).

    Examples
    --------
    >>> budget_to_match({0.05: 0.80, 0.1: 0.82, 0.2: 0.86}, 0.84)
    (0.15, '=')
    >>> budget_to_match({0.05: 0.80, 0.1: 0.82}, 0.9), budget_to_match({0.05: 0.80, 0.1: 0.82}, 0.7)
    ((0.1, '>'), (0.05, '<'))
    """
    budgets = sorted(curve)
    values = [curve[b] for b in budgets]
    # a mean equal to a measured one but summed in another order differs in the last bits
    accuracy = next((v for v in values if math.isclose(v, accuracy, rel_tol=0, abs_tol=1e-12)), accuracy)
    if accuracy <= values[0]:
        return budgets[0], INTERPOLATED if accuracy == values[0] else BELOW
    # above the first point: the first segment that climbs past it crosses it first
    for (b0, v0), (b1, v1) in zip(zip(budgets, values), zip(budgets[1:], values[1:])):
        if v0 < accuracy <= v1:
            return round(b0 + (accuracy - v0) / (v1 - v0) * (b1 - b0), 12), INTERPOLATED
    return budgets[-1], ABOVE


def efficiency_table(table: pd.DataFrame, budget: float | int | str, baseline: str = BASELINE) -> pd.DataFrame:
    """Per set and strategy at ``budget``: the budget ``baseline`` needs to match the strategy's
    mean accuracy (:func:`budget_to_match` over the baseline's budgets), for the sets where the
    baseline ran at two budgets or more."""
    rows = []
    for name, rows_of_set in table.groupby("set", sort=False):
        base = rows_of_set[rows_of_set["strategy"] == baseline]
        # the curve on the compared budget's own scale: fractions and counts, or labels per class
        numeric = numeric_budgets(base["budget"])
        if per_class(budget) is None:
            curve = {b: a for b, a in zip(numeric, base["accuracy_mean"]) if not math.isnan(b)}
        else:
            counts = [per_class(b) for b in base["budget"]]
            curve = {float(n): a for n, a in zip(counts, base["accuracy_mean"]) if n is not None}
        if len(curve) < 2:
            continue
        at = compared_rows(rows_of_set, baseline)
        for r in at[at_budget(at, budget)].itertuples(index=False):
            needed, relation = budget_to_match(curve, r.accuracy_mean)
            rows.append(
                {
                    "set": name,
                    "strategy": r.strategy,
                    "budget": budget,
                    "accuracy_mean": r.accuracy_mean,
                    "random_budget": needed,
                    "relation": relation,
                }
            )
    return pd.DataFrame(rows, columns=EFFICIENCY_COLUMNS)


def curve_strategies(runs: pd.DataFrame) -> list[str]:
    """The strategies of a study with several budgets (not the full pool), in its order."""
    part = runs[~runs["strategy"].isin(full_strategies(runs))]
    counts = part.groupby("strategy", sort=False)["budget"].nunique()
    return [s for s, n in counts.items() if n > 1]
