"""Readers: every source of labelled texts becomes a frame, then a :class:`~alsel.data.TextDataset`.

The bundled GLUE SST-2 copy (offline), local CSV/TSV/JSONL/parquet files, ``hf:NAME[:CONFIG]``
through :func:`datasets.load_dataset`, and ``datasets`` objects already in memory. Labels keep the
source's own values; the class names are those values (or a ClassLabel's names).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, first_line
from .dataset import TextDataset

__all__ = ["read_frame", "hf_frames", "HFFrames", "save_source", "label_key", "class_values", "pool_texts"]

SST2_LABEL_NAMES = ("negative", "positive")
SST2_LABEL_VALUES = (0, 1)
TEXT_COLUMN_GUESSES = ("text", "sentence", "content", "review")
#: Label cells that mean "no label" (compared stripped and lower-cased): an empty cell and NaN.
#: Other spellings pandas reads as missing (``NA``, ``N/A``, ``null``) are labels a user may
#: have written (a class ``NA``): kept as classes, with a note (:data:`NA_SPELLINGS`).
MISSING_LABELS = frozenset({"", "nan", "-nan"})
#: Label spellings that other tools read as missing: a class so named is noted when loaded.
NA_SPELLINGS = frozenset({"na", "n/a", "<na>", "null", "#n/a", "none"})
READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def read_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A CSV/TSV/JSONL/parquet file as a frame of the file's own cells (CSV/TSV: strings)."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".xz", ".zst")]
    kind = READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise DataError(f"{path}: unknown file type; use .csv, .tsv, .jsonl or .parquet")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would otherwise join the first column's name
        if kind == "tsv":
            return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str, encoding="utf-8-sig")
        if kind == "csv":
            return pd.read_csv(path, keep_default_na=False, dtype=str, encoding="utf-8-sig")
        if kind == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_parquet(path)
    except Exception as exc:  # pandas raises many types for unreadable input
        where = _bad_json_line(path) if kind == "jsonl" else None
        raise DataError(f"{path}: cannot read as {kind}: {where or first_line(exc)}") from None


def _bad_json_line(path: Path) -> str | None:
    """The first line of a JSON-lines file that is not a JSON object, as ``line N: why``
    (pandas names a character position, which no editor shows); None if each line reads."""
    import bz2
    import gzip
    import lzma

    openers: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    opener = openers.get(path.suffix.lower(), open)
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError as exc:
                    return f"line {number}: not valid JSON ({getattr(exc, 'msg', exc)})"
                if not isinstance(value, dict):
                    return f"line {number}: not a JSON object"
    except (OSError, ValueError):  # a compression this does not open, or bytes that are not UTF-8
        return None
    return None


def _pick_text_column(frame: pd.DataFrame, text_column: str | None, where: str) -> str:
    if text_column is not None:
        if text_column not in frame.columns:
            raise DataError(f"{where}: no text column {text_column!r} (columns: {', '.join(map(str, frame.columns))})")
        return text_column
    for guess in TEXT_COLUMN_GUESSES:
        if guess in frame.columns:
            return guess
    raise DataError(f"{where}: no text column found; name one with --text-column (columns: {', '.join(map(str, frame.columns))})")


def pool_texts(frame: pd.DataFrame, text_column: str | None, where: str) -> tuple[str, list[str]]:
    """The name of ``frame``'s text column (``text_column``, else the first of
    :data:`TEXT_COLUMN_GUESSES`) and its texts, read as a labelled pool's are (one per row, each
    with something in it); a pool without labels is read with this alone."""
    if len(frame) == 0:
        raise DataError(f"{where}: no rows")
    text_column = _pick_text_column(frame, text_column, where)
    return text_column, _texts(frame[text_column], text_column, where)


def _texts_and_raw_labels(frame: pd.DataFrame, text_column: str | None, label_column: str, where: str):
    _, texts = pool_texts(frame, text_column, where)
    if label_column not in frame.columns:
        raise DataError(f"{where}: no label column {label_column!r} (columns: {', '.join(map(str, frame.columns))})")
    labels = frame[label_column].map(lambda v: v.strip() if isinstance(v, str) else v)
    missing_labels = labels.isna() | labels.map(lambda v: isinstance(v, str) and v.lower() in MISSING_LABELS)
    _refuse_rows(missing_labels, f"have no label in column {label_column!r}", "label them or remove them", where, detail="empty or NaN; ")
    return texts, labels.tolist()


def _texts(column: pd.Series, name: str, where: str) -> list[str]:
    """The texts of ``column``: a text must be a string (or a number) with something in it; an
    empty one would be trained on as if it said something, a JSON object is no text."""
    _refuse_rows(column.isna(), f"have no text in column {name!r}", "fill them in or remove them", where)
    _refuse_rows(
        column.map(lambda v: isinstance(v, (dict, list, np.ndarray))),
        f"hold a JSON object or list, not a text, in column {name!r}",
        "make each text a string",
        where,
    )
    texts = column.astype(str)
    _refuse_rows(texts.str.strip() == "", f"have an empty text in column {name!r}", "fill them in or remove them", where)
    return texts.tolist()


def _refuse_rows(bad: pd.Series, what: str, advice: str, where: str, detail: str = "") -> None:
    """DataError saying how many rows are ``bad`` and naming the first by its row number (from
    0, as ids count them)."""
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{where}: {int(bad.sum())} rows {what} ({detail}the first is row {first}); {advice}")


def label_key(value):
    """What a label value means, so that spellings of one class meet: a number (``0``, ``0.0``
    and ``"0"`` are one class; an integer-valued float is its integer), else the stripped
    string (a bool is ``"True"``/``"False"``, as its string is)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _number(float(value))
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return _number(number) if np.isfinite(number) else text


def _number(value: float):
    return int(value) if value.is_integer() else value


def _class_keys(raw_labels, where: str) -> list:
    """The classes of ``raw_labels`` by :func:`label_key`, numbers first in order, then strings.
    Two spellings in strings of one number (``"1"`` and ``"01"``) are not one class by meaning
    alone: refused, naming them."""
    spellings: dict = {}
    for value in raw_labels:
        if isinstance(value, str):
            spellings.setdefault(label_key(value), set()).add(value)
    clash = next((sorted(s) for s in spellings.values() if len(s) > 1), None)
    if clash:
        raise DataError(f"{where}: labels {' and '.join(map(repr, clash))} spell the same number; write one class one way")
    keys = set(map(label_key, raw_labels))
    if len(keys) < 2:
        raise DataError(f"labels: found {len(keys)} class ({', '.join(map(str, keys))}); need at least 2")
    return sorted(keys, key=lambda k: (isinstance(k, str), k if not isinstance(k, str) else 0, str(k)))


def _label_values(keys: list, raw_labels) -> tuple:
    """Each class's value as the source holds it, one type for all (a label column keeps one):
    bools where every value is one, numbers where every class is one (an integer unless every
    value is a float: a CSV cell ``1`` is the number 1 to its author), else the strings."""
    raw = list(raw_labels)
    if all(isinstance(v, (bool, np.bool_)) for v in raw):
        return tuple(k == "True" for k in keys)
    if all(not isinstance(k, str) for k in keys):
        floats = all(isinstance(v, (float, np.floating)) for v in raw) or any(isinstance(k, float) for k in keys)
        return tuple(float(k) if floats else k for k in keys)
    return tuple(str(k) for k in keys)


def _encode(raw_labels, keys, where: str, known=None) -> np.ndarray:
    """Class ids of ``raw_labels``, matched by :func:`label_key` to ``keys`` (one per class), or
    to ``known`` (other keys of the same classes) too."""
    index = {**(known or {}), **{key: i for i, key in enumerate(keys)}}
    raw_keys = [label_key(v) for v in raw_labels]
    unknown = sorted({str(k) for k in raw_keys if k not in index})
    if unknown:
        raise DataError(f"{where}: labels {unknown[:5]} are not among the training labels {[str(k) for k in keys]}")
    return np.fromiter((index[k] for k in raw_keys), dtype=np.int64, count=len(raw_keys))


def class_values(raw_labels, where: str) -> tuple:
    """The classes of ``raw_labels`` (at least two), each as one value of the source's type, in
    the order a pool of these labels numbers them (numbers first, then strings); their names are
    ``str`` of the values.

    >>> class_values(["spam", "ham", "spam"], "labels"), class_values(["1", "0"], "labels")
    (('ham', 'spam'), (0, 1))
    """
    return _label_values(_class_keys(raw_labels, where), raw_labels)


def _dataset(texts, labels, names, values=(), ids=None) -> TextDataset:
    ids = np.arange(len(texts), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    return TextDataset(ids=ids, texts=list(texts), labels=labels, label_names=names, label_values=tuple(values))


def frame_dataset(frame: pd.DataFrame, text_column, label_column, where: str, class_names=None) -> TextDataset:
    """A pool from a frame: its labels are the frame's own values or, with ``class_names`` (a
    datasets ClassLabel), class ids named by them."""
    texts, raw = _texts_and_raw_labels(frame, text_column, label_column, where)
    if class_names is not None:
        values = tuple(range(len(class_names)))
        return _dataset(texts, _encode(raw, values, where), tuple(class_names), values)
    values = class_values(raw, where)
    return _dataset(texts, _encode(raw, [label_key(v) for v in values], where), tuple(map(str, values)), values)


def eval_dataset(frame: pd.DataFrame, pool: TextDataset, text_column, label_column, where: str) -> TextDataset:
    """An evaluation set for any pool: its labels may be the pool's values or its names."""
    texts, raw = _texts_and_raw_labels(frame, text_column, label_column, where)
    names = {label_key(name): i for i, name in enumerate(pool.label_names)}
    labels = _encode(raw, [label_key(v) for v in pool.label_values], where, known=names)
    return _dataset(texts, labels, pool.label_names, pool.label_values)


def bundled_sst2(split: str) -> TextDataset:
    resource = resources.files("alsel") / "resources" / "sst2" / f"{split}.tsv.gz"
    with resources.as_file(resource) as path:
        frame = read_frame(Path(path))
    return frame_dataset(frame, "sentence", "label", f"bundled sst2/{split}", SST2_LABEL_NAMES)


@dataclass(frozen=True)
class HFFrames:
    """A datasets source as frames: the train split, an evaluation split (or None) and its name,
    and the label's class names where the label is a ClassLabel."""

    train: pd.DataFrame
    eval: pd.DataFrame | None
    eval_split: str | None
    class_names: tuple[str, ...] | None


def hf_frames(
    loaded, label_column: str = "label", eval_split: str | None = None, where: str = "dataset", find_eval: bool = True
) -> HFFrames:
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


def hf_datasets(spec: str, text_column, label_column, eval_spec, want_eval: bool = True):
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise DataError(f"hf data sets need the 'datasets' package: {exc}") from None
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # offline, it would log every retry before the one-line error
    name, _, config = spec[len("hf:") :].partition(":")
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as exc:
        raise DataError(f"{spec}: cannot load with datasets.load_dataset: {first_line(exc)}") from None
    find_eval = want_eval and not is_fraction(eval_spec)
    frames = hf_frames(loaded, label_column, eval_spec if find_eval else None, spec, find_eval)
    pool = frame_dataset(frames.train, text_column, label_column, f"{spec}/train", frames.class_names)
    if frames.eval is None:
        return pool, None
    return pool, eval_dataset(frames.eval, pool, text_column, label_column, f"{spec}/{frames.eval_split}")


def _parquet_class_names(path: Path, label_column: str) -> tuple[str, ...] | None:
    """The class names a parquet file written by ``datasets`` keeps for a ClassLabel column."""
    if path.suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    meta = (pq.read_schema(path).metadata or {}).get(b"huggingface")
    feature = json.loads(meta).get("info", {}).get("features", {}).get(label_column, {}) if meta else {}
    return tuple(feature["names"]) if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" else None


def local_dataset(path: Path, text_column, label_column) -> TextDataset:
    frame = read_frame(path)
    return frame_dataset(frame, text_column, label_column, str(path), _parquet_class_names(path, label_column))


def save_source(dataset: TextDataset, path: str | Path) -> None:
    """Write ``dataset`` as a parquet file (columns id, text, label: the source's own values)
    that :func:`load_data` reads back to the same dataset; ClassLabel names travel in the
    schema metadata the way ``datasets`` writes them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io import write_bytes

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


def as_number(spec) -> float | None:
    """``spec`` (an ``--eval`` value) as a number, or None where it names a file or a split."""
    try:
        return float(spec)
    except (TypeError, ValueError):
        return None


def is_fraction(spec) -> bool:
    """Whether ``spec`` is a fraction of the pool to hold out."""
    value = as_number(spec)
    return value is not None and 0.0 < value < 1.0
