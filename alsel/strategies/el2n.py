"""EL2N: highest L2 norm of (probabilities - one-hot gold label) first, the error score of Paul,
Ganguli & Dziugaite (2021), "Deep Learning on a Data Diet: Finding Important Examples Early in
Training"."""

from __future__ import annotations

from ..scores import el2n
from .base import ScoreStrategy, register


@register
class EL2N(ScoreStrategy):
    """The ``k`` candidates with the highest EL2N score (the scoring model's largest errors)."""

    name = "el2n"
    reads_labels = True

    def score(self, state):
        return el2n(state.probs, state.candidate_labels)
