"""Scorers: where the class probabilities of the candidates come from each round.

- ``model``: the round's learner (the default).
- ``cv:K``: out-of-fold probabilities, as cleanlab's cross-validated ones: the labelled set and
  the candidates are split into K stratified folds and each fold is scored by a learner trained
  on the other folds, so no example is scored by a model that trained on it (K fine-tunings).
- ``probe``: a logistic regression on the cached sentence embeddings, cross-fitted the same way
  with 5 folds: seconds on a CPU.

With ``--candidates N`` a round scored by a model scores a seeded random N of the remaining pool
(:func:`sample_candidates`), as baal's ``max_sample`` does, and acquires among them.

With ``--executor ray`` the ``model`` scorer's ``predict_proba`` runs as Ray tasks over chunks of
the candidates (:mod:`alsel.loops.ray_scoring`); the other scorers, and the per-epoch scoring for
training dynamics, stay in the driver's process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data import TextDataset
from ..errors import ConfigError
from ..progress import Progress
from .config import parse_scorer
from .learning import Learner, checked_probabilities, fit, predict_proba
from .ray_scoring import predict_on_ray

PROBE_FOLDS = 5


@dataclass
class ScoringContext:
    """What a round's scorer works with. ``executor`` is where the ``model`` scorer runs the
    learner's ``predict_proba``: ``local`` (this process) or ``ray`` (tasks on a local Ray, or on
    the cluster at ``address``)."""

    pool: TextDataset
    train: np.ndarray
    candidates: np.ndarray
    learner: Learner
    make_learner: Callable[[], Learner]
    embeddings: Callable[[], np.ndarray]
    seed: int
    progress: Progress
    executor: str = "local"
    address: str | None = None


def sample_candidates(candidates: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n`` of ``candidates`` (sorted), or all of them where there are no more than ``n``.

    >>> sample_candidates(np.arange(10), 3, np.random.default_rng(0)).tolist()
    [5, 6, 9]
    """
    if len(candidates) <= n:
        return candidates
    return np.sort(rng.choice(candidates, size=n, replace=False))


def score_candidates(spec: str, ctx: ScoringContext, needs: frozenset) -> tuple[np.ndarray, dict]:
    """Probabilities of shape (n_candidates, n_classes), and ``{"features": ...}`` if needed."""
    kind, folds = parse_scorer(spec)
    want_features = "features" in needs
    if kind == "model":
        texts = [ctx.pool.texts[i] for i in ctx.candidates]
        if ctx.executor == "ray":
            out = predict_on_ray(ctx.learner, texts, return_features=want_features, address=ctx.address, progress=ctx.progress)
        else:
            out = predict_proba(ctx.learner, texts, progress=ctx.progress, return_features=want_features)
        probs = checked_probabilities(ctx.learner, out[0] if want_features else out, len(texts), ctx.pool.n_classes)
        return (probs, {"features": out[1]}) if want_features else (probs, {})
    if want_features:
        raise ConfigError(f"--scorer {spec} gives no model features; strategies that need them take --scorer model")
    if kind == "probe":
        return _cross_fitted(ctx, PROBE_FOLDS, _probe_fold), {}
    assert folds is not None  # parse_scorer gives cv its K
    return _cross_fitted(ctx, folds, _learner_fold), {}


def _cross_fitted(ctx: ScoringContext, folds: int, fit_predict) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    scope = np.union1d(ctx.train, ctx.candidates)
    labels = ctx.pool.labels[scope]
    smallest = np.bincount(labels, minlength=ctx.pool.n_classes)
    if smallest[smallest > 0].min() < folds:
        raise ConfigError(f"cross-fitting with {folds} folds needs at least {folds} examples of every class")
    probs = np.zeros((len(scope), ctx.pool.n_classes), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=ctx.seed)
    for fit_rows, held_rows in splitter.split(scope, labels):
        probs[held_rows] = fit_predict(ctx, scope[fit_rows], scope[held_rows])
    return probs[np.searchsorted(scope, ctx.candidates)]


def _probe_fold(ctx: ScoringContext, fit_positions, held_positions) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x = ctx.embeddings()
    probe = LogisticRegression(max_iter=1000, C=1.0)
    probe.fit(x[fit_positions], ctx.pool.labels[fit_positions])
    out = np.zeros((len(held_positions), ctx.pool.n_classes), dtype=np.float32)
    out[:, probe.classes_] = probe.predict_proba(x[held_positions])
    return out


def _learner_fold(ctx: ScoringContext, fit_positions, held_positions) -> np.ndarray:
    learner = fit(
        ctx.make_learner(),
        [ctx.pool.texts[i] for i in fit_positions],
        ctx.pool.labels[fit_positions],
        ctx.pool.n_classes,
        progress=ctx.progress,
    )
    probs = predict_proba(learner, [ctx.pool.texts[i] for i in held_positions], progress=ctx.progress)
    return checked_probabilities(learner, probs, len(held_positions), ctx.pool.n_classes)
