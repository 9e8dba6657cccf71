"""Executors: how a study's pending runs are carried out. Each takes the study, the runs to do,
the run function and a progress, and yields one outcome per run as the run ends (so the study
can record it before the next one ends: an interrupted study keeps what it finished)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..progress import Progress
from .cell import RunFn, execute_run
from .outcomes import RunOutcome
from .ray_executor import run_ray

if TYPE_CHECKING:
    from .grid import RunSpec, Study

__all__ = ["EXECUTORS", "run_local"]


def run_local(study: Study, todo: list[RunSpec], run_fn: RunFn, progress: Progress) -> Iterator[RunOutcome]:
    """One run after the other in this process, each handed the study's progress."""
    with progress.task(f"study {study.name}", total=len(todo)) as advance:
        for i, spec in enumerate(todo, 1):
            progress.log(f"[{i}/{len(todo)}] {spec.label} -> {study.study_dir / spec.rel_dir}")
            outcome = execute_run(spec, study.study_dir, run_fn, progress)
            progress.log(outcome.progress_line(i, len(todo)))
            advance(1)
            yield outcome


#: Executor names (a study file's ``executor``) and what runs them.
EXECUTORS = {"local": run_local, "ray": run_ray}
