"""report.md: one function per section, each over the read study and the computed summary.

Rendering touches no file: everything it shows is in :class:`~alsel.report.collect.StudyResults`
and the summary table, so a report renders (and tests) from memory.
"""

from __future__ import annotations

import datetime as _dt

import pandas as pd

from .. import __version__
from ..loops.config import budget_order, options
from ..loops.presets import BASELINE, PRESETS
from ..loops.rundir import RunDir
from ..stats import format_p, min_sign_flip_p
from ..study.layout import STUDY_RECORD
from .analysis import ALPHA, BETTER, DATA_KEYS, NO_DIFFERENCE, TRAINING_KEYS, UNTESTED, WORSE, differing_options
from .collect import StudyResults, full_strategies
from .formatting import budget_text, counts_text, markdown_table, pct, plural, points, run_label

__all__ = ["render_report", "render_summary_table", "render_cost_table", "RESULTS_FILE", "SUMMARY_FILE", "REPORT_FILE"]

RESULTS_FILE, SUMMARY_FILE, REPORT_FILE = "results.csv", "summary.csv", "report.md"
#: The fine-tuning options the report lists: the training group but the model (a line of its
#: own), the seed (the pairing axis) and trust_remote_code (not a training setting).
FINE_TUNING_SHOWN = tuple(k for k in options("training") if k not in ("model", "seed", "trust_remote_code"))
CAPTIONS = {
    "accuracy": "Mean accuracy per strategy and budget with 95% CIs (dots: single seeds; dashed line: full pool). The y axis does not start at 0.",
    "differences": "Mean paired difference in accuracy to the baseline with its 95% CI, per strategy; the colour is the verdict of the two tests, Holm-adjusted.",
    "budget_curve": "Mean accuracy against the number of training examples, per strategy.",
    "rounds": "Accuracy of the model trained in each round of the loops with rounds, mean over seeds (hollow markers: seed models trained on examples that are not part of the result; numbers: examples trained on).",
    "subsets": "The pool's sentence embeddings projected to 2-D with PCA (grey), with each strategy's chosen examples for one seed coloured by label.",
}


def render_report(
    study: StudyResults, summary: pd.DataFrame, *, figures: dict | None = None, notes: list[str] | None = None, baseline: str = BASELINE
) -> str:
    """The markdown report of a study: what was compared, on what, the results and what they
    do and do not show.

    Parameters
    ----------
    study : StudyResults
    summary : DataFrame
        From :func:`~alsel.report.summarize`.
    figures : dict of str to str, optional
        Figure name -> its file name beside the report (linked).
    notes : list of str, optional
        Figures that were skipped and data that was left out, and why.
    baseline : str
    """
    return "\n".join(
        _title(study)
        + _compared(study)
        + _data(study.first_config())
        + _model_and_training(study)
        + _results(study, summary, baseline)
        + _cost(summary)
        + _differences(summary, baseline)
        + _figures(figures or {}, notes or [])
        + _runs(study)
    )


def render_summary_table(summary: pd.DataFrame, baseline: str = BASELINE) -> str:
    """The main results table as markdown: accuracy and F1 in %, differences in points."""
    headers = [
        "Strategy",
        "Budget",
        "Train size",
        "Seeds",
        "Accuracy % (mean ± sd)",
        "95% CI",
        "F1 % (mean ± sd)",
        "Δ acc vs baseline (points) [95% CI]",
        "p (seeds)",
        "p (sentences)",
        "p (Holm)",
        "Verdict",
        "% of full",
    ]
    rows = []
    for r in summary.itertuples(index=False):
        if pd.isna(r.accuracy_std):
            acc, f1 = pct(r.accuracy_mean), pct(r.f1_mean)
        else:
            acc, f1 = f"{pct(r.accuracy_mean)} ± {pct(r.accuracy_std)}", f"{pct(r.f1_mean)} ± {pct(r.f1_std)}"
        ci = "n/a" if pd.isna(r.accuracy_ci_low) else f"[{pct(r.accuracy_ci_low)}, {pct(r.accuracy_ci_high)}]"
        pct_full = "n/a" if pd.isna(r.pct_full) else f"{r.pct_full:.1f}"
        rows.append([r.strategy, _budget_cell(r), _train_size(r), str(r.n), acc, ci, f1, *_comparison_cells(r, baseline), pct_full])
    return markdown_table(rows, headers, "llrrrrrrrrrlr")


def render_cost_table(summary: pd.DataFrame) -> str:
    """Mean cost of one run per strategy, in seconds (see :func:`~alsel.report.run_costs`)."""
    headers = [
        "Strategy",
        "Budget",
        "Train size",
        "Training s",
        "Scoring s",
        "Embedding s",
        "Selection and other s",
        "Total s",
        "Total min",
    ]
    rows = []
    for r in summary.itertuples(index=False):
        values = (r.train_seconds, r.score_seconds, r.embed_seconds, r.other_seconds, r.cost_seconds)
        cells = [("n/a" if pd.isna(v) else f"{v:,.0f}") for v in values]
        minutes = "n/a" if pd.isna(r.cost_seconds) else f"{r.cost_seconds / 60:.1f}"
        rows.append([r.strategy, _budget_cell(r), _train_size(r), *cells, minutes])
    return markdown_table(rows, headers, "llrrrrrrr")


# --------------------------------------------------------------------------- sections


def _title(study: StudyResults) -> list[str]:
    name = study.record.get("name") or study.study_dir.name
    out = [f"# Study report: {name}", "", f"Generated {_dt.date.today().isoformat()} by alsel {__version__} from `{study.study_dir}`."]
    if study.record.get("description"):
        out += ["", str(study.record["description"]).strip()]
    return out


def _compared(study: StudyResults) -> list[str]:
    results = study.runs
    full = full_strategies(results)
    compared = [s for s in dict.fromkeys(results["strategy"]) if s not in full]
    part = results[~results["strategy"].isin(full)]
    budgets = sorted(part["budget"].unique(), key=budget_order)
    # a strategy may have its own budgets (a budget curve for a few of them)
    each = "each at" if (part.groupby("strategy")["budget"].nunique() == len(budgets)).all() else "at"
    seeds = sorted(results["seed"].unique())
    sentence = (
        f"{len(compared)} ways of choosing a training subset from a labelled pool"
        + (f", {each} {plural(len(budgets), 'budget')} {', '.join(budget_text(b) for b in budgets)} of the pool" if budgets else "")
        + (f", against fine-tuning on the full pool ({', '.join(sorted(full))})" if full else "")
        + ". Every run fine-tunes the model from its pretrained weights on the chosen subset and is scored on the same "
        f"evaluation set. Each strategy ran with {len(seeds)} {plural(len(seeds), 'seed')} ({', '.join(map(str, seeds))}); "
        "a seed fixes the random choices and the fine-tuning (classifier head, dropout, data order), so runs with the same "
        "seed are compared in pairs."
    )
    specs = study.record.get("strategies", {})
    rows = []
    for s in dict.fromkeys(results["strategy"]):
        preset = results.loc[results["strategy"] == s, "preset"].iloc[0]
        spec = specs.get(s) or {"preset": None if pd.isna(preset) else preset, "options": {}}
        rows.append([s, spec.get("preset") or "—", _how_it_chooses(spec, study.first_config(s))])
    return ["", "## What was compared", "", sentence, "", markdown_table(rows, ["Strategy", "Preset", "How it chooses"])]


def _data(config: dict) -> list[str]:
    data = config.get("data", {})
    pool_line = f"- Pool: **{data.get('n_pool', 'n/a'):,}** examples" if isinstance(data.get("n_pool"), int) else "- Pool: n/a"
    if config.get("limit"):
        pool_line += (
            f" (a class-stratified sample of the training split, `limit` {config['limit']:,}, `data_seed` {config.get('data_seed', 0)})"
        )
    eval_line = (
        f"- Evaluation set: **{data.get('n_eval', 'n/a'):,}** examples" if isinstance(data.get("n_eval"), int) else "- Evaluation set: n/a"
    )
    out = [
        "",
        "## Data",
        "",
        f"- Data set: `{config.get('dataset', 'n/a')}` ({', '.join(data.get('label_names', [])) or 'labels n/a'})",
        pool_line + f"; classes: {counts_text(data.get('pool_class_counts'))}",
        eval_line,
    ]
    if data.get("eval_class_counts"):
        out[-1] += f"; classes: {counts_text(data.get('eval_class_counts'))}"
        majority = max(data["eval_class_counts"].values()) / max(1, sum(data["eval_class_counts"].values()))
        out.append(f"- Majority-class accuracy on it: {100 * majority:.2f}%")
    return out


def _model_and_training(study: StudyResults) -> list[str]:
    config = study.first_config()
    out = ["", "## Model and training", "", f"- Model: `{config.get('model', 'n/a')}`"]
    if config.get("learner", "transformer") != "transformer" or config.get("final_learner"):
        out.append(
            f"- Learner in the rounds: `{config['learner']}`; on the final selection: `{config.get('final_learner') or config['learner']}`"
        )
    out.append("- Fine-tuning: " + ", ".join(f"{k} {config.get(k)}" for k in FINE_TUNING_SHOWN if k in config))
    out.append(f"- Sentence embeddings (for embedding-based strategies): `{config.get('embedder', 'n/a')}`")
    versions = config.get("versions", {})
    if versions:
        out.append("- Software: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    differing = differing_options((study.configs.get(run_dir) for run_dir in study.runs["run_dir"]), TRAINING_KEYS + DATA_KEYS)
    if differing:
        out.append(f"- **Warning:** {', '.join(differing)} differ between runs; the comparison is not like for like.")
    return out


def _results(study: StudyResults, summary: pd.DataFrame, baseline: str) -> list[str]:
    out = ["", "## Results", "", render_summary_table(summary, baseline), ""]
    out.append(
        "Accuracy and F1 (of the positive class for two classes, macro otherwise) are percentages on the evaluation set: "
        "mean ± sample standard deviation over seeds; the 95% CI of the mean is t-based. "
        f"Δ is the mean per-seed difference in accuracy to `{baseline}` at the same budget, in percentage points, with a "
        f"t-based 95% CI (a bootstrap CI is in `{SUMMARY_FILE}`). "
        "p (seeds) is the two-sided paired t-test over seeds: is the difference larger than the seed-to-seed spread of the "
        "subset and the fine-tuning? p (sentences) is a sign-flip permutation test over the evaluation sentences, each "
        "scored by its wins minus losses over the paired seeds: is it larger than the luck of which sentences the "
        "evaluation set holds? "
        f"p (Holm) is the larger of the two (a strategy must pass both), Holm-adjusted over the {int(summary['baseline'].notna().sum())} "
        f"comparisons in the table; the verdict reads it at {ALPHA}. % of full is the mean accuracy as a share of the "
        "full-pool runs' mean."
    )
    full = full_strategies(study.runs)
    if full:
        fr = summary[summary["strategy"].isin(full)].iloc[0]
        out += ["", f"Full-pool accuracy: **{pct(fr.accuracy_mean)}%** ({fr.n} {plural(fr.n, 'seed')})."]
    return out + ["", "Accuracy (%) by seed:", "", _seed_table(study.runs)]


def _cost(summary: pd.DataFrame) -> list[str]:
    if "cost_seconds" not in summary or not summary["cost_seconds"].notna().any():
        return []
    return [
        "",
        "## Cost",
        "",
        "Mean wall time of one run on this machine. Training includes evaluating each round's model; scoring is the "
        "candidates' probabilities (and features or dynamics where a strategy needs them); selection and other is "
        "choosing the examples, embedding the pool when no cached embeddings exist, and loading. Work reused from the "
        "round cache by another run counts at the time it took there.",
        "",
        render_cost_table(summary),
    ]


def _differences(summary: pd.DataFrame, baseline: str) -> list[str]:
    out = ["", "## What the differences show", ""]
    compared = summary[summary["baseline"].notna()]
    if compared.empty:
        return out + [
            f"No strategy could be paired with `{baseline}` (it did not run, or ran with other budgets), so there are no paired tests."
        ]
    return out + _verdict_lists(compared, baseline) + _caveats(compared)


def _verdict_lists(compared: pd.DataFrame, baseline: str) -> list[str]:
    out = []
    for verdict, title in (
        (BETTER, f"Better than `{baseline}`"),
        (WORSE, f"Worse than `{baseline}`"),
        (NO_DIFFERENCE, "No significant difference"),
        (UNTESTED, "Not testable"),
    ):
        rows = compared[compared["verdict"] == verdict]
        out += [f"{title} (Holm-adjusted p < {ALPHA} on both tests):" if verdict in (BETTER, WORSE) else f"{title}:", ""]
        if rows.empty:
            out += ["- none", ""]
        for r in rows.itertuples(index=False):
            sentences = "" if pd.isna(r.p_sentences) else f", {r.sentence_wins:.0f} sentences won / {r.sentence_losses:.0f} lost"
            out.append(
                f"- `{r.strategy}` at {budget_text(r.budget)}: {points(r.diff_mean)} points "
                f"(p seeds {format_p(r.p_ttest)}, p sentences {format_p(r.p_sentences)}, Holm {format_p(r.p_holm)}; "
                f"{r.n_pairs} {plural(r.n_pairs, 'seed')}{sentences})"
            )
        if len(rows):
            out.append("")
    return out


def _caveats(compared: pd.DataFrame) -> list[str]:
    n_min, n_max = int(compared["n_pairs"].min()), int(compared["n_pairs"].max())
    out = ["Caveats:", ""]
    if n_max < 2:
        out.append("- With a single seed there is no spread to test against: intervals and p-values are n/a. Run more seeds.")
    else:
        floor = min_sign_flip_p(n_max)
        needed = next(n for n in range(2, 64) if min_sign_flip_p(n) < ALPHA)
        fewer = f" ({n_min} for comparisons where a run is missing)" if n_min < n_max else ""
        out.append(
            f"- The per-seed test is a t-test: with {n_max} paired seeds{fewer} it assumes roughly normal differences, which "
            f"so few seeds cannot check. The distribution-free exact sign-flip test (in `{SUMMARY_FILE}`, `p_signflip`) "
            + (
                f"cannot go below {floor:.3g} (2/2^{n_max}) with {n_max} seeds, so it could not reach {ALPHA} at all; it needs "
                f"at least {needed} seeds."
                if floor >= ALPHA
                else f"can reach {floor:.3g} at best with {n_max} seeds."
            )
        )
    return out + [
        "- The sentence-level test treats the trained models as given: it measures the evaluation set's sampling noise, "
        "not the seed-to-seed spread, which is why a verdict needs both.",
        "- The results say how these strategies compare on this data, model and training setting, not beyond it.",
    ]


def _figures(figures: dict, notes: list[str]) -> list[str]:
    if not figures and not notes:
        return []
    out = ["", "## Figures", ""]
    for key, name in figures.items():
        out += [f"![{key}]({name})", "", CAPTIONS.get(key, ""), ""]
    return out + [f"- {note}" for note in notes]


def _runs(study: StudyResults) -> list[str]:
    planned, failures, missing = study.record.get("runs", []), study.failures, study.missing
    n = len(study.runs)
    out = ["", "## Runs", "", f"{n} finished {plural(n, 'run')}" + (f" of {len(planned)} planned" if planned else "") + "."]
    if len(failures):
        out += ["", f"{len(failures)} failed (see `{RunDir.ERROR}` in each run directory, or the damaged file named):", ""]
        out += [f"- {r.strategy} budget {budget_text(r.budget)} seed {r.seed}: {r.error}" for r in failures.itertuples(index=False)]
    collapsed = study.runs[study.runs["failed"].notna()] if "failed" in study.runs else study.runs.iloc[:0]
    if len(collapsed):
        out += [
            "",
            f"{len(collapsed)} finished with a failed fine-tuning (kept in the statistics, paired by seed; "
            "the final model still predicted one class after the collapse guard's retries):",
            "",
        ]
        out += [f"- {r.strategy} budget {budget_text(r.budget)} seed {r.seed}: {r.failed}" for r in collapsed.itertuples(index=False)]
    if missing:
        out += ["", f"{len(missing)} not run yet (rerun the study to finish them):", ""]
        out += [f"- {r['strategy']} budget {r['budget']} seed {r['seed']}" for r in missing[:20]]
        if len(missing) > 20:
            out.append(f"- ... and {len(missing) - 20} more")
    files = (
        f"`{RESULTS_FILE}` (one row per run), `{SUMMARY_FILE}` (the table above with all statistics), `{STUDY_RECORD}` (the grid), "
        f"`runs/<strategy>/budget-<b>/seed-<s>/` (each run's config, rounds, selection and metrics)."
    )
    return out + ["", f"Files: {files}", ""]


# --------------------------------------------------------------------------- pieces


def _how_it_chooses(spec: dict, config: dict) -> str:
    """A strategy in words: its preset's description, or its loop options."""
    preset = spec.get("preset")
    spec_options = spec.get("options", {})
    if preset and not spec_options:
        return PRESETS[preset].description if preset in PRESETS else f"preset {preset}"
    init = spec_options.get("init", config.get("init"))
    acq = spec_options.get("acq", config.get("acq"))
    rounds = spec_options.get("rounds", config.get("rounds"))
    text = f"initial pool by `{init}`"
    if rounds:
        text += f", then {rounds} round(s) of `{acq}` acquisition, retraining each round"
    other = {k: v for k, v in spec_options.items() if k not in ("init", "acq", "rounds")}
    if other:
        text += " (" + ", ".join(f"{k}={v}" for k, v in other.items()) + ")"
    if preset:
        text = f"preset {preset} with " + ", ".join(f"{k}={v}" for k, v in spec_options.items())
    return text


def _seed_table(results: pd.DataFrame) -> str:
    seeds = sorted(results["seed"].unique())
    rows = []
    for (strategy, budget), group in results.groupby(["strategy", "budget"], sort=False):
        by_seed = group.set_index("seed")["accuracy"]
        name = run_label(strategy, budget) if group["preset"].iloc[0] != "full" else f"{strategy} (full pool)"
        rows.append([name] + [pct(by_seed.get(s)) for s in seeds])
    return markdown_table(rows, ["Strategy @ budget"] + [f"seed {s}" for s in seeds], "l" + "r" * len(seeds))


def _budget_cell(r) -> str:
    return "full pool" if r.preset == "full" else budget_text(r.budget)


def _train_size(r) -> str:
    """Training examples, and per class of the task where the run recorded its classes."""
    if pd.isna(r.n_train):
        return "n/a"
    return f"{r.n_train:,.0f}" + ("" if pd.isna(r.per_class) else f" ({r.per_class:,.1f}/class)")


def _comparison_cells(r, baseline: str) -> list[str]:
    """Δ [CI], p (seeds), p (sentences), p (Holm) and the verdict of one summary row."""
    if pd.isna(r.baseline):
        return ["(baseline)" if r.strategy == baseline else "—", "—", "—", "—", "—"]
    ci = "" if pd.isna(r.diff_ci_low) else f" [{points(r.diff_ci_low)}, {points(r.diff_ci_high)}]"
    verdict = f"**{r.verdict}**" if r.verdict in (BETTER, WORSE) else str(r.verdict)
    return [f"{points(r.diff_mean)}{ci}", format_p(r.p_ttest), format_p(r.p_sentences), format_p(r.p_holm), verdict]
