"""KMeans diversity, the study's recipe: embeddings -> Gaussian random projection -> FAISS KMeans
with one cluster per example to pick -> the example nearest each centroid."""

from __future__ import annotations

import numpy as np

from ..params import Integer, Range
from .base import Selection, Strategy, register

__all__ = ["KMeansDiversity", "gaussian_projection", "kmeans_nearest"]


def gaussian_projection(x: np.ndarray, dim: int | None, rng: np.random.Generator) -> np.ndarray:
    """Project rows of ``x`` to ``dim`` dimensions with a N(0, 1/dim) matrix (as scikit-learn's
    ``GaussianRandomProjection``); ``None`` or ``dim >= d`` keeps ``x``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dim is None or dim >= x.shape[1]:
        return x
    matrix = rng.standard_normal((x.shape[1], dim)).astype(np.float32) / np.float32(np.sqrt(dim))
    return np.ascontiguousarray(x @ matrix)


def kmeans_nearest(x: np.ndarray, k: int, *, n_iter: int = 20, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Cluster ``x`` into ``k`` clusters with FAISS and return one distinct row per centroid.

    Each centroid takes its nearest row not already taken; centroids whose nearest row is closest
    choose first. Returns the rows (in that order) and the KMeans objective (sum of squared
    distances of all rows to their nearest centroid).
    """
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    if k >= n:
        return np.arange(n, dtype=np.int64), 0.0
    kmeans = faiss.Kmeans(
        d, k, niter=n_iter, seed=int(rng.integers(2**31 - 1)), verbose=False,
        min_points_per_centroid=1, max_points_per_centroid=max(256, n // k + 1),
    )
    kmeans.train(x)
    objective = float(kmeans.index.search(x, 1)[0].sum())
    depth = min(n, 32)
    dist, near = _nearest_rows(x, kmeans.centroids, depth)
    taken = np.zeros(n, dtype=bool)
    picks = np.full(k, -1, dtype=np.int64)
    for c in np.argsort(dist[:, 0], kind="stable"):
        free = near[c][~taken[near[c]]]
        if len(free):
            picks[c] = free[0]
            taken[free[0]] = True
    # Rare: a centroid whose `depth` nearest rows were all taken gets the nearest free row.
    for c in np.flatnonzero(picks < 0):
        free = np.flatnonzero(~taken)
        best = free[np.argmin(((x[free] - kmeans.centroids[c]) ** 2).sum(axis=1))]
        picks[c] = best
        taken[best] = True
    order = np.argsort(dist[:, 0], kind="stable")
    return picks[order], objective


def _nearest_rows(x: np.ndarray, centroids: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``depth`` rows of ``x`` nearest each centroid (squared L2), nearest first.

    Same answer as ``faiss.IndexFlatL2`` search of the centroids (up to ties), about twice as
    fast here: one BLAS product per block of rows, ``|x|^2 - 2 c.x`` from augmented operands,
    fed to FAISS's top-k heaps.

    Returns
    -------
    dist : ndarray of shape (k, depth), float32
    rows : ndarray of shape (k, depth), int64
    """
    import faiss

    sq = np.einsum("ij,ij->i", x, x)
    lhs = np.ascontiguousarray(np.hstack([-2.0 * centroids, np.ones((len(centroids), 1), dtype=np.float32)]))
    heap = faiss.ResultHeap(len(centroids), depth)
    for j0 in range(0, len(x), 4096):
        rhs = np.hstack([x[j0 : j0 + 4096], sq[j0 : j0 + 4096, None]])
        block = np.ascontiguousarray(lhs @ rhs.T)
        heap.heaps.addn(block.shape[1], faiss.swig_ptr(block), j0, 0, block.shape[0])
    heap.finalize()
    dist = heap.D + np.einsum("ij,ij->i", centroids, centroids)[:, None]
    return np.maximum(dist, 0.0), heap.I


@register
class KMeansDiversity(Strategy):
    """One example per KMeans cluster of the candidates' projected embeddings.

    Parameters
    ----------
    projection_dim : int or None, default 32
        Size of the Gaussian random projection (the study used 32); None clusters the raw
        embeddings.
    n_iter : int, default 20
        KMeans iterations.
    """

    name = "kmeans"
    needs = frozenset({"embeddings"})
    _parameter_constraints = {"projection_dim": (Integer(Range(1)), None), "n_iter": Integer(Range(1))}

    def __init__(self, projection_dim: int | None = 32, n_iter: int = 20):
        self.projection_dim = projection_dim
        self.n_iter = n_iter

    def _select(self, state, k):
        rng = state.random_state
        x = gaussian_projection(state.embeddings[state.candidates], self.projection_dim, rng)
        rows, _ = kmeans_nearest(x, k, n_iter=self.n_iter, rng=rng)
        return Selection(indices=state.candidates[rows])
