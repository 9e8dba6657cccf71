"""``alsel.select``: the loop of ``alsel loop`` from Python, on data in memory or on disk.

It builds the same :class:`~alsel.loops.config.LoopConfig` and runs the same controller as the
command line, so the same options and seed select the same examples. Data in memory (texts and
labels, a pandas DataFrame, a ``datasets`` Dataset or DatasetDict) goes through
:func:`alsel.data.splits_from_frames`, the path files take too.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .data import DataSplits, HFFrames, hf_frames, read_frame, splits_from_frames
from .errors import ConfigError, DataError
from .loops.config import LoopConfig
from .loops.rundir import source_path
from .progress import SILENT, Progress, TqdmProgress
from .result import SelectionResult
from .run import execute_loop

__all__ = ["select"]

#: Data options that select takes as its own arguments.
DATA_ARGUMENTS = {"dataset": "data", "text_column": "text", "label_column": "label"}


def select(
    data,
    labels=None,
    *,
    text: str | None = None,
    label: str | None = None,
    eval=None,
    budget: float | int | None = None,
    preset: str | None = None,
    learner: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool | Progress = True,
    **options,
) -> SelectionResult:
    """Select the part of a labelled training set worth fine-tuning on.

    Parameters
    ----------
    data : list of str, DataFrame, datasets.Dataset or DatasetDict, or str
        The training data (the pool). Texts need ``labels``; a DataFrame or Dataset names its
        columns with ``text``/``label``; a DatasetDict's train split is the pool. A string is
        whatever ``alsel loop --dataset`` takes: ``"sst2"``, a file, ``"hf:NAME"``.
    labels : sequence, optional
        One label per text when ``data`` is a list of texts; kept as given (ints stay ints).
    text, label : str, optional
        Column names (default: the first of text/sentence/content/review; ``label``).
    eval : same kinds as ``data``, a fraction, a path, or a split name, optional
        The evaluation set; a list of texts goes as ``(texts, labels)``. Default: a
        DatasetDict's validation/test split, else a stratified 10% held out of ``data``.
    budget : float or int, optional
        A fraction of the pool (0.1) or a count (1000). Default: the preset's, else 0.1.
    preset : str, optional
        A preset of ``alsel loop --preset``; default: the recommended loop (``alsel.loops.presets.RECOMMENDED``).
    learner : str, optional
        The learner trained in the rounds and on the final selection (``alsel loop --learner``):
        ``transformer``, ``logreg`` or ``package.module:Class``; default: the preset's, else the
        fine-tuned transformer. Naming one replaces a preset's learners (``final_learner=`` in
        ``options`` sets the final one apart).
    seed : int
        Same seed, same selection.
    out : path, optional
        A run directory, as ``alsel loop --out`` writes it (data in memory is kept in it as
        ``data/pool.parquet`` and ``data/eval.parquet``); rerunning resumes it. Default: nothing
        is written.
    progress : bool or Progress
        tqdm bars and log lines (stderr; widgets in a notebook); False is silent.
    **options
        Any other ``LoopConfig`` option: ``init``, ``acq``, ``rounds``, ``model``, ``epochs``, ...

    Returns
    -------
    SelectionResult

    Examples
    --------
    >>> result = alsel.select(pd.read_csv("reviews.csv"), text="review", label="stars", budget=0.1)  # doctest: +SKIP
    >>> result.frame.head()  # doctest: +SKIP
    """
    misplaced = sorted(set(options) & DATA_ARGUMENTS.keys())
    if misplaced:
        raise ConfigError("; ".join(f"pass {name} as select's {DATA_ARGUMENTS[name]}= argument" for name in misplaced))
    config = LoopConfig.from_options(preset=preset, budget=budget, seed=seed, learner=learner, **options)
    config, splits = _with_data(config, data, labels, text, label, eval, out)
    outcome = execute_loop(config, out, _progress(progress), splits)
    return SelectionResult.from_outcome(outcome, out)


def _progress(progress: bool | Progress) -> Progress:
    if isinstance(progress, Progress):
        return progress
    return TqdmProgress() if progress else SILENT


def _with_data(config: LoopConfig, data, labels, text, label, eval, out) -> tuple[LoopConfig, DataSplits | None]:
    """The config's data options for ``data``, and the splits where the data is in memory.

    With ``out``, in-memory data is recorded as the files the run directory will keep, with
    their columns, so the run resumes and replays from the command line like any other.
    """
    label = label or "label"
    if isinstance(data, (str, os.PathLike)):
        if eval is not None and not isinstance(eval, (str, os.PathLike, int, float)):
            raise DataError("eval: with data named by a path or spec, give eval as a path, a split name or a fraction")
        return dataclasses.replace(config, dataset=str(data), text_column=text, label_column=label, eval=_spec(eval)), None
    frames = _frames(data, labels, text, label, eval)
    fraction = _spec(eval) if frames.eval is None else None
    name = str(source_path(Path(out).resolve(), "pool")) if out is not None else "in-memory"
    splits = splits_from_frames(
        frames.train,
        frames.eval,
        text_column=text,
        label_column=label,
        eval_spec=fraction,
        limit=config.limit,
        eval_limit=config.eval_limit,
        data_seed=config.data_seed,
        class_names=frames.class_names,
        name=name,
    )
    if out is None:
        return dataclasses.replace(config, dataset=name, text_column=text, label_column=label, eval=fraction), splits
    kept_eval = str(source_path(Path(out).resolve(), "eval")) if "eval" in splits.sources else fraction
    return dataclasses.replace(config, dataset=name, text_column="text", label_column="label", eval=kept_eval), splits


def _spec(eval) -> str | None:
    """An eval fraction, path or split name as ``--eval`` spells it."""
    return None if eval is None else str(eval)


def _frames(data, labels, text, label, eval) -> HFFrames:
    """The training data, and the evaluation data unless it is a fraction, as frames."""
    if _is_datasets(data):
        split = eval if isinstance(eval, str) and isinstance(data, dict) and eval in data else None
        frames = hf_frames(data, label, split, "data", find_eval=eval is None)
        if split is not None or frames.eval is not None or eval is None or _is_number(eval):
            return frames
        return dataclasses.replace(frames, eval=_frame(eval, None, text, label, "eval"))
    train = _frame(data, labels, text, label, "data")
    evalframe = None if eval is None or _is_number(eval) else _frame(*_pair(eval), text, label, "eval")
    return HFFrames(train, evalframe, None, None)


def _frame(obj, labels, text, label, what: str) -> pd.DataFrame:
    """One source as a frame whose row positions are the examples' ids."""
    if isinstance(obj, pd.DataFrame) or _is_datasets(obj):
        if labels is not None:
            raise DataError(f"{what}: labels= goes with a list of texts; name the label column with label=")
        return obj.reset_index(drop=True) if isinstance(obj, pd.DataFrame) else obj.to_pandas()
    if isinstance(obj, (str, os.PathLike)):
        return read_frame(obj)
    texts = list(obj)
    if labels is None:
        raise DataError(f"{what}: a list of texts needs its labels (labels=, or eval=(texts, labels))")
    labels = list(labels)
    if len(labels) != len(texts):
        raise DataError(f"{what}: {len(texts):,} texts but {len(labels):,} labels; give one label per text")
    return pd.DataFrame({text or "text": texts, label: labels})


def _pair(eval) -> tuple[Any, Any]:
    """``(texts, labels)`` -> its parts; any other eval source has its labels inside."""
    if isinstance(eval, tuple) and len(eval) == 2 and not isinstance(eval[0], str):
        return eval
    return eval, None


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_datasets(obj) -> bool:
    """A ``datasets`` Dataset or DatasetDict, told without importing datasets."""
    return type(obj).__module__.startswith("datasets.")
