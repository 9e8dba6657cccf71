"""compare.md and the comparison's figures, from a :class:`~alsel.report.compare.Comparison` in
memory (no disk access): per-set differences to the baseline, the pooled estimates, label
efficiency and cost, each as a strategy-by-set table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..loops.config import budget_order, per_class
from ..stats import format_p
from .analysis import BETTER, NO_DIFFERENCE, WORSE
from .collect import at_budget
from .compare import ABOVE, BELOW, INTERPOLATED, MIN_SETS, Comparison, compared_rows, curve_strategies
from .decision import Decision
from .formatting import budget_text, markdown_table, pct, plural, points
from .plots import _colors, _figure, _legend_outside

__all__ = ["render_comparison", "comparison_figures", "forest_figure", "budget_curves_figure"]

_SHORT_VERDICT = {BETTER: "better", WORSE: "worse", NO_DIFFERENCE: "n.s."}
_CAPTIONS = {
    "forest": "Paired difference to {baseline} per strategy and set (95% t-based CI over seeds); diamonds: the random-effects pooled difference with its 95% CI.",
    "budget_curves": "Accuracy against budget per set for the strategies run at several budgets: mean over seeds, the band spans the seeds.",
}


def render_comparison(comparison: Comparison, *, decision: Decision | None = None, figures: dict | None = None) -> str:
    """The markdown of ``compare.md``; ``decision`` is what the decision rule read (none: no
    such section); ``figures`` maps figure names to their file names."""
    c = comparison
    names = [s.name for s in c.sets]
    return (
        "\n".join(
            [f"# The strategies against {c.baseline} on {len(names)} data sets", ""]
            + _studies(c)
            + _differences(c)
            + _pooled(c)
            + _decision(c, decision)
            + _efficiency(c)
            + _curves(c)
            + _cost(c)
            + _figures(c, figures or {})
        )
        + "\n"
    )


def _wide(rows: pd.DataFrame, sets: list[str], cell) -> str:
    """A strategy-by-set markdown table of ``cell(row)``; "—" where a set lacks the strategy."""
    strategies = list(dict.fromkeys(rows["strategy"]))
    by_key = {(r.strategy, r.set): r for r in rows.itertuples(index=False)}
    body = [[s] + [cell(by_key[(s, name)]) if (s, name) in by_key else "—" for name in sets] for s in strategies]
    return markdown_table(body, ["strategy", *sets], "l" + "r" * len(sets))


def _studies(c: Comparison) -> list[str]:
    rows = []
    for s in c.sets:
        budgets = ", ".join(budget_text(b) for b in sorted(s.runs["budget"].unique(), key=budget_order))
        machines = "; ".join(f"{name} ({count})" for name, count in s.machines.items())
        rows.append(
            [
                s.name,
                str(s.study_dir),
                str(len(s.runs)),
                str(s.runs["strategy"].nunique()),
                budgets,
                str(s.runs["seed"].nunique()),
                machines,
            ]
        )
    return [
        "Each set is one study (`alsel study`), summarised exactly as its own `alsel report` does: every strategy "
        f"is paired with `{c.baseline}` by seed at the same budget, and the verdicts are Holm-adjusted over the "
        f"comparisons within that study. The tables are at a budget of {budget_text(c.budget)} unless they say otherwise.",
        "",
        "## Studies",
        "",
        markdown_table(rows, ["set", "study directory", "finished runs", "strategies", "budgets", "seeds", "machines (runs)"], "llrrlrl"),
        *[f"\n**{s.name}**: {s.note}" for s in c.sets if s.note],
    ]


def _differences(c: Comparison) -> list[str]:
    at = c.table[at_budget(c.table, c.budget)]
    names = [s.name for s in c.sets]
    base = at[at["strategy"] == c.baseline]
    accuracy = [
        f"`{c.baseline}` mean accuracy (and labels per class): "
        + "; ".join(f"{r.set} {pct(r.accuracy_mean)}%{_per_class_text(r)}" for r in base.itertuples(index=False))
    ]

    return [
        "",
        f"## Difference to {c.baseline} at {budget_text(c.budget)}, per set",
        "",
        "Mean paired difference in accuracy (points) with its 95% t-based CI over seeds, the study's verdict "
        "(better/worse: the paired t-test and the sentence-level sign-flip test both reject, Holm-adjusted "
        "within the set; n.s.: not significant; untested: no p-value) and the number of paired seeds. "
        "Every number, at every budget, is in compare.csv.",
        "",
        *accuracy,
        "",
        _wide(compared_rows(at, c.baseline), names, _difference_cell),
    ]


def _per_class_text(r) -> str:
    return "" if pd.isna(r.per_class) else f" ({r.per_class:,.1f}/class)"


def _difference_cell(r) -> str:
    """A paired difference with its CI, verdict and pairs: ``+4.38 [+2.55, +6.22] better, 5 pairs``."""
    ci = f"[{points(r.diff_ci_low)}, {points(r.diff_ci_high)}]"
    return f"{points(r.diff_mean)} {ci} {_SHORT_VERDICT.get(r.verdict, r.verdict)}, {int(r.n_pairs)} {plural(int(r.n_pairs), 'pair')}"


def _pooled(c: Comparison) -> list[str]:
    out = [
        "",
        f"## Pooled over sets at {budget_text(c.budget)}",
        "",
        "A DerSimonian–Laird random-effects meta-analysis of the per-set mean paired differences: each set's "
        "difference has the standard error SD(paired differences) / √pairs and is weighted by 1 / (SE² + τ²), "
        "where τ² estimates how much the true difference varies between sets (in points²); I² is the share of "
        "the spread between sets beyond chance. The 95% CI is normal (estimate ± 1.96 SE); the p-value is not "
        f"adjusted for multiple comparisons. A strategy measured on fewer than {MIN_SETS} sets (with a "
        "standard error) gets no pooled row.",
        "",
    ]
    if c.pooled.empty:
        return out + [f"No strategy has a standard error on {MIN_SETS} or more sets at this budget."]
    rows = [
        [
            r.strategy,
            str(r.k),
            points(r.estimate),
            f"[{points(r.ci_low)}, {points(r.ci_high)}]",
            format_p(r.p_value),
            f"{1e4 * r.tau2:.2f}",
            f"{100 * r.i2:.0f}%",
        ]
        for r in c.pooled.itertuples(index=False)
    ]
    return out + [markdown_table(rows, ["strategy", "sets", "pooled difference", "95% CI", "p", "τ²", "I²"], "lrrrrrr")]


def _decision(c: Comparison, decision: Decision | None) -> list[str]:
    if decision is None:
        return []
    rule, reference = decision.rule, decision.rule.keep_gain_of
    ratio = lambda v: "n/a" if pd.isna(v) else f"{v:.2f}×"  # noqa: E731
    rows = []
    for r in decision.table.itertuples(index=False):
        row = [
            f"**{r.strategy}**" if r.chosen else r.strategy,
            str(r.sets),
            r.worse_on or "none",
            points(r.pooled),
            ratio(r.max_cost_ratio),
            ratio(r.max_cached_cost_ratio),
        ]
        if reference:
            gain = (
                "—"
                if r.strategy == reference or decision.reference_note
                else (
                    f"{r.worse_than_reference_on or 'none'}; {points(r.reference_pooled)} [{points(r.reference_ci_low)}, {points(r.reference_ci_high)}]"
                )
            )
            row.append(gain)
        rows.append(row + [r.fails or "passes"])
    header = ["strategy", "sets", "significantly worse on", "pooled difference", "highest cost ratio", "same, embeddings cached"]
    header += [f"vs {reference}: worse on; pooled [95% CI]"] if reference else []
    chosen = (
        f"**The rule chooses `{decision.chosen}`.**"
        if decision.chosen
        else "**No strategy passes every filter**, so the rule chooses none."
    )
    note = [f"Keeping `{reference}`'s gain: {decision.reference_note}."] if decision.reference_note else []
    return [
        "",
        "## The decision rule",
        "",
        f"At {budget_text(c.budget)}: {rule.describe(c.baseline)}. Each filter a strategy does not pass is named "
        "in the last column; `decision.csv` has the same table.",
        "",
        markdown_table(rows, header + ["filters"], "lrlrrr" + ("l" if reference else "") + "l"),
        "",
        *note,
        *([""] if note else []),
        chosen,
    ]


def _efficiency_cell(r) -> str:
    if per_class(r.budget) is not None:  # the baseline's curve in labels per class
        needed = f"{r.random_budget:g}/class" if r.relation != INTERPOLATED else f"{r.random_budget:.1f}/class"
    else:
        needed = budget_text(r.random_budget) if r.relation != INTERPOLATED else f"{100 * r.random_budget:.1f}%"
    return {ABOVE: "> ", BELOW: "< "}.get(r.relation, "") + needed


def _efficiency(c: Comparison) -> list[str]:
    out = [
        "",
        "## Label efficiency",
        "",
        f"The budget `{c.baseline}` needs to match each strategy's mean accuracy at {budget_text(c.budget)}, "
        f"interpolated linearly between `{c.baseline}`'s mean accuracies at its measured budgets (an estimate, "
        'not a measured run). "> b": not reached at the largest measured budget b; "< b": already exceeded '
        "at the smallest.",
        "",
    ]
    names = [s.name for s in c.sets]
    missing = [n for n in names if n not in set(c.efficiency["set"])]
    if c.efficiency.empty:
        return out + [f"No set has `{c.baseline}` runs at two budgets or more."]
    note = [f"No budget curve of `{c.baseline}` (fewer than two budgets) in: {', '.join(missing)}."] if missing else []
    shown = [n for n in names if n not in missing]
    return out + [_wide(c.efficiency, shown, _efficiency_cell)] + ([""] + note if note else [])


def _curves(c: Comparison) -> list[str]:
    """Per set, the strategies run at several budgets: mean accuracy at each budget and, paired
    with the baseline at that budget, the difference as in the per-set table."""
    curved = {(s.name, name) for s in c.sets for name in curve_strategies(s.runs)}
    rows = c.table[[(r.set, r.strategy) in curved for r in c.table.itertuples(index=False)]]
    if rows.empty:
        return []
    budgets = sorted(rows["budget"].unique(), key=budget_order)
    by_key = {(r.set, r.strategy, budget_order(r.budget)): r for r in rows.itertuples(index=False)}

    def cell(r) -> str:
        if r.strategy == c.baseline or pd.isna(r.diff_mean):
            # the baseline's row says where a fraction or count sits in labels per class
            labels = _per_class_text(r) if per_class(r.budget) is None else ""
            return f"{pct(r.accuracy_mean)}%{labels}, {int(r.n)} {plural(int(r.n), 'run')}"
        return f"{pct(r.accuracy_mean)}%: {_difference_cell(r)}"

    body = [
        [name, strategy]
        + [cell(by_key[(name, strategy, budget_order(b))]) if (name, strategy, budget_order(b)) in by_key else "—" for b in budgets]
        for name, strategy in dict.fromkeys(zip(rows["set"], rows["strategy"]))
    ]
    return [
        "",
        "## Budget curves",
        "",
        f"The strategies run at several budgets: mean accuracy at each budget and, after the colon, the paired "
        f"difference to `{c.baseline}` at the same budget (points, 95% CI, verdict, pairs) as in the per-set table; "
        f"`{c.baseline}`'s row gives the labels per class of each budget.",
        "",
        markdown_table(body, ["set", "strategy", *map(budget_text, budgets)], "ll" + "r" * len(budgets)),
    ]


def _cost(c: Comparison) -> list[str]:
    at = c.table[at_budget(c.table, c.budget) & c.table["cost_median"].notna()]
    out = [
        "",
        f"## Cost at {budget_text(c.budget)}",
        "",
        "Median wall time of one run in seconds (training, scoring, embedding and selection, counted as each study's "
        f"cost table counts them) and its ratio to `{c.baseline}`'s median at the same budget on the same set; after "
        "the semicolon, the ratio without the embedding, for a run that finds the set's embeddings in the cache "
        "(another loop on the same data embedded it).",
        "",
    ]
    if at.empty:
        return out + ["No run recorded its cost."]

    def cell(r) -> str:
        if pd.isna(r.cost_ratio):
            return f"{r.cost_median:,.0f} s"
        cached = f"; {r.cached_cost_ratio:.2f}×" if r.embed_median > 0 else ""
        return f"{r.cost_median:,.0f} s ({r.cost_ratio:.2f}×{cached})"

    return out + [_wide(at, [s.name for s in c.sets], cell)]


def _figures(c: Comparison, figures: dict) -> list[str]:
    out = []
    for name, file in figures.items():
        out += ["", f"![{name}]({file})", "", _CAPTIONS[name].format(baseline=c.baseline)]
    return (["", "## Figures"] + out) if out else []


# --------------------------------------------------------------------------- figures


def comparison_figures(comparison: Comparison) -> dict:
    """The figures that apply, by name: ``forest`` always, ``budget_curves`` when some set has
    a strategy at several budgets."""
    figures = {"forest": forest_figure(comparison)}
    if any(curve_strategies(s.runs) for s in comparison.sets):
        figures["budget_curves"] = budget_curves_figure(comparison)
    return figures


def forest_figure(comparison: Comparison):
    """Per strategy the difference to the baseline on each set (95% CI), then a pooled diamond
    per strategy at the bottom, with a line at zero."""
    c = comparison
    at = compared_rows(c.table[at_budget(c.table, c.budget)], c.baseline)
    strategies = list(dict.fromkeys(at["strategy"]))
    names = [s.name for s in c.sets]
    colors = dict(zip(names, _colors(len(names))))
    n_rows = len(at) + len(c.pooled) + 1
    fig = _figure(7.5, 1.2 + 0.28 * n_rows)
    ax = fig.add_subplot()
    y, ticks, labels, seen = 0.0, [], [], set()
    for strategy in strategies:
        for r in at[at["strategy"] == strategy].itertuples(index=False):
            label = r.set if r.set not in seen else None
            seen.add(r.set)
            ax.errorbar([100 * r.diff_mean], [y], xerr=_error(r), fmt="o", color=colors[r.set], capsize=2, label=label)
            ticks.append(y)
            labels.append(f"{strategy} · {r.set}")
            y -= 1
        y -= 0.5
    for r in c.pooled.itertuples(index=False):
        low, mid, high = 100 * r.ci_low, 100 * r.estimate, 100 * r.ci_high
        ax.fill([low, mid, high, mid], [y, y + 0.35, y, y - 0.35], color="black")
        ticks.append(y)
        labels.append(f"{r.strategy} · pooled ({r.k} sets)")
        y -= 1
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"accuracy − {c.baseline} at {budget_text(c.budget)} (points), paired by seed")
    ax.set_title(f"Difference to {c.baseline} per set, and pooled (random effects)")
    ax.grid(axis="x", alpha=0.3)
    if seen:
        _legend_outside(ax)
    return fig


def _error(r) -> np.ndarray:
    """Error bar lengths (points) around the mean from its CI; zero where the CI is undefined."""
    low, high = 100 * (r.diff_mean - r.diff_ci_low), 100 * (r.diff_ci_high - r.diff_mean)
    return np.nan_to_num(np.array([[low], [high]], dtype=float), nan=0.0)


def budget_curves_figure(comparison: Comparison):
    """One panel per set: mean accuracy against budget for the strategies run at several
    budgets, with a band from the lowest to the highest seed."""
    sets = [s for s in comparison.sets if curve_strategies(s.runs)]
    strategies = list(dict.fromkeys(name for s in sets for name in curve_strategies(s.runs)))
    colors = dict(zip(strategies, _colors(len(strategies))))
    fig = _figure(3.4 * len(sets) + 1.8, 3.6)
    axes = fig.subplots(1, len(sets), squeeze=False)[0]
    labelled = set()  # one legend entry per strategy, from the first panel that has it
    for ax, s in zip(axes, sets):
        for strategy in curve_strategies(s.runs):
            runs = s.runs[s.runs["strategy"] == strategy]
            by_budget = runs.groupby("budget")["accuracy"].agg(["mean", "min", "max"]).sort_index()
            x = 100 * by_budget.index.to_numpy(dtype=float)
            ax.plot(x, 100 * by_budget["mean"], marker="o", color=colors[strategy], label=None if strategy in labelled else strategy)
            ax.fill_between(x, 100 * by_budget["min"], 100 * by_budget["max"], color=colors[strategy], alpha=0.2)
            labelled.add(strategy)
        ax.set_title(s.name, fontsize=9)
        ax.set_xlabel("budget (% of the pool)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    fig.legend(fontsize=8, loc="outside right upper")
    return fig
