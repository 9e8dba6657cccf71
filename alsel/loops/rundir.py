"""The run directory: what a run writes, how it is resumed.

Files: ``config.json`` (resolved options, data, versions), ``rounds.jsonl`` (one row per
finished round), ``selection.jsonl`` (the result in acquisition order), ``eval_probs.npy`` (the
final model's class probabilities on the evaluation set, in its order), ``metrics.json`` (written
last: its presence means the run finished) and ``checkpoint.json`` (the commit point of the last
finished round: a resumed run continues after it). Every write is atomic. A run on data held
in memory keeps it as ``data/pool.parquet`` (and ``data/eval.parquet``), which its config.json
names, so it resumes and replays from files like any other. :class:`MemoryRunDir` stands in for a
run that writes nothing.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..data import save_source
from ..errors import ConfigError
from ..io import read_json, read_jsonl, write_json, write_jsonl, write_npy

#: Keys of config.json that may differ between a run and its resumption.
VOLATILE = ("versions",)
#: Keys of config.json that record what a run found rather than what it was asked: not options,
#: so ``--config RUN/config.json`` skips them when it replays the run.
RECORD_ONLY = ("data", "plan", "versions")


def source_path(run_dir: str | Path, name: str) -> Path:
    """Where a run directory keeps in-memory source ``name`` (``"pool"``, ``"eval"``)."""
    return Path(run_dir) / "data" / f"{name}.parquet"


def package_versions() -> dict[str, str]:
    names = ("alsel", "torch", "transformers", "sentence-transformers", "faiss-cpu", "scikit-learn", "numpy")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class RunProgress:
    """What a run has finished: round rows, selection entries and the seed pool (if not kept)."""

    rounds: list[dict] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)
    seed_pool_ids: list[int] | None = None


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def metrics(self) -> dict | None:
        return read_json(self.file("metrics.json")) if self.file("metrics.json").exists() else None

    def start(self, record: dict) -> RunProgress:
        """Write config.json, or check that an existing one matches; return what is finished."""
        config_path = self.file("config.json")
        if config_path.exists():
            try:
                existing = read_json(config_path)
            except (OSError, ValueError):
                raise ConfigError(f"{config_path}: unreadable; pass another --out") from None
            changed = sorted(k for k in set(existing) | set(record) if k not in VOLATILE and existing.get(k) != record.get(k))
            if changed:
                raise ConfigError(f"{self.path} holds a run with other options ({', '.join(changed)}); pass another --out or remove it")
            return self._load_progress()
        if self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(f"{self.path} exists and is not a run directory; pass another --out")
        write_json(config_path, record)
        return RunProgress()

    def _load_progress(self) -> RunProgress:
        checkpoint_path = self.file("checkpoint.json")
        if not checkpoint_path.exists():
            return RunProgress()
        checkpoint = read_json(checkpoint_path)
        # Files may hold a round newer than the checkpoint if a run died between writes: the
        # checkpoint is the commit point, so anything past it is redone.
        rounds = read_jsonl(self.file("rounds.jsonl"))[: checkpoint["n_rounds"]]
        selection = read_jsonl(self.file("selection.jsonl"))[: checkpoint["n_selected"]]
        return RunProgress(rounds=rounds, selection=selection, seed_pool_ids=checkpoint.get("seed_pool_ids"))

    def save(self, progress: RunProgress) -> None:
        write_jsonl(self.file("selection.jsonl"), progress.selection)
        write_jsonl(self.file("rounds.jsonl"), progress.rounds)
        write_json(
            self.file("checkpoint.json"),
            {"n_rounds": len(progress.rounds), "n_selected": len(progress.selection), "seed_pool_ids": progress.seed_pool_ids},
        )

    def finish(self, metrics: dict) -> None:
        write_json(self.file("metrics.json"), metrics)

    def save_array(self, name: str, array) -> None:
        write_npy(self.file(name), array)

    def keep_sources(self, sources: dict) -> None:
        """Write in-memory sources (name -> TextDataset) beside the run, once: a resumed run
        keeps the files its config.json already names."""
        for name, dataset in sources.items():
            if not source_path(self.path, name).exists():
                save_source(dataset, source_path(self.path, name))


class MemoryRunDir:
    """RunDir's interface for a run kept in memory (``alsel.select`` without ``out``): nothing
    is written and nothing is resumed; the embedding and round caches still work."""

    path = None

    def metrics(self) -> dict | None:
        return None

    def start(self, record: dict) -> RunProgress:
        return RunProgress()

    def save(self, progress: RunProgress) -> None:
        """Nothing to keep: the controller holds the progress."""

    def finish(self, metrics: dict) -> None:
        """Nothing to keep: the controller returns the metrics."""

    def save_array(self, name: str, array) -> None:
        """Nothing to keep."""

    def keep_sources(self, sources: dict) -> None:
        """Nothing to keep."""
