"""Cluster-Margin: uncertainty then diversity, after Citovsky et al. (2021), "Batch Active Learning
at Scale".

The ``pool_factor * k`` lowest-margin candidates are clustered by their embeddings and the batch
is filled round-robin over the clusters, smallest cluster first, so one dense region of
near-boundary examples cannot take the whole batch. Where the paper clusters the whole pool once
(average-linkage HAC with a distance threshold) and samples randomly inside a cluster, this
version clusters only the low-margin set each round into ``n_clusters`` clusters (default ``k``)
and takes each cluster's lowest-margin unpicked member. Small sets use average-linkage
agglomerative clustering (scikit-learn, quadratic memory); larger ones FAISS KMeans (linear
memory).
"""

from __future__ import annotations

import numpy as np

from ..params import Integer, Range, Real
from ..scores import margin
from .base import Selection, Strategy, register
from .kmeans import kmeans_labels

__all__ = ["ClusterMargin", "cluster_labels", "round_robin"]


def cluster_labels(x: np.ndarray, n_clusters: int, *, max_agglomerative: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster id of each row of ``x``: average-linkage HAC up to ``max_agglomerative`` rows, FAISS
    KMeans (seeded from ``rng``) above.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    n_clusters : int
        At most ``n``.
    max_agglomerative : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n,)
        Cluster ids in ``range(n_clusters)``.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if n_clusters >= n:
        return np.arange(n, dtype=np.int64)
    if n_clusters == 1:
        return np.zeros(n, dtype=np.int64)
    if n <= max_agglomerative:
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(n_clusters=n_clusters, linkage="average").fit_predict(x).astype(np.int64)
    return kmeans_labels(x, n_clusters, n_iter=20, rng=rng)


def round_robin(labels: np.ndarray, k: int) -> np.ndarray:
    """Rows picked round-robin over clusters, smallest cluster first, each cluster's rows in order.

    Rows are assumed sorted by preference (best first); clusters of equal size go in the order of
    their best row.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        Cluster id of each row.
    k : int

    Returns
    -------
    ndarray of shape (min(k, n),)
        Rows in pick order.

    >>> round_robin(np.array([0, 0, 0, 1, 2, 2]), 4).tolist()
    [3, 4, 0, 5]
    """
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))
    order = np.lexsort((rows, labels))  # rows grouped by cluster, preference order inside
    grouped = labels[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    sizes = np.diff(np.r_[starts, len(grouped)])
    rank = rows - np.repeat(starts, sizes)  # position of each row (in `order`) inside its cluster
    # Cluster order: size ascending, then the cluster's best (first) row.
    cluster_rank = np.empty(len(starts), dtype=np.int64)
    cluster_rank[np.lexsort((order[starts], sizes))] = np.arange(len(starts))
    pick = np.lexsort((np.repeat(cluster_rank, sizes), rank))[:k]
    return order[pick]


@register
class ClusterMargin(Strategy):
    """Round-robin over clusters of the lowest-margin candidates.

    Parameters
    ----------
    pool_factor : float, default 10
        Cluster the ``pool_factor * k`` lowest-margin candidates (at least ``k``).
    n_clusters : int or None, default None
        Number of clusters; None uses ``k``.
    max_agglomerative : int, default 2000
        Largest set clustered with average-linkage HAC (O(n^2) memory); larger sets use FAISS
        KMeans.
    """

    name = "cluster_margin"
    needs = frozenset({"probs", "embeddings"})
    _parameter_constraints = {
        "pool_factor": Real(Range(1)),
        "n_clusters": (Integer(Range(1)), None),
        "max_agglomerative": Integer(Range(0)),
    }

    def __init__(self, pool_factor: float = 10, n_clusters: int | None = None, max_agglomerative: int = 2000):
        self.pool_factor = pool_factor
        self.n_clusters = n_clusters
        self.max_agglomerative = max_agglomerative

    def _select(self, state, k):
        margins = margin(state.probs)
        m = min(len(margins), max(k, int(np.ceil(self.pool_factor * k))))
        low = np.argsort(margins, kind="stable")[:m]  # candidate rows, lowest margin first
        x = state.embeddings[state.candidates[low]]
        n_clusters = min(m, k if self.n_clusters is None else int(self.n_clusters))
        labels = cluster_labels(x, n_clusters, max_agglomerative=self.max_agglomerative, rng=state.random_state)
        rows = low[round_robin(labels, k)]
        return Selection(indices=state.candidates[rows], scores=margins[rows])
