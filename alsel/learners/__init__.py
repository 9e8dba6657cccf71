"""Learners: what the loop trains each round. ``transformer`` fine-tunes a transformers model
(:mod:`alsel.learner`), ``logreg`` fits a logistic regression on cached sentence embeddings, and
``package.module:Class`` names a class in the user's code (see :mod:`alsel.learners.base`)."""

from .base import LEARNERS, Learner, LearnerContext, LearnerFactory, evaluate, fit, make_learner, predict_proba, resolve_learner
from .logreg import LogRegLearner

__all__ = ["LEARNERS", "Learner", "LearnerContext", "LearnerFactory", "LogRegLearner", "evaluate", "fit", "make_learner", "predict_proba", "resolve_learner"]
