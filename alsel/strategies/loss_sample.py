"""Loss-proportional importance sampling: draw ``k`` candidates without replacement with
probability proportional to ``score ** temperature``.

Sampling by loss follows Katharopoulos & Fleuret (2018), "Not All Samples Are Created Equal: Deep
Learning with Importance Sampling" (the loss as a cheap proxy of the gradient norm). The draw uses
the Gumbel-top-k trick of Kool, van Hoof & Welling (2019), "Stochastic Beams and Where to Find
Them": the ``k`` largest ``log w_i + G_i`` (``G_i`` standard Gumbel) are a sample without
replacement, each successive draw picking an unpicked item with probability proportional to
``w_i`` (the scheme of ``Generator.choice(p=..., replace=False)``).
"""

from __future__ import annotations

import numpy as np

from ..params import Choice, Range, Real
from ..scores import by_name
from .base import Selection, Strategy, register

__all__ = ["LossSampling", "gumbel_top_k"]

#: ``score`` option -> name in :func:`alsel.scores.by_name`; every one is >= 0, higher = harder.
SCORE_CHOICES = {"loss": "loss", "el2n": "el2n", "entropy": "entropy"}


def gumbel_top_k(log_weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of a size-``k`` sample without replacement, weights ``exp(log_weights)``, in draw order.

    Rows of weight zero (``-inf``) come only once every positive-weight row is drawn, then
    uniformly at random.

    Parameters
    ----------
    log_weights : ndarray of shape (n,)
        Unnormalised log-probabilities; ``-inf`` for weight zero.
    k : int
        Sample size, at most ``n``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (k,)
        Row indices.

    >>> gumbel_top_k(np.array([0.0, -np.inf, 0.0]), 2, np.random.default_rng(0)).tolist() in ([0, 2], [2, 0])
    True
    """
    gumbel = rng.gumbel(size=len(log_weights))
    keys = log_weights + gumbel
    # Primary key: the perturbed log-weight; ties (all the -inf rows) are broken by the noise alone.
    order = np.lexsort((-gumbel, -keys))
    return order[:k]


@register
class LossSampling(Strategy):
    """``k`` candidates sampled without replacement, with probability proportional to
    ``score ** temperature``.

    Parameters
    ----------
    temperature : float, default 1.0
        Exponent on the score, >= 0: 0 samples uniformly, larger values approach top-k.
    score : {"loss", "el2n", "entropy"}, default "loss"
        Cross-entropy ``-log p_gold``, EL2N, or prediction entropy; all >= 0, higher = harder.
    """

    name = "loss_sample"
    needs = frozenset({"probs"})
    reads_labels = True
    _parameter_constraints = {"temperature": Real(Range(0)), "score": Choice(tuple(SCORE_CHOICES))}

    def __init__(self, temperature: float = 1.0, score: str = "loss"):
        self.temperature = temperature
        self.score = score

    def _select(self, state, k):
        temperature = float(self.temperature)
        scores = by_name(SCORE_CHOICES[self.score], state.probs, state.candidate_labels)
        scores = np.clip(scores, 0.0, None)
        if temperature == 0:
            log_weights = np.zeros_like(scores)
        else:
            with np.errstate(divide="ignore"):
                log_weights = temperature * np.log(scores)
        rows = gumbel_top_k(log_weights, k, state.random_state)
        return Selection(indices=state.candidates[rows], scores=scores[rows])
