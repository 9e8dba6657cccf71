"""Load a labelled text data set into a pool (what strategies choose from) and an evaluation set.

Sources: the bundled GLUE SST-2 copy (``sst2``, offline), local CSV/TSV/JSONL/parquet files, and
``hf:NAME[:CONFIG]`` through :func:`datasets.load_dataset` for users with a network. Every example
keeps a stable id: its row index in the source's train split.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["TextDataset", "DataSplits", "fingerprint", "load_data", "load_recorded_data", "stratified_sample", "quotas"]

SST2_LABEL_NAMES = ("negative", "positive")
SST2_LABEL_VALUES = (0, 1)
TEXT_COLUMN_GUESSES = ("text", "sentence", "content", "review")
#: Label cells that mean "no label" (compared stripped and lower-cased): pandas' NA spellings.
MISSING_LABELS = frozenset({"", "nan", "-nan", "na", "n/a", "<na>", "null", "#n/a"})
READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class TextDataset:
    """Texts with integer labels and stable ids.

    Attributes
    ----------
    ids : ndarray of shape (n,)
        Row index of each example in its source split.
    texts : list of str
    labels : ndarray of shape (n,)
        Class ids in ``range(len(label_names))``.
    label_names : tuple of str
        A readable name per class.
    label_values : tuple
        The source's own value per class (``0``/``1`` for SST-2, ``"spam"``, ``2``): what the
        user's file holds, written back wherever a label leaves alsel. Default: the names.
    """

    ids: np.ndarray
    texts: list[str]
    labels: np.ndarray
    label_names: tuple[str, ...]
    label_values: tuple = ()

    def __post_init__(self):
        if not self.label_values:
            object.__setattr__(self, "label_values", tuple(self.label_names))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def subset(self, positions) -> "TextDataset":
        positions = np.asarray(positions, dtype=np.int64)
        return TextDataset(
            ids=self.ids[positions],
            texts=[self.texts[i] for i in positions],
            labels=self.labels[positions],
            label_names=self.label_names,
            label_values=self.label_values,
        )

    def class_counts(self, positions=None) -> dict[str, int]:
        labels = self.labels if positions is None else self.labels[np.asarray(positions, dtype=np.int64)]
        counts = np.bincount(labels, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.label_names, counts)}

    def fingerprint(self) -> str:
        """sha256 of the texts in order: the key under which their embeddings are cached."""
        return fingerprint(self.texts)

    def labelled_fingerprint(self) -> str:
        """sha256 of the texts, their labels and the class names and values: what a model
        trained or evaluated on this data depends on (the round cache's key)."""
        digest = hashlib.sha256(self.fingerprint().encode())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        digest.update(json.dumps([list(self.label_names), [str(v) for v in self.label_values]]).encode())
        return digest.hexdigest()

    def label_value(self, position: int):
        """The source's own label of the example at ``position``."""
        return self.label_values[int(self.labels[position])]


def fingerprint(texts) -> str:
    """sha256 of ``texts`` in order."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class DataSplits:
    pool: TextDataset
    eval: TextDataset
    description: dict


def quotas(class_shares, k: int) -> np.ndarray:
    """Split ``k`` into per-class counts proportional to ``class_shares``, exact up to rounding.

    Largest-remainder rounding: the counts sum to ``k`` and each is floor or ceil of its share.

    >>> quotas([30, 70], 10).tolist()
    [3, 7]
    """
    shares = np.asarray(class_shares, dtype=np.float64)
    exact = shares / shares.sum() * k
    counts = np.floor(exact).astype(np.int64)
    # Ties in the remainder go to the lower class id, so the result is deterministic.
    order = np.lexsort((np.arange(len(exact)), -(exact - counts)))
    counts[order[: k - counts.sum()]] += 1
    return counts


def stratified_sample(labels, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a class-stratified random sample of ``n`` of ``labels``."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    per_class = np.minimum(quotas(counts, n), counts)
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
        for c, q in zip(classes, per_class)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


# --------------------------------------------------------------------------- readers


def _read_frame(path: Path) -> pd.DataFrame:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".xz", ".zst")]
    kind = READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise DataError(f"{path}: unknown file type; use .csv, .tsv, .jsonl or .parquet")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if kind == "tsv":
            return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str)
        if kind == "csv":
            return pd.read_csv(path, keep_default_na=False, dtype=str)
        if kind == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_parquet(path)
    except Exception as exc:  # pandas raises many types for unreadable input
        raise DataError(f"{path}: cannot read as {kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _pick_text_column(frame: pd.DataFrame, text_column: str | None, where: str) -> str:
    if text_column is not None:
        if text_column not in frame.columns:
            raise DataError(f"{where}: no text column {text_column!r} (columns: {', '.join(map(str, frame.columns))})")
        return text_column
    for guess in TEXT_COLUMN_GUESSES:
        if guess in frame.columns:
            return guess
    raise DataError(f"{where}: no text column found; name one with --text-column (columns: {', '.join(map(str, frame.columns))})")


def _texts_and_raw_labels(frame: pd.DataFrame, text_column: str | None, label_column: str, where: str):
    if len(frame) == 0:
        raise DataError(f"{where}: no rows")
    text_column = _pick_text_column(frame, text_column, where)
    if label_column not in frame.columns:
        raise DataError(f"{where}: no label column {label_column!r} (columns: {', '.join(map(str, frame.columns))})")
    texts = frame[text_column]
    labels = frame[label_column]
    missing = int(texts.isna().sum())
    if missing:
        raise DataError(f"{where}: {missing} rows have no text in column {text_column!r}")
    labels = labels.map(lambda v: v.strip() if isinstance(v, str) else v)
    missing_labels = labels.isna() | labels.map(lambda v: isinstance(v, str) and v.lower() in MISSING_LABELS)
    if missing_labels.any():
        first = int(np.flatnonzero(missing_labels.to_numpy())[0])
        raise DataError(
            f"{where}: {int(missing_labels.sum())} rows have no label in column {label_column!r} "
            f"(empty or NaN; the first is row {first}); label them or remove them"
        )
    return texts.astype(str).tolist(), labels.tolist()


def _label_mapping(raw_labels) -> tuple[str, ...]:
    names = sorted({str(v) for v in raw_labels}, key=lambda s: (not _is_int(s), int(s) if _is_int(s) else 0, s))
    if len(names) < 2:
        raise DataError(f"labels: found {len(names)} class ({', '.join(names)}); need at least 2")
    return tuple(names)


def _label_values(names: tuple[str, ...], raw_labels) -> tuple:
    """Each class's value as the source holds it: an integer where every value of the column is
    one (a CSV cell ``1`` is the number 1 to its author), else the string."""
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw_labels) or all(_is_int(n) for n in names):
        return tuple(int(n) for n in names)
    return names


def _is_int(text: str) -> bool:
    try:
        int(text)
    except (TypeError, ValueError):
        return False
    return True


def _encode(raw_labels, names: tuple[str, ...], where: str) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({str(v) for v in raw_labels} - index.keys())
    if unknown:
        raise DataError(f"{where}: labels {unknown[:5]} are not among the training labels {list(names)}")
    return np.fromiter((index[str(v)] for v in raw_labels), dtype=np.int64, count=len(raw_labels))


def _dataset(texts, labels, names, values=(), ids=None) -> TextDataset:
    ids = np.arange(len(texts), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    return TextDataset(ids=ids, texts=list(texts), labels=labels, label_names=names, label_values=tuple(values))


def _bundled_sst2(split: str) -> TextDataset:
    resource = resources.files("alsel") / "resources" / "sst2" / f"{split}.tsv.gz"
    with resources.as_file(resource) as path:
        frame = _read_frame(Path(path))
    texts, raw = _texts_and_raw_labels(frame, "sentence", "label", f"bundled sst2/{split}")
    return _dataset(texts, _encode(raw, ("0", "1"), f"bundled sst2/{split}"), SST2_LABEL_NAMES, SST2_LABEL_VALUES)


def _hf(spec: str, text_column, label_column, eval_spec, want_eval: bool = True):
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise DataError(f"hf data sets need the 'datasets' package: {exc}") from None
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # offline, it would log every retry before the one-line error
    name, _, config = spec[len("hf:"):].partition(":")
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as exc:
        raise DataError(f"{spec}: cannot load with datasets.load_dataset: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if "train" not in loaded:
        raise DataError(f"{spec}: no 'train' split (splits: {', '.join(loaded)})")
    train = loaded["train"].to_pandas()
    texts, raw = _texts_and_raw_labels(train, text_column, label_column, f"{spec}/train")
    feature = loaded["train"].features.get(label_column)
    names = tuple(feature.names) if hasattr(feature, "names") else _label_mapping(raw)
    encode = (lambda r, w: np.asarray(r, dtype=np.int64)) if hasattr(feature, "names") else (lambda r, w: _encode(r, names, w))
    values = tuple(range(len(names))) if hasattr(feature, "names") else _label_values(names, raw)
    pool = _dataset(texts, encode(raw, f"{spec}/train"), names, values)
    split = eval_spec or next((s for s in ("validation", "dev", "test") if s in loaded), None)
    if split is None or _is_fraction(split) or not want_eval:
        return pool, None
    if split not in loaded:
        raise DataError(f"{spec}: no split {split!r} (splits: {', '.join(loaded)})")
    frame = loaded[split].to_pandas()
    etexts, eraw = _texts_and_raw_labels(frame, text_column, label_column, f"{spec}/{split}")
    if hasattr(feature, "names") and min(eraw) < 0:
        raise DataError(f"{spec}/{split}: unlabelled (label -1); pass --eval with a labelled split or a fraction")
    return pool, _dataset(etexts, encode(eraw, f"{spec}/{split}"), names, values)


def _local(path: Path, text_column, label_column):
    frame = _read_frame(path)
    texts, raw = _texts_and_raw_labels(frame, text_column, label_column, str(path))
    names = _label_mapping(raw)
    return _dataset(texts, _encode(raw, names, str(path)), names, _label_values(names, raw))


def _eval_file(path: Path, pool: TextDataset, text_column, label_column) -> TextDataset:
    """An evaluation file for any pool: its labels may be the pool's values or its names."""
    frame = _read_frame(path)
    texts, raw = _texts_and_raw_labels(frame, text_column, label_column, str(path))
    spellings = {**{name: i for i, name in enumerate(pool.label_names)}, **{str(v): i for i, v in enumerate(pool.label_values)}}
    unknown = sorted({str(v) for v in raw} - spellings.keys())
    if unknown:
        raise DataError(f"{path}: labels {unknown[:5]} are not among the training labels {[str(v) for v in pool.label_values]}")
    labels = np.fromiter((spellings[str(v)] for v in raw), dtype=np.int64, count=len(raw))
    return _dataset(texts, labels, pool.label_names, pool.label_values)


def _is_fraction(spec) -> bool:
    try:
        value = float(spec)
    except (TypeError, ValueError):
        return False
    return 0.0 < value < 1.0


def _hold_out(pool: TextDataset, fraction: float, rng) -> tuple[TextDataset, TextDataset]:
    n_eval = max(pool.n_classes, int(round(fraction * len(pool))))
    held = stratified_sample(pool.labels, n_eval, rng)
    keep = np.setdiff1d(np.arange(len(pool)), held)
    if np.unique(pool.labels[keep]).size < 2:
        raise DataError(
            f"holding out {len(held):,} of {len(pool):,} rows for evaluation (--eval {fraction:g}) leaves "
            f"{len(keep):,} in the pool, not two classes; pass an evaluation file with --eval FILE or use more data"
        )
    return pool.subset(keep), pool.subset(held)


def _is_file(spec) -> bool:
    return spec is not None and Path(str(spec)).is_file()


def _check_eval_spec(eval_spec) -> None:
    """A number given to --eval is a fraction of the pool, which must lie in (0, 1)."""
    try:
        value = float(eval_spec)
    except (TypeError, ValueError):
        return
    if not 0.0 < value < 1.0:
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
    rng = np.random.default_rng(data_seed)
    _check_eval_spec(eval_spec)
    evalset = None
    if dataset == "sst2":
        pool = _bundled_sst2("train")
        if eval_spec in (None, "dev"):
            evalset = _bundled_sst2("dev")
    elif dataset.startswith("hf:"):
        pool, evalset = _hf(dataset, text_column, label_column, eval_spec, want_eval=not _is_file(eval_spec))
    else:
        pool = _local(Path(dataset), text_column, label_column)
    if evalset is None and eval_spec is not None and not _is_fraction(eval_spec):
        evalset = _eval_file(Path(eval_spec), pool, text_column, label_column)
    if evalset is None:
        pool, evalset = _hold_out(pool, float(eval_spec) if _is_fraction(eval_spec) else 0.1, rng)
    notes = []
    if limit is not None:
        if limit <= 0:
            raise DataError(f"--limit must be positive, got {limit}")
        if limit < len(pool):
            pool = pool.subset(stratified_sample(pool.labels, limit, rng))
        elif limit > len(pool):
            notes.append(f"--limit {limit:,} is larger than the pool ({len(pool):,}): using the whole pool")
    if eval_limit is not None:
        if eval_limit <= 0:
            raise DataError(f"--eval-limit must be positive, got {eval_limit}")
        if eval_limit < len(evalset):
            evalset = evalset.subset(stratified_sample(evalset.labels, eval_limit, rng))
        elif eval_limit > len(evalset):
            notes.append(f"--eval-limit {eval_limit:,} is larger than the evaluation set ({len(evalset):,}): using all of it")
    present = np.unique(pool.labels).size
    if present < 2:
        raise DataError(f"{dataset}: the pool holds only {present} class; need at least 2")
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


def load_recorded_data(record: dict) -> DataSplits:
    """The data a run used, reloaded with the options its ``config.json`` recorded.

    Raises :class:`DataError` when the pool is not the one the run saw: its texts or labels
    changed since (the labelled fingerprint; runs that predate it recorded only the texts').
    """
    splits = load_data(
        record.get("dataset", "sst2"), text_column=record.get("text_column"), label_column=record.get("label_column", "label"),
        eval_spec=record.get("eval"), limit=record.get("limit"), eval_limit=record.get("eval_limit"), data_seed=record.get("data_seed", 0),
    )
    recorded = record.get("data", {})
    if "pool_labelled_fingerprint" in recorded:
        then, now = recorded["pool_labelled_fingerprint"], splits.pool.labelled_fingerprint()
    else:
        then, now = recorded.get("pool_fingerprint"), splits.pool.fingerprint()
    if then != now:
        raise DataError(f"the data set changed since the run (fingerprint {str(then)[:12]} then, {now[:12]} now)")
    return splits
