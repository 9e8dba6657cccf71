"""Labels coming back from annotators: the rows of a filled-in batch file, checked against the
project's classes and batches, and the one rule for texts labelled more than once.

The rule: **a text keeps one label, and alsel never chooses between disagreeing ones.** Rows that
repeat a label (twice in a file, or once more after an earlier import) count once; a text whose
rows disagree, with each other or with the label it already has, is a conflict: a text not yet
labelled stays pending, one labelled before keeps its label, and the import reports both.

Refused whole, before anything changes: a label that is not one of the classes, an id that no
batch handed out, a file without a single label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import class_values, label_key, read_frame
from ..errors import ConfigError, DataError
from .labelstudio import read_export_file

__all__ = ["LabelMerge", "merge_labels", "read_label_rows", "class_index", "parse_classes"]

#: Cells that mean "not labelled yet" in a spreadsheet's label column (compared stripped, lower-cased).
EMPTY = frozenset({"", "nan", "none", "null"})


def class_index(classes) -> dict:
    """``label_key`` of each class value -> its index, so ``1``, ``"1"`` and ``1.0`` are one class."""
    return {label_key(value): i for i, value in enumerate(classes)}


def _is_empty(label) -> bool:
    return label is None or (isinstance(label, float) and np.isnan(label)) or str(label).strip().lower() in EMPTY


def parse_classes(classes=None, classes_from: str | Path | None = None, label_column: str = "label") -> tuple:
    """A project's classes, in the order a labelled pool numbers them (:func:`alsel.data.class_values`):
    ``classes`` (a sequence, or a comma-separated string), or the values of ``label_column`` in
    the file ``classes_from`` (a small labelled seed file)."""
    if (classes is None) == (classes_from is None):
        raise ConfigError("name the classes: --classes a,b,c or --classes-from FILE (one of the two)")
    if classes_from is not None:
        frame = read_frame(classes_from)
        if label_column not in frame.columns:
            raise DataError(
                f"{classes_from}: no label column {label_column!r} (columns: {', '.join(map(str, frame.columns))}); name it with --label-column"
            )
        return class_values([v for v in frame[label_column] if not _is_empty(v)], f"{classes_from} ({label_column})")
    given = [c.strip() for c in classes.split(",")] if isinstance(classes, str) else list(classes)
    if any(_is_empty(c) for c in given):
        raise ConfigError(f"--classes {','.join(map(str, given))}: an empty class name")
    keys = [label_key(c) for c in given]
    twice = next((c for c, k in zip(given, keys) if keys.count(k) > 1), None)
    if twice is not None:
        raise ConfigError(f"--classes: {twice!r} is given twice")
    return class_values(given, "--classes")


def read_label_rows(path: str | Path) -> list[tuple[int, object]]:
    """``(id, label)`` rows of a filled-in batch: a CSV, TSV, JSONL or parquet file with columns
    ``id`` and ``label`` (empty labels skipped: those texts stay pending), or Label Studio's JSON
    export (``.json``)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return list(read_export_file(path))
    frame = read_frame(path)
    missing = [c for c in ("id", "label") if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: no {' or '.join(missing)} column (columns: {', '.join(map(str, frame.columns))}); import the batch file with its label column filled in"
        )
    rows = []
    for number, (id_, label) in enumerate(zip(frame["id"], frame["label"])):
        if _is_empty(label):
            continue
        rows.append((_row_id(id_, path, number), label.strip() if isinstance(label, str) else label))
    return rows


def _row_id(value, path: Path, number: int) -> int:
    try:
        number_value = float(str(value).strip())
    except ValueError:
        number_value = float("nan")
    if not number_value.is_integer():
        raise DataError(f"{path}: row {number} has id {value!r}, not a row number of the pool")
    return int(number_value)


@dataclass(frozen=True)
class LabelMerge:
    """What an import adds.

    Attributes
    ----------
    new : dict
        id -> class index of each text labelled by this import.
    repeated : int
        Rows that repeat a label the text already has (from this file or an earlier import).
    conflicts : dict
        id -> the disagreeing labels of each conflicting text (its label from an earlier import
        first), none of which was taken.
    """

    new: dict[int, int] = field(default_factory=dict)
    repeated: int = 0
    conflicts: dict[int, tuple[str, ...]] = field(default_factory=dict)


def merge_labels(rows, classes, handed_out, labelled: dict[int, int], where: str) -> LabelMerge:
    """Apply the rule above to ``rows`` (``(id, label)``) for a project of ``classes`` whose
    batches ``handed_out`` these ids and that ``labelled`` some (id -> class index)."""
    if not rows:
        raise DataError(f"{where}: no labels to import (fill in the label column; texts left empty stay pending)")
    index = class_index(classes)
    unknown = sorted({str(label) for _, label in rows if label_key(label) not in index})
    if unknown:
        raise DataError(
            f"{where}: labels {', '.join(map(repr, unknown[:5]))}{' ...' if len(unknown) > 5 else ''} are not among the project's classes ({', '.join(map(str, classes))})"
        )
    stray = sorted({id_ for id_, _ in rows if id_ not in handed_out})
    if stray:
        raise DataError(
            f"{where}: {len(stray):,} ids are in no batch of this project (first: {stray[0]}); import a file of the pending batch"
        )
    given: dict[int, list[int]] = {}
    for id_, label in rows:
        given.setdefault(id_, []).append(index[label_key(label)])
    new, conflicts = {}, {}
    for id_, chosen in given.items():
        known = [labelled[id_]] if id_ in labelled else []
        distinct = list(dict.fromkeys(known + chosen))
        if len(distinct) > 1:
            conflicts[id_] = tuple(str(classes[i]) for i in distinct)
        elif not known:
            new[id_] = distinct[0]
    return LabelMerge(new=new, repeated=len(rows) - len(new) - sum(len(given[i]) for i in conflicts), conflicts=conflicts)
