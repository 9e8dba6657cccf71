"""What a study keeps of earlier invocations must still be what it would make now: a finished
run is skipped and reported beside new ones, so one made on other data would be averaged with
them unseen. :func:`check_kept_data` compares each kept run's recorded data with the data the
study loads now, as ``alsel loop`` does when it resumes a run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..data import load_configured_data
from ..errors import DataError, RunFileError
from ..loops.config import LoopConfig
from ..loops.rundir import RunDir
from .layout import find_runs

if TYPE_CHECKING:
    from .grid import Study

__all__ = ["check_kept_data"]

#: Keys of a data description that describe the evaluation set; the others describe the pool.
EVAL_KEYS = frozenset({"n_eval", "eval_class_counts"})


def check_kept_data(study: Study) -> None:
    """Raise :class:`~alsel.errors.DataError` naming the data file and a kept run if that run
    recorded other data than the study's options load now (labels flipped in the pool file
    between two invocations). Only what the run recorded is compared (a run of an older alsel
    recorded less); a run without a readable record is left to its own resumption. Loads the
    data only if some run is kept."""
    kept = list(_recorded_data(study))
    if not kept:
        return
    options = LoopConfig(**study.options).to_dict()
    now = json.loads(json.dumps(load_configured_data(options).description))  # as config.json holds it
    for config_path, recorded in kept:
        differs = sorted(k for k in recorded if k != "notes" and recorded[k] != now.get(k))
        if differs:
            source = options["eval"] if set(differs) <= EVAL_KEYS and options.get("eval") else options["dataset"]
            raise DataError(
                f"{source}: the data changed since {config_path} recorded it ({', '.join(differs)} differ); "
                "restore it, or run the study on this data in a new directory (--out)"
            )


def _recorded_data(study: Study):
    """(config.json path, recorded data description) of each run directory of the study."""
    for *_, path in find_runs(study.study_dir):
        run = RunDir(path)
        try:
            config = run.read_config()
        except RunFileError:
            continue
        if config and isinstance(config.get("data"), dict):
            yield run.file(RunDir.CONFIG), config["data"]
