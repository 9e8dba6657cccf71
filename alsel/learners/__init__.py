"""alsel's own learners: ``transformer`` fine-tunes a transformers model to convergence
(:mod:`alsel.learners.transformer`), ``logreg`` fits a logistic regression on cached sentence
embeddings (:mod:`alsel.learners.logreg`). The loop names them in
:data:`~alsel.loops.learning.BUILTIN_LEARNERS` and imports them when a run asks for them, as it
does a user's ``package.module:Class``; importing this package registers nothing. The protocol and
the factory are re-exported for users who write a learner."""

from ..loops.learning import (
    Learner,
    LearnerContext,
    LearnerFactory,
    evaluate,
    fit,
    learner_names,
    make_learner,
    predict_proba,
    resolve_learner,
)
from .logreg import LogRegLearner
from .transformer import TransformerLearner

__all__ = [
    "Learner",
    "LearnerContext",
    "LearnerFactory",
    "LogRegLearner",
    "TransformerLearner",
    "evaluate",
    "fit",
    "learner_names",
    "make_learner",
    "predict_proba",
    "resolve_learner",
]
