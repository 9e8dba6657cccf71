"""Lowest p_gold first: the examples the scoring model finds hardest (the study's "low-conf")."""

from __future__ import annotations

from ..scores import p_gold
from .base import ScoreStrategy, register


@register
class LowConfidence(ScoreStrategy):
    """The ``k`` candidates with the lowest probability of their gold label."""

    name = "low_conf"
    ascending = True

    def score(self, state):
        return p_gold(state.probs, state.candidate_labels)
