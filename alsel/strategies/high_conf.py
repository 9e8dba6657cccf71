"""Highest p_gold first: the examples the scoring model already gets right (the study's "high-conf")."""

from __future__ import annotations

from ..scores import p_gold
from .base import ScoreStrategy, register


@register
class HighConfidence(ScoreStrategy):
    """The ``k`` candidates with the highest probability of their gold label."""

    name = "high_conf"
    ascending = False

    def score(self, state):
        return p_gold(state.probs, state.candidate_labels)
