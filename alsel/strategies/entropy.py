"""Prediction entropy: highest Shannon entropy of the predicted distribution first (Settles 2009,
"Active Learning Literature Survey"; small-text's ``PredictionEntropy``)."""

from __future__ import annotations

from ..scores import entropy
from .base import ScoreStrategy, register


@register
class Entropy(ScoreStrategy):
    """The ``k`` candidates whose predicted class distribution has the highest entropy."""

    name = "entropy"

    def score(self, state):
        return entropy(state.probs)
