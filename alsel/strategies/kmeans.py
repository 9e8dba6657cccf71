"""KMeans diversity, the study's recipe: embeddings -> Gaussian random projection -> FAISS KMeans
with one cluster per example to pick -> the example nearest each centroid.

Its pieces serve the other clustering strategies too (``cluster_margin``, ``badge``,
``typiclust``): the projection, the FAISS KMeans set-up, k-means++ seeding and the blocked
nearest-row search."""

from __future__ import annotations

import math

import numpy as np

from ..data import quotas
from ..params import Integer, Range
from .approximate import APPROXIMATE_OPTION, use_approximate
from .base import Selection, Strategy, register

__all__ = [
    "KMeansDiversity",
    "faiss_kmeans",
    "gaussian_projection",
    "kmeans_labels",
    "kmeans_nearest",
    "kmeans_pp_rows",
    "nearest_rows",
    "coarse_cells",
    "two_level_labels",
    "two_level_nearest",
]


def gaussian_projection(x: np.ndarray, dim: int | None, rng: np.random.Generator) -> np.ndarray:
    """Project rows of ``x`` to ``dim`` dimensions with a N(0, 1/dim) matrix (as scikit-learn's
    ``GaussianRandomProjection``); ``None`` or ``dim >= d`` keeps ``x``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dim is None or dim >= x.shape[1]:
        return x
    matrix = rng.standard_normal((x.shape[1], dim)).astype(np.float32) / np.float32(np.sqrt(dim))
    return np.ascontiguousarray(x @ matrix)


def kmeans_pp_rows(n: int, k: int, first: int, squared_distances, rng: np.random.Generator, *, trials: int = 1) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): ``k`` distinct rows of ``n``.

    ``first`` comes first; each next row is drawn with probability proportional to its squared
    distance to the nearest row drawn so far, or uniformly from the rows not yet drawn once every
    distance is zero. With ``trials > 1`` (greedy k-means++, as scikit-learn's) that many rows are
    drawn and the one that leaves the smallest sum of squared distances is kept (ties: the first
    drawn). ``squared_distances(row)`` returns the squared distances (float64, shape ``(n,)``) of
    every row to ``row``, so the metric may be implicit (BADGE's gradient embeddings).
    """
    picked = np.zeros(n, dtype=bool)
    seeds = np.empty(k, dtype=np.int64)
    nearest = np.full(n, np.inf)  # squared distance to the nearest seed so far
    seed = int(first)
    for i in range(k):
        seeds[i] = seed
        picked[seed] = True
        if i == k - 1:
            break
        np.minimum(nearest, np.maximum(squared_distances(seed), 0.0), out=nearest)
        nearest[picked] = 0.0
        total = nearest.sum()
        if not (total > 0 and np.isfinite(total)):
            seed = int(rng.choice(np.flatnonzero(~picked)))
        elif trials == 1:
            seed = int(rng.choice(n, p=nearest / total))
        else:
            drawn = rng.choice(n, size=trials, p=nearest / total)
            left = [np.minimum(nearest, np.maximum(squared_distances(int(row)), 0.0)).sum() for row in drawn]
            seed = int(drawn[int(np.argmin(left))])
    return seeds


def faiss_kmeans(x: np.ndarray, k: int, *, n_iter: int = 20, rng: np.random.Generator, seeding: str = "random"):
    """A FAISS KMeans of ``k`` centroids trained on every row of ``x`` (float32, C-contiguous,
    ``k < len(x)``), seeded from ``rng``: from ``k`` random rows (FAISS's own start, one draw of
    ``rng``) or, with ``seeding="kmeans++"``, from greedy :func:`kmeans_pp_rows` (a uniform first
    row, ``2 + ln k`` trials), as scikit-learn starts, which finds well-separated clusters far more
    often."""
    import faiss

    n, d = x.shape
    if seeding not in ("random", "kmeans++"):
        raise ValueError(f"unknown seeding {seeding!r}; choose random or kmeans++")
    init = None
    if seeding == "kmeans++":
        sq = np.einsum("ij,ij->i", x, x).astype(np.float64)
        rows = kmeans_pp_rows(
            n,
            k,
            int(rng.integers(n)),
            lambda row: sq + sq[row] - 2.0 * (x @ x[row]).astype(np.float64),
            rng,
            trials=2 + int(np.log(k)),
        )
        init = np.ascontiguousarray(x[rows])
    kmeans = faiss.Kmeans(
        d,
        k,
        niter=n_iter,
        seed=int(rng.integers(2**31 - 1)),
        verbose=False,
        min_points_per_centroid=1,
        max_points_per_centroid=max(256, n // k + 1),
    )
    kmeans.train(x, init_centroids=init)
    return kmeans


def kmeans_labels(x: np.ndarray, k: int, *, n_iter: int = 20, rng: np.random.Generator, seeding: str = "random") -> np.ndarray:
    """The cluster id (``0..k-1``) of each row of ``x`` under :func:`faiss_kmeans`: its nearest
    centroid. With ``k >= len(x)`` every row is its own cluster."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if k >= len(x):
        return np.arange(len(x), dtype=np.int64)
    return faiss_kmeans(x, k, n_iter=n_iter, rng=rng, seeding=seeding).index.search(x, 1)[1][:, 0].astype(np.int64)


def kmeans_nearest(x: np.ndarray, k: int, *, n_iter: int = 20, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Cluster ``x`` into ``k`` clusters with FAISS and return one distinct row per centroid.

    Each centroid takes its nearest row not already taken; centroids whose nearest row is closest
    choose first. Returns the rows (in that order) and the KMeans objective (sum of squared
    distances of all rows to their nearest centroid).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if k >= len(x):
        return np.arange(len(x), dtype=np.int64), 0.0
    kmeans = faiss_kmeans(x, k, n_iter=n_iter, rng=rng)
    objective = float(kmeans.index.search(x, 1)[0].sum())
    picks, nearest = _claim_nearest(x, kmeans.centroids, np.zeros(len(x), dtype=bool))
    return picks[np.argsort(nearest, kind="stable")], objective


def _claim_nearest(x: np.ndarray, centroids: np.ndarray, taken: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each centroid's nearest row of ``x`` not in ``taken`` (updated), centroids whose nearest
    row is closest choosing first; the rows and those squared distances, in centroid order."""
    depth = min(len(x), 32)
    dist, near = nearest_rows(x, centroids, depth)
    picks = np.full(len(centroids), -1, dtype=np.int64)
    for c in np.argsort(dist[:, 0], kind="stable"):
        free = near[c][~taken[near[c]]]
        if len(free):
            picks[c] = free[0]
            taken[free[0]] = True
    # Rare: a centroid whose `depth` nearest rows were all taken gets the nearest free row.
    for c in np.flatnonzero(picks < 0):
        free = np.flatnonzero(~taken)
        best = free[np.argmin(((x[free] - centroids[c]) ** 2).sum(axis=1))]
        picks[c] = best
        taken[best] = True
    return picks, dist[:, 0]


def coarse_cells(x: np.ndarray, k: int, *, n_iter: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The first level of a two-level KMeans (as SemDeDup and NeMo Curator cluster web-scale
    data): ``ceil(sqrt(k))`` coarse KMeans cells of the rows of ``x``, and ``k`` split over them
    in proportion to their sizes (largest remainder: each share is the floor or ceiling of
    ``size * k / n``, so none exceeds its cell's size).

    Returns
    -------
    members : list of ndarray of int64
        The rows of each non-empty cell, ascending.
    shares : ndarray of shape (len(members),), int64
        Sums to ``k`` (at most ``len(x)``).
    centres : ndarray of shape (len(members), d), float32
        Each non-empty cell's coarse centroid (the cell's own rows' mean when every row is a
        cell).
    """
    n_cells = math.ceil(math.sqrt(k))
    if n_cells >= len(x):
        labels, centres = np.arange(len(x), dtype=np.int64), x
    else:
        kmeans = faiss_kmeans(x, n_cells, n_iter=n_iter, rng=rng)
        labels, centres = kmeans.index.search(x, 1)[1][:, 0].astype(np.int64), kmeans.centroids
    order = np.argsort(labels, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    used = np.array([labels[m[0]] for m in members], dtype=np.int64)
    return members, quotas([len(m) for m in members], k), np.ascontiguousarray(centres[used])


#: Lloyd iterations over all ``k`` centroids after the per-cell KMeans of
#: :func:`two_level_nearest`, and the coarse cells searched for each row's nearest centroid in
#: them. On SST-2 (67k, 10%) the chosen rows' KMeans objective is 3.9% above the exact path's
#: without them, 0.1-0.4% above with them (seeds 0-2); at 1M they cost 32 s (docs/benchmarks.md).
REFINE_ITERATIONS = 3
REFINE_PROBES = 4


def two_level_nearest(x: np.ndarray, k: int, *, n_iter: int = 20, rng: np.random.Generator) -> np.ndarray:
    """:func:`kmeans_nearest` for large ``k``: KMeans within each of :func:`coarse_cells`, with
    the cell's share of ``k``, then :data:`REFINE_ITERATIONS` Lloyd iterations of all ``k``
    centroids, each row searching the centroids of the :data:`REFINE_PROBES` coarse cells
    nearest it (an inverted file over the centroids, so clusters move across cell borders);
    O(n sqrt(k) d) per iteration instead of O(n k d). Each centroid takes the row of its cluster
    nearest it (an empty cluster: its nearest row not taken).

    Returns the rows in the order :func:`kmeans_nearest` would give them: centroids whose chosen
    row is closest first.
    """
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    if k >= len(x):
        return np.arange(len(x), dtype=np.int64)
    members, shares, centres = coarse_cells(x, k, n_iter=n_iter, rng=rng)
    parts = []
    for cell, quota in zip(members, shares):
        if quota == len(cell):
            parts.append(x[cell])
        elif quota:
            parts.append(faiss_kmeans(np.ascontiguousarray(x[cell]), int(quota), n_iter=n_iter, rng=rng).centroids)
    centroids = np.ascontiguousarray(np.concatenate(parts))
    quantizer = faiss.IndexFlatL2(x.shape[1])
    quantizer.add(centres)
    index = faiss.IndexIVFFlat(quantizer, x.shape[1], len(centres))
    index.nprobe = min(REFINE_PROBES, len(centres))
    labels, dist = _nearest_centroid(index, x, centroids)
    for _ in range(REFINE_ITERATIONS):
        sizes = np.bincount(labels, minlength=k)
        sums = np.empty((k, x.shape[1]), dtype=np.float64)
        for dim in range(x.shape[1]):  # a weighted bincount per dimension: far faster than np.add.at
            sums[:, dim] = np.bincount(labels, weights=x[:, dim], minlength=k)
        moved = sizes > 0  # an empty cluster keeps its centroid
        centroids[moved] = (sums[moved] / sizes[moved, None]).astype(np.float32)
        labels, dist = _nearest_centroid(index, x, centroids)
    return _cluster_picks(x, centroids, labels, dist)


def _nearest_centroid(index, x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centroid found by the inverted file ``index`` (emptied and refilled
    with ``centroids``) and its squared distance; a row none of whose probed cells holds a
    centroid (tiny pools) searches them all."""
    index.reset()
    index.add(centroids)
    dist, found = (a[:, 0] for a in index.search(x, 1))
    labels = found.astype(np.int64)
    lost = np.flatnonzero(labels < 0)
    if len(lost):
        dist[lost], labels[lost] = (a[:, 0] for a in nearest_rows(centroids, np.ascontiguousarray(x[lost]), 1))
    return labels, np.maximum(dist, 0.0)


def _cluster_picks(x: np.ndarray, centroids: np.ndarray, labels: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """One distinct row per centroid: its cluster's row nearest it or, for an empty cluster, the
    nearest row not taken (:func:`_claim_nearest`); ordered by that distance."""
    k = len(centroids)
    by_cluster = np.lexsort((np.arange(len(x)), dist, labels))
    first = np.ones(len(x), dtype=bool)
    first[1:] = labels[by_cluster[1:]] != labels[by_cluster[:-1]]
    heads = by_cluster[first]
    picks = np.full(k, -1, dtype=np.int64)
    picks[labels[heads]] = heads
    gaps = np.zeros(k, dtype=np.float32)
    gaps[labels[heads]] = dist[heads]
    empty = np.flatnonzero(picks < 0)
    if len(empty):
        taken = np.zeros(len(x), dtype=bool)
        taken[heads] = True
        picks[empty], gaps[empty] = _claim_nearest(x, centroids[empty], taken)
    return picks[np.argsort(gaps, kind="stable")]


def two_level_labels(x: np.ndarray, k: int, *, n_iter: int = 20, rng: np.random.Generator, seeding: str = "random") -> np.ndarray:
    """:func:`kmeans_labels` for large ``k``: KMeans within each of :func:`coarse_cells`, with
    the cell's share of ``k`` (at least one cluster each, so a cell with no share is one
    cluster). Cluster ids are ``0..k'-1``, cell by cell."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    members, shares, _ = coarse_cells(x, k, n_iter=n_iter, rng=rng)
    labels = np.empty(len(x), dtype=np.int64)
    offset = 0
    for cell, quota in zip(members, np.maximum(shares, 1)):
        labels[cell] = offset + kmeans_labels(x[cell], int(quota), n_iter=n_iter, rng=rng, seeding=seeding)
        offset += int(quota)
    return labels


def nearest_rows(x: np.ndarray, centroids: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
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
    approximate : "auto" or bool, default "auto"
        True: the two-level KMeans (:func:`two_level_nearest`), about linear in the candidates;
        False: one KMeans of ``k`` clusters, O(n k) per iteration; ``auto``: two-level from
        :data:`~alsel.strategies.approximate.APPROXIMATE_FROM` candidates on.
    """

    name = "kmeans"
    needs = frozenset({"embeddings"})
    _parameter_constraints = {"projection_dim": (Integer(Range(1)), None), "n_iter": Integer(Range(1)), "approximate": APPROXIMATE_OPTION}

    def __init__(self, projection_dim: int | None = 32, n_iter: int = 20, approximate: str | bool = "auto"):
        self.projection_dim = projection_dim
        self.n_iter = n_iter
        self.approximate = approximate

    def _select(self, state, k):
        rng = state.random_state
        x = gaussian_projection(state.embeddings[state.candidates], self.projection_dim, rng)
        if use_approximate(self.approximate, len(x)):
            rows = two_level_nearest(x, k, n_iter=self.n_iter, rng=rng)
        else:
            rows, _ = kmeans_nearest(x, k, n_iter=self.n_iter, rng=rng)
        return Selection(indices=state.candidates[rows])
