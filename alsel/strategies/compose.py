"""Wrappers that change what another strategy sees: per-class quotas and near-duplicate removal.

Modelled on small-text's ``SubsamplingQueryStrategy`` (a strategy wrapping a strategy) and its
``ClassBalancer``; near-duplicates are found with FAISS (Johnson, Douze & Jégou 2019, "Billion-scale
similarity search with GPUs") nearest-neighbour search on normalised embeddings, block by block,
never as an n x n matrix. The wrappers are not registered as ``--acq`` names; build them around a
registered strategy.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..data import quotas
from ..errors import PoolExhaustedError
from ..params import Range, Real
from .approximate import APPROXIMATE_OPTION, use_approximate
from .base import Selection, Strategy
from .neighbours import approximate_pairs

__all__ = ["Balanced", "Deduplicated", "restrict", "capped_quotas", "near_duplicates"]

#: Slack on the cosine threshold for float32 rounding: pairs this close below it count as duplicates.
COSINE_SLACK = 1e-6


def restrict(state, mask):
    """The state with only some candidates: ``candidates``, ``probs`` and per-candidate extras sliced
    alike.

    Parameters
    ----------
    state : LoopState
    mask : array-like of bool of shape (n_candidates,), or of int
        Which candidates to keep: a boolean mask, or rows of ``state.candidates`` (kept in
        candidate order, so ``candidates`` stays sorted).

    Returns
    -------
    LoopState
        Shares ``labels``, ``embeddings``, ``labeled`` and ``random_state`` with ``state``. Extras
        that are arrays with one row per candidate are sliced; other extras are kept as they are.
    """
    n = len(state.candidates)
    mask = np.asarray(mask)
    if mask.dtype == bool:
        if mask.shape != (n,):
            raise ValueError(f"mask must have shape ({n},), got {mask.shape}")
        rows = np.flatnonzero(mask)
    else:
        rows = np.unique(mask.astype(np.int64))
        if len(rows) and (rows[0] < 0 or rows[-1] >= n):
            raise ValueError(f"rows must lie in [0, {n})")
    extras = {
        key: value[rows] if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n else value
        for key, value in state.extras.items()
    }
    return replace(
        state,
        candidates=state.candidates[rows],
        probs=None if state.probs is None else state.probs[rows],
        extras=extras,
    )


def capped_quotas(available, k: int) -> np.ndarray:
    """Per-class counts proportional to ``available`` (largest remainder), none above its class's
    availability; a capped class's surplus goes to the others in proportion.

    Parameters
    ----------
    available : array-like of int of shape (n_classes,)
    k : int
        At most ``sum(available)``.

    Returns
    -------
    ndarray of shape (n_classes,)
        Sums to ``k``.

    >>> capped_quotas([3, 7], 5).tolist()
    [2, 3]
    """
    available = np.asarray(available, dtype=np.int64)
    if k > available.sum():
        raise ValueError(f"asked for {k} but only {available.sum()} are available")
    counts = np.zeros(len(available), dtype=np.int64)
    remaining = int(k)
    while remaining > 0:
        room = available - counts
        share = quotas(room, remaining)
        share = np.minimum(share, room)
        counts += share
        remaining -= int(share.sum())
    return counts


def _normalised(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, np.float32(1e-12)))


def near_duplicates(
    x: np.ndarray, threshold: float, reference: np.ndarray | None = None, *, block: int = 2048, approximate: bool = False
) -> np.ndarray:
    """Rows of ``x`` to drop so that no two kept rows, and no kept row and a ``reference`` row, have
    cosine similarity >= ``threshold``.

    Rows are taken in order: a row is dropped when it is a near-duplicate of a reference row or of
    an earlier kept row, so each group keeps its first row and a chain ``a ~ b ~ c`` with ``a``
    and ``c`` apart keeps ``a`` and ``c``. Blocks of rows are compared by a FAISS nearest-neighbour
    search against the reference and the kept earlier rows, and with each other by one
    ``block x block`` product: O(n^2 d / 2) time, O(n d + block^2) memory.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    threshold : float
        Cosine similarity in (0, 1].
    reference : ndarray of shape (m, d), optional
        Rows already taken (the labelled set).
    block : int, default 2048
        Rows per step.
    approximate : bool, default False
        Compare only the pairs of :func:`~alsel.strategies.neighbours.approximate_pairs` (the
        rows and the reference in one inverted file), about linear in the rows; the same rule
        then drops the rows.

    Returns
    -------
    ndarray of bool of shape (n,)
        True for the rows to drop.

    >>> near_duplicates(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.001]]), 0.99).tolist()
    [False, False, True]
    """
    import faiss

    x = _normalised(x)
    n, d = x.shape
    radius = float(threshold) - COSINE_SLACK
    if approximate:
        return _approximate_near_duplicates(x, radius, np.empty((0, d), dtype=np.float32) if reference is None else _normalised(reference))
    drop = np.zeros(n, dtype=bool)
    index = faiss.IndexFlatIP(d)  # the reference and every kept row so far
    if reference is not None and len(reference):
        index.add(_normalised(reference))
    for start in range(0, n, block):
        xb = x[start : start + block]
        dropped = np.zeros(len(xb), dtype=bool)
        if index.ntotal:
            dropped |= index.search(xb, 1)[0][:, 0] >= radius
        later, earlier = np.nonzero(np.tril(xb @ xb.T >= radius, k=-1))  # in-block pairs, earlier < later
        # Sequential only over rows with an earlier in-block near-duplicate; `later` is sorted.
        bounds = np.searchsorted(later, np.arange(len(xb) + 1))
        for i in np.unique(later):
            if not dropped[i] and not dropped[earlier[bounds[i] : bounds[i + 1]]].all():
                dropped[i] = True
        drop[start : start + len(xb)] = dropped
        index.add(xb[~dropped])
    return drop


def _approximate_near_duplicates(x: np.ndarray, radius: float, reference: np.ndarray) -> np.ndarray:
    """:func:`near_duplicates` on the pairs of one inverted file of ``reference`` then ``x``."""
    m = len(reference)
    later, earlier = approximate_pairs(np.vstack([reference, x]), radius)
    drop = np.zeros(m + len(x), dtype=bool)
    bounds = np.searchsorted(later, np.arange(m + len(x) + 1))
    # Reference rows are never dropped; a row goes when an earlier row that stays is its near-duplicate.
    for i in np.unique(later[later >= m]):
        if not drop[earlier[bounds[i] : bounds[i + 1]]].all():
            drop[i] = True
    return drop[m:]


class Balanced(Strategy):
    """Per-class quotas proportional to the candidates' class shares, each filled by ``inner``.

    Quotas are largest-remainder (:func:`alsel.data.quotas`), capped by each class's candidates
    with the surplus redistributed. ``inner`` selects within each class on a restricted state
    (:func:`restrict`); the result lists class 0's picks first, then class 1's, and so on.

    Parameters
    ----------
    inner : Strategy
    """

    def __init__(self, inner: Strategy):
        self.inner = inner

    @property
    def name(self) -> str:  # type: ignore[override]  # a wrapper's comes from its inner strategy; never registered
        return f"balanced({self.inner.name})"

    @property
    def needs(self) -> frozenset[str]:  # type: ignore[override]  # a wrapper's come from its inner strategy
        return frozenset(self.inner.needs)

    def _select(self, state, k):
        labels = state.candidate_labels
        counts = capped_quotas(np.bincount(labels, minlength=state.n_classes), k)
        picks = [self.inner.select(restrict(state, labels == c), int(q)) for c, q in enumerate(counts) if q > 0]
        scores = None if any(p.scores is None for p in picks) else np.concatenate([p.scores for p in picks])
        return Selection(indices=np.concatenate([p.indices for p in picks]), scores=scores)


class Deduplicated(Strategy):
    """``inner`` run on the candidates left after dropping near-duplicates.

    A candidate goes when its embedding's cosine similarity to a labelled example's, or to a
    kept candidate's at a lower pool position, is >= ``threshold``; each group of near-duplicate
    candidates keeps its lowest pool position.

    Parameters
    ----------
    inner : Strategy
    threshold : float, default 0.95
        Cosine similarity in (0, 1] at which two examples count as duplicates.
    approximate : "auto" or bool, default "auto"
        True: compare the pairs of an inverted file (``near_duplicates(approximate=True)``),
        about linear in the rows; False: all pairs; ``auto``: approximate from
        :data:`~alsel.strategies.approximate.APPROXIMATE_FROM` rows (candidates and labelled) on.
    """

    _parameter_constraints = {"threshold": Real(Range(0, 1, closed="right")), "approximate": APPROXIMATE_OPTION}

    def __init__(self, inner: Strategy, threshold: float = 0.95, approximate: str | bool = "auto"):
        self.inner = inner
        self.threshold = threshold
        self.approximate = approximate

    @property
    def name(self) -> str:  # type: ignore[override]  # a wrapper's comes from its inner strategy; never registered
        return f"deduplicated({self.inner.name})"

    @property
    def needs(self) -> frozenset[str]:  # type: ignore[override]  # a wrapper's come from its inner strategy
        return frozenset(self.inner.needs) | {"embeddings"}

    def _select(self, state, k):
        reference = state.embeddings[state.labeled] if len(state.labeled) else None
        approximate = use_approximate(self.approximate, len(state.candidates) + len(state.labeled))
        drop = near_duplicates(state.embeddings[state.candidates], self.threshold, reference, approximate=approximate)
        left = int((~drop).sum())
        if left < k:
            raise PoolExhaustedError(
                f"{self.name}: asked for {k} examples but only {left} of {len(drop)} candidates are left after dropping near-duplicates"
            )
        return self.inner.select(restrict(state, ~drop), k)
