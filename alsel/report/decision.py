"""The decision rule that turns a comparison across data sets into one recommendation.

The rule (docs/results.md, Beyond SST-2, written down before the cross-task results) reads three
filters and one ranking, all at the comparison's budget:

1. **never worse**: measured on every set with a verdict (a p-value: at least two paired seeds
   and the tests' inputs readable), and significantly worse than the baseline on none (each
   study's own verdict, Holm-adjusted within the set);
2. **cost**: the median cost of a run at most ``max_cost_ratio`` times the baseline's on every
   set, with the set's embeddings cached (what every loop after the first on that data pays);
3. **keeping the gain** of ``keep_gain_of`` (the expensive loop a cheaper one replaces): paired
   with it instead of the baseline, significantly worse on no set and with a verdict on every set,
   and the pooled difference to it has a 95% CI that reaches zero or lies above it.

Among the strategies that pass all three, the best pooled difference to the baseline wins;
pooled differences within ``tie`` of the best are a tie, which goes to the loop whose highest
cost ratio over the sets is lowest. The rule's numbers are a
:class:`~alsel.loops.presets.DecisionRule`; :func:`decide` is a pure function of two
:class:`~alsel.report.compare.Comparison` objects: against the baseline, and against
``keep_gain_of``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..loops.presets import RULE, DecisionRule
from .analysis import UNTESTED, WORSE
from .compare import Comparison, at_budget, compared_rows
from .formatting import budget_text

__all__ = ["Decision", "DECISION_COLUMNS", "decide"]

#: What pairing with the rule's reference says of a strategy; this, when it was not paired.
_NOT_PAIRED = {"worse_than_reference_on": "", "untested_against_reference_on": "",
               "reference_pooled": math.nan, "reference_ci_low": math.nan, "reference_ci_high": math.nan}

DECISION_COLUMNS = [
    "strategy", "sets", "worse_on", "untested_on", "pooled", "max_cost_ratio", "max_cached_cost_ratio",
    *_NOT_PAIRED, "fails", "chosen",
]


@dataclass(frozen=True)
class Decision:
    """What the rule read per strategy (:data:`DECISION_COLUMNS`) and the strategy it chose.

    ``fails`` names each filter a strategy does not pass ("" when it passes all); ``chosen`` is
    None when none passes. ``reference_note`` says why the keeping-the-gain filter was not read,
    if it was not.
    """

    rule: DecisionRule
    table: pd.DataFrame
    chosen: str | None
    reference_note: str | None = None


def decide(comparison: Comparison, rule: DecisionRule = RULE, versus_reference: Comparison | None = None) -> Decision:
    """Apply ``rule`` to ``comparison`` (against the baseline); ``versus_reference`` is the same
    studies compared with ``rule.keep_gain_of`` (None when that strategy is not in every set)."""
    c = comparison
    at = compared_rows(c.table[at_budget(c.table, c.budget)], c.baseline)
    pooled = c.pooled.set_index("strategy")["estimate"]
    reference = _reference_reading(versus_reference, rule.keep_gain_of)
    note = None
    if rule.keep_gain_of and versus_reference is None:
        note = f"not read: `{rule.keep_gain_of}` is not measured at {budget_text(c.budget)} on every set"
    rows = []
    for strategy, group in at.groupby("strategy", sort=False):
        row = {
            "strategy": strategy, "sets": len(group), "worse_on": _sets_with(group, WORSE), "untested_on": _sets_with(group, UNTESTED),
            "pooled": pooled.get(strategy, math.nan), "max_cost_ratio": group["cost_ratio"].max(),
            "max_cached_cost_ratio": group["cached_cost_ratio"].max(),
            **reference.get(strategy, _NOT_PAIRED),
        }
        row["fails"] = "; ".join(_failures(row, len(c.sets), rule, versus_reference is not None))
        rows.append(row)
    table = pd.DataFrame(rows, columns=DECISION_COLUMNS[:-1])
    chosen = _rank(table[table["fails"] == ""], rule.tie)
    table["chosen"] = table["strategy"] == chosen
    return Decision(rule, table, chosen, note)


def _sets_with(group: pd.DataFrame, verdict: str) -> str:
    """The sets of one strategy's rows whose verdict is ``verdict``, comma-separated."""
    return ", ".join(group.loc[group["verdict"] == verdict, "set"])


def _reference_reading(versus: Comparison | None, reference: str | None) -> dict:
    """Per strategy, what pairing with the reference says: the sets where it is significantly
    worse or has no verdict, and the pooled difference with its CI."""
    if versus is None or reference is None:
        return {}
    at = compared_rows(versus.table[at_budget(versus.table, versus.budget)], reference)
    pooled = versus.pooled.set_index("strategy")[["estimate", "ci_low", "ci_high"]].rename(
        columns={"estimate": "reference_pooled", "ci_low": "reference_ci_low", "ci_high": "reference_ci_high"})
    return {
        strategy: {"worse_than_reference_on": _sets_with(group, WORSE), "untested_against_reference_on": _sets_with(group, UNTESTED),
                   **(pooled.loc[strategy].to_dict() if strategy in pooled.index else dict.fromkeys(pooled.columns, math.nan))}
        for strategy, group in at.groupby("strategy", sort=False)
    }


def _failures(row: dict, n_sets: int, rule: DecisionRule, reference_read: bool) -> list[str]:
    fails = []
    if row["sets"] < n_sets:
        fails.append(f"measured on {row['sets']} of {n_sets} sets")
    if row["worse_on"]:
        fails.append(f"worse on {row['worse_on']}")
    if row["untested_on"]:  # no verdict cannot show that a loop is never worse
        fails.append(f"untested on {row['untested_on']}")
    if pd.isna(row["pooled"]):
        fails.append("no pooled difference")
    if not row["max_cached_cost_ratio"] <= rule.max_cost_ratio:  # NaN (no cost recorded) fails too
        fails.append(f"cost {row['max_cached_cost_ratio']:.2f}× > {rule.max_cost_ratio:g}×")
    if reference_read and row["strategy"] != rule.keep_gain_of:
        if row["worse_than_reference_on"]:
            fails.append(f"worse than {rule.keep_gain_of} on {row['worse_than_reference_on']}")
        elif row["untested_against_reference_on"]:
            fails.append(f"untested against {rule.keep_gain_of} on {row['untested_against_reference_on']}")
        elif not row["reference_ci_high"] >= 0:  # NaN: the gain cannot be shown to be kept
            fails.append(f"gives up {rule.keep_gain_of}'s gain" if row["reference_ci_high"] < 0 else f"no pooled difference to {rule.keep_gain_of}")
    return fails


def _rank(passing: pd.DataFrame, tie: float) -> str | None:
    """The best pooled difference; a tie within ``tie`` goes to the lowest highest cached cost
    ratio, then to the first in the table (stable)."""
    if passing.empty:
        return None
    tied = passing[passing["pooled"] >= passing["pooled"].max() - tie - 1e-12]
    return tied.sort_values("max_cached_cost_ratio", kind="stable")["strategy"].iloc[0]
