"""The decision rule that chooses alsel's recommendation from studies on several data sets.

The rule (docs/results.md, "The loop question again", written down before that grid's runs;
first written for "Beyond SST-2", which also read the third filter) reads up to three filters and
one ranking, all at the comparison's budget:

1. **never worse**: measured on every set with a verdict (a p-value: at least two paired seeds
   and the tests' inputs readable), and significantly worse than the baseline on none (each
   study's own verdict, Holm-adjusted within the set);
2. **cost**: the median cost of a run at most ``max_cost_ratio`` times the baseline's on every
   set, with the set's embeddings cached (what every loop after the first on that data pays);
3. **keeping the gain** of ``keep_gain_of``, where one is named (the expensive loop a cheaper
   one replaces; "Beyond SST-2" named ``kmeans_margin``, the loop question names none): paired
   with it instead of the baseline, significantly worse on no set and with a verdict on every set,
   and the pooled difference to it has a 95% CI that reaches zero or lies above it.

Among the strategies that pass all three, the best pooled difference to the baseline wins;
pooled differences within ``tie`` of the best are a tie, which goes to the loop whose highest
cost ratio over the sets is lowest.

Where it lives, and why: the rule is a judgement on a comparison's numbers, so it belongs to the
report layer (above the loop, whose presets only name the loop it chose:
:data:`~alsel.loops.presets.RECOMMENDED`). It is a module of its own beside :mod:`alsel.report`,
not inside it, because it imports nothing (no pandas): the command line reads :data:`RULE`'s
numbers as its option defaults without loading the report. :func:`alsel.report.decision.decide`
reads two comparisons into one row per strategy and hands the rows to :meth:`DecisionRule.failures`
and :meth:`DecisionRule.choose`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecisionRule", "RULE"]


def _missing(value) -> bool:
    """None or NaN: a reading the rule cannot pass."""
    return value is None or value != value


@dataclass(frozen=True)
class DecisionRule:
    """The rule's three numbers, its filters and its ranking; the defaults are docs/results.md's.

    Attributes
    ----------
    max_cost_ratio : float
        Highest median cost of a run, as a multiple of the baseline's, on any set (embeddings cached).
    tie : float
        Pooled differences (accuracy share) this close to the best are a tie.
    keep_gain_of : str or None
        The strategy whose gain the recommendation must keep; None: no such filter.
    """

    max_cost_ratio: float = 1.5
    tie: float = 0.005
    keep_gain_of: str | None = None

    def describe(self, baseline: str) -> str:
        keep = (
            (
                f"; paired with `{self.keep_gain_of}` instead, significantly worse on no set and a pooled difference "
                "whose 95% CI reaches zero or lies above it"
            )
            if self.keep_gain_of
            else ""
        )
        return (
            f"measured and tested on every set and significantly worse than `{baseline}` on none; a median cost of at most "
            f"{self.max_cost_ratio:g}× `{baseline}`'s on every set, embeddings cached{keep}. Among the strategies "
            f"that pass, the best pooled difference to `{baseline}` wins; differences within {100 * self.tie:g} "
            "points of the best are a tie, which goes to the lowest highest cost ratio (embeddings cached)"
        )

    def failures(self, row: dict, n_sets: int, reference_read: bool) -> list[str]:
        """Each filter one strategy does not pass, as a phrase; ``row`` is what the comparison
        says of it (:data:`~alsel.report.decision.DECISION_COLUMNS`), ``reference_read`` whether
        it was paired with ``keep_gain_of`` at all."""
        fails = []
        if row["sets"] < n_sets:
            fails.append(f"measured on {row['sets']} of {n_sets} sets")
        if row["worse_on"]:
            fails.append(f"worse on {row['worse_on']}")
        if row["untested_on"]:  # no verdict cannot show that a loop is never worse
            fails.append(f"untested on {row['untested_on']}")
        if _missing(row["pooled"]):
            fails.append("no pooled difference")
        if not row["max_cached_cost_ratio"] <= self.max_cost_ratio:  # NaN (no cost recorded) fails too
            fails.append(f"cost {row['max_cached_cost_ratio']:.2f}× > {self.max_cost_ratio:g}×")
        if reference_read and row["strategy"] != self.keep_gain_of:
            fails += self._reference_failures(row)
        return fails

    def _reference_failures(self, row: dict) -> list[str]:
        """The keeping-the-gain filter: the first thing pairing with ``keep_gain_of`` fails on."""
        reference = self.keep_gain_of
        if row["worse_than_reference_on"]:
            return [f"worse than {reference} on {row['worse_than_reference_on']}"]
        if row["untested_against_reference_on"]:
            return [f"untested against {reference} on {row['untested_against_reference_on']}"]
        if not row["reference_ci_high"] >= 0:  # NaN: the gain cannot be shown to be kept
            return [f"gives up {reference}'s gain" if row["reference_ci_high"] < 0 else f"no pooled difference to {reference}"]
        return []

    def choose(self, passing) -> str | None:
        """The strategy of the best pooled difference among ``passing`` (a DataFrame of the rows
        that pass every filter); a tie within ``tie`` goes to the lowest highest cached cost
        ratio, then to the first in the table (stable). None when nothing passes."""
        if passing.empty:
            return None
        tied = passing[passing["pooled"] >= passing["pooled"].max() - self.tie - 1e-12]
        return tied.sort_values("max_cached_cost_ratio", kind="stable")["strategy"].iloc[0]


#: The rule that chooses the recommendation from studies on several data sets (``alsel compare``).
RULE = DecisionRule()
