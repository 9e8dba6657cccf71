"""What an acquisition function sees in one round: the strategies' input type, defined beside
them so that they never import the loop that fills it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoopState:
    """The loop's state as strategies read it. Every array is indexed by pool position.

    Attributes
    ----------
    labels : ndarray of shape (n_pool,)
        Gold labels of the whole pool (the pool is labelled; the loop only chooses).
    n_classes : int
    candidates : ndarray of shape (n_candidates,)
        Sorted pool positions that may still be acquired.
    labeled : ndarray of shape (n_labeled,)
        Pool positions already in the result, in acquisition order.
    random_state : numpy.random.Generator
        The only source of randomness a strategy may use; derived from (seed, round, purpose).
    round : int
    embeddings : ndarray of shape (n_pool, d), optional
        Sentence embeddings, present when the strategy ``needs`` them.
    probs : ndarray of shape (n_candidates, n_classes), optional
        The scorer's class probabilities for each candidate, aligned with ``candidates``.
    extras : dict
        Further per-candidate arrays aligned with ``candidates``: ``"features"``, ndarray of
        shape (n_candidates, hidden), the scoring model's penultimate representation;
        ``"dynamics"``, ndarray of shape (n_candidates, n_epochs), p_gold after each epoch of
        the scoring model's training.
    """

    labels: np.ndarray
    n_classes: int
    candidates: np.ndarray
    labeled: np.ndarray
    random_state: np.random.Generator
    round: int = 0
    embeddings: np.ndarray | None = None
    probs: np.ndarray | None = None
    extras: dict = field(default_factory=dict)

    @property
    def candidate_labels(self) -> np.ndarray:
        return self.labels[self.candidates]
