"""The seed study's five strategies, its upper bound and the recommended loop, as settings of the one
loop controller.

- ``random``: a random initial pool of the whole budget, no rounds.
- ``kmeans``: a KMeans-diversity initial pool of the whole budget, no rounds.
- ``high_conf`` / ``low_conf``: a seed model is trained on a random seed pool of the budget's
  size, which is neither part of the result nor a candidate; one round then acquires the whole
  budget from the rest by highest / lowest p_gold.
- ``hybrid``: half the budget at random (kept), a seed model trained on it, plus the other half
  from the rest by lowest p_gold.
- ``full``: the whole pool (the upper bound).

And alsel's recommendation, from the evidence in docs/results.md:

- ``kmeans_margin``: a KMeans seed pool of a third of the budget, then two rounds that each
  retrain and add a third by smallest margin (the least certain examples).

``configs/presets/<name>.yaml`` holds the same settings (a test keeps the two equal).
"""

from __future__ import annotations

from ..errors import ConfigError

PRESETS: dict[str, dict] = {
    "random": {"init": "random", "rounds": 0, "acq": None},
    "kmeans": {"init": "kmeans", "rounds": 0, "acq": None},
    "high_conf": {"init": "random", "keep_init": False, "rounds": 1, "acq": "high_conf"},
    "low_conf": {"init": "random", "keep_init": False, "rounds": 1, "acq": "low_conf"},
    "hybrid": {"init": "random", "rounds": 1, "acq": "low_conf"},
    "full": {"init": "random", "rounds": 0, "acq": None, "budget": 1.0},
    "kmeans_margin": {"init": "kmeans", "rounds": 2, "acq": "margin"},
}


def preset_options(name: str) -> dict:
    """The options preset ``name`` sets; unknown names raise :class:`ConfigError`."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return dict(PRESETS[name])
