"""Loading: a pool and an evaluation set from any source, with the hold-out, the seeded samples of
``--limit``/``--eval-limit``, and a description of what was loaded that a run records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .dataset import DataSplits, TextDataset, stratified_sample
from .sources import NA_SPELLINGS, as_number, bundled_sst2, eval_dataset, frame_dataset, hf_datasets, is_fraction, local_dataset, read_frame

__all__ = ["load_data", "splits_from_frames", "load_configured_data", "load_recorded_data"]


def _hold_out(pool: TextDataset, fraction: float, rng) -> tuple[TextDataset, TextDataset]:
    n_eval = max(pool.n_classes, int(round(fraction * len(pool))))
    held = stratified_sample(pool.labels, n_eval, rng)
    keep = np.setdiff1d(np.arange(len(pool)), held)
    if np.unique(pool.labels[keep]).size < 2:
        singles = int((np.bincount(pool.labels, minlength=pool.n_classes) == 1).sum())
        # every class keeps at least one evaluation example, so a class of one is held out whole
        why = f" ({singles:,} of {pool.n_classes:,} classes have one example, which the evaluation set takes)" if singles else ""
        raise DataError(
            f"holding out {len(held):,} of {len(pool):,} rows for evaluation (--eval {fraction:g}) leaves "
            f"{len(keep):,} in the pool, not two classes{why}; pass an evaluation file with --eval FILE or use more data"
        )
    return pool.subset(keep), pool.subset(held)


def _is_file(spec) -> bool:
    return spec is not None and Path(str(spec)).is_file()


def _check_eval_spec(eval_spec) -> None:
    """A number given to --eval is a fraction of the pool, which must lie in (0, 1)."""
    if as_number(eval_spec) is not None and not is_fraction(eval_spec):
        raise DataError(f"--eval {eval_spec}: a fraction of the pool to hold out must be in (0, 1)")


def load_data(
    dataset: str = "sst2",
    *,
    text_column: str | None = None,
    label_column: str = "label",
    eval_spec: str | None = None,
    limit: int | None = None,
    eval_limit: int | None = None,
    data_seed: int = 0,
) -> DataSplits:
    """Load a pool and an evaluation set.

    Parameters
    ----------
    dataset : str
        ``"sst2"`` (bundled), a local file path, or ``"hf:NAME[:CONFIG]"``.
    eval_spec : str, optional
        An evaluation file, a split name (``hf:``), or a fraction of the pool to hold out
        (stratified). Default: SST-2's dev set, the data set's validation split, or 0.1 held out.
    limit, eval_limit : int, optional
        Keep a seeded, class-stratified sample of this many pool / evaluation examples.
    data_seed : int
        Seed of the samples above; kept apart from the run seed so every run of a study sees the
        same pool.
    """
    _check_eval_spec(eval_spec)
    evalset = None
    if dataset == "sst2":
        pool = bundled_sst2("train")
        if eval_spec in (None, "dev"):
            evalset = bundled_sst2("dev")
    elif dataset.startswith("hf:"):
        pool, evalset = hf_datasets(dataset, text_column, label_column, eval_spec, want_eval=not _is_file(eval_spec))
    else:
        pool = local_dataset(Path(dataset), text_column, label_column)
    if evalset is None and eval_spec is not None and not is_fraction(eval_spec):
        evalset = eval_dataset(read_frame(eval_spec), pool, text_column, label_column, str(eval_spec))
    return _splits(dataset, pool, evalset, eval_spec, limit, eval_limit, data_seed)


def splits_from_frames(
    train: pd.DataFrame,
    eval: pd.DataFrame | None = None,
    *,
    text_column: str | None = None,
    label_column: str = "label",
    eval_spec: str | float | None = None,
    limit: int | None = None,
    eval_limit: int | None = None,
    data_seed: int = 0,
    class_names: tuple[str, ...] | None = None,
    name: str = "in-memory",
) -> DataSplits:
    """:func:`load_data` for frames already in memory: the same columns, label mapping,
    hold-out and samples, with the frames' own label values.

    Parameters
    ----------
    train, eval : DataFrame
        The pool's source and an evaluation set; without ``eval``, ``eval_spec`` (a fraction,
        default 0.1) of the pool is held out.
    class_names : tuple of str, optional
        Names of integer class ids (a ``datasets`` ClassLabel).
    name : str
        What messages and the description call the data.

    Returns
    -------
    DataSplits
        With ``sources``: the data as :func:`save_source` keeps it beside a run.
    """
    _check_eval_spec(eval_spec)
    pool = frame_dataset(train, text_column, label_column, name, class_names)
    evalset = None if eval is None else eval_dataset(eval, pool, text_column, label_column, f"{name} (eval)")
    splits = _splits(name, pool, evalset, eval_spec, limit, eval_limit, data_seed)
    sources = {"pool": pool} if evalset is None else {"pool": pool, "eval": evalset}
    return dataclasses.replace(splits, sources=sources)


def _limited(data: TextDataset, limit: int | None, option: str, what: str, rng, notes: list[str]) -> TextDataset:
    """``data`` cut to a seeded, class-stratified sample of ``limit`` examples; a limit past its
    size keeps all of it and says so in ``notes``."""
    if limit is None:
        return data
    if limit <= 0:
        raise DataError(f"{option} must be positive, got {limit}")
    if limit < len(data):
        return data.subset(stratified_sample(data.labels, limit, rng))
    if limit > len(data):
        notes.append(f"{option} {limit:,} is larger than {what} ({len(data):,}): using all of it")
    return data


def _splits(dataset: str, pool: TextDataset, evalset: TextDataset | None, eval_spec, limit, eval_limit, data_seed: int) -> DataSplits:
    """Hold out an evaluation set if none was given, take the samples, describe the result."""
    rng = np.random.default_rng(data_seed)
    if evalset is None:
        pool, evalset = _hold_out(pool, float(eval_spec) if is_fraction(eval_spec) else 0.1, rng)
    notes: list[str] = []
    pool = _limited(pool, limit, "--limit", "the pool", rng, notes)  # the pool's sample first: the order is part of the seed
    evalset = _limited(evalset, eval_limit, "--eval-limit", "the evaluation set", rng, notes)
    present = np.unique(pool.labels).size
    if present < 2:
        raise DataError(f"{dataset}: the pool holds only {present} class; need at least 2")
    notes += [
        f"{dataset}: class {name!r} is read as a label, not as a missing one (alsel reads only empty cells and NaN as missing)"
        for name in pool.label_names
        if name.lower() in NA_SPELLINGS
    ]
    description = {
        "dataset": dataset,
        "n_pool": len(pool),
        "n_eval": len(evalset),
        "label_names": list(pool.label_names),
        "label_values": list(pool.label_values),
        "pool_class_counts": pool.class_counts(),
        "eval_class_counts": evalset.class_counts(),
        "pool_fingerprint": pool.fingerprint(),
        "pool_labelled_fingerprint": pool.labelled_fingerprint(),
    }
    if notes:
        description["notes"] = notes
    return DataSplits(pool=pool, eval=evalset, description=description)


def load_configured_data(options: dict) -> DataSplits:
    """The data that loop options (a run's ``config.json``, ``LoopConfig.to_dict()``) name."""
    return load_data(
        options.get("dataset", "sst2"),
        text_column=options.get("text_column"),
        label_column=options.get("label_column", "label"),
        eval_spec=options.get("eval"),
        limit=options.get("limit"),
        eval_limit=options.get("eval_limit"),
        data_seed=options.get("data_seed", 0),
    )


def load_recorded_data(record: dict) -> DataSplits:
    """The data a run used, reloaded with the options its ``config.json`` recorded.

    Raises :class:`DataError` when the pool is not the one the run saw: its texts or labels
    changed since (the labelled fingerprint; runs that predate it recorded only the texts').
    """
    splits = load_configured_data(record)
    recorded = record.get("data", {})
    if "pool_labelled_fingerprint" in recorded:
        then, now = recorded["pool_labelled_fingerprint"], splits.pool.labelled_fingerprint()
    else:
        then, now = recorded.get("pool_fingerprint"), splits.pool.fingerprint()
    if then != now:
        raise DataError(f"the data set changed since the run (fingerprint {str(then)[:12]} then, {now[:12]} now)")
    return splits
