"""Greedy k-center (core-set) selection: Sener & Savarese (2018), small-text's ``greedy_coreset``.

The greedy 2-approximation to the k-center problem adds, one at a time, the point farthest from
every center so far; the labelled set is the initial set of centers. After each pick the largest
distance of any point to its nearest center (the *covering radius*) can only shrink.

The textbook loop updates a running min-distance vector with one matrix-vector product per pick,
which reads all ``n x d`` floats ``k`` times (memory-bound; about 38 s for 67k x 384 and k = 6.7k
on two cores). :func:`greedy_kcenter` computes the same picks in blocks. Let ``T`` be the ``B``
points with the largest current min-distance and ``tau`` the largest min-distance outside ``T``.
Adding centers only lowers distances, so while the best updated distance inside ``T`` exceeds
``tau`` the global farthest point is in ``T``, and the greedy can run on ``T`` alone. When it
cannot, the block's centers are applied to all points with one chunked matrix-matrix product
(compute-bound, several times faster per center than matrix-vector products) and a new block
starts with an exact global pick. Memory stays ``O(n + chunk x block)``; no ``n x n`` matrix is
formed.

Above :data:`~alsel.strategies.approximate.APPROXIMATE_FROM` rows the greedy runs within cells
(:func:`partitioned_kcenter`): its O(n k d) work, about 25 minutes at n = 1M and k = 100k on one
core, becomes O(n sqrt(k) d). A cell's greedy does not see centers in other cells, so the covering
radius is larger than the global greedy's (docs/benchmarks.md measures it on SST-2).
"""

from __future__ import annotations

import math

import numpy as np

from ..data import quotas
from .approximate import APPROXIMATE_OPTION, use_approximate
from .base import Selection, Strategy, register
from .kmeans import gaussian_projection, kmeans_labels

__all__ = ["KCenterGreedy", "greedy_kcenter", "partitioned_kcenter"]

#: Rows per chunk of the matrix-matrix updates (bounds their temporary to chunk x centers floats).
_CHUNK_ROWS = 8192
#: Centers per chunk of the matrix-matrix updates.
_CHUNK_CENTERS = 2048


def _apply_centers(x: np.ndarray, sq: np.ndarray, mind: np.ndarray, centers: np.ndarray) -> None:
    """Lower ``mind`` (squared distances, in place) to each row's squared distance to ``centers``.

    Parameters
    ----------
    x : ndarray of shape (n, d), float32
    sq : ndarray of shape (n,), float32
        Squared norms of the rows of ``x``.
    mind : ndarray of shape (n,), float32
        Running minimum squared distance; rows already chosen hold -1 and keep it.
    centers : ndarray of shape (m,)
        Rows of ``x`` to apply.
    """
    for c0 in range(0, len(centers), _CHUNK_CENTERS):
        block = centers[c0 : c0 + _CHUNK_CENTERS]
        cx = x[block]
        csq = sq[block]
        for r0 in range(0, len(x), _CHUNK_ROWS):
            rows = slice(r0, r0 + _CHUNK_ROWS)
            d2 = x[rows] @ cx.T
            d2 *= -2.0
            d2 += sq[rows, None]
            d2 += csq[None, :]
            np.minimum(mind[rows], d2.min(axis=1), out=mind[rows])
    # Rounding can make a squared distance slightly negative; clip, but keep chosen rows at -1.
    np.maximum(mind, 0.0, out=mind, where=mind > -1.0)


def greedy_kcenter(
    x: np.ndarray,
    k: int,
    *,
    initial=None,
    rng: np.random.Generator,
    block_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center: ``k`` rows of ``x``, each the row farthest from all centers so far.

    Distances are Euclidean, computed in float32 from dot products. Ties go to the lowest row.

    Parameters
    ----------
    x : ndarray of shape (n, d)
        Points (converted to float32). Every row is to be covered; rows in ``initial`` are
        centers already and are never picked.
    k : int
        Number of rows to pick; at most ``n - len(initial)``.
    initial : array-like of int of shape (n_initial,), optional
        Rows of ``x`` that are centers from the start (the labelled set). When empty, the first
        center is drawn uniformly with ``rng``.
    rng : numpy.random.Generator
        Used only to draw the first center when ``initial`` is empty.
    block_size : int, default 2048
        Size of the candidate block ``T`` (see the module docstring); it changes speed only.

    Returns
    -------
    order : ndarray of shape (k,), int64
        Picked rows in pick order; the first ``k'`` are the greedy answer for budget ``k'``.
    radii : ndarray of shape (k,), float64
        ``radii[j]``: covering radius (largest distance of any row of ``x`` to its nearest
        center) after pick ``j``. Non-increasing.

    See Also
    --------
    KCenterGreedy : the ``kcenter`` strategy built on this function.

    Examples
    --------
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [6.0, 0.0]])
    >>> order, radii = greedy_kcenter(x, 2, initial=[0], rng=np.random.default_rng(0))
    >>> order.tolist(), radii.round(3).tolist()
    ([3, 1], [1.0, 1.0])
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    initial = np.unique(np.asarray([] if initial is None else initial, dtype=np.int64))
    if k < 0 or k > len(x) - len(initial):
        raise ValueError(f"greedy_kcenter: k={k} but only {len(x) - len(initial)} rows can be picked")
    if len(initial) and (initial[0] < 0 or initial[-1] >= len(x)):
        raise ValueError(f"greedy_kcenter: initial rows must lie in [0, {len(x)})")
    order, radii, _ = _greedy_kcenter(x, k, initial, rng, block_size)
    return order, radii


def _greedy_kcenter(x, k, initial, rng, block_size):
    """:func:`greedy_kcenter` on validated input; also returns the covering radius before the
    first pick (``inf`` when ``initial`` is empty)."""
    n = len(x)
    sq = np.einsum("ij,ij->i", x, x)
    mind = np.full(n, np.inf, dtype=np.float32)
    order = np.empty(k, dtype=np.int64)
    radii = np.empty(k, dtype=np.float64)
    start = np.inf
    if len(initial):
        mind[initial] = -1.0
        _apply_centers(x, sq, mind, initial)
        first = int(np.argmax(mind))
        start = float(np.sqrt(max(float(mind[first]), 0.0)))
    else:
        first = int(rng.integers(n))
    if k == 0:
        return order, radii, start
    picked = 0
    pending: list[int] = []  # centers chosen in this block, not yet applied to all rows
    while True:
        # A block starts with an exact global pick: the farthest row (lowest row on ties).
        order[picked] = first
        mind[first] = -1.0
        pending.append(first)
        picked += 1
        if picked == k:
            break
        n_left = n - len(initial) - picked
        size = min(block_size, n_left)
        if size < n_left:
            part = np.argpartition(mind, n - size)
            block, rest = np.sort(part[n - size :]), part[: n - size]
            tau = float(mind[rest].max())
        else:
            block = np.sort(np.flatnonzero(mind > -1.0))
            tau = -np.inf
        xb = x[block]
        sqb = sq[block]
        mb = mind[block]
        d2 = sqb + sq[first] - 2.0 * (xb @ x[first])
        np.minimum(mb, np.maximum(d2, 0.0), out=mb)
        # Greedy inside the block while its best row provably beats every row outside it. The
        # block's squared distances come from one matrix product, built once it is needed.
        pair = None
        while picked < k:
            j = int(np.argmax(mb))
            if not mb[j] > tau:
                break
            if pair is None:
                pair = xb @ xb.T
                pair *= -2.0
                pair += sqb[:, None]
                pair += sqb[None, :]
                np.maximum(pair, 0.0, out=pair)
            radii[picked - 1] = np.sqrt(mb[j])
            c = int(block[j])
            order[picked] = c
            mb[j] = -1.0
            mind[c] = -1.0
            pending.append(c)
            picked += 1
            np.minimum(mb, pair[j], out=mb)
        _apply_centers(x, sq, mind, np.asarray(pending, dtype=np.int64))
        pending = []
        first = int(np.argmax(mind))
        radii[picked - 1] = np.sqrt(max(float(mind[first]), 0.0))
        if picked == k:
            return order, radii, start
    # Only reached when the last pick was a block's first pick.
    _apply_centers(x, sq, mind, np.asarray(pending, dtype=np.int64))
    radii[k - 1] = np.sqrt(max(float(mind.max()), 0.0))
    return order, radii, start


def partitioned_kcenter(x: np.ndarray, k: int, initial: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center within cells: ``ceil(sqrt(k))`` KMeans cells of ``x`` (clustered in a
    32-d Gaussian projection), each with its share of ``k`` by its count of rows not in
    ``initial`` (largest remainder), the ``initial`` rows in a cell its first centers.

    Returns
    -------
    order : ndarray of shape (k,), int64
        The picked rows, by their distance at pick time within their cell, largest first (ties:
        cell order, then pick order).
    scores : ndarray of shape (k,), float64
        That distance (``inf`` for a cell's first pick made with no center in the cell).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    is_initial = np.zeros(len(x), dtype=bool)
    is_initial[initial] = True
    cell_of = kmeans_labels(gaussian_projection(x, 32, rng), math.ceil(math.sqrt(k)), rng=rng)
    by_cell = np.argsort(cell_of, kind="stable")
    members = np.split(by_cell, np.flatnonzero(np.diff(cell_of[by_cell])) + 1)
    shares = quotas([int((~is_initial[cell]).sum()) for cell in members], k)
    picks, scores = [], []
    for cell, share in zip(members, shares):
        if share:
            order, radii, start = _greedy_kcenter(np.ascontiguousarray(x[cell]), int(share), np.flatnonzero(is_initial[cell]), rng, 2048)
            picks.append(cell[order])
            scores.append(np.concatenate([[start], radii[:-1]]))
    picked, score = np.concatenate(picks), np.concatenate(scores)
    rank = np.argsort(-score, kind="stable")
    return picked[rank], score[rank]


@register
class KCenterGreedy(Strategy):
    """Greedy k-center (core-set) over the candidates' embeddings, labelled examples as centers.

    Each pick is the candidate farthest (Euclidean) from the labelled set and the picks before
    it. ``Selection.scores`` holds that distance at pick time (``inf`` for a first pick made
    with no labelled set, which is drawn at random). From
    :data:`~alsel.strategies.approximate.APPROXIMATE_FROM` rows on (``approximate: auto``; or
    ``true``/``false``) it runs :func:`partitioned_kcenter` instead.
    """

    name = "kcenter"
    needs = frozenset({"embeddings"})
    _parameter_constraints = {"approximate": APPROXIMATE_OPTION}

    def __init__(self, approximate: str | bool = "auto"):
        self.approximate = approximate

    def _select(self, state, k):
        candidates = np.asarray(state.candidates, dtype=np.int64)
        labeled = np.asarray(state.labeled, dtype=np.int64)
        x = np.ascontiguousarray(state.embeddings[np.concatenate([candidates, labeled])], dtype=np.float32)
        initial = np.arange(len(candidates), len(candidates) + len(labeled))
        if use_approximate(self.approximate, len(x)):
            rows, scores = partitioned_kcenter(x, k, initial, state.random_state)
            return Selection(indices=candidates[rows], scores=scores)
        order, radii, start = _greedy_kcenter(x, k, initial, state.random_state, 2048)
        # The distance of pick j at pick time is the covering radius after pick j - 1.
        scores = np.concatenate([[start], radii[:-1]])
        return Selection(indices=candidates[order], scores=scores)
