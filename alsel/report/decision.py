"""Applying the decision rule (:mod:`alsel.decision_rule`, which states it) to the comparisons:
:func:`decide` is a pure function of two :class:`~alsel.report.compare.Comparison` objects,
against the baseline and against the rule's ``keep_gain_of``. It reads them into one row per
strategy at the comparison's budget (:data:`DECISION_COLUMNS`), asks the rule which filters each
row fails, and lets the rule rank the rows that pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..decision_rule import RULE, DecisionRule
from .analysis import UNTESTED, WORSE
from .collect import at_budget
from .compare import Comparison, compared_rows
from .formatting import budget_text

__all__ = ["Decision", "DECISION_COLUMNS", "decide"]

#: What pairing with the rule's reference says of a strategy; this, when it was not paired.
_NOT_PAIRED = {
    "worse_than_reference_on": "",
    "untested_against_reference_on": "",
    "reference_pooled": math.nan,
    "reference_ci_low": math.nan,
    "reference_ci_high": math.nan,
}

DECISION_COLUMNS = [
    "strategy",
    "sets",
    "worse_on",
    "untested_on",
    "pooled",
    "max_cost_ratio",
    "max_cached_cost_ratio",
    *_NOT_PAIRED,
    "fails",
    "chosen",
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
            "strategy": strategy,
            "sets": len(group),
            "worse_on": _sets_with(group, WORSE),
            "untested_on": _sets_with(group, UNTESTED),
            "pooled": pooled.get(strategy, math.nan),
            "max_cost_ratio": group["cost_ratio"].max(),
            "max_cached_cost_ratio": group["cached_cost_ratio"].max(),
            **reference.get(strategy, _NOT_PAIRED),
        }
        row["fails"] = "; ".join(rule.failures(row, len(c.sets), versus_reference is not None))
        rows.append(row)
    table = pd.DataFrame(rows, columns=DECISION_COLUMNS[:-1])
    chosen = rule.choose(table[table["fails"] == ""])
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
        columns={"estimate": "reference_pooled", "ci_low": "reference_ci_low", "ci_high": "reference_ci_high"}
    )
    return {
        strategy: {
            "worse_than_reference_on": _sets_with(group, WORSE),
            "untested_against_reference_on": _sets_with(group, UNTESTED),
            **(pooled.loc[strategy].to_dict() if strategy in pooled.index else dict.fromkeys(pooled.columns, math.nan)),
        }
        for strategy, group in at.groupby("strategy", sort=False)
    }
