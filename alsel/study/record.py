"""``study.json``: a study's record of its grid and options, merged over the invocations that add
seeds, budgets or strategies to one study, with the state of each run (where the file and the
runs lie: :mod:`~alsel.study.layout`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..io import read_json
from .cell import now
from .spec import unique

if TYPE_CHECKING:
    from .grid import RunSpec, Study
    from .outcomes import RunOutcome

__all__ = ["merge_record", "record_outcomes"]


def merge_record(path: Path, study: Study, runs: list[RunSpec]) -> dict:
    """study.json for this invocation, merged with an existing one of the same study; options
    that differ from the existing study raise (they would break the pairing)."""
    record = study.to_record(runs)
    record["created"] = record["updated"] = now()
    if not path.exists():
        return record
    try:
        old = read_json(path)
    except (OSError, ValueError):
        raise ConfigError(f"{path}: unreadable; pass another --out") from None
    old_options = old.get("options", {})
    changed = sorted(k for k in set(old_options) | set(study.options) if old_options.get(k) != study.options.get(k))
    if changed:
        diff = "; ".join(f"{k}: {old_options.get(k)!r} -> {study.options.get(k)!r}" for k in changed)
        raise ConfigError(f"{path.parent} holds a study with other options ({diff}); pass another --out")
    for name, spec in study.strategies.items():
        # what a strategy's runs train on; its budgets only say which cells exist (--budgets
        # replaces them), and a cell's runs are the same under either
        before = _defining(old.get("strategies", {}).get(name))
        if before is not None and before != _defining(spec.to_dict()):
            raise ConfigError(
                f"{path.parent}: strategy {name!r} was {before} there, now {_defining(spec.to_dict())}; rename it or pass another --out"
            )
    record["created"] = old.get("created", record["created"])
    record["strategies"] = {**old.get("strategies", {}), **record["strategies"]}
    record["budgets"] = unique([*old.get("budgets", []), *record["budgets"]])
    record["seeds"] = unique([*old.get("seeds", []), *record["seeds"]])
    old_runs = {r["run_dir"]: r for r in old.get("runs", [])}
    for row in record["runs"]:
        # until this invocation reaches it, a run listed again is in the state it was
        if "status" in old_runs.get(row["run_dir"], {}):
            row["status"] = old_runs[row["run_dir"]]["status"]
    new_dirs = {r["run_dir"] for r in record["runs"]}
    record["runs"] = [r for r in old_runs.values() if r["run_dir"] not in new_dirs] + record["runs"]
    return record


def _defining(strategy: dict | None) -> dict | None:
    """A recorded strategy without its budgets."""
    return None if strategy is None else {k: v for k, v in strategy.items() if k != "budgets"}


def record_outcomes(record: dict, outcomes: list[RunOutcome]) -> None:
    """Set the status of this invocation's runs in ``record``; others keep what they had. The
    record says what state each run is in, not what this invocation did to it: a run that had
    finished before (``skipped`` now) stays ``finished``."""
    status = {o.spec.rel_dir: "finished" if o.status == "skipped" else o.status for o in outcomes}
    for row in record["runs"]:
        row["status"] = status.get(row["run_dir"], row.get("status"))
    record["updated"] = now()
