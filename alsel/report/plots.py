"""The report's figures, each a function of the read study or the summary returning a matplotlib
Figure; :func:`png_bytes` renders one. Figures use matplotlib's Agg canvas directly (no pyplot
state, no display needed)."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from ..loops.config import budget_order
from ..loops.presets import BASELINE
from .analysis import BETTER, WORSE
from .collect import Subsets, full_strategies
from .formatting import budget_text, run_label

__all__ = ["accuracy_figure", "differences_figure", "budget_curve_figure", "rounds_figure", "subsets_figure", "png_bytes"]


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _colors(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _legend_outside(ax) -> None:
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def accuracy_figure(results: pd.DataFrame, summary: pd.DataFrame):
    """Bars of mean accuracy per strategy (and budget) with 95% CI error bars, single seeds as
    dots and the full-pool mean as a dashed horizontal line."""
    full = full_strategies(results)
    part = summary[~summary["strategy"].isin(full)]
    strategies = list(dict.fromkeys(part["strategy"]))
    budgets = sorted(part["budget"].unique(), key=budget_order)
    fig = _figure(max(5.0, 1.1 * len(strategies) * max(1, len(budgets)) + 2), 4.2)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(budgets))
    values = []  # every value drawn, for the y range
    for j, (budget, color) in enumerate(zip(budgets, _colors(len(budgets)))):
        rows = part[part["budget"] == budget].set_index("strategy")
        labelled = False
        for i, s in enumerate(strategies):
            if s not in rows.index:
                continue
            seeds = 100 * results[(results["strategy"] == s) & (results["budget"] == budget)]["accuracy"].to_numpy()
            label = None if labelled else f"budget {budget_text(budget)}"
            values += _accuracy_bar(ax, i - 0.4 + width * (j + 0.5), width, rows.loc[s], seeds, color, label)
            labelled = True
    if full:
        full_acc = 100 * results[results["strategy"].isin(full)]["accuracy"]
        ax.axhline(full_acc.mean(), color="crimson", linestyle="--", linewidth=1.2, label=f"full pool ({full_acc.mean():.2f}%)")
        values.append(full_acc.mean())
    if values:
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        pad = max(1.0, 0.15 * (high - low))
        ax.set_ylim(max(0.0, math.floor((low - pad) / 5) * 5), min(100.0, high + pad))
    ax.set_xticks(range(len(strategies)), strategies, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy by strategy (mean, 95% CI, seeds as dots)")
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        _legend_outside(ax)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _accuracy_bar(ax, x: float, width: float, r, seeds: np.ndarray, color, label) -> list[float]:
    """One strategy's bar at one budget, its CI and its seeds; returns the values drawn."""
    mean = 100 * r["accuracy_mean"]
    values = []
    err = None
    if not pd.isna(r["accuracy_ci_low"]):
        err = [[mean - 100 * r["accuracy_ci_low"]], [100 * r["accuracy_ci_high"] - mean]]
        values += [100 * r["accuracy_ci_low"], 100 * r["accuracy_ci_high"]]
    ax.bar(x, mean, width * 0.9, color=color, alpha=0.75, label=label)
    if err is not None:
        ax.errorbar(x, mean, yerr=err, color="black", capsize=4, linewidth=1)
    ax.scatter(np.full(len(seeds), x), seeds, s=12, color="black", zorder=3)
    return values + [mean, *seeds]


def differences_figure(summary: pd.DataFrame, baseline: str = BASELINE):
    """The paired accuracy difference to ``baseline`` per strategy and budget, best first: mean
    with its t-based 95% CI, coloured by verdict."""
    rows = summary[summary["baseline"].notna()].sort_values("diff_mean")
    fig = _figure(7.0, 0.9 + 0.38 * max(len(rows), 1))
    ax = fig.add_subplot()
    colors = {BETTER: "tab:green", WORSE: "tab:red"}
    for y, r in enumerate(rows.itertuples(index=False)):
        color = colors.get(r.verdict, "0.35")
        mean = 100 * r.diff_mean
        if not pd.isna(r.diff_ci_low):
            ax.plot([100 * r.diff_ci_low, 100 * r.diff_ci_high], [y, y], color=color, linewidth=2)
        ax.scatter([mean], [y], color=color, zorder=3)
        ax.annotate(
            f"{mean:+.2f} ({r.verdict})", (mean, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7, color=color
        )
    labels = [run_label(r.strategy, r.budget) if summary["budget"].nunique() > 1 else r.strategy for r in rows.itertuples(index=False)]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"accuracy − {baseline} (points), paired by seed; bars: 95% CI")
    ax.set_title(f"Difference to {baseline} (green: better, red: worse, grey: not significant)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def budget_curve_figure(results: pd.DataFrame, summary: pd.DataFrame):
    """Mean accuracy (95% CI) against the mean number of training examples, one line per strategy."""
    full = full_strategies(results)
    part = summary[~summary["strategy"].isin(full)]
    strategies = list(dict.fromkeys(part["strategy"]))
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    for s, color in zip(strategies, _colors(len(strategies))):
        rows = part[part["strategy"] == s].sort_values("n_train")
        x = rows["n_train"].to_numpy(dtype=float)
        y = 100 * rows["accuracy_mean"].to_numpy(dtype=float)
        low = 100 * rows["accuracy_ci_low"].to_numpy(dtype=float)
        high = 100 * rows["accuracy_ci_high"].to_numpy(dtype=float)
        err = np.nan_to_num(np.vstack([y - low, high - y]), nan=0.0)
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=color, label=s)
    if full:
        ax.axhline(
            100 * results[results["strategy"].isin(full)]["accuracy"].mean(),
            color="crimson",
            linestyle="--",
            linewidth=1.2,
            label="full pool",
        )
    finite = part["n_train"].dropna()
    if len(finite) and finite.max() / max(finite.min(), 1) > 10:
        ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy against budget")
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    return fig


def rounds_figure(rounds: pd.DataFrame):
    """Accuracy of the model trained in each round (:func:`~alsel.report.analysis.round_table`),
    mean over seeds, one panel per budget.

    Round 0 is the model trained on the initial pool (or on a seed pool that is not part of
    the result: hollow markers); the last round's model is the run's result."""
    from matplotlib.ticker import MaxNLocator

    budgets = sorted(rounds["budget"].unique(), key=budget_order)
    fig = _figure(5.0 * len(budgets) + 1.5, 4.0)
    axes = fig.subplots(1, len(budgets), squeeze=False)[0]
    strategies = list(dict.fromkeys(rounds["strategy"]))
    colors = dict(zip(strategies, _colors(len(strategies))))
    for ax, budget in zip(axes, budgets):
        for s, group in rounds[rounds["budget"] == budget].groupby("strategy", sort=False):
            _round_line(ax, group, colors[s], s)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"budget {budget_text(budget)}")
        ax.set_xlabel("round (numbers: examples trained on)")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
    labels = [label for ax in axes for label in ax.get_legend_handles_labels()[1]]
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), loc="outside right upper", fontsize=8)
    return fig


def _round_line(ax, group: pd.DataFrame, color, label: str) -> None:
    """One strategy's mean accuracy per round; hollow markers for seed models not in the result."""
    mean = (
        group.groupby("round")
        .agg(n_labeled=("n_labeled", "mean"), accuracy=("accuracy", "mean"), in_result=("in_result", "all"))
        .reset_index()
    )
    ax.plot(mean["round"], 100 * mean["accuracy"], color=color, label=label)
    kept = mean[mean["in_result"]]
    seed_models = mean[~mean["in_result"]]
    ax.scatter(kept["round"], 100 * kept["accuracy"], color=color, zorder=3)
    ax.scatter(seed_models["round"], 100 * seed_models["accuracy"], facecolors="white", edgecolors=color, zorder=3)
    for r in mean.itertuples(index=False):
        ax.annotate(
            f"{r.n_labeled:,.0f}", (r.round, 100 * r.accuracy), textcoords="offset points", xytext=(4, -10), fontsize=7, color=color
        )


def subsets_figure(subsets: Subsets):
    """PCA of the pool's embeddings with each strategy's selection, coloured by label."""
    from sklearn.decomposition import PCA

    pool = subsets.pool
    xy = PCA(n_components=2, random_state=0).fit_transform(subsets.embeddings.astype(np.float64))
    strategies = list(subsets.positions)
    ncols = min(3, len(strategies))
    nrows = math.ceil(len(strategies) / ncols)
    fig = _figure(4.2 * ncols, 3.8 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    label_colors = _colors(max(pool.n_classes, 1))
    for ax, s in zip(axes, strategies):
        ax.scatter(xy[:, 0], xy[:, 1], s=max(0.3, min(6.0, 6000 / len(xy))), color="0.8", rasterized=True, linewidths=0)
        positions = subsets.positions[s]
        for c, name in enumerate(pool.label_names):
            rows = positions[pool.labels[positions] == c] if len(positions) else positions
            size = max(1.5, min(14.0, 4000 / max(len(positions), 1)))
            ax.scatter(
                xy[rows, 0],
                xy[rows, 1],
                s=size,
                color=label_colors[c],
                label=f"{name} ({len(rows):,})",
                linewidths=0,
                rasterized=len(rows) > 2000,
            )
        ax.set_title(f"{s} ({len(positions):,} chosen)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="best", markerscale=2)
    for ax in axes[len(strategies) :]:
        ax.set_visible(False)
    fig.suptitle(f"Chosen examples on the pool's embeddings (PCA), seed {subsets.seed}, budget {budget_text(subsets.budget)}")
    return fig
