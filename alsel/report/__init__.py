"""Study results -> a table, a summary with paired statistics, a markdown report and plots.

:func:`write_report` reads a study directory (see :mod:`alsel.study`) once into a
:class:`StudyResults` (:mod:`~alsel.report.collect`), compares the strategies per budget (mean,
spread, confidence intervals, the paired difference to the ``random`` baseline by seed and by
evaluation sentence, a verdict Holm-adjusted over all comparisons, and the share of the
full-data accuracy; :mod:`~alsel.report.analysis` over :mod:`alsel.stats`), renders report.md
(:mod:`~alsel.report.markdown`) and the figures (:mod:`~alsel.report.plots`) from memory, and
writes ``results.csv``, ``summary.csv``, ``report.md`` and the figures into the study directory,
each atomically. :func:`write_comparison` compares several studies, one per data set, with the
same statistics and a pooled estimate per strategy (:mod:`~alsel.report.compare`), renders
compare.md (:mod:`~alsel.report.compare_render`) and applies the decision rule
(:mod:`~alsel.report.decision`); the writers live here, above the modules they tie together.
"""

from __future__ import annotations

from pathlib import Path

from ..decision_rule import RULE, DecisionRule
from ..io import write_bytes, write_text
from .analysis import SUMMARY_COLUMNS, round_table, summarize
from .collect import (
    BASELINE,
    RESULT_COLUMNS,
    StudyResults,
    collect_eval_correct,
    collect_failures,
    collect_results,
    collect_study,
    full_strategies,
    run_costs,
)
from .compare import compare, read_sets, versus
from .compare_render import comparison_figures, render_comparison
from .decision import decide
from .formatting import markdown_table
from .markdown import REPORT_FILE, RESULTS_FILE, SUMMARY_FILE, render_cost_table, render_report, render_summary_table
from .plots import accuracy_figure, budget_curve_figure, differences_figure, png_bytes, rounds_figure, subsets_figure

__all__ = [
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "StudyResults",
    "collect_study",
    "collect_results",
    "collect_failures",
    "collect_eval_correct",
    "run_costs",
    "summarize",
    "markdown_table",
    "render_summary_table",
    "render_cost_table",
    "render_report",
    "write_report",
    "write_comparison",
]


def write_report(study_dir, *, baseline: str = BASELINE, seed: int | None = None, warn=None) -> dict[str, Path]:
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
    warn : callable, optional
        Called with one line when runs are left out of the sentence-level test (their
        comparisons get no verdict; report.md says it too).

    Returns
    -------
    dict of str to Path
        ``results``, ``summary``, ``report`` and each figure written (``accuracy``, and when
        they apply ``differences``, ``budget_curve``, ``rounds``, ``subsets``). Skipped figures
        are explained in the report.

    Raises
    ------
    ConfigError
        The directory holds no finished run.
    """
    study = collect_study(study_dir, seed=seed)
    if study.correct_note and warn is not None:
        warn(study.correct_note)
    summary = summarize(study.runs, baseline, correct=study.correct)
    figures, skipped = _figures(study, summary, baseline)
    notes = [note for note in (study.correct_note, *skipped, study.subsets_note) if note]
    paths = {"results": study.study_dir / RESULTS_FILE, "summary": study.study_dir / SUMMARY_FILE}
    write_text(paths["results"], study.runs.to_csv(index=False))
    write_text(paths["summary"], summary.to_csv(index=False))
    written = _write_figures(figures, study.study_dir)
    text = render_report(study, summary, figures={name: path.name for name, path in written.items()}, notes=notes, baseline=baseline)
    paths["report"] = study.study_dir / REPORT_FILE
    write_text(paths["report"], text)
    return {**paths, **written}


def _figures(study: StudyResults, summary, baseline: str) -> tuple[dict, list[str]]:
    """The figures that apply to this study by name (the file is ``<name>.png``), and why a
    figure that could apply was skipped."""
    figures, skipped = {"accuracy": accuracy_figure(study.runs, summary)}, []
    if summary["baseline"].notna().any():
        figures["differences"] = differences_figure(summary, baseline)
    subset_runs = study.runs[~study.runs["strategy"].isin(full_strategies(study.runs))]
    if subset_runs["budget"].nunique() > 1:
        figures["budget_curve"] = budget_curve_figure(study.runs, summary)
    rounds = round_table(study)
    if len(rounds):
        figures["rounds"] = rounds_figure(rounds)
    else:
        skipped.append("rounds.png skipped: no multi-round loop in this study.")
    if study.subsets is not None:
        figures["subsets"] = subsets_figure(study.subsets)
    return figures, skipped


def _write_figures(figures: dict, folder: Path) -> dict[str, Path]:
    """Each figure as ``<name>.png`` in ``folder``; the paths by name."""
    paths = {name: folder / f"{name}.png" for name in figures}
    for name, fig in figures.items():
        write_bytes(paths[name], png_bytes(fig))
    return paths


def write_comparison(
    study_dirs,
    out="compare",
    *,
    budget: float | int | str = 0.1,
    baseline: str = BASELINE,
    rule: DecisionRule = RULE,
    strategies=None,
    budgets=None,
    warn=None,
) -> dict[str, Path]:
    """Read the studies and write ``compare.csv``, ``compare.md``, ``forest.png`` and
    ``budget_curves.png`` (when a set has a budget curve) into ``out``; against ``random``, also
    ``decision.csv``: what the decision ``rule`` reads per strategy and which it chooses
    (:mod:`~alsel.report.decision`). ``strategies``, if given, are the strategies compared (see
    :func:`~alsel.report.compare.read_sets`); the rule's reference loop is read with them.
    ``budgets``, if given, are the only budgets read (the same).
    ``warn`` is called with one line per set whose runs are partly left out of the
    sentence-level test (compare.md says it too).

    Returns
    -------
    dict of str to Path
        ``table``, ``report``, ``decision`` (against ``random``) and each figure written.
    """
    sets = read_sets(study_dirs, baseline, strategies, rule.keep_gain_of if baseline == BASELINE else None, budgets)
    for s in sets:
        if s.note and warn is not None:
            warn(f"{s.name}: {s.note} The decision rule does not pass an untested comparison.")
    comparison = compare(sets, budget, baseline)
    decision = None
    if baseline == BASELINE:  # the rule, its cost criterion included, is written against random
        against = versus(sets, rule.keep_gain_of, budget) if rule.keep_gain_of else None
        decision = decide(comparison, rule, compare(against, budget, rule.keep_gain_of) if against and rule.keep_gain_of else None)
    out = Path(out)
    figures = comparison_figures(comparison)
    paths = {"table": out / "compare.csv", "report": out / "compare.md", **_write_figures(figures, out)}
    write_text(paths["table"], comparison.table.to_csv(index=False))
    if decision is not None:
        paths["decision"] = out / "decision.csv"
        write_text(paths["decision"], decision.table.to_csv(index=False))
    write_text(paths["report"], render_comparison(comparison, decision=decision, figures={name: f"{name}.png" for name in figures}))
    return paths
