"""Load a labelled text data set into a pool (what strategies choose from) and an evaluation set.

Sources: the bundled GLUE SST-2 copy (``sst2``, offline), local CSV/TSV/JSONL/parquet files,
``hf:NAME[:CONFIG]`` through :func:`datasets.load_dataset` for users with a network, and data
already in memory (:func:`splits_from_frames`, :func:`hf_frames`). Files and frames take one path:
every source becomes a frame, then a :class:`TextDataset`. Every example keeps a stable id: its
row index in the source's train split.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "TextDataset", "DataSplits", "fingerprint", "load_data", "load_recorded_data", "splits_from_frames", "hf_frames",
    "read_frame", "save_source", "stratified_sample", "quotas",
]

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
    """A pool and an evaluation set. ``sources`` holds in-memory data the splits were drawn from
    (``"pool"``: the train data before any hold-out, ``"eval"``: a given evaluation set), so a
    run can keep them as files that :func:`load_data` reads back to the same splits."""

    pool: TextDataset
    eval: TextDataset
    description: dict
    sources: dict = field(default_factory=dict)


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


def read_frame(path: str | Path) -> pd.DataFrame:
    """A CSV/TSV/JSONL/parquet file as a frame of the file's own cells (CSV/TSV: strings)."""
    path = Path(path)
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


def _frame_dataset(frame: pd.DataFrame, text_column, label_column, where: str, class_names=None) -> TextDataset:
    """A pool from a frame: its labels are the frame's own values or, with ``class_names`` (a
    datasets ClassLabel), class ids named by them."""
    texts, raw = _texts_and_raw_labels(frame, text_column, label_column, where)
    if class_names is not None:
        values = tuple(range(len(class_names)))
        return _dataset(texts, _encode(raw, tuple(map(str, values)), where), tuple(class_names), values)
    names = _label_mapping(raw)
    return _dataset(texts, _encode(raw, names, where), names, _label_values(names, raw))


def _eval_dataset(frame: pd.DataFrame, pool: TextDataset, text_column, label_column, where: str) -> TextDataset:
    """An evaluation set for any pool: its labels may be the pool's values or its names."""
    texts, raw = _texts_and_raw_labels(frame, text_column, label_column, where)
    spellings = {**{name: i for i, name in enumerate(pool.label_names)}, **{str(v): i for i, v in enumerate(pool.label_values)}}
    unknown = sorted({str(v) for v in raw} - spellings.keys())
    if unknown:
        raise DataError(f"{where}: labels {unknown[:5]} are not among the training labels {[str(v) for v in pool.label_values]}")
    labels = np.fromiter((spellings[str(v)] for v in raw), dtype=np.int64, count=len(raw))
    return _dataset(texts, labels, pool.label_names, pool.label_values)


def _bundled_sst2(split: str) -> TextDataset:
    resource = resources.files("alsel") / "resources" / "sst2" / f"{split}.tsv.gz"
    with resources.as_file(resource) as path:
        frame = read_frame(Path(path))
    return _frame_dataset(frame, "sentence", "label", f"bundled sst2/{split}", SST2_LABEL_NAMES)


@dataclass(frozen=True)
class HFFrames:
    """A datasets source as frames: the train split, an evaluation split (or None) and its name,
    and the label's class names where the label is a ClassLabel."""

    train: pd.DataFrame
    eval: pd.DataFrame | None
    eval_split: str | None
    class_names: tuple[str, ...] | None


def hf_frames(loaded, label_column: str = "label", eval_split: str | None = None, where: str = "dataset", find_eval: bool = True) -> HFFrames:
    """The splits of a ``datasets.DatasetDict`` (or one ``Dataset``, the pool) as frames.

    The evaluation split is ``eval_split``, else (with ``find_eval``) the first of validation, dev
    and test; a ClassLabel split marked unlabelled (label -1, as GLUE test splits are) is refused.
    """
    splits = loaded if isinstance(loaded, dict) else {"train": loaded}
    if "train" not in splits:
        raise DataError(f"{where}: no 'train' split (splits: {', '.join(splits)})")
    feature = splits["train"].features.get(label_column)
    class_names = tuple(feature.names) if hasattr(feature, "names") else None
    split = eval_split or (next((s for s in ("validation", "dev", "test") if s in splits), None) if find_eval else None)
    if split is None:
        return HFFrames(splits["train"].to_pandas(), None, None, class_names)
    if split not in splits:
        raise DataError(f"{where}: no split {split!r} (splits: {', '.join(splits)})")
    frame = splits[split].to_pandas()
    if class_names and label_column in frame.columns and len(frame) and frame[label_column].min() < 0:
        raise DataError(f"{where}/{split}: unlabelled (label -1); pass --eval with a labelled split or a fraction")
    return HFFrames(splits["train"].to_pandas(), frame, split, class_names)


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
    find_eval = want_eval and not _is_fraction(eval_spec)
    frames = hf_frames(loaded, label_column, eval_spec if find_eval else None, spec, find_eval)
    pool = _frame_dataset(frames.train, text_column, label_column, f"{spec}/train", frames.class_names)
    if frames.eval is None:
        return pool, None
    return pool, _eval_dataset(frames.eval, pool, text_column, label_column, f"{spec}/{frames.eval_split}")


def _parquet_class_names(path: Path, label_column: str) -> tuple[str, ...] | None:
    """The class names a parquet file written by ``datasets`` keeps for a ClassLabel column."""
    if path.suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    meta = (pq.read_schema(path).metadata or {}).get(b"huggingface")
    feature = json.loads(meta).get("info", {}).get("features", {}).get(label_column, {}) if meta else {}
    return tuple(feature["names"]) if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" else None


def _local(path: Path, text_column, label_column) -> TextDataset:
    frame = read_frame(path)
    return _frame_dataset(frame, text_column, label_column, str(path), _parquet_class_names(path, label_column))


def save_source(dataset: TextDataset, path: str | Path) -> None:
    """Write ``dataset`` as a parquet file (columns id, text, label: the source's own values)
    that :func:`load_data` reads back to the same dataset; ClassLabel names travel in the
    schema metadata the way ``datasets`` writes them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io import write_bytes

    values = list(dataset.label_values)
    frame = pd.DataFrame({"id": dataset.ids, "text": dataset.texts, "label": [values[i] for i in dataset.labels]})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if tuple(map(str, values)) != dataset.label_names:  # names the values do not spell: keep them
        features = {
            "id": {"dtype": "int64", "_type": "Value"},
            "text": {"dtype": "string", "_type": "Value"},
            "label": {"names": list(dataset.label_names), "_type": "ClassLabel"},
        }
        metadata = {**(table.schema.metadata or {}), b"huggingface": json.dumps({"info": {"features": features}}).encode()}
        table = table.replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    write_bytes(path, buffer.getvalue())


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
        evalset = _eval_dataset(read_frame(eval_spec), pool, text_column, label_column, str(eval_spec))
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
    pool = _frame_dataset(train, text_column, label_column, name, class_names)
    evalset = None if eval is None else _eval_dataset(eval, pool, text_column, label_column, f"{name} (eval)")
    splits = _splits(name, pool, evalset, eval_spec, limit, eval_limit, data_seed)
    sources = {"pool": pool} if evalset is None else {"pool": pool, "eval": evalset}
    return dataclasses.replace(splits, sources=sources)


def _splits(dataset: str, pool: TextDataset, evalset: TextDataset | None, eval_spec, limit, eval_limit, data_seed: int) -> DataSplits:
    """Hold out an evaluation set if none was given, take the samples, describe the result."""
    rng = np.random.default_rng(data_seed)
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
