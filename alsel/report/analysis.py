"""The study's numbers: per strategy and budget the spread over seeds, the paired comparison with
the baseline (by seed and by evaluation sentence, see :mod:`alsel.stats`), a verdict
Holm-adjusted over every comparison, the share of the full-data accuracy and the mean cost.

Pure functions of the tables :mod:`alsel.report.collect` reads.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..loops.config import options
from ..loops.presets import BASELINE
from ..stats import combined_p, describe, holm, paired_difference, percent_of, sentence_test
from .collect import COST_COLUMNS, StudyResults, full_strategies

__all__ = [
    "SUMMARY_COLUMNS",
    "ALPHA",
    "BETTER",
    "WORSE",
    "NO_DIFFERENCE",
    "UNTESTED",
    "TRAINING_KEYS",
    "DATA_KEYS",
    "summarize",
    "round_table",
    "differing_options",
]

SUMMARY_COLUMNS = [
    "strategy",
    "budget",
    "preset",
    "n",
    "n_train",
    "per_class",
    "accuracy_mean",
    "accuracy_std",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "f1_mean",
    "f1_std",
    "baseline",
    "n_pairs",
    "diff_mean",
    "diff_std",
    "diff_ci_low",
    "diff_ci_high",
    "diff_boot_low",
    "diff_boot_high",
    "p_ttest",
    "p_signflip",
    "signflip_test",
    "sentence_wins",
    "sentence_losses",
    "p_sentences",
    "p_holm",
    "verdict",
    "pct_full",
    *COST_COLUMNS,
]
#: The level the verdicts read the Holm-adjusted p-values at.
ALPHA = 0.05
#: Verdicts of :func:`summarize`.
BETTER, WORSE, NO_DIFFERENCE, UNTESTED = "better", "worse", "no significant difference", "untested"

#: Options that must be the same in every run for the comparison to be like for like: which
#: model is trained on the final selection and how (the seed is the study's own axis), and which
#: data the runs see. The learner in the rounds is part of how a strategy selects.
TRAINING_KEYS = ("final_learner", *(k for k in options("training") if k != "seed"))
DATA_KEYS = options("data")

ROUND_COLUMNS = ["strategy", "budget", "seed", "round", "n_labeled", "accuracy", "in_result"]


def summarize(results: pd.DataFrame, baseline: str = BASELINE, *, correct: dict | None = None, random_state=0) -> pd.DataFrame:
    """Per strategy and budget: spread of accuracy and F1 over seeds, the paired comparison
    with ``baseline`` at the same budget, and the mean cost of a run.

    Parameters
    ----------
    results : DataFrame
        As :func:`~alsel.report.collect_results` returns (``strategy``, ``budget``, ``seed``,
        ``accuracy``, ``f1``; ``preset`` and ``n_train`` if known).
    baseline : str
        The strategy every other is paired with by seed.
    correct : dict, optional
        ``run_dir`` -> per-sentence correctness (:func:`~alsel.report.collect_eval_correct`),
        for the sentence-level test.
    random_state : int
        Seeds the bootstrap (and a Monte Carlo sign-flip test, with more than 16 seeds).

    Returns
    -------
    DataFrame
        One row per (strategy, budget) in the order of ``results``: ``n``, ``n_train`` (mean),
        ``accuracy_mean/std/ci_low/ci_high`` (t-based 95% CI), ``f1_mean/std``, and against
        the baseline: ``n_pairs``, ``diff_mean``, ``diff_std`` (SD of the paired differences),
        the mean's t-based CI (``diff_ci_low/high``) and bootstrap CI
        (``diff_boot_low/high``), ``p_ttest`` (paired t-test over seeds),
        ``p_signflip`` (the test named in ``signflip_test``), ``sentence_wins`` /
        ``sentence_losses`` / ``p_sentences`` (:func:`~alsel.stats.sentence_test` over the
        paired seeds), ``p_holm`` (the larger of ``p_ttest`` and ``p_sentences``, Holm-adjusted
        over every comparison in the table) and ``verdict`` (``better`` or ``worse`` when
        ``p_holm`` < 0.05, else ``no significant difference``; ``untested`` without a
        p-value); ``pct_full``: mean accuracy as a percentage of the full-data runs' mean; and
        the mean cost per run (:func:`~alsel.report.run_costs`). Undefined values are NaN.
    """
    if results.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    full = full_strategies(results)
    full_rows = results[results["strategy"].isin(full)]
    full_mean = float(full_rows["accuracy"].mean()) if len(full_rows) else math.nan
    rows = []
    for (strategy, budget), group in results.groupby(["strategy", "budget"], sort=False):
        row = _spread(strategy, budget, group, full_mean)
        base = results[(results["strategy"] == baseline) & (results["budget"] == budget)]
        if strategy != baseline and strategy not in full and len(base):
            row.update(baseline=baseline, **_comparison(group, base, correct or {}, random_state))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    compared = summary["baseline"].notna()
    summary.loc[compared, "p_holm"] = holm(
        [combined_p(t, s) for t, s in zip(summary.loc[compared, "p_ttest"], summary.loc[compared, "p_sentences"])]
    )
    summary.loc[compared, "verdict"] = [_verdict(r) for r in summary[compared].itertuples(index=False)]
    return summary


def _spread(strategy: str, budget: float, group: pd.DataFrame, full_mean: float) -> dict:
    """A summary row without a comparison: accuracy and F1 over the seeds, share of full, cost."""
    acc = describe(group["accuracy"])
    f1 = describe(group["f1"])
    return {
        "strategy": strategy,
        "budget": budget,
        "preset": group["preset"].iloc[0] if "preset" in group else None,
        "n": acc["n"],
        "n_train": float(group["n_train"].mean()) if "n_train" in group else math.nan,
        "per_class": float(group["per_class"].mean()) if "per_class" in group else math.nan,
        "accuracy_mean": acc["mean"],
        "accuracy_std": acc["std"],
        "accuracy_ci_low": acc["ci_low"],
        "accuracy_ci_high": acc["ci_high"],
        "f1_mean": f1["mean"],
        "f1_std": f1["std"],
        "baseline": None,
        "n_pairs": 0,
        "diff_mean": math.nan,
        "diff_std": math.nan,
        "diff_ci_low": math.nan,
        "diff_ci_high": math.nan,
        "diff_boot_low": math.nan,
        "diff_boot_high": math.nan,
        "p_ttest": math.nan,
        "p_signflip": math.nan,
        "signflip_test": None,
        "sentence_wins": math.nan,
        "sentence_losses": math.nan,
        "p_sentences": math.nan,
        "p_holm": math.nan,
        "verdict": None,
        "pct_full": percent_of(acc["mean"], full_mean),
        **{k: float(group[k].mean()) if k in group else math.nan for k in COST_COLUMNS},
    }


def _comparison(group: pd.DataFrame, base: pd.DataFrame, correct: dict, random_state) -> dict:
    """The paired tests of one strategy at one budget against the baseline's runs."""
    diff = paired_difference(group.set_index("seed")["accuracy"], base.set_index("seed")["accuracy"], random_state=random_state)
    row = {
        "n_pairs": diff["n"],
        "diff_mean": diff["mean_diff"],
        "diff_std": diff["std_diff"],
        "diff_ci_low": diff["ci_low"],
        "diff_ci_high": diff["ci_high"],
        "diff_boot_low": diff["boot_low"],
        "diff_boot_high": diff["boot_high"],
        "p_ttest": diff["p_ttest"],
        "p_signflip": diff["p_value"],
        "signflip_test": diff["test"],
    }
    sentences = _sentence_comparison(group, base, diff["keys"], correct)
    if sentences is not None:
        row.update(sentence_wins=sentences["wins"], sentence_losses=sentences["losses"], p_sentences=sentences["p_value"])
    return row


def _sentence_comparison(group: pd.DataFrame, base: pd.DataFrame, seeds, correct: dict) -> dict | None:
    """:func:`~alsel.stats.sentence_test` over the paired seeds; None unless every pair saved
    its per-sentence predictions."""
    run_of = lambda frame: dict(zip(frame["seed"], frame["run_dir"].astype(str)))  # noqa: E731
    ours, theirs = run_of(group), run_of(base)
    if not seeds or any(ours[k] not in correct or theirs[k] not in correct for k in seeds):
        return None
    return sentence_test(np.stack([correct[ours[k]] for k in seeds]), np.stack([correct[theirs[k]] for k in seeds]))


def _verdict(r) -> str:
    if pd.isna(r.p_holm):
        return UNTESTED
    if r.p_holm >= ALPHA:
        return NO_DIFFERENCE
    # Both tests rejected; they agree on the direction unless the per-seed means and the
    # per-sentence counts point opposite ways, which is then no verdict either.
    if r.diff_mean > 0 and r.sentence_wins > r.sentence_losses:
        return BETTER
    if r.diff_mean < 0 and r.sentence_wins < r.sentence_losses:
        return WORSE
    return NO_DIFFERENCE


def round_table(study: StudyResults) -> pd.DataFrame:
    """Accuracy of every round's model in the runs with rounds (not the full-pool runs): one row
    per (strategy, budget, seed, round), with ``in_result`` False for a seed model whose
    examples are not part of the result."""
    rows = []
    for r in study.runs.itertuples(index=False):
        rounds = study.rounds[r.run_dir]
        if r.preset == "full" or len(rounds) < 2:
            continue
        for row in rounds:
            if row.get("accuracy") is None:
                continue
            rows.append(
                {
                    "strategy": r.strategy,
                    "budget": r.budget,
                    "seed": r.seed,
                    "round": row.get("round"),
                    "n_labeled": row.get("n_labeled"),
                    "accuracy": row["accuracy"],
                    "in_result": row.get("in_result", True),
                }
            )
    return pd.DataFrame(rows, columns=ROUND_COLUMNS)


def differing_options(configs, keys) -> list[str]:
    """Options in ``keys`` that are not the same in every config (they should be); configs that
    are None (a run without one) are skipped. ``final_learner`` is compared as the learner that
    trained the final model (unset: the round learner)."""
    values: dict[str, set] = {}
    for config in configs:
        if config is not None:
            effective = {**config, "final_learner": config.get("final_learner") or config.get("learner")}
            for k in keys:
                values.setdefault(k, set()).add(repr(effective.get(k)))
    return sorted(k for k, v in values.items() if len(v) > 1)
