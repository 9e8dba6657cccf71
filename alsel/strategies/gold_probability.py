"""Ranking by p_gold, the probability the scoring model gives a candidate's *gold* label (so
these read the labels): ``high_conf`` takes the highest first, the examples the model already
gets right (the study's "high-conf"); ``low_conf`` the lowest first, those it finds hardest (the
study's "low-conf"). Compare ``least_conf``, which reads no label: it ranks by the model's
confidence in its own prediction."""

from __future__ import annotations

from ..scores import p_gold
from .base import ScoreStrategy, register

__all__ = ["GoldProbability", "HighConf", "LowConf"]


class GoldProbability(ScoreStrategy):
    """Top-k by p_gold; subclasses choose the direction with ``ascending``."""

    reads_labels = True

    def score(self, state):
        return p_gold(state.probs, state.candidate_labels)


@register
class HighConf(GoldProbability):
    """The ``k`` candidates whose gold label the model finds most probable (highest p_gold; unlike
    least_conf, it reads the labels)."""

    name = "high_conf"
    ascending = False


@register
class LowConf(GoldProbability):
    """The ``k`` candidates whose gold label the model finds least probable (lowest p_gold; unlike
    least_conf, it reads the labels)."""

    name = "low_conf"
    ascending = True
