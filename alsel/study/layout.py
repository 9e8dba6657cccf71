"""The study directory's layout: ``study.json``, its record of the grid, and ``runs/``, where each
run directory's path names its strategy, budget and seed.

It sits below every other module of the study (it knows only loop options' budget spelling), so
the grid can name its cells' directories, and the reports can find runs, without importing what
writes the record (:mod:`~alsel.study.record`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..loops.config import budget_label, parse_budget_label

__all__ = ["STUDY_RECORD", "RUNS", "run_path", "find_runs"]

#: The record's file name in the study directory.
STUDY_RECORD = "study.json"
#: Where a study keeps its run directories, one per strategy, budget and seed.
RUNS = "runs"


def run_path(strategy: str, budget, seed: int) -> str:
    """A run directory relative to the study's: ``runs/<strategy>/budget-<b>/seed-<s>``."""
    return f"{RUNS}/{strategy}/budget-{budget_label(budget)}/seed-{seed}"


def find_runs(study_dir: Path):
    """(strategy, budget, seed, path) of every run directory under ``runs/`` that
    :func:`run_path` could have named, in sorted order."""
    for path in sorted((Path(study_dir) / RUNS).glob("*/budget-*/seed-*")):
        if not path.is_dir():
            continue
        try:
            budget = parse_budget_label(path.parent.name[len("budget-") :])
            seed = int(path.name[len("seed-") :])
        except (ValueError, ConfigError):
            continue
        yield path.parent.parent.name, budget, seed, path
