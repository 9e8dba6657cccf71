"""The run directory: what a run writes, how it is resumed, and the only place that knows its
file names.

Files: ``config.json`` (resolved options, data, versions), ``rounds.jsonl`` (one row per
finished round), ``selection.jsonl`` (the result in acquisition order), ``eval_probs.npy`` (the
final model's class probabilities on the evaluation set, in its order) and
``eval_predictions.npy`` (their arg-max as small integers: what paired tests need, a few KB to
keep where the probabilities are too big), ``metrics.json`` (written
last: its presence means the run finished) and ``checkpoint.json`` (the commit point of the last
finished round: a resumed run continues after it). Every write is atomic, but a file can still
be damaged outside alsel (a crash of the file system, a bad copy): every read checks what it
gets and raises :class:`~alsel.errors.RunFileError` naming the file. While a run is going,
``.lock`` holds its process id. A warm-started run (``--warm-start``) keeps the model each later
round continues from in ``models/round-<r>/`` (the learner's ``save``) with its identity, the
round cache key it was trained under, in ``models/round-<r>.json``, until it finishes. A run on
data held in memory keeps it as ``data/pool.parquet`` (and ``data/eval.parquet``), which its
config.json names, so it resumes and replays from files like any other. A study writes
``error.txt`` beside a run that failed. :data:`RunDir.FILES` lists every name a run directory
may hold; :class:`RunStore` is what the controller asks of one, which :class:`RunDir` and
:class:`MemoryRunDir`, a stand-in for a run that writes nothing, both do.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from ..data import save_source
from ..errors import ConfigError, RunFileError, RunInUseError
from ..io import write_json, write_jsonl, write_npy
from ..progress import SILENT, Progress
from .learning import save as save_learner
from .records import Checkpoint, RoundRecord, SelectionEntry

#: Keys of config.json that may differ between a run and its resumption.
VOLATILE = ("versions", "machine")
#: Keys of config.json that record what a run found rather than what it was asked: not options,
#: so ``--config RUN/config.json`` skips them when it replays the run.
RECORD_ONLY = ("data", "plan", "versions", "machine")


def source_path(run_dir: str | Path, name: str) -> Path:
    """Where a run directory keeps in-memory source ``name`` (``"pool"``, ``"eval"``)."""
    return Path(run_dir) / RunDir.DATA / f"{name}.parquet"


#: What to do about a damaged file that a run cannot do without.
START_OVER = "remove the run directory or pass another --out"


def package_versions() -> dict[str, str]:
    names = ("alsel", "torch", "transformers", "sentence-transformers", "faiss-cpu", "scikit-learn", "numpy")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _parse_object(path: Path, data: bytes, where: str, advice: str) -> dict:
    """One JSON object from ``data`` (a file or one line of it), or RunFileError."""
    try:
        value = json.loads(data.decode("utf-8"))  # a cut multi-byte character is damage too
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise RunFileError(f"{path}: damaged (not valid JSON{where}); {advice}") from None
    if not isinstance(value, dict):
        raise RunFileError(f"{path}: damaged (not a JSON object{where}); {advice}")
    return value


#: The file that holds a directory for one alsel process (a run's, a study's).
LOCK = ".lock"


@contextmanager
def hold_directory(path: str | Path, progress: Progress = SILENT) -> Iterator[None]:
    """Hold directory ``path`` (made if missing) for this process: a second alsel process on it
    fails at once with :class:`~alsel.errors.RunInUseError` naming the directory and the holder.

    ``flock`` rather than a bare pid file: the kernel drops it when the process dies, so a
    crash leaves no lock that blocks the rerun. The file says whose it is, for the message.
    On a file system that has no locks (some network mounts) the work goes on unguarded and
    ``progress`` says so: the guard is worth less than the run.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    handle = _acquire(path, progress)
    try:
        yield
    finally:
        (path / LOCK).unlink(missing_ok=True)  # before the lock goes: see _acquire
        handle.close()


def _acquire(directory: Path, progress: Progress) -> IO[str]:
    path = directory / LOCK
    while True:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115  # the lock: held open until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "pid unknown"
            handle.close()
            raise RunInUseError(f"{directory} is in use by another alsel process ({holder}); wait for it or pass another --out") from None
        except OSError as exc:
            progress.log(f"{path}: cannot lock ({exc.strerror or exc}); nothing stops a second alsel process on {directory}")
            break
        # A holder removes the file before it unlocks; if one did so between our open and
        # our flock, we locked a file no longer in the directory (a third process could
        # create and lock a new one): start again with the file that is there.
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    handle.truncate(0)
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle


@runtime_checkable
class RunStore(Protocol):
    """What the loop controller asks of the place a run keeps its records: :class:`RunDir` (a
    directory) and :class:`MemoryRunDir` (nothing written) are the two."""

    @property
    def path(self) -> Path | None:
        """The run directory; None where nothing is written."""
        ...

    def lock(self, progress: Progress = SILENT) -> AbstractContextManager[None]:
        """Hold the run for this process while it goes."""
        ...

    def read_metrics(self) -> dict | None:
        """The final metrics; None while the run is not finished."""
        ...

    def start(self, record: dict, progress: Progress = SILENT) -> Checkpoint:
        """Record the run's configuration ``record``; return what is finished of it already."""
        ...

    def keep_sources(self, sources: dict) -> None:
        """Keep in-memory sources (name -> TextDataset) beside the run."""
        ...

    def save(self, checkpoint: Checkpoint) -> None:
        """Commit ``checkpoint``: the rounds and selection finished so far."""
        ...

    def save_eval_probs(self, probs) -> None:
        """Keep the final model's class probabilities on the evaluation set."""
        ...

    def save_round_model(self, round_: int, learner, label_names, key: str) -> None:
        """Keep round ``round_``'s model, and its identity ``key``, for the round that continues from it."""
        ...

    def read_round_model(self, round_: int) -> tuple[Path, str]:
        """The directory of round ``round_``'s kept model and its identity."""
        ...

    def finish(self, metrics: dict) -> None:
        """Record the final ``metrics``: the run is finished."""
        ...


class RunDir:
    """A run's records in a directory (the module docstring lists its files)."""

    CONFIG = "config.json"
    ROUNDS = "rounds.jsonl"
    SELECTION = "selection.jsonl"
    EVAL_PROBS = "eval_probs.npy"
    EVAL_PREDICTIONS = "eval_predictions.npy"
    METRICS = "metrics.json"
    CHECKPOINT = "checkpoint.json"
    LOCK = LOCK
    ERROR = "error.txt"  # written by a study beside a run that failed
    MODELS = "models"  # warm starts: round-<r>/ (a saved model) and round-<r>.json (its identity)
    DATA = "data"  # in-memory sources: pool.parquet, eval.parquet
    #: Every file and folder a run directory may hold.
    FILES = (CONFIG, ROUNDS, SELECTION, EVAL_PROBS, EVAL_PREDICTIONS, METRICS, CHECKPOINT, LOCK, ERROR, MODELS, DATA)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    # ---------------------------------------------------------------- reading
    def _read_object(self, name: str, advice: str = START_OVER) -> dict | None:
        """A JSON file holding an object; None if it does not exist."""
        data = self._read_bytes(name)
        return None if data is None else _parse_object(self.file(name), data, "", advice)

    def _read_rows(self, name: str, committed: int | None = None, exact: bool = False) -> list[dict]:
        """The rows of a JSON-lines file (none if it does not exist). With ``committed`` (the
        checkpoint's count) only those rows: rows past them belong to a round that did not
        finish, so a damaged one there is redone, not an error; unless ``exact``, where any row
        past them is damage too."""
        path = self.file(name)
        numbered = enumerate((self._read_bytes(name) or b"").splitlines(), 1)
        lines = [(number, line) for number, line in numbered if line.strip()]
        if committed is not None:
            if len(lines) < committed:
                raise RunFileError(f"{path}: damaged (cut short: {len(lines)} rows, {self.CHECKPOINT} counts {committed}); {START_OVER}")
            if exact and len(lines) > committed:
                raise RunFileError(f"{path}: damaged ({len(lines)} rows, {self.CHECKPOINT} counts {committed}); {START_OVER}")
            lines = lines[:committed]
        return [_parse_object(path, line, f" at line {number}", START_OVER) for number, line in lines]

    def _read_bytes(self, name: str) -> bytes | None:
        try:
            return self.file(name).read_bytes()
        except FileNotFoundError:
            return None

    def read_eval_predictions(self):
        """The final model's predicted class per evaluation example (ndarray of ints), from
        eval_predictions.npy, else from eval_probs.npy (runs written before it); None if the
        run kept neither. Raises RunFileError for a file that does not read back as such."""
        import numpy as np

        for name in (self.EVAL_PREDICTIONS, self.EVAL_PROBS):
            path = self.file(name)
            if not path.exists():
                continue
            try:
                array = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):  # what numpy raises for a cut file
                raise RunFileError(f"{path}: damaged (not a readable .npy file)") from None
            wanted = 1 if name == self.EVAL_PREDICTIONS else 2
            if array.ndim != wanted:
                raise RunFileError(f"{path}: damaged ({array.ndim} dimensions, not {wanted})")
            return array if wanted == 1 else array.argmax(axis=1)
        return None

    def read_config(self) -> dict | None:
        return self._read_object(self.CONFIG)

    def read_metrics(self) -> dict | None:
        """The final metrics; None while the run is not finished."""
        return self._read_object(self.METRICS, advice="rerun the run with the same --out to rebuild it from its checkpoint")

    def read_rounds(self) -> list[dict]:
        """Every row of rounds.jsonl, strictly: for a finished run (a running one: read_checkpoint)."""
        return self._read_rows(self.ROUNDS)

    def read_round_records(self) -> list[RoundRecord]:
        """:meth:`read_rounds` as typed records."""
        return self._round_records(self.read_rounds())

    def _round_records(self, rows: list[dict]) -> list[RoundRecord]:
        try:
            return [RoundRecord.from_json(row) for row in rows]
        except TypeError:  # a row without a required field
            raise RunFileError(f"{self.file(self.ROUNDS)}: damaged (a row is not a round record); {START_OVER}") from None

    def read_selection(self) -> list[SelectionEntry]:
        """Every entry of selection.jsonl, strictly: for a finished run."""
        return self._selection_entries(self._read_rows(self.SELECTION))

    def _selection_entries(self, rows: list[dict]) -> list[SelectionEntry]:
        try:
            return [SelectionEntry.from_json(row) for row in rows]
        except TypeError:  # a row without a field
            raise RunFileError(f"{self.file(self.SELECTION)}: damaged (a row is not a selection entry); {START_OVER}") from None

    def _read_commit_point(self) -> dict | None:
        """checkpoint.json: how many rounds and selection entries are committed."""
        checkpoint = self._read_object(self.CHECKPOINT)
        if checkpoint is not None and not all(isinstance(checkpoint.get(k), int) for k in ("n_rounds", "n_selected")):
            raise RunFileError(f"{self.file(self.CHECKPOINT)}: damaged (no round counts); {START_OVER}")
        return checkpoint

    def read_checkpoint(self, finished: bool = False) -> Checkpoint:
        """What the checkpoint says is finished. Files may hold a round newer than the
        checkpoint if a run died between writes: the checkpoint is the commit point, so anything
        past it is left out (and redone by a resumed run).

        With ``finished`` (the run wrote metrics.json), the files must agree with the checkpoint
        exactly: a finished run wrote them whole, so a row past it, or no checkpoint at all, is
        damage (a bad copy), not a round in progress.
        """
        checkpoint = self._read_commit_point()
        if checkpoint is None:
            if finished:
                raise RunFileError(f"{self.file(self.CHECKPOINT)}: missing, though {self.METRICS} says the run finished; {START_OVER}")
            return Checkpoint()
        return Checkpoint(
            rounds=self._round_records(self._read_rows(self.ROUNDS, committed=checkpoint["n_rounds"], exact=finished)),
            selection=self._selection_entries(self._read_rows(self.SELECTION, committed=checkpoint["n_selected"], exact=finished)),
            seed_pool_ids=checkpoint.get("seed_pool_ids"),
        )

    # ---------------------------------------------------------------- running
    def lock(self, progress: Progress = SILENT) -> AbstractContextManager[None]:
        """Hold the run directory for this process (:func:`hold_directory`): a second alsel
        process on it fails at once."""
        return hold_directory(self.path, progress)

    def start(self, record: dict, progress: Progress = SILENT) -> Checkpoint:
        """Write config.json, or check that an existing one matches; return what is finished.

        A configuration that never finished a round (a bad ``--model`` fails at model load) is
        replaced: there is nothing of it to keep. One that did is refused.
        """
        if not self.file(self.CONFIG).exists():
            if self.path.exists() and any(p.name != self.LOCK for p in self.path.iterdir()):
                raise ConfigError(f"{self.path} exists and is not a run directory; pass another --out")
            write_json(self.file(self.CONFIG), record)
            return Checkpoint()
        done = self.read_checkpoint()
        mismatch = self._mismatch(record, damaged_ok=not done.rounds)
        if mismatch and done.rounds:
            raise ConfigError(f"{self.path} holds a run with other options ({mismatch}); pass another --out or remove it")
        if mismatch:
            progress.log(f"{self.path}: replacing the configuration of a run that never finished a round ({mismatch})")
            write_json(self.file(self.CONFIG), record)
        return done

    def _mismatch(self, record: dict, damaged_ok: bool) -> str:
        """What differs between config.json and ``record`` ('' if nothing)."""
        try:
            existing = self.read_config() or {}  # start() calls this only where config.json exists
        except RunFileError:
            if not damaged_ok:
                raise
            return f"{self.CONFIG} damaged"
        changed = sorted(k for k in set(existing) | set(record) if k not in VOLATILE and existing.get(k) != record.get(k))
        return ", ".join(changed)

    def save(self, checkpoint: Checkpoint) -> None:
        """Write the rows, then checkpoint.json, the commit point."""
        write_jsonl(self.file(self.SELECTION), [entry.to_json() for entry in checkpoint.selection])
        write_jsonl(self.file(self.ROUNDS), [record.to_json() for record in checkpoint.rounds])
        write_json(
            self.file(self.CHECKPOINT),
            {"n_rounds": len(checkpoint.rounds), "n_selected": len(checkpoint.selection), "seed_pool_ids": checkpoint.seed_pool_ids},
        )

    def save_eval_probs(self, probs) -> None:
        import numpy as np

        write_npy(self.file(self.EVAL_PROBS), probs)
        write_npy(self.file(self.EVAL_PREDICTIONS), probs.argmax(axis=1).astype(np.min_scalar_type(probs.shape[1] - 1)))

    def finish(self, metrics: dict) -> None:
        """Write metrics.json, then drop the round models of a warm start: a finished run never
        trains again (a damaged metrics.json is rebuilt from the checkpoint), and each is as big
        as the model."""
        write_json(self.file(self.METRICS), metrics)
        shutil.rmtree(self.file(self.MODELS), ignore_errors=True)

    def round_model(self, round_: int) -> Path:
        """Where round ``round_``'s model is kept for the round that continues from it."""
        return self.file(self.MODELS) / f"round-{round_}"

    def save_round_model(self, round_: int, learner, label_names, key: str) -> None:
        """Keep round ``round_``'s model and its identity ``key``. Before the round's commit
        point, so a run resumed after the round continues from this very model."""
        save_learner(learner, self.round_model(round_), label_names)
        write_json(self.round_model(round_).with_suffix(".json"), {"round": round_, "key": key})

    def read_round_model(self, round_: int) -> tuple[Path, str]:
        """The directory of round ``round_``'s saved model and its identity; a missing or
        damaged one raises RunFileError (the checkpoint says the round finished)."""
        path = self.round_model(round_)
        record = self._read_object(path.with_suffix(".json").relative_to(self.path).as_posix())
        if record is None or not isinstance(record.get("key"), str) or not path.is_dir():
            raise RunFileError(f"{path}: missing or damaged, though the run continues from it; {START_OVER}")
        return path, record["key"]

    def keep_sources(self, sources: dict) -> None:
        """Write in-memory sources (name -> TextDataset) beside the run, once: a resumed run
        keeps the files its config.json already names."""
        for name, dataset in sources.items():
            if not source_path(self.path, name).exists():
                save_source(dataset, source_path(self.path, name))


class MemoryRunDir:
    """A :class:`RunStore` for a run kept in memory (``alsel.select`` without ``out``): nothing
    is written, locked or resumed; the embedding and round caches still work."""

    path: Path | None = None

    def __init__(self):
        self._models: tempfile.TemporaryDirectory | None = None

    def _model_dir(self) -> RunDir:
        """A run directory in a temporary folder, removed with this object: where a warm start
        keeps the models its rounds continue from."""
        if self._models is None:
            self._models = tempfile.TemporaryDirectory(prefix="alsel-models-")
        return RunDir(self._models.name)

    def save_round_model(self, round_: int, learner, label_names, key: str) -> None:
        self._model_dir().save_round_model(round_, learner, label_names, key)

    def read_round_model(self, round_: int) -> tuple[Path, str]:
        return self._model_dir().read_round_model(round_)

    @contextmanager
    def lock(self, progress: Progress = SILENT) -> Iterator[None]:
        yield

    def read_metrics(self) -> dict | None:
        return None

    def start(self, record: dict, progress: Progress = SILENT) -> Checkpoint:
        return Checkpoint()

    def save(self, checkpoint: Checkpoint) -> None:
        """Nothing to keep: the controller holds the checkpoint."""

    def save_eval_probs(self, probs) -> None:
        """Nothing to keep: the controller returns them."""

    def finish(self, metrics: dict) -> None:
        """Nothing to keep: the controller returns the metrics; the round models go."""
        if self._models is not None:
            self._models.cleanup()
            self._models = None

    def keep_sources(self, sources: dict) -> None:
        """Nothing to keep."""
