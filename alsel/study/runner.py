""":func:`run_study`: validate the grid, record it in the study directory, skip the runs that
finished, hand the others to the study's executor and summarise."""

from __future__ import annotations

from collections.abc import Callable

from ..io import write_json
from ..loops.rundir import RunDir, hold_directory
from ..progress import SILENT, Progress
from .cell import RunFn, default_run_fn, finished_metrics
from .executors import EXECUTORS
from .grid import RunSpec, Study, load_study, validate_runs
from .kept import check_kept_data
from .layout import STUDY_RECORD
from .outcomes import RunOutcome, StudySummary
from .record import merge_record, record_outcomes

__all__ = ["run_study"]


def run_study(
    config_path,
    *,
    dry_run: bool = False,
    progress: Progress = SILENT,
    run_fn: RunFn | None = None,
    **overrides,
) -> StudySummary:
    """Run a study: every (strategy, budget, seed) run not finished yet.

    Parameters
    ----------
    config_path : path
        The study YAML.
    **overrides
        ``limit``, ``seeds``, ``strategies``, ``budgets``, ``out``, ``executor``, ``address``,
        ``options``: see :func:`~alsel.study.load_study`.
    dry_run : bool
        Only resolve and validate the grid: nothing is run or written; outcomes are ``planned``
        (or ``skipped`` for finished runs).
    progress : Progress
        Study-level progress and log lines; the local executor also hands it to each run.
    run_fn : callable, optional
        ``run_fn(config, out_dir, progress=...) -> metrics``; default
        :func:`alsel.run.run_loop`. Tests pass a stand-in.

    Returns
    -------
    StudySummary
        ``exit_code`` is 1 if any run failed (the others still ran).

    Raises
    ------
    ConfigError
        A bad config or override, or a study directory holding a study with other options.
    DataError
        A kept run recorded other data than the study loads now (:func:`~alsel.study.kept.check_kept_data`).
    RunInUseError
        Another alsel process runs a study in the same directory: one process per study
        directory (a dry run, which writes nothing, is not held back).

    Notes
    -----
    The ``ray`` executor submits one task per run (see :mod:`alsel.study.ray_executor` for what
    each asks for and how a local Ray is started).
    """
    study = load_study(config_path, **overrides)
    runs = study.runs()
    validate_runs(runs)
    if dry_run:  # writes nothing, so it holds nothing
        _check_kept(study, runs)
        return StudySummary(study, [_planned(study, spec) for spec in runs], dry_run=True)
    with hold_directory(study.study_dir, progress):
        record = _check_kept(study, runs)
        record_path = study.study_dir / STUDY_RECORD

        def keep(outcomes: list[RunOutcome]) -> None:
            record_outcomes(record, outcomes)
            write_json(record_path, record)

        outcomes = _run_pending(study, runs, run_fn or default_run_fn(), progress, keep)
    summary = StudySummary(study, [outcomes[spec.rel_dir] for spec in runs])
    progress.log(summary.describe())
    return summary


def _check_kept(study: Study, runs: list[RunSpec]) -> dict:
    """What the study directory already holds must be this study: the same options (its
    study.json, which this invocation's record is merged with and returned) and the same data."""
    record = merge_record(study.study_dir / STUDY_RECORD, study, runs)
    check_kept_data(study)
    return record


def _skipped(study: Study, spec: RunSpec) -> RunOutcome | None:
    """The outcome of a run that finished before; None if it has yet to run."""
    run_dir = study.study_dir / spec.rel_dir
    finished = finished_metrics(run_dir)
    return None if finished is None else RunOutcome(spec, run_dir, "skipped", metrics=finished)


def _planned(study: Study, spec: RunSpec) -> RunOutcome:
    """What a dry run says of a run: finished before, or planned (noting a resumption)."""
    skipped = _skipped(study, spec)
    if skipped is not None:
        return skipped
    run_dir = study.study_dir / spec.rel_dir
    note = "resumes an interrupted run" if RunDir(run_dir).file(RunDir.CONFIG).exists() else None
    return RunOutcome(spec, run_dir, "planned", note=note)


def _run_pending(
    study: Study, runs: list[RunSpec], run_fn: RunFn, progress: Progress, keep: Callable[[list[RunOutcome]], None]
) -> dict[str, RunOutcome]:
    """Every run's outcome by its directory: finished ones skipped, the others executed; each is
    handed to ``keep`` as soon as it is known (the skipped ones at once, the others as they end),
    so that a study stopped part-way has recorded every run it finished."""
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for spec in runs:
        skipped = _skipped(study, spec)
        if skipped is not None:
            outcomes[spec.rel_dir] = skipped
        else:
            todo.append(spec)
    keep(list(outcomes.values()))
    progress.log(f"study {study.name}: {len(runs)} runs, {len(runs) - len(todo)} finished before, {len(todo)} to run -> {study.study_dir}")
    if todo:
        for outcome in EXECUTORS[study.executor](study, todo, run_fn, progress):
            outcomes[outcome.spec.rel_dir] = outcome
            keep([outcome])
    return outcomes
