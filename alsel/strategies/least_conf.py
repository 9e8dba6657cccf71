"""Least confidence: highest ``1 - max_c p_c`` first (Lewis & Gale 1994; small-text's
``LeastConfidence``). Needs no gold label."""

from __future__ import annotations

from ..scores import confidence
from .base import ScoreStrategy, register


@register
class LeastConfidence(ScoreStrategy):
    """The ``k`` candidates whose predicted class has the lowest probability (the model's
    confidence in its own prediction; unlike low_conf, it reads no label)."""

    name = "least_conf"

    def score(self, state):
        return 1.0 - confidence(state.probs)
