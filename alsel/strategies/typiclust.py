"""TypiClust, after Hacohen, Dekel & Weinshall (2022), "Active Learning on a Budget: Opposite
Strategies Suit High and Low Budgets".

With few labels, typical examples teach more than uncertain ones. The candidates and the labelled
examples are clustered by KMeans (as ``kmeans``: an optional Gaussian random projection, then
FAISS, here started from greedy k-means++ seeds as the authors' scikit-learn KMeans is) into
``len(labeled) + k`` clusters, at most ``max_clusters`` (the authors' 500). Then, ``k`` times, the
cluster with the fewest labelled or selected members gives its most typical candidate, the largest
cluster first among equals, where

    typicality(x) = 1 / mean Euclidean distance from x to its K nearest neighbours in its cluster

with ``K = min(neighbours, cluster size - 1)`` (the paper's 20). The neighbours come from
:func:`~alsel.strategies.kmeans.nearest_rows` (blocks of distances fed to FAISS's top-k heaps), so
no ``n x n`` matrix exists. While uncovered clusters remain this is the paper's rule, the largest
uncovered cluster first; once every cluster is covered (a budget above ``max_clusters``) the
clusters take turns. Clusters with fewer than ``min_cluster_size`` members, mostly outliers, serve
only when no larger one has candidates left.

Where the authors' code differs: it averages squared distances (this follows the paper's
Euclidean ones, plus the code's 1e-5 against duplicates), uses ``K = min(20, size // 2)``,
recomputes typicality among a cluster's unlabelled members before each pick (here it is computed
once over all members), skips small clusters outright, and cycles through the clusters in one
order fixed before the first pick (here the counts are updated after each pick).
"""

from __future__ import annotations

import heapq

import numpy as np

from ..params import Integer, Range
from .approximate import APPROXIMATE_OPTION, use_approximate
from .base import Selection, Strategy, register
from .kmeans import gaussian_projection, kmeans_labels, nearest_rows, two_level_labels
from .neighbours import approximate_knn

__all__ = ["TypiClust", "typicality", "typiclust_order"]

#: Added to the mean distance, as in the authors' code, so exact duplicates stay finite.
_EPS = 1e-5
#: Query rows per kNN block: a block of distances is at most 4096 x 4096 float32 (64 MiB).
_QUERIES = 4096


def typicality(x: np.ndarray, clusters: np.ndarray, neighbours: int, *, approximate: bool = False) -> np.ndarray:
    """``1 / (mean Euclidean distance to the K nearest other rows of the same cluster + 1e-5)``.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    clusters : ndarray of shape (n,)
        Cluster id of each row.
    neighbours : int
        K, capped at the cluster's size - 1; a cluster of one row gives it typicality 0.
    approximate : bool, default False
        Find the neighbours in clusters of more than 4096 rows (one block of exact distances)
        with :func:`~alsel.strategies.neighbours.approximate_knn`.

    Returns
    -------
    ndarray of shape (n,), float64

    >>> x = np.array([[0.0], [1.0], [2.0], [10.0]], dtype=np.float32)
    >>> typicality(x, np.zeros(4, dtype=np.int64), 2).round(3).tolist()
    [0.667, 1.0, 0.667, 0.118]
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    clusters = np.asarray(clusters, dtype=np.int64)
    out = np.zeros(len(x), dtype=np.float64)
    order = np.argsort(clusters, kind="stable")
    for members in np.split(order, np.flatnonzero(np.diff(clusters[order])) + 1):
        depth = min(int(neighbours), len(members) - 1)
        if depth < 1:
            continue
        xs = np.ascontiguousarray(x[members])
        if approximate and len(members) > _QUERIES:
            # Column 0 is the row itself (or an exact duplicate: the same distance, 0).
            dist = approximate_knn(xs, depth + 1, metric="l2")[1]
            out[members] = 1.0 / (np.sqrt(dist[:, 1:].astype(np.float64)).mean(axis=1) + _EPS)
            continue
        for q0 in range(0, len(members), _QUERIES):
            dist, _ = nearest_rows(xs, xs[q0 : q0 + _QUERIES], depth + 1)
            # Column 0 is the row itself (or an exact duplicate: the same distance, 0).
            mean = np.sqrt(dist[:, 1:].astype(np.float64)).mean(axis=1)
            out[members[q0 : q0 + _QUERIES]] = 1.0 / (mean + _EPS)
    return out


def typiclust_order(clusters: np.ndarray, scores: np.ndarray, n_candidates: int, k: int, *, min_cluster_size: int = 6) -> np.ndarray:
    """``k`` candidate rows in TypiClust's pick order.

    Each step takes the cluster that (1) has at least ``min_cluster_size`` members, (2) has the
    fewest labelled or picked members, (3) is the largest, (4) offers the lowest row, in that
    order of precedence, among the clusters with candidates left, and picks its candidate of
    highest score (ties: the lowest row).

    Parameters
    ----------
    clusters : ndarray of shape (n,)
        Cluster id of each row; rows ``0..n_candidates-1`` are candidates, the rest labelled.
    scores : ndarray of shape (n,)
        Typicality of each row (only candidates' are read).
    n_candidates : int
    k : int
        At most ``n_candidates``.
    min_cluster_size : int, default 6
        Smaller clusters serve only when no cluster of this size has candidates left.

    Returns
    -------
    ndarray of shape (k,), int64

    >>> clusters = np.array([0, 0, 0, 1, 1, 2, 0])  # row 6 is labelled
    >>> typiclust_order(clusters, np.array([1, 3, 2, 5, 5, 9, 0.0]), 6, 4, min_cluster_size=2).tolist()
    [3, 1, 4, 2]
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    n_clusters = int(clusters.max()) + 1
    size = np.bincount(clusters, minlength=n_clusters)
    covered = np.bincount(clusters[n_candidates:], minlength=n_clusters)
    rows = np.arange(n_candidates)
    # Candidates grouped by cluster, most typical first, then lowest row.
    order = np.lexsort((rows, -np.asarray(scores[:n_candidates], dtype=np.float64), clusters[:n_candidates]))
    grouped = clusters[:n_candidates][order]
    starts = np.searchsorted(grouped, np.arange(n_clusters))
    ends = np.searchsorted(grouped, np.arange(n_clusters), side="right")
    heap = [
        (bool(size[c] < min_cluster_size), int(covered[c]), -int(size[c]), int(order[starts[c]]), c)
        for c in np.flatnonzero(ends > starts).tolist()
    ]
    heapq.heapify(heap)
    picks = np.empty(k, dtype=np.int64)
    for step in range(k):
        small, n_covered, negative_size, row, c = heapq.heappop(heap)
        picks[step] = row
        starts[c] += 1
        if starts[c] < ends[c]:
            heapq.heappush(heap, (small, n_covered + 1, negative_size, int(order[starts[c]]), c))
    return picks


@register
class TypiClust(Strategy):
    """The most typical candidate (densest in its KMeans cluster) of each of the largest clusters
    with no labelled example, for low budgets (Hacohen et al. 2022).

    ``Selection.scores`` holds each pick's typicality: 1 / the mean Euclidean distance to its
    ``neighbours`` nearest neighbours within its cluster.

    Parameters
    ----------
    projection_dim : int or None, default 32
        Size of the Gaussian random projection, as ``kmeans``; None uses the raw embeddings.
    neighbours : int, default 20
        K of the typicality (capped at the cluster's size - 1).
    max_clusters : int, default 500
        Most KMeans clusters (the authors' cap): ``len(labeled) + k`` otherwise.
    min_cluster_size : int, default 6
        Clusters with fewer members serve last (the authors' code skips clusters of 5 or fewer).
    n_iter : int, default 20
        KMeans iterations.
    approximate : "auto" or bool, default "auto"
        True: a two-level KMeans (:func:`~alsel.strategies.kmeans.two_level_labels`) and
        approximate neighbours in clusters of more than 4096 rows; False: the exact paths;
        ``auto``: approximate from :data:`~alsel.strategies.approximate.APPROXIMATE_FROM` rows
        (candidates and labelled) on.
    """

    name = "typiclust"
    needs = frozenset({"embeddings"})
    _parameter_constraints = {
        "projection_dim": (Integer(Range(1)), None),
        "neighbours": Integer(Range(1)),
        "max_clusters": Integer(Range(1)),
        "min_cluster_size": Integer(Range(1)),
        "n_iter": Integer(Range(1)),
        "approximate": APPROXIMATE_OPTION,
    }

    def __init__(
        self,
        projection_dim: int | None = 32,
        neighbours: int = 20,
        max_clusters: int = 500,
        min_cluster_size: int = 6,
        n_iter: int = 20,
        approximate: str | bool = "auto",
    ):
        self.projection_dim = projection_dim
        self.neighbours = neighbours
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size
        self.n_iter = n_iter
        self.approximate = approximate

    def _select(self, state, k):
        rng = state.random_state
        candidates = np.asarray(state.candidates, dtype=np.int64)
        rows = np.concatenate([candidates, np.asarray(state.labeled, dtype=np.int64)])
        x = gaussian_projection(state.embeddings[rows], self.projection_dim, rng)
        n_clusters = min(len(rows) - len(candidates) + k, int(self.max_clusters))
        approximate = use_approximate(self.approximate, len(rows))
        cluster = two_level_labels if approximate else kmeans_labels
        clusters = cluster(x, n_clusters, n_iter=int(self.n_iter), rng=rng, seeding="kmeans++")
        scores = typicality(x, clusters, int(self.neighbours), approximate=approximate)
        picks = typiclust_order(clusters, scores, len(candidates), k, min_cluster_size=int(self.min_cluster_size))
        return Selection(indices=candidates[picks], scores=scores[picks])
