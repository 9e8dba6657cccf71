"""How a project is doing: a learning curve and a stopping signal, both from the labels alone.

- **Learning curve**: after each batch, the accuracy of the status learner (by default a
  logistic regression on the sentence embeddings: seconds) cross-validated on the labels so far,
  stratified, with up to :data:`FOLDS` folds. It estimates accuracy on texts like those labelled,
  which active learning chose on purpose, so it is not the accuracy on the pool at large.
- **Stabilising predictions** (Bloodgood & Vijay-Shanker, 2009): the same learner, trained on all
  the labels after each batch, predicts a fixed random sample of the pool (the project's stop
  sample); Cohen's kappa measures how much successive models agree on it. Once the mean kappa
  of the last :data:`WINDOW` batches reaches :data:`THRESHOLD`, more labels have stopped
  changing the model's predictions. It says nothing about whether those predictions are right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..loops.learning import Learner, fit, predict_proba

__all__ = ["FOLDS", "WINDOW", "THRESHOLD", "Stability", "learning_curve", "agreement"]

FOLDS = 5
#: Bloodgood & Vijay-Shanker's defaults: the last three agreements, a mean kappa of 0.99.
WINDOW = 3
THRESHOLD = 0.99


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two predictions of the same texts; 1.0 where they are identical (kappa is
    undefined when both predict one class throughout).

    >>> agreement(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))
    0.5
    """
    from sklearn.metrics import cohen_kappa_score

    if np.array_equal(a, b):
        return 1.0
    kappa = float(cohen_kappa_score(a, b))
    return 0.0 if np.isnan(kappa) else round(kappa, 6)


@dataclass(frozen=True)
class Stability:
    """The stabilising-predictions signal over a project's batches.

    Attributes
    ----------
    kappas : list of float
        Agreement of each batch's model with the previous batch's on the stop sample, in batch
        order (batches without a model, whose labels hold one class, have none).
    sample : int
        Texts in the stop sample.
    """

    kappas: list[float]
    sample: int

    @property
    def window_mean(self) -> float | None:
        """Mean kappa of the last :data:`WINDOW` agreements; None before there are that many."""
        return float(np.mean(self.kappas[-WINDOW:])) if len(self.kappas) >= WINDOW else None

    @property
    def stable(self) -> bool:
        return self.window_mean is not None and self.window_mean >= THRESHOLD

    def describe(self) -> str:
        what = f"agreement (Cohen's kappa) of successive models on a fixed sample of {self.sample:,} pool texts"
        if self.window_mean is None:
            return f"stopping signal: {what}; needs {WINDOW} agreements, {len(self.kappas)} so far"
        verdict = (
            "the predictions have stabilised: more labels stopped changing them (not a measure of accuracy)"
            if self.stable
            else "the predictions still change"
        )
        return f"stopping signal: {what}: mean of the last {WINDOW} {self.window_mean:.3f} ({'>=' if self.stable else '<'} {THRESHOLD}); {verdict}"


def _cross_validated(make: Callable[[], Learner], texts: list[str], labels: np.ndarray, n_classes: int, seed: int) -> tuple[float, int]:
    """Out-of-fold accuracy and the number of folds (``nan, 0`` where a class has one example)."""
    from sklearn.model_selection import StratifiedKFold

    folds = min(FOLDS, int(np.bincount(labels)[np.unique(labels)].min()))
    if folds < 2:
        return float("nan"), 0
    predicted = np.empty(len(labels), dtype=np.int64)
    for fit_rows, held_rows in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, labels):
        learner = fit(make(), [texts[i] for i in fit_rows], labels[fit_rows], n_classes)
        predicted[held_rows] = np.asarray(predict_proba(learner, [texts[i] for i in held_rows])).argmax(axis=1)
    return round(float(np.mean(predicted == labels)), 6), folds


def learning_curve(
    make: Callable[[], Learner],
    texts: list[str],
    labels: np.ndarray,
    n_classes: int,
    prefixes: list[np.ndarray],
    stop_sample: np.ndarray,
    seed: int,
) -> tuple[pd.DataFrame, Stability]:
    """The curve and the stopping signal of a project.

    Parameters
    ----------
    make : callable
        A fresh status learner.
    texts, labels : the pool's texts and class indices (read only at labelled positions).
    prefixes : list of ndarray
        Per batch, the pool positions labelled by the end of it.
    stop_sample : ndarray
        Pool positions of the stop sample.

    Returns
    -------
    DataFrame
        ``batch`` (from 1), ``labelled``, ``accuracy`` (cross-validated; NaN where a class has
        one example), ``folds`` and ``agreement`` (kappa with the previous batch's model).
    Stability
    """
    rows, kappas, previous = [], [], None
    stop_texts = [texts[i] for i in stop_sample]
    for batch, positions in enumerate(prefixes, 1):
        y = labels[positions]
        accuracy, folds, kappa = float("nan"), 0, float("nan")
        if np.unique(y).size > 1:
            train = [texts[i] for i in positions]
            accuracy, folds = _cross_validated(make, train, y, n_classes, seed)
            predictions = np.asarray(predict_proba(fit(make(), train, y, n_classes), stop_texts)).argmax(axis=1)
            if previous is not None:
                kappa = agreement(previous, predictions)
                kappas.append(kappa)
            previous = predictions
        rows.append({"batch": batch, "labelled": len(positions), "accuracy": accuracy, "folds": folds, "agreement": kappa})
    return pd.DataFrame(rows, columns=["batch", "labelled", "accuracy", "folds", "agreement"]), Stability(kappas, len(stop_sample))
