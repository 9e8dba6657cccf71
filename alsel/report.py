"""Study results -> a table, a summary with paired statistics, a markdown report and plots.

:func:`collect_results` reads every finished run of a study directory (see :mod:`alsel.study`),
:func:`summarize` compares strategies per budget (mean, spread, confidence intervals, the
paired difference to the ``random`` baseline by seed with a sign-flip permutation test, and the
share of the full-data accuracy), and :func:`write_report` writes ``results.csv``,
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
from .errors import ConfigError
from .io import read_json, read_jsonl, write_bytes, write_text
from .stats import describe, format_p, min_sign_flip_p, paired_difference, percent_of

__all__ = [
    "RESULT_COLUMNS",
    "collect_results",
    "collect_failures",
    "summarize",
    "markdown_table",
    "render_summary_table",
    "render_report",
    "write_report",
]

RESULT_COLUMNS = ["strategy", "budget", "seed", "preset", "n_train", "accuracy", "f1", "seconds", "rounds", "run_dir"]
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
}


# --------------------------------------------------------------------------- reading


def _parse_budget(text: str):
    return float(text) if any(c in text for c in ".eE") else int(text)


def _run_dirs(study_dir: Path):
    """(strategy, budget, seed, path) of every run directory under ``runs/``."""
    for path in sorted((study_dir / "runs").glob("*/budget-*/seed-*")):
        if not path.is_dir():
            continue
        try:
            budget = _parse_budget(path.parent.name[len("budget-"):])
            seed = int(path.name[len("seed-"):])
        except ValueError:
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


def collect_results(study_dir) -> pd.DataFrame:
    """One row per finished run (a run directory holding ``metrics.json``).

    Parameters
    ----------
    study_dir : path

    Returns
    -------
    DataFrame
        Columns ``strategy``, ``budget``, ``seed``, ``preset``, ``n_train``, ``accuracy``,
        ``f1``, ``seconds``, ``rounds`` (acquisition rounds of the loop), ``run_dir``; sorted by
        strategy (in the study's order), budget and seed.
    """
    study_dir = Path(study_dir)
    rows = []
    for strategy, budget, seed, path in _run_dirs(study_dir):
        if not (path / "metrics.json").exists():
            continue
        metrics = read_json(path / "metrics.json")
        config = read_json(path / "config.json") if (path / "config.json").exists() else {}
        rounds = config.get("rounds")
        if rounds is None and (path / "rounds.jsonl").exists():
            rounds = max(len(read_jsonl(path / "rounds.jsonl")) - 1, 0)
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


def collect_failures(study_dir) -> pd.DataFrame:
    """Runs that failed (an ``error.txt`` and no ``metrics.json``): strategy, budget, seed,
    error (the exception line), run_dir."""
    rows = []
    for strategy, budget, seed, path in _run_dirs(Path(study_dir)):
        error = path / "error.txt"
        if error.exists() and not (path / "metrics.json").exists():
            lines = [line for line in error.read_text(encoding="utf-8").splitlines() if line.strip()]
            last = lines[-1] if lines else "unknown error"
            rows.append({"strategy": strategy, "budget": float(budget), "seed": seed, "error": last, "run_dir": str(path)})
    return pd.DataFrame(rows, columns=["strategy", "budget", "seed", "error", "run_dir"])


# --------------------------------------------------------------------------- statistics

SUMMARY_COLUMNS = [
    "strategy", "budget", "preset", "n", "n_train",
    "accuracy_mean", "accuracy_std", "accuracy_ci_low", "accuracy_ci_high",
    "f1_mean", "f1_std",
    "baseline", "n_pairs", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_boot_low", "diff_boot_high",
    "p_value", "test", "p_ttest", "pct_full",
]


def _full_strategies(results: pd.DataFrame) -> set:
    return set(results.loc[results["preset"] == "full", "strategy"]) if "preset" in results else set()


def summarize(results: pd.DataFrame, baseline: str = BASELINE, *, random_state=0) -> pd.DataFrame:
    """Per strategy and budget: spread of accuracy and F1 over seeds, and the paired comparison
    with ``baseline`` at the same budget.

    Parameters
    ----------
    results : DataFrame
        As :func:`collect_results` returns (``strategy``, ``budget``, ``seed``, ``accuracy``,
        ``f1``; ``preset`` and ``n_train`` if known).
    baseline : str
        The strategy every other is paired with by seed.
    random_state : int
        Seeds the bootstrap (and a Monte Carlo sign-flip test, with more than 16 seeds).

    Returns
    -------
    DataFrame
        One row per (strategy, budget) in the order of ``results``: ``n``, ``n_train`` (mean),
        ``accuracy_mean/std/ci_low/ci_high`` (t-based 95% CI), ``f1_mean/std``, and against
        the baseline: ``n_pairs``, ``diff_mean`` with its t-based CI (``diff_ci_low/high``)
        and bootstrap CI (``diff_boot_low/high``), ``p_value`` of the test named in ``test``
        (sign-flip permutation), ``p_ttest`` (paired t-test), and ``pct_full``: mean accuracy as
        a percentage of the full-data runs' mean accuracy. Undefined values are NaN.
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
            "p_value": math.nan, "test": None, "p_ttest": math.nan,
            "pct_full": percent_of(acc["mean"], full_mean),
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
                p_value=diff["p_value"], test=diff["test"], p_ttest=diff["p_ttest"],
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


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
               "Δ acc vs baseline (points) [95% CI]", "p (sign-flip)", "p (t-test)", "% of full"]
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
            diff, p, pt = "(baseline)" if r.strategy == baseline else "—", "—", "—"
        else:
            ci_text = "" if pd.isna(r.diff_ci_low) else f" [{_points(r.diff_ci_low)}, {_points(r.diff_ci_high)}]"
            diff = f"{_points(r.diff_mean)}{ci_text}"
            p, pt = format_p(r.p_value), format_p(r.p_ttest)
        train = "n/a" if pd.isna(r.n_train) else f"{r.n_train:,.0f}"
        budget = "full pool" if r.preset == "full" else _budget_text(r.budget)
        pct_full = "n/a" if pd.isna(r.pct_full) else f"{r.pct_full:.1f}"
        rows.append([r.strategy, budget, train, str(r.n), acc, ci, f1, diff, p, pt, pct_full])
    return markdown_table(rows, headers, "llrrrrrrrrr")


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
        path = Path(run_dir) / "config.json"
        if path.exists():
            return read_json(path)
    return {}


TRAINING_KEYS = ("model", "epochs", "min_steps", "lr", "batch_size", "max_length", "warmup_ratio", "weight_decay", "precision")
DATA_KEYS = ("dataset", "limit", "eval", "eval_limit", "data_seed")


def _differing(results: pd.DataFrame, keys) -> list[str]:
    """Options in ``keys`` that are not the same in every run (they should be)."""
    values = {}
    for run_dir in results["run_dir"]:
        path = Path(run_dir) / "config.json"
        if path.exists():
            config = read_json(path)
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
        Figures that were skipped, and why.
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
    p_test = next((t for t in summary["test"] if isinstance(t, str)), None)
    out.append(
        "Accuracy and F1 (of the positive class for two classes, macro otherwise) are percentages on the evaluation set: "
        "mean ± sample standard deviation over seeds; the 95% CI of the mean is t-based. "
        f"Δ is the mean per-seed difference in accuracy to `{baseline}` at the same budget, in percentage points, with a "
        "t-based 95% CI (a bootstrap CI is in `summary.csv`). "
        + (f"p (sign-flip) is a two-sided {p_test} over the paired seeds; " if p_test else "p (sign-flip) is a two-sided sign-flip permutation test over the paired seeds; ")
        + "p (t-test) is the paired t-test, for reference. % of full is the mean accuracy as a share of the full-pool runs' mean."
    )
    if full:
        fr = summary[summary["strategy"].isin(full)].iloc[0]
        out.append("")
        out.append(f"Full-pool accuracy: **{_pct(fr.accuracy_mean)}%** ({fr.n} seed{'s' if fr.n != 1 else ''}).")
    out += ["", "Accuracy (%) by seed:", "", _seed_table(results)]

    # --- significance
    out += ["", "## What the differences show", ""]
    compared_rows = summary[summary["baseline"].notna()]
    if compared_rows.empty:
        out.append(f"No strategy could be paired with `{baseline}` (it did not run, or ran with other budgets), so there are no paired tests.")
    else:
        significant = compared_rows[compared_rows["p_value"] < ALPHA]
        not_significant = compared_rows[~(compared_rows["p_value"] < ALPHA)]
        if len(significant):
            out.append(f"Significant at {ALPHA} (sign-flip test):")
            out.append("")
            for r in significant.itertuples(index=False):
                direction = "better" if r.diff_mean > 0 else "worse"
                out.append(f"- `{r.strategy}` at {_budget_text(r.budget)}: {_points(r.diff_mean)} points vs `{baseline}` ({direction}; p = {format_p(r.p_value)}, {r.n_pairs} seeds)")
        else:
            out.append(f"No difference to `{baseline}` is significant at {ALPHA} (sign-flip test).")
        if len(not_significant):
            out += ["", f"Not significant at {ALPHA}:", ""]
            for r in not_significant.itertuples(index=False):
                out.append(f"- `{r.strategy}` at {_budget_text(r.budget)}: {_points(r.diff_mean)} points (p = {format_p(r.p_value)}, {r.n_pairs} seed{'s' if r.n_pairs != 1 else ''})")
        n_min, n_max = int(compared_rows["n_pairs"].min()), int(compared_rows["n_pairs"].max())
        needed = next(n for n in range(2, 64) if min_sign_flip_p(n) < ALPHA)
        out += ["", "Caveats:", ""]
        if n_max < 2:
            out.append("- With a single seed there is no spread to test against: intervals and p-values are n/a. Run more seeds.")
        else:
            floor = min_sign_flip_p(n_max)
            fewer = f" ({n_min} for comparisons where a run is missing)" if n_min < n_max else ""
            if floor >= ALPHA:
                out.append(
                    f"- With {n_max} paired seeds{fewer} the exact sign-flip test cannot give a p-value below {floor:.3g} "
                    f"(2/2^{n_max}), so no difference can reach {ALPHA} however large it is. Read the CIs and the per-seed "
                    f"table; at least {needed} seeds are needed for the test to be able to reach {ALPHA}."
                )
            else:
                out.append(f"- With {n_max} paired seeds{fewer} the smallest p-value the exact sign-flip test can give is {floor:.3g}.")
                if min_sign_flip_p(max(n_min, 2)) >= ALPHA:
                    out.append(f"- Comparisons with fewer than {needed} pairs cannot reach {ALPHA} with this test, however large the difference.")
        out.append("- The t-based intervals and the t-test assume roughly normal per-seed differences, which few seeds cannot check; the sign-flip test does not assume it.")
        if len(compared_rows) > 1:
            out.append(f"- {len(compared_rows)} comparisons are made without a multiple-comparison correction; by chance alone about {ALPHA:.0%} of true null differences would look significant.")
        out.append("- Seeds vary the subset and the fine-tuning but not the evaluation set: all runs are scored on the same examples, so the results say how these strategies compare on this data, model and training setting, not beyond it.")

    # --- figures
    figures = figures or {}
    if figures or notes:
        out += ["", "## Figures", ""]
        captions = {
            "accuracy": "Mean accuracy per strategy and budget with 95% CIs (dots: single seeds; dashed line: full pool). The y axis does not start at 0.",
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
        out += ["", f"{len(failures)} failed (see `error.txt` in each run directory):", ""]
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
    ax.set_xticks(range(len(strategies)), strategies)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy by strategy (mean, 95% CI, seeds as dots)")
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
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
        path = Path(r.run_dir) / "rounds.jsonl"
        if r.preset == "full" or not path.exists():
            continue
        rounds = read_jsonl(path)
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


def _pool_positions(config: dict):
    """Pool ids of the run's data (reloaded as the run loaded it), checked by fingerprint."""
    from .data import load_data

    splits = load_data(
        config.get("dataset", "sst2"), text_column=config.get("text_column"), label_column=config.get("label_column", "label"),
        eval_spec=config.get("eval"), limit=config.get("limit"), eval_limit=config.get("eval_limit"), data_seed=config.get("data_seed", 0),
    )
    if splits.pool.fingerprint() != config.get("data", {}).get("pool_fingerprint"):
        raise ValueError("the reloaded pool differs from the one the runs used")
    return splits.pool


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
    embeddings = np.load(cache, allow_pickle=False)
    try:
        pool = _pool_positions(config)
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
        selection = read_jsonl(run_dir / "selection.jsonl") if (run_dir / "selection.jsonl").exists() else []
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
    summary = summarize(results, baseline)
    failures = collect_failures(study_dir)
    paths: dict[str, Path] = {}
    write_text(study_dir / "results.csv", results.to_csv(index=False))
    paths["results"] = study_dir / "results.csv"
    write_text(study_dir / "summary.csv", summary.to_csv(index=False))
    paths["summary"] = study_dir / "summary.csv"

    figures: dict[str, Path] = {}
    notes: list[str] = []
    figures["accuracy"] = plot_accuracy(results, summary, study_dir / "accuracy.png")
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
