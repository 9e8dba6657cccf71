"""Study results -> a table, a summary with paired statistics, a markdown report and plots.

:func:`collect_results` reads every finished run of a study directory (see :mod:`alsel.study`),
:func:`summarize` compares strategies per budget (mean, spread, confidence intervals, the
paired difference to the ``random`` baseline by seed and by evaluation sentence, a verdict
Holm-adjusted over all comparisons, and the share of the full-data accuracy; see
:mod:`alsel.stats`), and :func:`write_report` writes ``results.csv``,
``summary.csv``, ``report.md`` and the figures into the study directory.

Everything returns strings, DataFrames or paths; plots use matplotlib's Agg canvas directly
(no pyplot state, no display needed).
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .errors import ConfigError, RunFileError
from .io import read_json, write_bytes, write_text
from .loops.config import parse_budget
from .loops.rundir import RunDir
from .stats import combined_p, describe, format_p, holm, min_sign_flip_p, paired_difference, percent_of, sentence_test

__all__ = [
    "RESULT_COLUMNS",
    "collect_results",
    "collect_failures",
    "summarize",
    "markdown_table",
    "render_summary_table",
    "plot_differences",
    "render_cost_table",
    "run_costs",
    "collect_eval_correct",
    "render_report",
    "write_report",
]

RESULT_COLUMNS = [
    "strategy", "budget", "seed", "preset", "n_train", "accuracy", "f1", "seconds",
    "train_seconds", "score_seconds", "other_seconds", "cost_seconds", "rounds", "run_dir",
]
BASELINE = "random"
ALPHA = 0.05
_RUN_DIR = re.compile(r"^budget-(?P<budget>[^/]+)$")

#: How each preset chooses, in words for the report.
PRESET_TEXT = {
    "random": "a uniformly random sample of the budget",
    "kmeans": "KMeans diversity on sentence embeddings: one cluster per example to pick, the example nearest each centroid",
    "high_conf": (
        "a seed model fine-tuned on a random seed pool of the budget's size (not kept) scores the rest of the pool; "
        "the examples with the highest p(gold label) are taken"
    ),
    "low_conf": (
        "a seed model fine-tuned on a random seed pool of the budget's size (not kept) scores the rest of the pool; "
        "the examples with the lowest p(gold label) are taken"
    ),
    "hybrid": "half the budget at random, a model fine-tuned on it, then the other half with the lowest p(gold label)",
    "full": "the whole pool (the upper bound every subset is measured against)",
    "kmeans_margin": "a KMeans seed pool of a third of the budget, then two rounds that each retrain and add a third by smallest margin",
}


# --------------------------------------------------------------------------- reading


def _run_dirs(study_dir: Path):
    """(strategy, budget, seed, path) of every run directory under ``runs/``."""
    for path in sorted((study_dir / "runs").glob("*/budget-*/seed-*")):
        if not path.is_dir():
            continue
        try:
            budget = parse_budget(path.parent.name[len("budget-"):])
            seed = int(path.name[len("seed-"):])
        except (ValueError, ConfigError):
            continue
        yield path.parent.parent.name, budget, seed, path


def _study_record(study_dir: Path) -> dict:
    path = study_dir / "study.json"
    try:
        return read_json(path) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _strategy_order(names, record: dict, full: set, baseline: str) -> list[str]:
    """The study's order (its grid lists strategies in config order), else baseline first,
    full last."""
    names = list(dict.fromkeys(names))
    planned = dict.fromkeys(r.get("strategy") for r in record.get("runs", []))
    known = [n for n in planned if n in names]
    rest = sorted(n for n in names if n not in known)
    ordered = known + rest
    if not known:  # no study.json: baseline first, full last
        ordered = sorted(ordered, key=lambda n: (n != baseline, n in full, n))
    return ordered


def _read_finished_run(path: Path) -> tuple[dict, dict, list[dict]] | None:
    """A finished run's metrics, config and round rows; None if it has not finished. Raises
    RunFileError if one of them is damaged."""
    run = RunDir(path)
    metrics = run.read_metrics()
    if metrics is None:
        return None
    return metrics, run.read_config() or {}, run.read_rounds()


def collect_results(study_dir) -> pd.DataFrame:
    """One row per finished run (a run directory holding ``metrics.json``); a run with a
    damaged file is left out (:func:`collect_failures` names the file).

    Parameters
    ----------
    study_dir : path

    Returns
    -------
    DataFrame
        Columns ``strategy``, ``budget``, ``seed``, ``preset``, ``n_train``, ``accuracy``,
        ``f1``, ``seconds`` (this run's wall time), the cost split by :func:`run_costs`
        (``train_seconds``, ``score_seconds``, ``other_seconds``, ``cost_seconds``), ``rounds``
        (acquisition rounds of the loop), ``run_dir``; sorted by strategy (in the study's
        order), budget and seed.
    """
    study_dir = Path(study_dir)
    rows = []
    for strategy, budget, seed, path in _run_dirs(study_dir):
        try:
            finished = _read_finished_run(path)
        except RunFileError:
            continue
        if finished is None:
            continue
        metrics, config, round_rows = finished
        rounds = config.get("rounds")
        if rounds is None and round_rows:
            rounds = max(len(round_rows) - 1, 0)
        rows.append(
            {
                "strategy": strategy,
                "budget": float(budget),
                "seed": seed,
                "preset": config.get("preset"),
                "n_train": metrics.get("n_train"),
                "accuracy": metrics.get("accuracy"),
                "f1": metrics.get("f1"),
                "seconds": metrics.get("seconds"),
                **run_costs(round_rows),
                "rounds": rounds,
                "run_dir": str(path),
            }
        )
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    if frame.empty:
        return frame
    full = set(frame.loc[frame["preset"] == "full", "strategy"])
    order = _strategy_order(frame["strategy"], _study_record(study_dir), full, BASELINE)
    frame["_order"] = frame["strategy"].map({n: i for i, n in enumerate(order)})
    frame = frame.sort_values(["_order", "budget", "seed"]).drop(columns="_order").reset_index(drop=True)
    return frame


def run_costs(rounds: list[dict]) -> dict[str, float]:
    """What a run's rows in ``rounds.jsonl`` say it cost, in seconds.

    A round whose model came from the round cache (``cached``) was paid for by an earlier run
    (the study's high_conf and low_conf share their seed model); it is counted at its recorded
    training and scoring time, so every strategy's cost is what it would take alone.

    Returns
    -------
    dict
        ``train_seconds`` (fine-tuning and evaluating every round's model), ``score_seconds``
        (scoring candidates), ``other_seconds`` (choosing examples, embedding, loading) and
        their sum ``cost_seconds``; NaN without rows.
    """
    if not rounds:
        return dict.fromkeys(("train_seconds", "score_seconds", "other_seconds", "cost_seconds"), math.nan)
    train = sum(float(r.get("train_seconds") or 0.0) for r in rounds)
    score = sum(float(r.get("score_seconds") or 0.0) for r in rounds)
    fresh = [r for r in rounds if not r.get("cached")]
    other = sum(float(r.get("seconds") or 0.0) - float(r.get("train_seconds") or 0.0) - float(r.get("score_seconds") or 0.0) for r in fresh)
    other += sum(float(r.get("seconds") or 0.0) for r in rounds if r.get("cached"))
    other = max(other, 0.0)
    return {"train_seconds": train, "score_seconds": score, "other_seconds": other, "cost_seconds": train + score + other}


def _reload_splits(config: dict):
    """The run's data, reloaded as the run loaded it and checked against what it recorded."""
    from .data import load_recorded_data

    splits = load_recorded_data(config)
    if splits.eval.class_counts() != config.get("data", {}).get("eval_class_counts"):
        raise ValueError("the reloaded evaluation set differs from the one the runs used")
    return splits


def collect_eval_correct(results: pd.DataFrame) -> tuple[dict[str, np.ndarray], str | None]:
    """Which evaluation examples each run's final model got right, from its ``eval_probs.npy``.

    Returns
    -------
    (correct, note)
        ``correct`` maps ``run_dir`` to a boolean array in the evaluation set's order, for the
        runs that saved their probabilities; ``note`` says why runs are missing, or None.
    """
    correct: dict[str, np.ndarray] = {}
    labels_by_data: dict[str, np.ndarray] = {}
    missing, unreadable = 0, []
    for run_dir in results["run_dir"]:
        run = RunDir(run_dir)
        path = run.file(RunDir.EVAL_PROBS)
        if not path.exists():
            missing += 1
            continue
        try:
            config = run.read_config() or {}
            key = config.get("data", {}).get("pool_fingerprint", "")
            if key not in labels_by_data:
                labels_by_data[key] = _reload_splits(config).eval.labels
            probs = np.load(path, allow_pickle=False)
        except Exception as exc:  # unavailable data or a damaged file only costs the sentence-level test
            unreadable.append(f"{run_dir}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        labels = labels_by_data[key]
        if probs.shape[0] != len(labels):
            unreadable.append(f"{run_dir}: eval_probs.npy has {probs.shape[0]} rows, the evaluation set {len(labels)}")
            continue
        correct[str(run_dir)] = probs.argmax(axis=1) == labels
    notes = []
    if missing:
        notes.append(f"{missing} run(s) saved no eval_probs.npy")
    if unreadable:
        notes.append("unreadable: " + "; ".join(unreadable[:3]) + (" ..." if len(unreadable) > 3 else ""))
    note = None if not notes else "Sentence-level tests leave out runs without per-sentence predictions (" + "; ".join(notes) + ")."
    return correct, note


def collect_failures(study_dir) -> pd.DataFrame:
    """Runs that failed (an ``error.txt`` and no ``metrics.json``) or whose files are damaged:
    strategy, budget, seed, error (the exception line, or which file is damaged), run_dir."""
    rows = []
    for strategy, budget, seed, path in _run_dirs(Path(study_dir)):
        error = _failure(path)
        if error is not None:
            rows.append({"strategy": strategy, "budget": float(budget), "seed": seed, "error": error, "run_dir": str(path)})
    return pd.DataFrame(rows, columns=["strategy", "budget", "seed", "error", "run_dir"])


def _failure(path: Path) -> str | None:
    """Why the run in ``path`` has no result: a damaged file, or the last line of its
    ``error.txt``; None for a finished run, or one that did not fail (not run yet, running)."""
    try:
        if _read_finished_run(path) is not None:
            return None
    except RunFileError as exc:
        return str(exc)
    error = path / "error.txt"
    if not error.exists():
        return None
    lines = [line for line in error.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


# --------------------------------------------------------------------------- statistics

SUMMARY_COLUMNS = [
    "strategy", "budget", "preset", "n", "n_train",
    "accuracy_mean", "accuracy_std", "accuracy_ci_low", "accuracy_ci_high",
    "f1_mean", "f1_std",
    "baseline", "n_pairs", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_boot_low", "diff_boot_high",
    "p_ttest", "p_signflip", "signflip_test", "sentence_wins", "sentence_losses", "p_sentences", "p_holm", "verdict",
    "pct_full", "train_seconds", "score_seconds", "other_seconds", "cost_seconds",
]
#: Verdicts of :func:`summarize`.
BETTER, WORSE, NO_DIFFERENCE, UNTESTED = "better", "worse", "no significant difference", "untested"


def _full_strategies(results: pd.DataFrame) -> set:
    return set(results.loc[results["preset"] == "full", "strategy"]) if "preset" in results else set()


def summarize(results: pd.DataFrame, baseline: str = BASELINE, *, correct: dict | None = None, random_state=0) -> pd.DataFrame:
    """Per strategy and budget: spread of accuracy and F1 over seeds, the paired comparison
    with ``baseline`` at the same budget, and the mean cost of a run.

    Parameters
    ----------
    results : DataFrame
        As :func:`collect_results` returns (``strategy``, ``budget``, ``seed``, ``accuracy``,
        ``f1``; ``preset`` and ``n_train`` if known).
    baseline : str
        The strategy every other is paired with by seed.
    correct : dict, optional
        ``run_dir`` -> per-sentence correctness (:func:`collect_eval_correct`), for the
        sentence-level test.
    random_state : int
        Seeds the bootstrap (and a Monte Carlo sign-flip test, with more than 16 seeds).

    Returns
    -------
    DataFrame
        One row per (strategy, budget) in the order of ``results``: ``n``, ``n_train`` (mean),
        ``accuracy_mean/std/ci_low/ci_high`` (t-based 95% CI), ``f1_mean/std``, and against
        the baseline: ``n_pairs``, ``diff_mean`` with its t-based CI (``diff_ci_low/high``)
        and bootstrap CI (``diff_boot_low/high``), ``p_ttest`` (paired t-test over seeds),
        ``p_signflip`` (the test named in ``signflip_test``), ``sentence_wins`` /
        ``sentence_losses`` / ``p_sentences`` (:func:`~alsel.stats.sentence_test` over the
        paired seeds), ``p_holm`` (the larger of ``p_ttest`` and ``p_sentences``, Holm-adjusted
        over every comparison in the table) and ``verdict`` (``better`` or ``worse`` when
        ``p_holm`` < 0.05, else ``no significant difference``; ``untested`` without a
        p-value); ``pct_full``: mean accuracy as a percentage of the full-data runs' mean; and
        the mean cost per run (:func:`run_costs`). Undefined values are NaN.
    """
    if results.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    full = _full_strategies(results)
    full_rows = results[results["strategy"].isin(full)]
    full_mean = float(full_rows["accuracy"].mean()) if len(full_rows) else math.nan
    rows = []
    groups = results.groupby(["strategy", "budget"], sort=False)
    for (strategy, budget), group in groups:
        acc = describe(group["accuracy"])
        f1 = describe(group["f1"])
        row = {
            "strategy": strategy,
            "budget": budget,
            "preset": group["preset"].iloc[0] if "preset" in group else None,
            "n": acc["n"],
            "n_train": float(group["n_train"].mean()) if "n_train" in group else math.nan,
            "accuracy_mean": acc["mean"],
            "accuracy_std": acc["std"],
            "accuracy_ci_low": acc["ci_low"],
            "accuracy_ci_high": acc["ci_high"],
            "f1_mean": f1["mean"],
            "f1_std": f1["std"],
            "baseline": None,
            "n_pairs": 0,
            "diff_mean": math.nan, "diff_ci_low": math.nan, "diff_ci_high": math.nan,
            "diff_boot_low": math.nan, "diff_boot_high": math.nan,
            "p_ttest": math.nan, "p_signflip": math.nan, "signflip_test": None,
            "sentence_wins": math.nan, "sentence_losses": math.nan, "p_sentences": math.nan, "p_holm": math.nan, "verdict": None,
            "pct_full": percent_of(acc["mean"], full_mean),
            **{k: float(group[k].mean()) if k in group else math.nan for k in ("train_seconds", "score_seconds", "other_seconds", "cost_seconds")},
        }
        base = results[(results["strategy"] == baseline) & (results["budget"] == budget)]
        if strategy != baseline and strategy not in full and len(base):
            diff = paired_difference(
                group.set_index("seed")["accuracy"], base.set_index("seed")["accuracy"], random_state=random_state
            )
            row.update(
                baseline=baseline, n_pairs=diff["n"], diff_mean=diff["mean_diff"],
                diff_ci_low=diff["ci_low"], diff_ci_high=diff["ci_high"],
                diff_boot_low=diff["boot_low"], diff_boot_high=diff["boot_high"],
                p_ttest=diff["p_ttest"], p_signflip=diff["p_value"], signflip_test=diff["test"],
            )
            sentences = _sentence_comparison(group, base, diff["keys"], correct or {})
            if sentences is not None:
                row.update(sentence_wins=sentences["wins"], sentence_losses=sentences["losses"], p_sentences=sentences["p_value"])
        rows.append(row)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    compared = summary["baseline"].notna()
    summary.loc[compared, "p_holm"] = holm([combined_p(t, s) for t, s in zip(summary.loc[compared, "p_ttest"], summary.loc[compared, "p_sentences"])])
    summary.loc[compared, "verdict"] = [_verdict(r) for r in summary[compared].itertuples(index=False)]
    return summary


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


# --------------------------------------------------------------------------- markdown


def markdown_table(rows: list[list[str]], headers: list[str], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; ``align`` has one of ``l``/``r``/``c`` per column.

    >>> print(markdown_table([["a", "1"]], ["name", "n"], "lr"))
    | name | n |
    | :--- | ---: |
    | a | 1 |
    """
    align = align or "l" * len(headers)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    escape = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(escape(h) for h in headers) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value, digits: int = 2) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * value:.{digits}f}"


def _points(value, digits: int = 2) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * value:+.{digits}f}"


def _budget_text(budget) -> str:
    """``0.1`` -> ``"10%"``, ``500`` -> ``"500"``."""
    if budget is None or pd.isna(budget):
        return "n/a"
    return f"{100 * budget:g}%" if budget <= 1 else f"{int(budget):,}"


def _label(strategy: str, budget) -> str:
    return f"{strategy} @ {_budget_text(budget)}"


def render_summary_table(summary: pd.DataFrame, baseline: str = BASELINE) -> str:
    """The main results table as markdown: accuracy and F1 in %, differences in points."""
    headers = ["Strategy", "Budget", "Train size", "Seeds", "Accuracy % (mean ± sd)", "95% CI", "F1 % (mean ± sd)",
               "Δ acc vs baseline (points) [95% CI]", "p (seeds)", "p (sentences)", "p (Holm)", "Verdict", "% of full"]
    rows = []
    for r in summary.itertuples(index=False):
        if pd.isna(r.accuracy_std):
            acc = _pct(r.accuracy_mean)
            f1 = _pct(r.f1_mean)
        else:
            acc = f"{_pct(r.accuracy_mean)} ± {_pct(r.accuracy_std)}"
            f1 = f"{_pct(r.f1_mean)} ± {_pct(r.f1_std)}"
        ci = "n/a" if pd.isna(r.accuracy_ci_low) else f"[{_pct(r.accuracy_ci_low)}, {_pct(r.accuracy_ci_high)}]"
        if pd.isna(r.baseline):
            diff, pt, ps, ph, verdict = "(baseline)" if r.strategy == baseline else "—", "—", "—", "—", "—"
        else:
            ci_text = "" if pd.isna(r.diff_ci_low) else f" [{_points(r.diff_ci_low)}, {_points(r.diff_ci_high)}]"
            diff = f"{_points(r.diff_mean)}{ci_text}"
            pt, ps, ph = format_p(r.p_ttest), format_p(r.p_sentences), format_p(r.p_holm)
            verdict = f"**{r.verdict}**" if r.verdict in (BETTER, WORSE) else str(r.verdict)
        train = "n/a" if pd.isna(r.n_train) else f"{r.n_train:,.0f}"
        budget = "full pool" if r.preset == "full" else _budget_text(r.budget)
        pct_full = "n/a" if pd.isna(r.pct_full) else f"{r.pct_full:.1f}"
        rows.append([r.strategy, budget, train, str(r.n), acc, ci, f1, diff, pt, ps, ph, verdict, pct_full])
    return markdown_table(rows, headers, "llrrrrrrrrrlr")


def render_cost_table(summary: pd.DataFrame) -> str:
    """Mean cost of one run per strategy, in seconds (see :func:`run_costs`)."""
    headers = ["Strategy", "Budget", "Train size", "Training s", "Scoring s", "Selection and other s", "Total s", "Total min"]
    rows = []
    for r in summary.itertuples(index=False):
        budget = "full pool" if r.preset == "full" else _budget_text(r.budget)
        cells = [("n/a" if pd.isna(v) else f"{v:,.0f}") for v in (r.train_seconds, r.score_seconds, r.other_seconds, r.cost_seconds)]
        minutes = "n/a" if pd.isna(r.cost_seconds) else f"{r.cost_seconds / 60:.1f}"
        train = "n/a" if pd.isna(r.n_train) else f"{r.n_train:,.0f}"
        rows.append([r.strategy, budget, train, *cells, minutes])
    return markdown_table(rows, headers, "llrrrrrr")


def _seed_table(results: pd.DataFrame) -> str:
    seeds = sorted(results["seed"].unique())
    rows = []
    for (strategy, budget), group in results.groupby(["strategy", "budget"], sort=False):
        by_seed = group.set_index("seed")["accuracy"]
        rows.append([_label(strategy, budget) if group["preset"].iloc[0] != "full" else f"{strategy} (full pool)"]
                    + [_pct(by_seed.get(s)) for s in seeds])
    return markdown_table(rows, ["Strategy @ budget"] + [f"seed {s}" for s in seeds], "l" + "r" * len(seeds))


def _describe_strategy(name: str, spec: dict, config: dict) -> str:
    preset = spec.get("preset")
    options = spec.get("options", {})
    if preset and not options:
        return PRESET_TEXT.get(preset, f"preset {preset}")
    init = options.get("init", config.get("init"))
    acq = options.get("acq", config.get("acq"))
    rounds = options.get("rounds", config.get("rounds"))
    text = f"initial pool by `{init}`"
    if rounds:
        text += f", then {rounds} round(s) of `{acq}` acquisition, retraining each round"
    if preset:
        text = f"preset {preset} with " + ", ".join(f"{k}={v}" for k, v in options.items())
    return text


def _first_config(results: pd.DataFrame, strategy: str | None = None) -> dict:
    rows = results if strategy is None else results[results["strategy"] == strategy]
    for run_dir in rows["run_dir"]:
        config = RunDir(run_dir).read_config()  # read whole before: collect_results
        if config is not None:
            return config
    return {}


TRAINING_KEYS = ("learner", "final_learner", "model", "epochs", "min_steps", "lr", "batch_size", "max_length", "warmup_ratio", "weight_decay", "precision")
DATA_KEYS = ("dataset", "limit", "eval", "eval_limit", "data_seed")


def _differing(results: pd.DataFrame, keys) -> list[str]:
    """Options in ``keys`` that are not the same in every run (they should be)."""
    values = {}
    for run_dir in results["run_dir"]:
        config = RunDir(run_dir).read_config()
        if config is not None:
            for k in keys:
                values.setdefault(k, set()).add(repr(config.get(k)))
    return sorted(k for k, v in values.items() if len(v) > 1)


def _counts_text(counts: dict | None) -> str:
    if not counts:
        return "n/a"
    return ", ".join(f"{k} {v:,}" for k, v in counts.items())


def render_report(
    study_dir,
    results: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    figures: dict | None = None,
    notes: list[str] | None = None,
    failures: pd.DataFrame | None = None,
    baseline: str = BASELINE,
) -> str:
    """The markdown report of a study: what was compared, on what, the results and what they
    do and do not show.

    Parameters
    ----------
    study_dir : path
    results, summary : DataFrame
        From :func:`collect_results` and :func:`summarize`.
    figures : dict of str to Path, optional
        Figures written beside the report (linked by file name).
    notes : list of str, optional
        Figures that were skipped and data that was left out, and why.
    failures : DataFrame, optional
        From :func:`collect_failures`.
    baseline : str
    """
    study_dir = Path(study_dir)
    record = _study_record(study_dir)
    config = _first_config(results)
    data = config.get("data", {})
    name = record.get("name") or study_dir.name
    full = _full_strategies(results)
    compared = [s for s in dict.fromkeys(results["strategy"]) if s not in full]
    budgets = sorted(results.loc[~results["strategy"].isin(full), "budget"].unique())
    seeds = sorted(results["seed"].unique())
    out = [f"# Study report: {name}", ""]
    out.append(f"Generated {_dt.date.today().isoformat()} by alsel {__version__} from `{study_dir}`.")
    if record.get("description"):
        out += ["", str(record["description"]).strip()]

    # --- what was compared
    out += ["", "## What was compared", ""]
    out.append(
        f"{len(compared)} ways of choosing a training subset from a labelled pool"
        + (f", each at budget{'s' if len(budgets) > 1 else ''} {', '.join(_budget_text(b) for b in budgets)} of the pool" if budgets else "")
        + (f", against fine-tuning on the full pool ({', '.join(sorted(full))})" if full else "")
        + f". Every run fine-tunes the model from its pretrained weights on the chosen subset and is scored on the same "
        f"evaluation set. Each strategy ran with {len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))}); "
        "a seed fixes the random choices and the fine-tuning (classifier head, dropout, data order), so runs with the same "
        "seed are compared in pairs."
    )
    out.append("")
    strategies = record.get("strategies", {})
    rows = []
    for s in dict.fromkeys(results["strategy"]):
        preset = results.loc[results["strategy"] == s, "preset"].iloc[0]
        spec = strategies.get(s) or {"preset": None if pd.isna(preset) else preset, "options": {}}
        rows.append([s, spec.get("preset") or "—", _describe_strategy(s, spec, _first_config(results, s))])
    out.append(markdown_table(rows, ["Strategy", "Preset", "How it chooses"]))

    # --- data, model, training
    out += ["", "## Data", ""]
    pool_line = f"- Pool: **{data.get('n_pool', 'n/a'):,}** examples" if isinstance(data.get("n_pool"), int) else "- Pool: n/a"
    if config.get("limit"):
        pool_line += f" (a class-stratified sample of the training split, `limit` {config['limit']:,}, `data_seed` {config.get('data_seed', 0)})"
    out += [
        f"- Data set: `{config.get('dataset', 'n/a')}` ({', '.join(data.get('label_names', [])) or 'labels n/a'})",
        pool_line + f"; classes: {_counts_text(data.get('pool_class_counts'))}",
        f"- Evaluation set: **{data.get('n_eval', 'n/a'):,}** examples" if isinstance(data.get("n_eval"), int) else "- Evaluation set: n/a",
    ]
    if data.get("eval_class_counts"):
        out[-1] += f"; classes: {_counts_text(data.get('eval_class_counts'))}"
        majority = max(data["eval_class_counts"].values()) / max(1, sum(data["eval_class_counts"].values()))
        out.append(f"- Majority-class accuracy on it: {100 * majority:.2f}%")
    out += ["", "## Model and training", ""]
    out.append(f"- Model: `{config.get('model', 'n/a')}`")
    if config.get("learner", "transformer") != "transformer" or config.get("final_learner"):
        out.append(f"- Learner in the rounds: `{config['learner']}`; on the final selection: `{config.get('final_learner') or config['learner']}`")
    out.append(
        "- Fine-tuning: "
        + ", ".join(f"{k} {config.get(k)}" for k in ("epochs", "min_steps", "lr", "batch_size", "max_length", "warmup_ratio", "weight_decay", "precision") if k in config)
    )
    out.append(f"- Sentence embeddings (for embedding-based strategies): `{config.get('embedder', 'n/a')}`")
    versions = config.get("versions", {})
    if versions:
        out.append("- Software: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    differing = _differing(results, TRAINING_KEYS + DATA_KEYS)
    if differing:
        out.append(f"- **Warning:** {', '.join(differing)} differ between runs; the comparison is not like for like.")

    # --- results
    out += ["", "## Results", ""]
    out.append(render_summary_table(summary, baseline))
    out.append("")
    out.append(
        "Accuracy and F1 (of the positive class for two classes, macro otherwise) are percentages on the evaluation set: "
        "mean ± sample standard deviation over seeds; the 95% CI of the mean is t-based. "
        f"Δ is the mean per-seed difference in accuracy to `{baseline}` at the same budget, in percentage points, with a "
        "t-based 95% CI (a bootstrap CI is in `summary.csv`). "
        "p (seeds) is the two-sided paired t-test over seeds: is the difference larger than the seed-to-seed spread of the "
        "subset and the fine-tuning? p (sentences) is a sign-flip permutation test over the evaluation sentences, each "
        "scored by its wins minus losses over the paired seeds: is it larger than the luck of which sentences the "
        "evaluation set holds? "
        f"p (Holm) is the larger of the two (a strategy must pass both), Holm-adjusted over the {int(summary['baseline'].notna().sum())} "
        f"comparisons in the table; the verdict reads it at {ALPHA}. % of full is the mean accuracy as a share of the "
        "full-pool runs' mean."
    )
    if full:
        fr = summary[summary["strategy"].isin(full)].iloc[0]
        out.append("")
        out.append(f"Full-pool accuracy: **{_pct(fr.accuracy_mean)}%** ({fr.n} seed{'s' if fr.n != 1 else ''}).")
    out += ["", "Accuracy (%) by seed:", "", _seed_table(results)]
    if "cost_seconds" in summary and summary["cost_seconds"].notna().any():
        out += [
            "", "## Cost", "",
            "Mean wall time of one run on this machine. Training includes evaluating each round's model; scoring is the "
            "candidates' probabilities (and features or dynamics where a strategy needs them); selection and other is "
            "choosing the examples, embedding the pool when no cached embeddings exist, and loading. Work reused from the "
            "round cache by another run counts at the time it took there.",
            "", render_cost_table(summary),
        ]

    # --- significance
    out += ["", "## What the differences show", ""]
    compared_rows = summary[summary["baseline"].notna()]
    if compared_rows.empty:
        out.append(f"No strategy could be paired with `{baseline}` (it did not run, or ran with other budgets), so there are no paired tests.")
    else:
        for verdict, title in ((BETTER, f"Better than `{baseline}`"), (WORSE, f"Worse than `{baseline}`"),
                               (NO_DIFFERENCE, "No significant difference"), (UNTESTED, "Not testable")):
            rows_ = compared_rows[compared_rows["verdict"] == verdict]
            out += [f"{title} (Holm-adjusted p < {ALPHA} on both tests):" if verdict in (BETTER, WORSE) else f"{title}:", ""]
            if rows_.empty:
                out += ["- none", ""]
            for r in rows_.itertuples(index=False):
                sentences = "" if pd.isna(r.p_sentences) else f", {r.sentence_wins:.0f} sentences won / {r.sentence_losses:.0f} lost"
                out.append(
                    f"- `{r.strategy}` at {_budget_text(r.budget)}: {_points(r.diff_mean)} points "
                    f"(p seeds {format_p(r.p_ttest)}, p sentences {format_p(r.p_sentences)}, Holm {format_p(r.p_holm)}; {r.n_pairs} seed{'s' if r.n_pairs != 1 else ''}{sentences})"
                )
            if len(rows_):
                out.append("")
        n_min, n_max = int(compared_rows["n_pairs"].min()), int(compared_rows["n_pairs"].max())
        needed = next(n for n in range(2, 64) if min_sign_flip_p(n) < ALPHA)
        out += ["Caveats:", ""]
        if n_max < 2:
            out.append("- With a single seed there is no spread to test against: intervals and p-values are n/a. Run more seeds.")
        else:
            floor = min_sign_flip_p(n_max)
            fewer = f" ({n_min} for comparisons where a run is missing)" if n_min < n_max else ""
            out.append(
                f"- The per-seed test is a t-test: with {n_max} paired seeds{fewer} it assumes roughly normal differences, which "
                "so few seeds cannot check. The distribution-free exact sign-flip test (in `summary.csv`, `p_signflip`) "
                + (f"cannot go below {floor:.3g} (2/2^{n_max}) with {n_max} seeds, so it could not reach {ALPHA} at all; it needs "
                   f"at least {needed} seeds." if floor >= ALPHA else f"can reach {floor:.3g} at best with {n_max} seeds.")
            )
        out.append(
            "- The sentence-level test treats the trained models as given: it measures the evaluation set's sampling noise, "
            "not the seed-to-seed spread, which is why a verdict needs both."
        )
        out.append("- The results say how these strategies compare on this data, model and training setting, not beyond it.")

    # --- figures
    figures = figures or {}
    if figures or notes:
        out += ["", "## Figures", ""]
        captions = {
            "accuracy": "Mean accuracy per strategy and budget with 95% CIs (dots: single seeds; dashed line: full pool). The y axis does not start at 0.",
            "differences": "Mean paired difference in accuracy to the baseline with its 95% CI, per strategy; the colour is the verdict of the two tests, Holm-adjusted.",
            "budget_curve": "Mean accuracy against the number of training examples, per strategy.",
            "rounds": "Accuracy of the model trained in each round of the loops with rounds, mean over seeds (hollow markers: seed models trained on examples that are not part of the result; numbers: examples trained on).",
            "subsets": "The pool's sentence embeddings projected to 2-D with PCA (grey), with each strategy's chosen examples for one seed coloured by label.",
        }
        for key, path in figures.items():
            out += [f"![{key}]({Path(path).name})", "", captions.get(key, ""), ""]
        for note in notes or []:
            out.append(f"- {note}")

    # --- runs
    out += ["", "## Runs", ""]
    planned = record.get("runs", [])
    finished = {Path(p).resolve() for p in results["run_dir"]}
    failures = failures if failures is not None else pd.DataFrame(columns=["strategy", "budget", "seed", "error", "run_dir"])
    failed = {Path(p).resolve() for p in failures["run_dir"]}
    missing = [r for r in planned if (study_dir / r["run_dir"]).resolve() not in finished | failed]
    out.append(f"{len(results)} finished run{'s' if len(results) != 1 else ''}" + (f" of {len(planned)} planned" if planned else "") + ".")
    if len(failures):
        out += ["", f"{len(failures)} failed (see `error.txt` in each run directory, or the damaged file named):", ""]
        for r in failures.itertuples(index=False):
            out.append(f"- {r.strategy} budget {_budget_text(r.budget)} seed {r.seed}: {r.error}")
    if missing:
        out += ["", f"{len(missing)} not run yet (rerun the study to finish them):", ""]
        for r in missing[:20]:
            out.append(f"- {r['strategy']} budget {r['budget']} seed {r['seed']}")
        if len(missing) > 20:
            out.append(f"- ... and {len(missing) - 20} more")
    out += ["", "Files: `results.csv` (one row per run), `summary.csv` (the table above with all statistics), `study.json` (the grid), `runs/<strategy>/budget-<b>/seed-<s>/` (each run's config, rounds, selection and metrics).", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_bytes(path, buffer.getvalue())
    return path


def _colors(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def plot_accuracy(results: pd.DataFrame, summary: pd.DataFrame, path: Path) -> Path:
    """Bars of mean accuracy per strategy (and budget) with 95% CI error bars, single seeds as
    dots and the full-pool mean as a dashed horizontal line."""
    full = _full_strategies(results)
    part = summary[~summary["strategy"].isin(full)]
    strategies = list(dict.fromkeys(part["strategy"]))
    budgets = sorted(part["budget"].unique())
    fig = _figure(max(5.0, 1.1 * len(strategies) * max(1, len(budgets)) + 2), 4.2)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(budgets))
    values = []
    for j, (budget, color) in enumerate(zip(budgets, _colors(len(budgets)))):
        rows = part[part["budget"] == budget].set_index("strategy")
        labelled = False
        for i, s in enumerate(strategies):
            if s not in rows.index:
                continue
            r = rows.loc[s]
            x = i - 0.4 + width * (j + 0.5)
            mean = 100 * r["accuracy_mean"]
            err = None
            if not pd.isna(r["accuracy_ci_low"]):
                err = [[mean - 100 * r["accuracy_ci_low"]], [100 * r["accuracy_ci_high"] - mean]]
                values += [100 * r["accuracy_ci_low"], 100 * r["accuracy_ci_high"]]
            ax.bar(x, mean, width * 0.9, color=color, alpha=0.75, label=None if labelled else f"budget {_budget_text(budget)}")
            labelled = True
            if err is not None:
                ax.errorbar(x, mean, yerr=err, color="black", capsize=4, linewidth=1)
            seeds = 100 * results[(results["strategy"] == s) & (results["budget"] == budget)]["accuracy"].to_numpy()
            ax.scatter(np.full(len(seeds), x), seeds, s=12, color="black", zorder=3)
            values += [mean, *seeds]
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
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_differences(summary: pd.DataFrame, path: Path, baseline: str = BASELINE) -> Path:
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
        ax.annotate(f"{mean:+.2f} ({r.verdict})", (mean, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7, color=color)
    labels = [_label(r.strategy, r.budget) if summary["budget"].nunique() > 1 else r.strategy for r in rows.itertuples(index=False)]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"accuracy − {baseline} (points), paired by seed; bars: 95% CI")
    ax.set_title(f"Difference to {baseline} (green: better, red: worse, grey: not significant)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_budget_curve(results: pd.DataFrame, summary: pd.DataFrame, path: Path) -> Path:
    """Mean accuracy (95% CI) against the mean number of training examples, one line per strategy."""
    full = _full_strategies(results)
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
        ax.axhline(100 * results[results["strategy"].isin(full)]["accuracy"].mean(), color="crimson", linestyle="--", linewidth=1.2, label="full pool")
    finite = part["n_train"].dropna()
    if len(finite) and finite.max() / max(finite.min(), 1) > 10:
        ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy against budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def _round_rows(results: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in results.itertuples(index=False):
        if r.preset == "full":
            continue
        rounds = RunDir(r.run_dir).read_rounds()  # read whole before: collect_results
        if len(rounds) < 2:
            continue
        for row in rounds:
            if row.get("accuracy") is None:
                continue
            rows.append({"strategy": r.strategy, "budget": r.budget, "seed": r.seed, "round": row.get("round"),
                         "n_labeled": row.get("n_labeled"), "accuracy": row["accuracy"], "in_result": row.get("in_result", True)})
    return pd.DataFrame(rows, columns=["strategy", "budget", "seed", "round", "n_labeled", "accuracy", "in_result"])


def plot_rounds(rounds: pd.DataFrame, path: Path) -> Path:
    """Accuracy of the model trained in each round, mean over seeds, one panel per budget.

    Round 0 is the model trained on the initial pool (or on a seed pool that is not part of
    the result: hollow markers); the last round's model is the run's result."""
    from matplotlib.ticker import MaxNLocator

    budgets = sorted(rounds["budget"].unique())
    fig = _figure(5.0 * len(budgets) + 1.5, 4.0)
    axes = fig.subplots(1, len(budgets), squeeze=False)[0]
    strategies = list(dict.fromkeys(rounds["strategy"]))
    colors = dict(zip(strategies, _colors(len(strategies))))
    for k, (ax, budget) in enumerate(zip(axes, budgets)):
        part = rounds[rounds["budget"] == budget]
        for s, group in part.groupby("strategy", sort=False):
            mean = group.groupby("round").agg(n_labeled=("n_labeled", "mean"), accuracy=("accuracy", "mean"), in_result=("in_result", "all")).reset_index()
            ax.plot(mean["round"], 100 * mean["accuracy"], color=colors[s], label=s)
            kept = mean[mean["in_result"]]
            seed_models = mean[~mean["in_result"]]
            ax.scatter(kept["round"], 100 * kept["accuracy"], color=colors[s], zorder=3)
            ax.scatter(seed_models["round"], 100 * seed_models["accuracy"], facecolors="white", edgecolors=colors[s], zorder=3)
            for r in mean.itertuples(index=False):
                ax.annotate(f"{r.n_labeled:,.0f}", (r.round, 100 * r.accuracy), textcoords="offset points", xytext=(4, -10), fontsize=7, color=colors[s])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"budget {_budget_text(budget)}")
        ax.set_xlabel("round (numbers: examples trained on)")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
    labels = [l for ax in axes for l in ax.get_legend_handles_labels()[1]]
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), loc="outside right upper", fontsize=8)
    return _save(fig, path)


def plot_subsets(results: pd.DataFrame, path: Path, *, seed: int | None = None) -> tuple[Path | None, str | None]:
    """PCA of the cached pool embeddings with each strategy's selection for one seed.

    Returns
    -------
    (path or None, note or None)
        The note says why the plot was skipped or which seed and budget it shows.
    """
    from .embed import Embedder

    full = _full_strategies(results)
    part = results[~results["strategy"].isin(full)]
    if part.empty:
        return None, "subsets.png skipped: no subset strategies finished."
    seeds = sorted(part["seed"].unique())
    if seed is None:
        counts = part.groupby("seed")["strategy"].nunique()
        seed = int(counts.idxmax()) if len(counts) else seeds[0]
    budget = sorted(part["budget"].unique())[0]
    chosen = part[(part["seed"] == seed) & (part["budget"] == budget)]
    if chosen.empty:
        return None, f"subsets.png skipped: no run with seed {seed} at budget {_budget_text(budget)}."
    config = _first_config(chosen)
    fingerprint = config.get("data", {}).get("pool_fingerprint")
    if not fingerprint:
        return None, "subsets.png skipped: the runs' config.json records no pool fingerprint."
    cache = Embedder(model=config.get("embedder", "minilm"), cache_dir=config.get("cache_dir")).cache_path(fingerprint)
    if not cache.exists():
        return None, f"subsets.png skipped: no cached pool embeddings at {cache} (strategies that use embeddings, such as kmeans, cache them)."
    try:
        embeddings = np.load(cache, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # a cut file: the next run that needs it recomputes it
        return None, f"subsets.png skipped: the cached pool embeddings at {cache} are damaged."
    try:
        pool = _reload_splits(config).pool
    except Exception as exc:  # an unavailable or changed data set only costs this plot
        return None, f"subsets.png skipped: cannot reload the pool ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})."
    if embeddings.shape[0] != len(pool):
        return None, f"subsets.png skipped: the cached embeddings have {embeddings.shape[0]} rows, the pool {len(pool)}."
    from sklearn.decomposition import PCA

    xy = PCA(n_components=2, random_state=0).fit_transform(embeddings.astype(np.float64))
    position_of = {int(i): p for p, i in enumerate(pool.ids)}
    strategies = list(dict.fromkeys(chosen["strategy"]))
    ncols = min(3, len(strategies))
    nrows = math.ceil(len(strategies) / ncols)
    fig = _figure(4.2 * ncols, 3.8 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    label_colors = _colors(max(pool.n_classes, 1))
    for ax, s in zip(axes, strategies):
        run_dir = Path(chosen[chosen["strategy"] == s]["run_dir"].iloc[0])
        ax.scatter(xy[:, 0], xy[:, 1], s=max(0.3, min(6.0, 6000 / len(xy))), color="0.8", rasterized=True, linewidths=0)
        try:
            selection = RunDir(run_dir).read_selection()
        except RunFileError as exc:  # a damaged file only costs this plot
            return None, f"subsets.png skipped: {exc}"
        positions = np.array([position_of[e["id"]] for e in selection if int(e["id"]) in position_of], dtype=np.int64)
        for c, name in enumerate(pool.label_names):
            rows = positions[pool.labels[positions] == c] if len(positions) else positions
            size = max(1.5, min(14.0, 4000 / max(len(positions), 1)))
            ax.scatter(xy[rows, 0], xy[rows, 1], s=size, color=label_colors[c], label=f"{name} ({len(rows):,})", linewidths=0, rasterized=len(rows) > 2000)
        ax.set_title(f"{s} ({len(positions):,} chosen)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="best", markerscale=2)
    for ax in axes[len(strategies):]:
        ax.set_visible(False)
    fig.suptitle(f"Chosen examples on the pool's embeddings (PCA), seed {seed}, budget {_budget_text(budget)}")
    return _save(fig, path), None


# --------------------------------------------------------------------------- the report


def write_report(study_dir, *, baseline: str = BASELINE, seed: int | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``summary.csv``, ``report.md`` and the figures into the study
    directory.

    Parameters
    ----------
    study_dir : path
        A study directory (see :mod:`alsel.study`).
    baseline : str
        The strategy others are compared with by seed.
    seed : int, optional
        The seed whose selections ``subsets.png`` shows; default the seed with most strategies.

    Returns
    -------
    dict of str to Path
        ``results``, ``summary``, ``report`` and each figure written (``accuracy``, and when
        they apply ``budget_curve``, ``rounds``, ``subsets``). Skipped figures are explained in
        the report.

    Raises
    ------
    ConfigError
        The directory holds no finished run.
    """
    study_dir = Path(study_dir)
    results = collect_results(study_dir)
    if results.empty:
        raise ConfigError(f"{study_dir}: no finished runs (runs/<strategy>/budget-<b>/seed-<s>/metrics.json); run `alsel study` first")
    correct, correct_note = collect_eval_correct(results)
    summary = summarize(results, baseline, correct=correct)
    failures = collect_failures(study_dir)
    paths: dict[str, Path] = {}
    write_text(study_dir / "results.csv", results.to_csv(index=False))
    paths["results"] = study_dir / "results.csv"
    write_text(study_dir / "summary.csv", summary.to_csv(index=False))
    paths["summary"] = study_dir / "summary.csv"

    figures: dict[str, Path] = {}
    notes: list[str] = [correct_note] if correct_note else []
    figures["accuracy"] = plot_accuracy(results, summary, study_dir / "accuracy.png")
    if summary["baseline"].notna().any():
        figures["differences"] = plot_differences(summary, study_dir / "differences.png", baseline)
    full = _full_strategies(results)
    if results.loc[~results["strategy"].isin(full), "budget"].nunique() > 1:
        figures["budget_curve"] = plot_budget_curve(results, summary, study_dir / "budget_curve.png")
    rounds = _round_rows(results)
    if len(rounds):
        figures["rounds"] = plot_rounds(rounds, study_dir / "rounds.png")
    else:
        notes.append("rounds.png skipped: no multi-round loop in this study.")
    subsets, note = plot_subsets(results, study_dir / "subsets.png", seed=seed)
    if subsets is not None:
        figures["subsets"] = subsets
    if note:
        notes.append(note)

    text = render_report(study_dir, results, summary, figures=figures, notes=notes, failures=failures, baseline=baseline)
    write_text(study_dir / "report.md", text)
    paths["report"] = study_dir / "report.md"
    paths.update(figures)
    return paths
