"""One cell of the grid in its run directory: skip it if it finished, else run (or resume) it;
a failure is written beside the run and returned, never raised, so the study goes on."""

from __future__ import annotations

import datetime as _dt
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RunFileError, RunInUseError, first_line
from ..io import write_text
from ..loops.rundir import RunDir
from ..progress import SILENT, Progress
from .outcomes import RunOutcome

if TYPE_CHECKING:
    from .grid import RunSpec

__all__ = ["RunFn", "default_run_fn", "execute_run", "finished_metrics", "write_error", "failure_line", "now"]

#: ``run_fn(config, out_dir, progress) -> metrics``: :func:`alsel.run.run_loop`
#: or a stand-in with its signature.
RunFn = Callable[..., dict]


def default_run_fn() -> RunFn:
    from ..run import run_loop

    return run_loop


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def failure_line(exc: BaseException) -> str:
    """A failed run's exception as one line, with its type: the study lists failures of any kind."""
    return f"{type(exc).__name__}: {first_line(exc)}" if str(exc).strip() else type(exc).__name__


def write_error(run_dir: Path, spec: RunSpec, text: str) -> None:
    write_text(RunDir(run_dir).file(RunDir.ERROR), f"{spec.label} failed at {now()}\n\n{text}")


def finished_metrics(run_dir: Path) -> dict | None:
    """A run's final metrics; None if it has not finished, or if its metrics file is damaged
    (running it again rebuilds the file from the run's checkpoint)."""
    try:
        return RunDir(run_dir).read_metrics()
    except RunFileError:
        return None


def execute_run(spec: RunSpec, study_dir, run_fn: RunFn, progress: Progress = SILENT) -> RunOutcome:
    """Run one cell (or skip it if it finished); an exception is caught, written to the run's
    error file (``RunDir.ERROR``) and returned as a ``failed`` outcome."""
    run_dir = Path(study_dir) / spec.rel_dir
    finished = finished_metrics(run_dir)
    if finished is not None:
        return RunOutcome(spec, run_dir, "skipped", metrics=finished)
    # A previous failure's note goes: the run directory must hold only run files to resume.
    RunDir(run_dir).file(RunDir.ERROR).unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        metrics = run_fn(spec.loop_config(), run_dir, progress=progress)
    except RunInUseError as exc:  # another process runs it: its directory is not ours to write
        return RunOutcome(spec, run_dir, "failed", error=str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # a failed cell must not stop the study
        write_error(run_dir, spec, traceback.format_exc())
        return RunOutcome(spec, run_dir, "failed", error=failure_line(exc), seconds=time.perf_counter() - started)
    return RunOutcome(spec, run_dir, "finished", metrics=metrics, seconds=time.perf_counter() - started)
