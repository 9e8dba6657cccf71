"""alsel's own learners, registered with the loop (:mod:`alsel.loops.learning`) on import:
``transformer`` fine-tunes a transformers model (:mod:`alsel.learner`), ``logreg`` fits a logistic
regression on cached sentence embeddings. ``package.module:Class`` names a class in the user's
code. The protocol and the factory are re-exported here for users who write a learner."""

from ..learner import Learner as TransformerLearner
from ..loops.learning import LEARNERS, Learner, LearnerContext, LearnerFactory, evaluate, fit, make_learner, predict_proba, register_learner, resolve_learner
from .logreg import LogRegLearner

__all__ = ["LEARNERS", "Learner", "LearnerContext", "LearnerFactory", "LogRegLearner", "evaluate", "fit", "make_learner", "predict_proba", "resolve_learner"]


def _build_transformer(cls: type, context: LearnerContext):
    """The fine-tuner takes the run's training options, not just the seed and the embeddings."""
    return cls(**context.training, seed=context.seed)


register_learner("transformer", TransformerLearner, _build_transformer)
register_learner("logreg", LogRegLearner)
