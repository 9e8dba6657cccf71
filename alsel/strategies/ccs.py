"""CCS: coverage-centric coreset selection, after Zheng et al. (2023), "Coverage-centric Coreset
Selection for High Pruning Rates" (ICLR).

Drop the hardest ``beta`` fraction of the candidates (likely mislabelled or unlearnable), split
the rest into ``n_bins`` equal-width bins of difficulty, and spread the budget over the bins:
from the smallest bin up, each takes ``min(its size, remaining budget // bins left)`` members at
random, so a sparse bin's unused share goes to the denser ones (the paper's Algorithm 1).
"""

from __future__ import annotations

import numpy as np

from ..params import Choice, Integer, Range, Real
from ..scores import by_name
from .base import Selection, Strategy, register

__all__ = ["CoverageCentric", "bin_allocation"]

#: ``score`` option -> True where a higher score means harder.
HARDER_IS_HIGHER = {"el2n": True, "entropy": True, "p_gold": False}


def bin_allocation(sizes, budget: int) -> np.ndarray:
    """How many members each bin gives to a budget spread as evenly as the bins allow.

    Bins go from the smallest (ties: lowest index) up; each takes ``min(size, remaining budget //
    bins left)``, so the last takes what remains.

    Parameters
    ----------
    sizes : array-like of shape (n_bins,)
        Members per bin; empty bins take nothing.
    budget : int
        At most ``sum(sizes)``.

    Returns
    -------
    ndarray of shape (n_bins,)
        Sums to ``budget``.

    >>> bin_allocation([1, 50, 0, 20], 12).tolist()
    [1, 6, 0, 5]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    counts = np.zeros(len(sizes), dtype=np.int64)
    nonempty = [b for b in np.argsort(sizes, kind="stable") if sizes[b] > 0]
    remaining = int(budget)
    for left, b in zip(range(len(nonempty), 0, -1), nonempty):
        counts[b] = min(int(sizes[b]), remaining // left)
        remaining -= counts[b]
    # Floor division can leave a few over when a last bin is full; hand them to bins with room.
    for b in nonempty:
        if remaining == 0:
            break
        extra = min(int(sizes[b] - counts[b]), remaining)
        counts[b] += extra
        remaining -= extra
    return counts


@register
class CoverageCentric(Strategy):
    """Difficulty-stratified random sample of the candidates, the hardest ``beta`` dropped.

    Parameters
    ----------
    score : {"el2n", "p_gold", "entropy"}, default "el2n"
        Difficulty from the scoring model's probabilities (and gold labels); hardest = highest
        EL2N or entropy, lowest p_gold.
    beta : float, default 0.1
        Fraction of the candidates dropped as hardest, in [0, 1). Fewer are dropped where
        dropping all of them would leave fewer than ``k``.
    n_bins : int, default 50
        Equal-width difficulty bins over the kept candidates' scores.
    """

    name = "ccs"
    needs = frozenset({"probs"})
    reads_labels = True
    _parameter_constraints = {
        "score": Choice(tuple(HARDER_IS_HIGHER)),
        "beta": Real(Range(0, 1, closed="left")),
        "n_bins": Integer(Range(1)),
    }

    def __init__(self, score: str = "el2n", beta: float = 0.1, n_bins: int = 50):
        self.score = score
        self.beta = beta
        self.n_bins = n_bins

    def _select(self, state, k):
        scores = by_name(self.score, state.probs, state.candidate_labels)
        hardness = scores if HARDER_IS_HIGHER[self.score] else -scores
        n = len(scores)
        n_drop = min(int(self.beta * n), n - k)
        kept = np.sort(np.argsort(-hardness, kind="stable")[n_drop:])  # rows, hardest dropped
        kept_scores = scores[kept]
        lo, hi = kept_scores.min(), kept_scores.max()
        n_bins = int(self.n_bins)
        if hi > lo:
            bins = np.clip(((kept_scores - lo) / (hi - lo) * n_bins).astype(np.int64), 0, n_bins - 1)
        else:
            bins = np.zeros(len(kept), dtype=np.int64)
        counts = bin_allocation(np.bincount(bins, minlength=n_bins), k)
        rng = state.random_state
        rows = np.concatenate([rng.choice(kept[bins == b], size=counts[b], replace=False) for b in np.flatnonzero(counts)])
        return Selection(indices=state.candidates[rows], scores=scores[rows])
