"""Dataset cartography: pick a region of the data map drawn from training dynamics, after
Swayamdipta et al. (2020), "Dataset Cartography: Mapping and Diagnosing Datasets with Training
Dynamics".

Each candidate's p_gold after every epoch of the scoring model's training
(``state.extras["dynamics"]``) gives its *confidence* (mean over epochs), *variability* (standard
deviation over epochs, ``ddof=0`` as in the paper's code) and *correctness* (fraction of epochs it
was classified correctly). Ambiguous examples vary most; easy-to-learn ones have the highest
confidence; hard-to-learn ones the lowest.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..params import Choice
from .base import ScoreStrategy, register

__all__ = ["Ambiguous", "cartography"]

REGIONS = ("ambiguous", "easy", "hard")


def cartography(dynamics) -> dict[str, np.ndarray]:
    """Data-map coordinates of each example from its per-epoch p_gold.

    Correctness counts the epochs with ``p_gold >= 0.5``: the fraction of epochs the gold class
    won exactly for binary tasks (up to a 0.5 tie), a lower bound for more classes, where the gold
    class can win with less than half the mass. The per-epoch predictions it would need are not
    recorded.

    Parameters
    ----------
    dynamics : array-like of shape (n, n_epochs)
        p_gold after each epoch.

    Returns
    -------
    dict of str to ndarray of shape (n,)
        ``"confidence"``, ``"variability"`` and ``"correctness"``.

    >>> maps = cartography([[0.2, 0.8], [0.9, 0.9]])
    >>> [maps[key].round(2).tolist() for key in ("confidence", "variability", "correctness")]
    [[0.5, 0.9], [0.3, 0.0], [0.5, 1.0]]
    """
    dynamics = np.asarray(dynamics, dtype=np.float64)
    if dynamics.ndim != 2 or dynamics.shape[1] < 1:
        raise ValueError(f"dynamics must have shape (n, n_epochs >= 1), got {dynamics.shape}")
    return {
        "confidence": dynamics.mean(axis=1),
        "variability": dynamics.std(axis=1),
        "correctness": (dynamics >= 0.5).mean(axis=1),
    }


@register
class Ambiguous(ScoreStrategy):
    """The ``k`` candidates of one data-map region.

    Parameters
    ----------
    region : {"ambiguous", "easy", "hard"}, default "ambiguous"
        ``"ambiguous"``: highest variability first; ``"easy"``: highest confidence first;
        ``"hard"``: lowest confidence first.
    """

    name = "ambiguous"
    needs = frozenset({"dynamics"})
    reads_labels = True
    _parameter_constraints = {"region": Choice(REGIONS)}

    def __init__(self, region: str = "ambiguous"):
        self.region = region

    @property
    def ascending(self) -> bool:  # type: ignore[override]  # per instance (region) where ScoreStrategy's is per class
        return self.region == "hard"

    def score(self, state):
        dynamics = np.asarray(state.extras["dynamics"], dtype=np.float64)
        if dynamics.ndim != 2 or dynamics.shape[0] != len(state.candidates) or dynamics.shape[1] < 1:
            raise ConfigError(
                f"{self.name}: dynamics must have shape (n_candidates={len(state.candidates)}, n_epochs >= 1), got {dynamics.shape}"
            )
        maps = cartography(dynamics)
        return maps["variability"] if self.region == "ambiguous" else maps["confidence"]
