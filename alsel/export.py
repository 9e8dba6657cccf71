"""Export a finished run's selection as a data set: the rows themselves, not just their ids.

``selection.jsonl`` names the chosen examples by id; :func:`selected_frame` joins them with the
data the run used (reloaded as ``config.json`` recorded it, and refused if it changed since) into
a table of ``id, text, label, round, score`` in acquisition order, the labels as the source file
spells them. :func:`write_frame` writes it as CSV, TSV, JSONL, parquet or a ``datasets`` folder,
atomically. ``alsel export`` is :func:`export_run`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .data import TextDataset, load_recorded_data
from .errors import AlselError, DataError
from .io import write_bytes, write_dir, write_text
from .loops.records import Checkpoint, SelectionEntry
from .loops.rundir import RunDir

__all__ = ["FORMATS", "selected_frame", "write_frame", "export_run", "format_for"]

#: Each format and the suffix its file (or, for ``hf``, folder) gets.
FORMATS = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "parquet": ".parquet", "hf": ".hf"}


def _read_finished(run: RunDir) -> tuple[dict, Checkpoint]:
    """The run's config.json and its checkpoint, once the run has finished (its selection is
    final only then), read as strictly as ``alsel show`` and ``alsel loop`` read them, and more:
    every row of rounds.jsonl and selection.jsonl must be one the checkpoint counts (a bad copy
    that cut or repeated lines would otherwise export the wrong rows)."""
    if not run.path.is_dir():
        raise AlselError(f"{run.path}: no such run directory")
    record = run.read_config()
    if record is None:
        raise AlselError(f"{run.path}: not a run directory (no {RunDir.CONFIG})")
    if run.read_metrics() is None:
        raise AlselError(
            f"{run.path}: unfinished run ({len(run.read_checkpoint().rounds)} of {record['rounds'] + 1} rounds); "
            f"finish it by rerunning its alsel loop command with --out {run.path}"
        )
    return record, run.read_checkpoint(finished=True)


def _pool(run_dir: Path, record: dict) -> TextDataset:
    try:
        return load_recorded_data(record).pool
    except DataError as exc:
        raise DataError(f"{run_dir}: {exc}; export needs the data the run used") from None


def _rows(pool: TextDataset, positions) -> dict:
    return {
        "id": pool.ids[positions],
        "text": [pool.texts[p] for p in positions],
        "label": [pool.label_value(p) for p in positions],
    }


def selected_frame(run_dir: str | Path, complement: bool = False) -> pd.DataFrame:
    """A finished run's selection joined with its data.

    Parameters
    ----------
    run_dir : path
        A finished run directory (of ``alsel loop`` or under a study's ``runs/``).
    complement : bool
        Return the rest of the pool instead: every example the run did not select.

    Returns
    -------
    DataFrame
        ``id, text, label, round, score`` in acquisition order (``score`` is NaN where no score
        decided the pick); with ``complement``, ``id, text, label`` in pool order. ``label`` is the
        source's own value (``0``/``1`` for SST-2, ``"spam"``).

    Raises
    ------
    AlselError
        The run has not finished, its data changed since (:class:`~alsel.errors.DataError`), or
        its files disagree with its checkpoint (:class:`~alsel.errors.RunFileError`: a row cut,
        repeated or damaged, a checkpoint damaged or missing).
    """
    run = RunDir(run_dir)
    return _frame(run, *_read_finished(run), complement)


def _frame(run: RunDir, record: dict, done: Checkpoint, complement: bool) -> pd.DataFrame:
    """:func:`selected_frame` of a run already read."""
    pool = _pool(run.path, record)
    chosen = pool.positions([e.id for e in done.selection])
    if complement:
        return pd.DataFrame(_rows(pool, np.setdiff1d(np.arange(len(pool)), chosen)))
    return selection_frame(pool, chosen, done.selection)


def selection_frame(pool: TextDataset, chosen, selection: list[SelectionEntry]) -> pd.DataFrame:
    """``selection`` (selection.jsonl's entries, at pool positions ``chosen``) joined with
    ``pool``: ``id, text, label, round, score`` in acquisition order."""
    return pd.DataFrame(
        {
            **_rows(pool, chosen),
            "round": np.array([e.round for e in selection], dtype=np.int64),
            "score": np.array([np.nan if e.score is None else e.score for e in selection], dtype=np.float64),
        }
    )


def format_for(path: str | Path | None, format: str | None = None, formats: dict[str, str] = FORMATS, what: str = "export") -> str:
    """``format`` checked, or the one ``path``'s suffix names (csv without a suffix), among
    ``formats`` (name -> file suffix); ``what`` names the kind of file in errors."""
    if format is not None:
        if format not in formats:
            raise AlselError(f"unknown {what} format {format!r}; use {', '.join(formats)}")
        return format
    suffix = Path(path).suffix.lower() if path is not None else ""
    by_suffix = {ext: name for name, ext in formats.items()}
    if suffix and suffix not in by_suffix:
        raise AlselError(f"{path}: unknown {what} format {suffix!r}; name one with --format ({', '.join(formats)})")
    return by_suffix.get(suffix, "csv")


def _tsv(frame: pd.DataFrame) -> str:
    # Unquoted, like GLUE's files and alsel's TSV reader: a quote in a text stays a quote. Such a
    # file cannot hold a tab or a line break inside a text.
    breaks = [i for i, text in zip(frame["id"], frame["text"]) if any(c in text for c in "\t\r\n")]
    if breaks:
        raise AlselError(
            f"{len(breaks)} texts hold tabs or line breaks (the first is id {breaks[0]}), which TSV cannot; use csv, jsonl or parquet"
        )
    return frame.to_csv(sep="\t", index=False, quoting=csv.QUOTE_NONE)


def _jsonl(frame: pd.DataFrame) -> str:
    # json rather than pandas' writer, which keeps only 10 decimals of a float; NaN is null.
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _save_hf(frame: pd.DataFrame, path: Path) -> None:
    import datasets

    datasets.disable_progress_bars()
    write_dir(path, datasets.Dataset.from_pandas(frame, preserve_index=False).save_to_disk, marker="dataset_info.json")


def write_frame(frame: pd.DataFrame, path: str | Path, format: str) -> Path:
    """Write ``frame`` to ``path`` atomically as ``format`` (one of :data:`FORMATS`); ``hf`` is a
    folder for ``datasets.load_from_disk``."""
    path = Path(path)
    format = format_for(path, format)
    if format == "hf":
        _save_hf(frame, path)
    elif format == "parquet":
        write_bytes(path, _parquet(frame))
    elif format == "tsv":
        write_text(path, _tsv(frame))
    elif format == "jsonl":
        write_text(path, _jsonl(frame))
    else:
        write_text(path, frame.to_csv(index=False))
    return path


def _check_out(path: Path, run: RunDir, record: dict) -> None:
    """Refuse an output path that is one of the run's own records or a data file it was run on
    (the data set, the evaluation file, a source it keeps under ``data/``): an export written
    there would replace the run's input with its output, after which it exports no more."""
    files = [o for o in ("dataset", "eval") if isinstance(record.get(o), str) and Path(record[o]).is_file()]  # not sst2, hf:, 0.1
    inputs = {Path(record[o]).resolve(): f"the run's {o} file ({RunDir.CONFIG})" for o in files}
    # selection.jsonl above all: the default export name is selected.<ext> so that a JSONL export does not meet it
    records = {run.file(name).resolve(): "one of the run's own records" for name in RunDir.FILES}
    what = {**inputs, **records}.get(path.resolve())
    if what is not None:
        raise AlselError(f"{path} is {what}; pass another --out")


def export_run(
    run_dir: str | Path, *, format: str | None = None, out: str | Path | None = None, complement: bool = False
) -> tuple[Path, int]:
    """Write a finished run's selection (or its ``complement``) to ``out``; return the path and
    the number of rows.

    ``format`` defaults to the one ``out``'s suffix names, else csv; ``out`` defaults to
    ``RUN_DIR/selected.<ext>`` (``complement.<ext>``). Refused, before anything is written: a
    run whose files disagree with its checkpoint, and an ``out`` that is one of the run's
    inputs or records.
    """
    format = format_for(out, format)
    path = Path(out) if out is not None else Path(run_dir) / (("complement" if complement else "selected") + FORMATS[format])
    run = RunDir(run_dir)
    record, done = _read_finished(run)
    _check_out(path, run, record)
    frame = _frame(run, record, done, complement)
    return write_frame(frame, path, format), len(frame)
