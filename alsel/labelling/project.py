"""An annotation project: the loop of ``alsel loop`` run on a pool without labels, one batch at a
time, with people labelling each batch in between.

The project is a directory, resumable like a run directory:

- ``project.json``: the pool file (path, text column, row count, fingerprint), the classes, the
  loop's options and the stop sample (:mod:`.status`); written once, by ``init``;
- ``pool_rows.npy``: a hash per pool row, to name the row of a pool file that changed;
- ``labelstudio.xml``: the Label Studio labelling interface of the classes;
- ``state.json``: the batches (ids in the order chosen, the strategy that chose them, its
  scores), the labels imported (id -> class), a log of the imports and the id of the Label
  Studio project that :meth:`LabelProject.push` fills (once pushed). The commit point:
  written whole and renamed into place, so a kill at any moment leaves it as it was before the
  command or as it is after, and no imported label is ever lost;
- ``batches/``: the batch files handed to annotators (written before the batch is committed:
  a rerun after a kill chooses, and writes, the same batch).

Batch ``r`` is chosen by :class:`~alsel.loops.steps.LoopSteps`, the loop's own steps: the
initial-pool strategy first, then the acquisition function on the round learner trained on
every label so far. Until a batch is fully labelled, ``next`` refuses to choose another (the
loop trains on whole batches); ``batch`` writes what is still pending of it again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AlselError, ConfigError, RunFileError
from ..io import staging_dir, write_json, write_npy, write_text
from ..loops.config import LoopConfig, options
from ..loops.learning import resolve_learner
from ..loops.rundir import hold_directory
from ..loops.steps import LoopSteps
from ..progress import SILENT, Progress
from ..strategies import resolve_strategy_class
from .batches import BATCH_FORMATS, batch_format, batch_frame, write_batch
from .labels import merge_labels, parse_classes, read_label_rows
from .labelstudio import label_config, read_export, to_tasks
from .labelstudio_api import connect, pull_export, push_batch
from .pool import PoolRecord, pool_dataset, read_pool, row_hashes
from .status import Stability, learning_curve

__all__ = ["LabelProject", "Batch", "ImportReport", "ProjectStatus", "PROJECT_OPTIONS"]

FORMAT = 1
PROJECT, STATE, ROWS, LABEL_STUDIO_CONFIG, BATCHES = "project.json", "state.json", "pool_rows.npy", "labelstudio.xml", "batches"
#: Texts in the stop sample of the stabilising-predictions signal (Bloodgood & Vijay-Shanker used 2,000).
STOP_SAMPLE = 2000
#: Loop options that plan a budget or read labels a new pool lacks: a project takes none of them.
NOT_FOR_LABELLING = {
    "budget": "each alsel label next chooses --batch N",
    "init_size": "the first batch is the first --batch N",
    "rounds": "a batch follows whenever the last one is labelled",
    "keep_init": "every labelled text is kept",
    "scorer": "cross-fitted scorers train on the candidates' labels",
    "balance": "class quotas need the pool's labels",
    "warm_start": "each batch's model trains from the pretrained weights",
}
#: The loop options an annotation project takes (besides ``preset``): what it selects with and trains.
PROJECT_OPTIONS = tuple(
    name for group in ("selection", "learner", "training") for name in options(group) if name not in (*NOT_FOR_LABELLING, "preset")
)


@dataclass(frozen=True)
class Batch:
    """One batch: ``number`` from 1, ``ids`` (pool rows) in the order chosen, the ``strategy``
    that chose it and its ``scores`` (None where no score decided)."""

    number: int
    ids: list[int]
    strategy: str
    scores: list | None = None


@dataclass(frozen=True)
class ImportReport:
    """What one import did: ``new`` labels, ``repeated`` rows (labels a text already had),
    ``conflicts`` (id -> disagreeing labels, none taken) and what is still ``pending``."""

    file: str
    new: int
    repeated: int
    conflicts: dict
    pending: int

    def describe(self) -> str:
        line = f"imported {self.new:,} labels from {self.file}" + (
            f" ({self.repeated:,} rows repeated a label already there)" if self.repeated else ""
        )
        if self.conflicts:
            shown = ", ".join(f"{i} ({'/'.join(labels)})" for i, labels in list(self.conflicts.items())[:5])
            line += f"; {len(self.conflicts):,} texts with disagreeing labels kept no new label: {shown}{' ...' if len(self.conflicts) > 5 else ''}"
        return line + (f"; {self.pending:,} of the batch still pending" if self.pending else "; the batch is complete")


@dataclass(frozen=True)
class ProjectStatus:
    """``labelled`` of ``pool`` texts, ``pending`` in the current batch, labels per class, the
    learning ``curve`` (:func:`.status.learning_curve`) and the stopping signal."""

    pool: int
    labelled: int
    pending: int
    class_counts: dict
    curve: pd.DataFrame
    stability: Stability
    learner: str


class LabelProject:
    """An annotation project on disk (see the module docstring); open one with
    ``LabelProject(path)``, make one with :meth:`create`.

    Parameters
    ----------
    path : path
        The project directory.
    device : str
        Where models train (``auto``, ``cpu``, ``cuda``): a property of the machine, not kept.
    cache_dir : path, optional
        Embedding and round cache (default ``~/.cache/alsel`` or ``$ALSEL_CACHE``).
    progress : Progress
    """

    def __init__(self, path: str | Path, *, device: str = "auto", cache_dir: str | None = None, progress: Progress = SILENT):
        self.path = Path(path)
        record = self._read_json(PROJECT, f"not an annotation project; make one with alsel label init (no {PROJECT})")
        if record.get("format") != FORMAT:
            raise RunFileError(f"{self.path / PROJECT}: written by another alsel (format {record.get('format')}); use that version")
        self.pool_record = PoolRecord(**record["pool"])
        self.classes = tuple(record["classes"])
        self.config = LoopConfig(**record["loop"], device=device, cache_dir=cache_dir)
        self.stop_sample = np.asarray(record["stop_sample"], dtype=np.int64)
        self.progress = progress

    # ------------------------------------------------------------------ making one
    @classmethod
    def create(
        cls,
        path: str | Path,
        pool: str | Path,
        *,
        text_column: str | None = None,
        classes=None,
        classes_from: str | Path | None = None,
        label_column: str = "label",
        preset: str | None = None,
        device: str = "auto",
        cache_dir: str | None = None,
        progress: Progress = SILENT,
        **loop_options,
    ) -> LabelProject:
        """Make a project on the pool file ``pool`` (CSV, TSV, JSONL, parquet; its rows are the
        texts, any label column is not read).

        Parameters
        ----------
        classes : sequence, optional
            The classes (values as the labels will spell them); or ``classes_from``.
        classes_from : path, optional
            A small labelled file whose ``label_column`` values are the classes.
        preset : str, optional
            A preset of ``alsel loop`` (default: the recommended loop); ``**loop_options`` are
            the loop's other selection, learner and training options (:data:`PROJECT_OPTIONS`).
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise AlselError(
                f"{path} exists and is not empty; pass another --out (a project is resumed with alsel label next/import/status)"
            )
        config = _project_config(preset, loop_options, device, cache_dir)
        text_column, texts = read_pool(pool, text_column)
        values = parse_classes(classes, classes_from, label_column)
        rng = np.random.default_rng(config.seed)
        stop = np.sort(rng.choice(len(texts), size=min(STOP_SAMPLE, len(texts)), replace=False))
        loop = {k: v for k, v in config.to_dict().items() if k in (*PROJECT_OPTIONS, "preset", "rounds")}
        record = {
            "format": FORMAT,
            "pool": PoolRecord.of(pool, text_column, texts).to_json(),
            "classes": list(values),
            "loop": loop,
            "stop_sample": stop.tolist(),
        }
        staging = staging_dir(path)
        write_npy(staging / ROWS, row_hashes(texts))
        write_text(staging / LABEL_STUDIO_CONFIG, label_config(values) + "\n")
        write_json(staging / STATE, {"batches": [], "labels": [], "imports": []})
        write_json(staging / PROJECT, record)
        if path.exists():
            path.rmdir()  # empty: checked above
        os.replace(staging, path)
        return cls(path, device=device, cache_dir=cache_dir, progress=progress)

    # ------------------------------------------------------------------ reading
    def _read_json(self, name: str, missing: str) -> dict:
        file = self.path / name
        if not file.is_file():
            raise AlselError(f"{self.path}: {missing}")
        try:
            value = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            value = None
        if not isinstance(value, dict):
            raise RunFileError(f"{file}: damaged (not a JSON object); restore it from a backup")
        return value

    def _state(self) -> tuple[list[Batch], dict[int, int], list[dict]]:
        state = self._read_json(STATE, f"no {STATE}")
        index = {str(c): i for i, c in enumerate(self.classes)}
        try:
            batches = [Batch(**b) for b in state["batches"]]
            labels = {int(row["id"]): index[row["label"]] for row in state["labels"]}
            return batches, labels, list(state["imports"])
        except (KeyError, TypeError, ValueError):
            raise RunFileError(f"{self.path / STATE}: damaged (not the state of this project); restore it from a backup") from None

    def _commit(
        self, batches: list[Batch], labels: dict[int, int], imports: list[dict], *, label_studio_project: int | None = None
    ) -> None:
        """Write ``state.json`` whole; the Label Studio project id stays as it was unless given."""
        rows = [{"id": i, "label": str(self.classes[c])} for i, c in labels.items()]
        state = {"batches": [dataclasses.asdict(b) for b in batches], "labels": rows, "imports": imports}
        project = label_studio_project if label_studio_project is not None else self.label_studio_project
        write_json(self.path / STATE, state | ({"label_studio_project": project} if project is not None else {}))

    @property
    def label_studio_project(self) -> int | None:
        """The id of the Label Studio project the batches are pushed to; None before the first push."""
        project = self._read_json(STATE, f"no {STATE}").get("label_studio_project")
        if project is not None and (isinstance(project, bool) or not isinstance(project, int)):
            raise RunFileError(f"{self.path / STATE}: damaged (label_studio_project is not an id); restore it from a backup")
        return project

    def texts(self) -> list[str]:
        """The pool's texts, refused if the pool file changed since ``init``."""
        return self.pool_record.read(np.load(self.path / ROWS, allow_pickle=False))

    @property
    def batches(self) -> list[Batch]:
        return self._state()[0]

    @property
    def labels(self) -> dict:
        """id -> label (the class value) of every labelled text, in the order imported."""
        return {i: self.classes[c] for i, c in self._state()[1].items()}

    def pending(self) -> list[int]:
        """Ids of the current batch that have no label yet, in the order chosen."""
        batches, labels, _ = self._state()
        return [i for i in batches[-1].ids if i not in labels] if batches else []

    def labelled_ids(self) -> list[int]:
        """Ids of the labelled texts in the order their batches chose them: the loop's selection."""
        batches, labels, _ = self._state()
        return [i for b in batches for i in b.ids if i in labels]

    def _steps(self, texts: list[str], labels: dict[int, int], config: LoopConfig | None = None) -> LoopSteps:
        names = tuple(map(str, self.classes))
        return LoopSteps(config or self.config, pool_dataset(texts, labels, names, self.classes), self.progress)

    # ------------------------------------------------------------------ the cycle
    def next_batch(self, size: int, *, format: str | None = None, out: str | Path | None = None) -> tuple[Batch, Path]:
        """Choose the next ``size`` texts, write them as a batch file (``out``, default
        ``batches/batch-NNN.<ext>``) and commit the batch; return it and the file.

        Refused while a batch is pending: the loop trains on whole batches.
        """
        with hold_directory(self.path, self.progress):
            batches, labels, imports = self._state()
            if batches and any(i not in labels for i in batches[-1].ids):
                waiting = sum(i not in labels for i in batches[-1].ids)
                raise AlselError(
                    f"{self.path}: batch {batches[-1].number} is pending ({waiting:,} of {len(batches[-1].ids):,} texts unlabelled); "
                    "import its labels with alsel label import first (alsel label batch writes what is pending again)"
                )
            texts = self.texts()
            left = len(texts) - len(labels)
            if not 1 <= size <= left:
                raise AlselError(f"--batch {size}: choose between 1 and the {left:,} unlabelled texts left")
            steps = self._steps(texts, labels)
            labelled = [i for b in batches for i in b.ids]
            round_ = len(batches)
            chosen = steps.next_batch(labelled, round_, size)
            strategy = self.config.acq if steps.acquires(labelled, round_) else self.config.init
            scores = None if chosen.scores is None else [None if not np.isfinite(s) else round(float(s), 8) for s in chosen.scores]
            batch = Batch(round_ + 1, [int(i) for i in chosen.indices], str(strategy), scores)
            path = self._write(batch.ids, batch.number, texts, format, out)
            self._commit([*batches, batch], labels, imports)
        return batch, path

    def write_batch(self, *, format: str | None = None, out: str | Path | None = None) -> Path:
        """Write what is pending of the current batch again (in another format, after a partial import)."""
        pending = self.pending()
        if not pending:
            raise AlselError(f"{self.path}: no batch is pending; choose one with alsel label next")
        return self._write(pending, self.batches[-1].number, self.texts(), format, out)

    def _write(self, ids: list[int], number: int, texts: list[str], format: str | None, out) -> Path:
        format = batch_format(out, format)
        path = Path(out) if out is not None else self.path / BATCHES / f"batch-{number:03d}{BATCH_FORMATS[format]}"
        return write_batch(batch_frame(ids, texts), self._checked_out(path), format)

    def _checked_out(self, path: Path) -> Path:
        """``path``, unless it is the pool file or one of the project's own files (refused: a
        file written there would replace what the project reads)."""
        own = {(self.path / name).resolve() for name in (PROJECT, STATE, ROWS, LABEL_STUDIO_CONFIG)} | {Path(self.pool_record.path)}
        if path.resolve() in own:
            raise AlselError(f"{path} is the project's pool or one of its own files; pass another --out")
        return path

    def import_labels(self, file: str | Path) -> ImportReport:
        """Take the labels of a filled-in batch file (CSV/TSV/JSONL/parquet with ``id`` and
        ``label``, or Label Studio's JSON export); see :mod:`.labels` for the rules."""
        return self._take_labels(str(file), lambda: read_label_rows(file))

    def _take_labels(self, source: str, read_rows) -> ImportReport:
        """Import the ``(id, label)`` rows that ``read_rows()`` gives (read once the project is
        held), checked and merged by the rules of :mod:`.labels`; ``source`` names them."""
        with hold_directory(self.path, self.progress):
            self.texts()  # a changed pool is refused before labels meet the wrong texts
            batches, labels, imports = self._state()
            if not batches:
                raise AlselError(f"{self.path}: no batch to import labels for; choose one with alsel label next")
            rows = read_rows()
            handed_out = {i for b in batches for i in b.ids}
            merge = merge_labels(rows, self.classes, handed_out, labels, source)
            labels = {**labels, **merge.new}
            pending = sum(i not in labels for i in batches[-1].ids)
            report = ImportReport(source, len(merge.new), merge.repeated, merge.conflicts, pending)
            entry = {
                "file": source,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "new": report.new,
                "repeated": report.repeated,
                "conflicts": {str(i): list(v) for i, v in merge.conflicts.items()},
            }
            self._commit(batches, labels, [*imports, entry])
        return report

    # ------------------------------------------------------------------ Label Studio's API
    def push(
        self, client=None, *, url: str | None = None, api_key: str | None = None, ls_project: int | None = None, title: str | None = None
    ) -> tuple[int, int]:
        """Push the pending texts of the current batch into a Label Studio project, as tasks
        (:func:`.labelstudio.to_tasks`) under the label config of the classes; texts the Label
        Studio project already holds are not added again.

        The Label Studio project is ``ls_project`` (an id), or the one titled ``title`` (created
        if none is), or else the one recorded at the last push; its id is recorded in
        ``state.json`` for :meth:`pull` and later pushes.

        Parameters
        ----------
        client : LabelStudioClient, optional
            Default: :func:`.labelstudio_api.connect` of ``url`` and ``api_key`` (else the
            ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY`` environment variables).

        Returns
        -------
        tuple of int
            The Label Studio project's id and the number of pending texts pushed.
        """
        if ls_project is not None and title is not None:
            raise AlselError("give the Label Studio project by --ls-project ID or by --title TITLE, not both")
        with hold_directory(self.path, self.progress):
            batches, labels, imports = self._state()
            pending = [i for i in batches[-1].ids if i not in labels] if batches else []
            if not pending:
                raise AlselError(f"{self.path}: no batch is pending; choose one with alsel label next")
            if ls_project is None and title is None:
                ls_project = self._recorded_label_studio_project("--ls-project ID or --title TITLE (a new title creates the project)")
            tasks = to_tasks(batch_frame(pending, self.texts()))
            client = client if client is not None else connect(url, api_key)
            project = push_batch(client, tasks, label_config(self.classes), project=ls_project, title=title)
            self._commit(batches, labels, imports, label_studio_project=project)
        return project, len(pending)

    def pull(self, client=None, *, url: str | None = None, api_key: str | None = None) -> ImportReport:
        """Import the annotations of the Label Studio project that :meth:`push` recorded: its
        JSON export (:func:`.labelstudio_api.pull_export`) read by
        :func:`.labelstudio.read_export` and imported as :meth:`import_labels` imports a file,
        by the same rules. ``client``, ``url`` and ``api_key`` as for :meth:`push`."""
        project = self._recorded_label_studio_project("alsel label push first")
        client = client if client is not None else connect(url, api_key)
        source = f"Label Studio project {project}"
        return self._take_labels(source, lambda: read_export(pull_export(client, project), source))

    def _recorded_label_studio_project(self, advice: str) -> int:
        project = self.label_studio_project
        if project is None:
            raise AlselError(f"{self.path}: no Label Studio project recorded yet: {advice}")
        return project

    # ------------------------------------------------------------------ results
    def status(self, learner: str = "logreg") -> ProjectStatus:
        """Labelled count, class counts, the learning curve and the stopping signal, with
        ``learner`` (any ``--learner``) as the status learner."""
        batches, labels, _ = self._state()
        texts = self.texts()
        steps = self._steps(texts, labels)
        factory = resolve_learner(learner, "--learner")
        context = steps.learner_context()
        prefixes = [np.array([i for b in batches[: n + 1] for i in b.ids if i in labels], dtype=np.int64) for n in range(len(batches))]
        curve, stability = learning_curve(
            lambda: factory.new(context), texts, steps.pool.labels, len(self.classes), prefixes, self.stop_sample, self.config.seed
        )
        counts = np.bincount(np.fromiter(labels.values(), dtype=np.int64, count=len(labels)), minlength=len(self.classes))
        pending = sum(i not in labels for i in batches[-1].ids) if batches else 0
        return ProjectStatus(
            len(texts), len(labels), pending, {str(c): int(n) for c, n in zip(self.classes, counts)}, curve, stability, learner
        )

    def labelled_frame(self) -> pd.DataFrame:
        """The labelled set: ``id, text, label, batch, score`` in the order chosen (``label`` as
        the classes spell it; ``score`` NaN where no score decided)."""
        batches, labels, _ = self._state()
        texts = self.texts()
        rows = [(i, b.number, s) for b in batches for i, s in zip(b.ids, b.scores or [None] * len(b.ids)) if i in labels]
        return pd.DataFrame(
            {
                "id": np.array([i for i, _, _ in rows], dtype=np.int64),
                "text": [texts[i] for i, _, _ in rows],
                "label": [self.classes[labels[i]] for i, _, _ in rows],
                "batch": np.array([n for _, n, _ in rows], dtype=np.int64),
                "score": np.array([np.nan if s is None else s for _, _, s in rows], dtype=np.float64),
            }
        )

    def export(self, out: str | Path | None = None, format: str | None = None) -> tuple[Path, int]:
        """Write the labelled set (:meth:`labelled_frame`) as ``alsel export`` writes a selection
        (csv, tsv, jsonl, parquet, hf); default ``PROJECT/labelled.<ext>``."""
        from ..export import FORMATS, format_for, write_frame

        format = format_for(out, format)
        path = Path(out) if out is not None else self.path / f"labelled{FORMATS[format]}"
        frame = self.labelled_frame()
        return write_frame(frame, self._checked_out(path), format), len(frame)

    def save_model(self, directory: str | Path) -> Path:
        """Train the final learner on every label so far, as a loop trains its final model, and
        save it to ``directory`` (loadable with ``pipeline()`` for the fine-tuner)."""
        batches, labels, _ = self._state()
        if len(set(labels.values())) < 2:
            raise AlselError(f"{self.path}: the labels hold {len(set(labels.values()))} class; a model needs two")
        config = dataclasses.replace(self.config, save_model=str(directory))
        steps = self._steps(self.texts(), labels, config)  # resolving the config refuses a directory it must not replace
        steps.save_final_model(steps.pool.positions(self.labelled_ids()))
        return Path(directory)


def _project_config(preset: str | None, loop_options: dict, device: str, cache_dir: str | None) -> LoopConfig:
    """The loop config of a new project, refusing what a pool without labels cannot run."""
    for name, value in loop_options.items():
        if name in NOT_FOR_LABELLING and value is not None:
            raise ConfigError(f"{name}: not an option of an annotation project ({NOT_FOR_LABELLING[name]})")
        if name not in PROJECT_OPTIONS:
            raise ConfigError(f"unknown option {name!r} of an annotation project (it takes {', '.join(PROJECT_OPTIONS)})")
    config = LoopConfig.from_options(preset=preset, device=device, cache_dir=cache_dir, **loop_options)
    if not config.keep_init or config.warm_start != "none":
        raise ConfigError(
            f"--preset {preset}: its seed pool is not kept, or its rounds continue a saved model; an annotation project keeps every label and trains each batch's model afresh"
        )
    config = dataclasses.replace(config, rounds=1 if config.acq is not None else 0)
    for option, name in (("--init", config.init), ("--acq", config.acq)):
        if name is not None and resolve_strategy_class(name, option).reads_labels:
            raise ConfigError(
                f"{option} {name} reads the labels of texts nobody has labelled yet; choose a strategy that needs no labels (alsel strategies lists them)"
            )
    return config.resolved()
