"""The validation split a round's learner stops on: carved from the round's training selection,
never from the evaluation set, so choosing an epoch reads nothing a result is measured on."""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_VALIDATION", "validation_split"]

#: Fewer held-out examples than this choose an epoch by noise: the learner then trains on the
#: whole selection and stops by its own rule (the fine-tuner: once it fits its training data).
MIN_VALIDATION = 20
_STREAM = 2  # the controller's random streams are 0 (initial pool) and 1 (acquisition)


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions into ``labels`` to train on and to validate on, both sorted.

    Stratified: each class with at least two examples gives ``round(fraction * count)`` of them,
    at least one; a class with one example keeps it for training. No split (every position
    trains, none validates) for ``fraction`` 0 or when fewer than :data:`MIN_VALIDATION` would be
    held out. Seeded by ``seed`` alone, so the same selection splits the same way in every run and
    round that trains on it.

    >>> fit, held = validation_split(np.array([0] * 30 + [1] * 10), 0.5, seed=0)
    >>> len(fit), len(held), int(np.bincount(np.array([0] * 30 + [1] * 10)[held])[1])
    (20, 20, 5)
    """
    labels = np.asarray(labels)
    everything = np.arange(len(labels))
    if fraction <= 0:
        return everything, everything[:0]
    rng = np.random.default_rng([seed, _STREAM])
    per_class = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) >= 2:
            per_class.append(rng.choice(rows, size=max(1, int(round(fraction * len(rows)))), replace=False))
    held = np.sort(np.concatenate(per_class)) if per_class else everything[:0]
    if len(held) < MIN_VALIDATION:
        return everything, everything[:0]
    return np.setdiff1d(everything, held), held
