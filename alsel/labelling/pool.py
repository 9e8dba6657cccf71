"""The pool of an annotation project: a file of texts without labels, read as ``alsel loop`` reads
a labelled one (same text column, same rows, ids = row numbers from 0), and a record of it that
refuses the file once it has changed.

A project names its texts by row number, so a pool file that gained, lost or edited a row would
silently move every label to another text. :class:`PoolRecord` keeps the row count, the texts'
fingerprint (the one the embedding cache is keyed by) and a short hash per row, so the refusal
names what changed and where.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import TextDataset, fingerprint, pool_texts, read_frame
from ..errors import DataError

__all__ = ["PoolRecord", "read_pool", "pool_dataset", "row_hashes"]

#: The label index of a text nobody has labelled yet (never read: see :func:`pool_dataset`).
UNLABELLED = -1


def row_hashes(texts) -> np.ndarray:
    """An 8-byte hash per text, ndarray of shape (n,), uint64: where two versions of a pool differ."""
    return np.array([int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") for t in texts], dtype=np.uint64)


@dataclass(frozen=True)
class PoolRecord:
    """What a project remembers of its pool file.

    Attributes
    ----------
    path : str
        The file, as an absolute path.
    text_column : str
    rows : int
    fingerprint : str
        sha256 of the texts in order (:func:`alsel.data.fingerprint`).
    """

    path: str
    text_column: str
    rows: int
    fingerprint: str

    @classmethod
    def of(cls, path: str | Path, text_column: str, texts: list[str]) -> PoolRecord:
        return cls(str(Path(path).resolve()), text_column, len(texts), fingerprint(texts))

    def to_json(self) -> dict:
        return {"path": self.path, "text_column": self.text_column, "rows": self.rows, "fingerprint": self.fingerprint}

    def read(self, hashes: np.ndarray) -> list[str]:
        """The pool's texts, refused (:class:`DataError`, naming what changed) if the file no
        longer holds the texts it held at ``alsel label init``; ``hashes`` are
        :func:`row_hashes` of those."""
        where = f"{self.path} (the project's pool)"
        _, texts = read_pool(self.path, self.text_column, where)
        if len(texts) == self.rows and fingerprint(texts) == self.fingerprint:
            return texts
        changes = [f"{self.rows:,} rows then, {len(texts):,} now"] if len(texts) != self.rows else []
        now = row_hashes(texts)
        common = min(len(now), len(hashes))
        differ = np.flatnonzero(now[:common] != hashes[:common])
        if len(differ):
            changes.append(
                f"the text of row {int(differ[0])} differs" + (f", and of {len(differ) - 1:,} more rows" if len(differ) > 1 else "")
            )
        raise DataError(
            f"{where}: changed since alsel label init ({'; '.join(changes) or 'its texts differ'}); "
            "the project's labels name its rows by number: restore the file, or start a new project on it"
        )


def read_pool(path: str | Path, text_column: str | None, where: str | None = None) -> tuple[str, list[str]]:
    """The text column's name and the texts of the pool file ``path`` (any file ``alsel loop``
    reads: CSV, TSV, JSONL, parquet); other columns, a label column among them, are not read."""
    return pool_texts(read_frame(path), text_column, where or str(path))


def pool_dataset(texts: list[str], labels: dict[int, int], class_names: tuple[str, ...], class_values: tuple) -> TextDataset:
    """The pool as the loop reads a data set: ids are row numbers; ``labels`` maps the labelled
    rows to class indices and every other row holds :data:`UNLABELLED`, which the loop never
    reads (it reads labels only at positions it trained on; strategies that read the gold labels
    of candidates are refused by the project)."""
    known = np.full(len(texts), UNLABELLED, dtype=np.int64)
    if labels:
        rows = np.fromiter(labels.keys(), dtype=np.int64, count=len(labels))
        if rows.min() < 0 or rows.max() >= len(texts):
            raise DataError(f"labelled row {int(rows.max())} is not in the pool of {len(texts):,} rows")
        known[rows] = np.fromiter(labels.values(), dtype=np.int64, count=len(labels))
    return TextDataset(
        ids=np.arange(len(texts), dtype=np.int64), texts=texts, labels=known, label_names=class_names, label_values=class_values
    )
