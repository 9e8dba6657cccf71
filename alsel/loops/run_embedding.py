"""A run's embedder and its pool's embedding matrix, each made once, on first use, and what the
run's embeddings cost since its last round record."""

from __future__ import annotations

import numpy as np

from ..data import TextDataset
from ..embed import Embedder
from ..models import model_identity
from ..progress import Progress
from .config import ResolvedConfig

__all__ = ["RunEmbedding"]


class RunEmbedding:
    def __init__(self, config: ResolvedConfig, progress: Progress):
        self.config = config
        self.progress = progress
        self._embedder: Embedder | None = None
        self._matrix: np.ndarray | None = None
        self._counted = 0  # entries of the embedder's ``used`` already in a round's record

    def embedder(self) -> Embedder:
        """One embedder per run, so it knows every embedding the run used
        (:meth:`cost_since_last_record`)."""
        if self._embedder is None:
            c = self.config
            self._embedder = Embedder(
                model=c.embedder,
                cache_dir=c.cache_dir,
                precision=c.embed_precision,
                device=c.device,
                executor=c.executor,
                address=c.address,
            )
        return self._embedder

    def matrix(self, pool: TextDataset) -> np.ndarray:
        """The embeddings of the run's ``pool`` (always the same pool)."""
        if self._matrix is None:
            self._matrix = self.embedder().embed(pool.texts, pool.fingerprint(), progress=self.progress)
        return self._matrix

    def key(self) -> str:
        """The embeddings' identity in a round's cache key (fp32 ones keyed as before the option)."""
        identity = model_identity(self.config.embedder)
        return identity if self.config.embed_precision == "fp32" else f"{identity}@{self.config.embed_precision}"

    def spent(self) -> float:
        """Seconds spent computing embeddings so far (cache reads excluded)."""
        return self._embedder.spent_seconds if self._embedder is not None else 0.0

    def cost_since_last_record(self) -> dict:
        """``embed_seconds`` and ``embed_cached_seconds`` of the embeddings first used since the
        last call (none: no keys)."""
        used = list(self._embedder.used.values()) if self._embedder is not None else []
        new = used[self._counted :]
        self._counted = len(used)
        if not new:
            return {}
        return {
            "embed_seconds": round(sum(s or 0.0 for s, _ in new), 3),
            "embed_cached_seconds": round(sum(s or 0.0 for s, cached in new if cached), 3),
        }
