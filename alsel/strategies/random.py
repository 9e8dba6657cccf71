"""Uniform random sampling: the baseline every strategy must beat."""

from __future__ import annotations

from .base import Selection, Strategy, register


@register
class RandomSampling(Strategy):
    """``k`` candidates drawn uniformly without replacement."""

    name = "random"

    def _select(self, state, k):
        return Selection(indices=state.random_state.choice(state.candidates, size=k, replace=False))
