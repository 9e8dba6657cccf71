"""What happened to each run of a study (:class:`RunOutcome`) and the study's summary table
(:class:`StudySummary`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..loops.rundir import RunDir

if TYPE_CHECKING:
    from .grid import RunSpec, Study

__all__ = ["RunOutcome", "StudySummary"]


@dataclass
class RunOutcome:
    """What happened to one run.

    Attributes
    ----------
    spec : RunSpec
    run_dir : Path
    status : {"finished", "skipped", "failed", "planned"}
        ``finished``: ran (or resumed) to the end now; ``skipped``: had finished before;
        ``failed``: see ``error`` and ``run_dir/error.txt``; ``planned``: a dry run's pending run.
    metrics : dict or None
    error : str or None
        The exception's first line.
    seconds : float
    note : str or None
        E.g. "resumes an interrupted run".
    """

    spec: RunSpec
    run_dir: Path
    status: str
    metrics: dict | None = None
    error: str | None = None
    seconds: float = 0.0
    note: str | None = None

    def to_dict(self) -> dict:
        return {
            **self.spec.to_dict(),
            "status": self.status,
            "metrics": self.metrics,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "note": self.note,
        }

    def progress_line(self, i: int, n: int) -> str:
        """The log line of the ``i``-th of ``n`` runs done."""
        if self.status == "failed":
            return f"[{i}/{n}] {self.spec.label}: FAILED ({self.error}); see {RunDir(self.run_dir).file(RunDir.ERROR)}"
        accuracy = (self.metrics or {}).get("accuracy")
        return (
            f"[{i}/{n}] {self.spec.label}: accuracy {accuracy:.4f} ({self.seconds:.0f} s)"
            if accuracy is not None
            else f"[{i}/{n}] {self.spec.label}: done"
        )


@dataclass
class StudySummary:
    """The result of :func:`run_study`.

    Attributes
    ----------
    study : Study
    outcomes : list of RunOutcome
        In grid order.
    dry_run : bool
    """

    study: Study
    outcomes: list[RunOutcome]
    dry_run: bool = False

    @property
    def study_dir(self) -> Path:
        return self.study.study_dir

    def _with(self, status: str) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def finished(self) -> list[RunOutcome]:
        return self._with("finished")

    @property
    def skipped(self) -> list[RunOutcome]:
        return self._with("skipped")

    @property
    def failed(self) -> list[RunOutcome]:
        return self._with("failed")

    @property
    def planned(self) -> list[RunOutcome]:
        return self._with("planned")

    @property
    def exit_code(self) -> int:
        """1 if any run failed, else 0."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        return {s: len(self._with(s)) for s in ("finished", "skipped", "failed", "planned")}

    def describe(self) -> str:
        """One line for the person who ran it."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        verb = "would run" if self.dry_run else "ran"
        return f"study {self.study.name}: {len(self.outcomes)} runs ({counts}); {verb} in {self.study_dir}"

    def table(self):
        """A DataFrame with one row per run: strategy, budget, seed, status, accuracy, f1,
        seconds, error, run_dir."""
        import pandas as pd

        rows = [
            {
                "strategy": o.spec.strategy,
                "budget": o.spec.budget,
                "seed": o.spec.seed,
                "status": o.status,
                "accuracy": (o.metrics or {}).get("accuracy"),
                "f1": (o.metrics or {}).get("f1"),
                "seconds": round(o.seconds, 1),
                "error": o.error or o.note,
                "run_dir": str(o.run_dir),
            }
            for o in self.outcomes
        ]
        return pd.DataFrame(rows, columns=["strategy", "budget", "seed", "status", "accuracy", "f1", "seconds", "error", "run_dir"])

    def to_dict(self) -> dict:
        return {
            "study_dir": str(self.study_dir),
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "exit_code": self.exit_code,
            "runs": [o.to_dict() for o in self.outcomes],
        }
