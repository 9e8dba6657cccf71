"""Sentence embeddings with sentence-transformers, cached on disk as ``.npy``.

The cache key is (the model's identity, the precision, a fingerprint of the texts), so a second
run on the same data never embeds again. Default model: the bundled all-MiniLM-L6-v2, the study's 384-d Sentence-BERT.

A pool is embedded in shards of :data:`SHARD_ROWS` texts, each written (atomically, under
``embeddings/<key>.shards/rows-<start>-<end>.npy``) as it finishes, so an embedding that was
killed resumes at the next shard. When every shard is there they are copied, one at a time,
into the entry ``embeddings/<key>.npy`` (the same file as caches written before shards), which
is read back memory-mapped: neither the embedding nor the reading needs the whole matrix in
memory.

With ``executor="ray"`` the missing shards are embedded as Ray tasks, one CPU (or one GPU where
the cluster has GPUs) each, on a local Ray or the cluster at ``address``
(:func:`alsel.ray_cluster.ray_session`); the driver writes each shard as its task returns, into
the same files, so a Ray embedding and a local one resume each other. A task embeds its shard
with the code and batches of a local embedding, so with the same torch thread count (one per
task) the bytes are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data import fingerprint
from .io import write_file, write_json, write_npy
from .models import model_identity
from .progress import SILENT, Progress
from .ray_cluster import EXECUTOR_CHOICES, ray_session, task_resources

__all__ = ["default_cache_dir", "Embedder", "EmbeddingLookup", "SHARD_ROWS"]

#: Texts per shard. Pools up to this size are one shard, embedded in the same length-sorted
#: batches as before shards existed, so their embeddings (and selections) are bit-identical to
#: those of caches written then; a shard of 384-d float32 is 150 MiB.
SHARD_ROWS = 100_000


def default_cache_dir() -> Path:
    """``$ALSEL_CACHE``, else ``$XDG_CACHE_HOME/alsel``, else ``~/.cache/alsel``."""
    if os.environ.get("ALSEL_CACHE"):
        return Path(os.environ["ALSEL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alsel"


class Embedder:
    """Embeds texts with a sentence-transformers model and caches the result.

    Parameters
    ----------
    model : str
        ``minilm`` (bundled all-MiniLM-L6-v2), a local directory or a hub id.
    cache_dir : path, optional
        Where ``embeddings/<key>.npy`` lives; default :func:`default_cache_dir`.
    batch_size : int
    precision : {"fp32", "bf16", "auto"}, default "fp32"
        Embeddings choose subsets, so they are computed in fp32 by default whatever the training
        precision: bf16 autocast (``auto`` uses it where the CPU or GPU supports it) is about
        1.75x faster but moved embeddings by up to 2e-3 and changed 23 of 200 KMeans picks,
        where fp32 with the CPU kernels forced from AVX2 down to SSE moved them by 2e-7 and
        changed 4 (docs/reproducibility.md).
    device : str
    executor : {"local", "ray"}, default "local"
        Where missing shards are embedded: in this process, or as Ray tasks.
    address : str, optional
        With ``executor="ray"``: the cluster's address; by default a local Ray is started.

    Attributes
    ----------
    used : dict
        ``fingerprint -> (seconds, cached)`` for every set of texts this embedder returned, in
        the order first asked: what computing the embeddings took (here, or when the cache entry
        was written; None for an entry that did not record it) and whether they came from the
        cache. Costs count an embedding once per run, whoever paid for it.
    """

    def __init__(
        self,
        model: str = "minilm",
        cache_dir=None,
        batch_size: int = 128,
        precision: str = "fp32",
        device: str = "auto",
        executor: str = "local",
        address: str | None = None,
    ):
        if executor not in EXECUTOR_CHOICES:
            raise ValueError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTOR_CHOICES)}")
        self.model = model
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.precision = precision
        self.device = device
        self.executor = executor
        self.address = address
        self.used: dict[str, tuple[float | None, bool]] = {}
        self._loaded: Any = None  # a SentenceTransformer, loaded on first use

    def cache_path(self, fingerprint: str) -> Path:
        key = hashlib.sha256(f"{model_identity(self.model)}\0{self.precision}\0{fingerprint}".encode()).hexdigest()[:24]
        return Path(self.cache_dir or default_cache_dir()) / "embeddings" / f"{key}.npy"

    def embed(self, texts, fingerprint: str, *, progress: Progress = SILENT) -> np.ndarray:
        """Embeddings of ``texts``, ndarray of shape (n, d), float32, L2-normalised, read-only
        and memory-mapped from the cache."""
        path = self.cache_path(fingerprint)
        cached = _load_cached(path, len(texts), progress)
        if cached is not None:
            self.used.setdefault(fingerprint, (_recorded_seconds(path), True))
            return cached
        seconds, d = self._embed_shards(list(texts), _shards_dir(path), progress)
        _merge_shards(_shards_dir(path), path, len(texts), d)
        write_json(
            path.with_suffix(".json"), {"model": self.model, "fingerprint": fingerprint, "shape": [len(texts), d], "seconds": seconds}
        )
        shutil.rmtree(_shards_dir(path), ignore_errors=True)
        self.used[fingerprint] = (seconds, False)
        loaded = _load_cached(path, len(texts), progress)
        assert loaded is not None, f"{path} did not read back"
        return loaded

    def _embed_shards(self, texts: list[str], folder: Path, progress: Progress) -> tuple[float, int]:
        """Embed every shard of ``texts`` that ``folder`` does not hold whole yet; returns the
        seconds all shards took (those of earlier, interrupted calls included, as their side
        files recorded them) and the embedding size."""
        d, reused, missing = 0, 0, []
        for start, end in _shard_bounds(len(texts)):
            done = _load_cached(_shard_path(folder, start, end), end - start, progress)
            if done is None:
                missing.append((start, end))
            else:
                reused += end - start
                d = done.shape[1]
        if reused:
            progress.log(f"embedding {len(texts):,} texts: {reused:,} came from the finished shards of an earlier, interrupted embedding")
        computed = self._shards_on_ray(texts, missing, progress) if self.executor == "ray" else self._shards_here(texts, missing, progress)
        for (start, end), vectors, seconds in computed:
            shard = _shard_path(folder, start, end)
            write_npy(shard, vectors)
            write_json(shard.with_suffix(".json"), {"seconds": seconds})
            d = vectors.shape[1]
        seconds = sum(_recorded_seconds(_shard_path(folder, start, end)) or 0.0 for start, end in _shard_bounds(len(texts)))
        return round(seconds, 3), d

    def _shards_here(self, texts: list[str], bounds: list[tuple[int, int]], progress: Progress) -> Iterator[tuple]:
        """``((start, end), vectors, seconds)`` per shard, embedded in this process."""
        for start, end in bounds:
            t0 = time.perf_counter()
            vectors = self._compute(texts[start:end], progress)
            yield (start, end), vectors, round(time.perf_counter() - t0, 3)

    def _shards_on_ray(self, texts: list[str], bounds: list[tuple[int, int]], progress: Progress) -> Iterator[tuple]:
        """``((start, end), vectors, seconds)`` per shard, embedded as Ray tasks, in the order
        they finish."""
        if not bounds:
            return
        with ray_session(self.address, progress) as ray:
            task = ray.remote(max_retries=1, **task_resources(ray))(_embed_on_worker)
            settings = {
                "model": _portable_model(self.model),
                "batch_size": self.batch_size,
                "precision": self.precision,
                "device": self.device,
            }
            refs = {task.remote(settings, texts[start:end]): (start, end) for start, end in bounds}
            pending = list(refs)
            rows = sum(end - start for start, end in bounds)
            progress.log(f"embedding {rows:,} texts in {len(bounds)} shards on Ray ({ray.cluster_resources().get('CPU', 0):.0f} CPUs)")
            with progress.task(f"embedding {rows:,} on Ray", total=rows) as advance:
                while pending:
                    ready, pending = ray.wait(pending, num_returns=1)
                    for ref in ready:
                        vectors, seconds = ray.get(ref)
                        start, end = refs[ref]
                        yield (start, end), vectors, seconds
                        advance(end - start)

    @property
    def spent_seconds(self) -> float:
        """Time this embedder spent computing embeddings (the entries of ``used`` it computed)."""
        return sum(seconds or 0.0 for seconds, cached in self.used.values() if not cached)

    def _compute(self, texts: list[str], progress: Progress) -> np.ndarray:
        """Embeddings of ``texts`` in length-sorted batches, put back in input order."""
        import torch

        from .models import uses_bf16

        model = self._sentence_transformer()
        bf16 = uses_bf16(self.precision, self.device)
        # Length-sorted batches keep padding small; results are put back in input order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = None
        with progress.task(f"embedding {len(texts):,}", total=len(texts)) as advance, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                rows = order[start : start + self.batch_size]
                with torch.autocast(device_type=model.device.type, dtype=torch.bfloat16, enabled=bf16):
                    vectors = model.encode(
                        [texts[i] for i in rows],
                        batch_size=len(rows),
                        convert_to_numpy=True,
                        normalize_embeddings=True,
                        show_progress_bar=False,
                    )
                if out is None:
                    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors.astype(np.float32)
                advance(len(rows))
        assert out is not None, "no texts to embed"
        return out

    def _sentence_transformer(self):
        """The model, loaded on first use and kept for the next shard."""
        if self._loaded is None:
            from sentence_transformers import SentenceTransformer

            from .models import quiet_transformers, resolve_embedder, torch_device

            quiet_transformers()
            self._loaded = SentenceTransformer(resolve_embedder(self.model), device=str(torch_device(self.device)))
        return self._loaded


#: A Ray worker's embedders by their settings: a worker process that embeds several shards loads
#: the model once.
_WORKER_EMBEDDERS: dict[tuple, Embedder] = {}


def _embed_on_worker(settings: dict, texts: list[str]) -> tuple[np.ndarray, float]:
    """The body of one Ray task: a shard's embeddings (as a local embedding computes them, on
    one torch thread: the task's one CPU) and the seconds they took."""
    import torch

    torch.set_num_threads(1)
    key = tuple(sorted(settings.items()))
    embedder = _WORKER_EMBEDDERS.setdefault(key, Embedder(**settings))
    t0 = time.perf_counter()
    vectors = embedder._compute(texts, SILENT)
    return vectors, round(time.perf_counter() - t0, 3)


def _portable_model(model: str) -> str:
    """``model`` as a worker elsewhere can find it: a local directory made absolute."""
    return str(Path(model).resolve()) if Path(model).is_dir() else model


def _shards_dir(path: Path) -> Path:
    return path.with_suffix(".shards")


def _shard_bounds(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + SHARD_ROWS, n)) for start in range(0, n, SHARD_ROWS)]


def _shard_path(folder: Path, start: int, end: int) -> Path:
    """A shard's file, named by its rows: shards of another size never pass for it."""
    return folder / f"rows-{start:09d}-{end:09d}.npy"


def _merge_shards(folder: Path, path: Path, n: int, d: int) -> None:
    """The shards in ``folder`` as one ``.npy`` at ``path``: a single shard renamed, several
    copied a shard at a time."""
    bounds = _shard_bounds(n)
    if len(bounds) == 1:
        os.replace(_shard_path(folder, 0, n), path)
        return

    def fill(tmp: Path) -> None:
        merged = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, d))
        for start, end in bounds:
            merged[start:end] = np.load(_shard_path(folder, start, end), mmap_mode="r")
        merged.flush()
        del merged

    write_file(path, fill)


def _load_cached(path: Path, n_texts: int, progress: Progress) -> np.ndarray | None:
    """The cached embeddings at ``path``; None if there are none or they do not read back whole
    (a cut file, or not one float32 row per text): a cache never stops a run."""
    if not path.exists():
        return None
    try:
        cached = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):  # what numpy raises for a cut file
        cached = None
    if cached is not None and cached.dtype == np.float32 and cached.ndim == 2 and cached.shape[0] == n_texts:
        return cached
    progress.log(f"cache entry {path} is damaged; recomputing")
    return None


def _recorded_seconds(path: Path) -> float | None:
    """The computing time a cache entry's side file records; None if it records none."""
    try:
        seconds = json.loads(path.with_suffix(".json").read_text()).get("seconds")
    except (OSError, ValueError, AttributeError):
        return None
    return float(seconds) if isinstance(seconds, (int, float)) else None


class EmbeddingLookup:
    """``lookup(texts) -> ndarray of shape (n, d)``: embeddings of any texts without embedding
    the pool again.

    Texts of the pool come from the pool's embedding matrix (``pool_embeddings()``, computed
    once per run and cached on disk); the others (an evaluation set) are embedded together by
    ``embedder``, which caches them under their fingerprint, so every round after the first
    reads them from disk.

    Parameters
    ----------
    embedder : Embedder
    pool_texts : sequence of str
    pool_embeddings : callable
        ``() -> ndarray of shape (n_pool, d)``, called on the first lookup only.
    progress : Progress
    """

    def __init__(
        self, embedder: Embedder, pool_texts: Sequence[str], pool_embeddings: Callable[[], np.ndarray], progress: Progress = SILENT
    ):
        self.embedder = embedder
        self.pool_texts = pool_texts
        self.pool_embeddings = pool_embeddings
        self.progress = progress
        self._pool_row: dict[str, int] | None = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if self._pool_row is None:  # a duplicated text has the same embedding at every row
            self._pool_row = {text: row for row, text in enumerate(self.pool_texts)}
        rows = np.fromiter((self._pool_row.get(t, -1) for t in texts), dtype=np.int64, count=len(texts))
        pool = self.pool_embeddings()
        out = np.empty((len(texts), pool.shape[1]), dtype=np.float32)
        known = rows >= 0
        out[known] = pool[rows[known]]
        if not known.all():
            others = list(dict.fromkeys(t for t, k in zip(texts, known) if not k))
            vectors = self.embedder.embed(others, fingerprint(others), progress=self.progress)
            position = {text: i for i, text in enumerate(others)}
            out[~known] = vectors[[position[t] for t, k in zip(texts, known) if not k]]
        return out
