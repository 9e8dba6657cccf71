"""Batch files, what annotators get: a spreadsheet (CSV, or JSONL) of ``id``, ``text`` and an
empty ``label`` column to fill in, or Label Studio tasks to import (:mod:`.labelstudio`).

``id`` is the text's row number in the pool file, from 0. What comes back is read by
:func:`alsel.labelling.labels.read_label_rows`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..export import format_for, write_frame
from ..io import write_json
from .labelstudio import to_tasks

__all__ = ["BATCH_FORMATS", "batch_frame", "batch_format", "write_batch"]

#: Each batch format and the suffix of its file.
BATCH_FORMATS = {"csv": ".csv", "jsonl": ".jsonl", "labelstudio": ".json"}


def batch_frame(ids, texts) -> pd.DataFrame:
    """A batch as annotators get it: ``id``, ``text`` and an empty ``label``, in the order chosen
    (``texts`` is indexed by id)."""
    ids = np.asarray(ids, dtype=np.int64)
    return pd.DataFrame({"id": ids, "text": [texts[i] for i in ids], "label": [""] * len(ids)})


def batch_format(path: str | Path | None, format: str | None = None) -> str:
    """``format`` checked, or the one ``path``'s suffix names (csv without either)."""
    return format_for(path, format, BATCH_FORMATS, "batch")


def write_batch(frame: pd.DataFrame, path: str | Path, format: str) -> Path:
    """Write a :func:`batch_frame` to ``path`` atomically as ``format``."""
    if format == "labelstudio":
        write_json(path, to_tasks(frame))
        return Path(path)
    return write_frame(frame, path, format)
