"""Margin ("breaking ties"): smallest gap between the two most likely classes first (Scheffer et
al. 2001; Luo et al. 2005; small-text's ``BreakingTies``)."""

from __future__ import annotations

from ..scores import margin
from .base import ScoreStrategy, register


@register
class Margin(ScoreStrategy):
    """The ``k`` candidates nearest the decision boundary: lowest top-1 minus top-2 probability."""

    name = "margin"
    ascending = True

    def score(self, state):
        return margin(state.probs)
