"""A logistic regression on sentence embeddings: a proxy learner that trains in a second.

"Selection via proxy" (Coleman et al., 2020, ICLR): a much cheaper model chooses the examples
and the expensive one trains only on the final selection (``--learner logreg --final-learner
transformer``). The embeddings come from the run's cache, so a round costs one lbfgs fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from ..params import Integer, Range, Real

__all__ = ["LogRegLearner"]


class LogRegLearner:
    """scikit-learn's ``LogisticRegression`` (lbfgs, L2) on cached sentence embeddings.

    Parameters
    ----------
    embed : callable
        ``embed(texts) -> ndarray of shape (n, d)``; the loop hands in its cached lookup.
    seed : int
        ``random_state`` of the solver (lbfgs is deterministic; fixed all the same).
    C : float
        Inverse L2 strength. Unit-norm embeddings make scikit-learn's default (1.0) a strong
        penalty on a few dozen examples; measured on 200 SST-2 dev sentences (MiniLM, mean of
        5 random training sets): 60 examples 0.61 with C=1, 0.69 with C=10; 600 examples 0.765
        with either.
    max_iter : int
        lbfgs converges in under 30 iterations on 384-d L2-normalised embeddings; the cap only
        guards against a pathological input.

    Attributes
    ----------
    model_ : LogisticRegression, or None where the training set held one class
    classes_ : ndarray
        The classes present in training.
    n_classes_ : int
    """

    #: What ``--learner-option`` may set, and what each accepts.
    _parameter_constraints: ClassVar[dict] = {"C": Real(Range(0, closed="neither")), "max_iter": Integer(Range(1))}

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], *, seed: int = 0, C: float = 10.0, max_iter: int = 1000):
        self.embed = embed
        self.seed = seed
        self.C = C
        self.max_iter = max_iter

    def fit(self, texts, labels, n_classes: int) -> LogRegLearner:
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels, dtype=np.int64)
        self.n_classes_ = n_classes
        self.classes_ = np.unique(labels)
        self.model_ = None
        if len(self.classes_) > 1:  # scikit-learn refuses one class; predict_proba then predicts it
            self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="lbfgs", random_state=self.seed)
            self.model_.fit(self.embed(texts), labels)
        return self

    def predict_proba(self, texts, *, return_features: bool = False):
        """Class probabilities, ndarray of shape (n, n_classes) (0 for classes absent from
        training); with ``return_features`` also the embeddings, ndarray of shape (n, d)."""
        if not hasattr(self, "n_classes_"):
            raise RuntimeError("call fit before predict_proba")
        x = self.embed(texts)
        probs = np.zeros((len(x), self.n_classes_), dtype=np.float32)
        probs[:, self.classes_] = self.model_.predict_proba(x) if self.model_ is not None else 1.0
        return (probs, x) if return_features else probs

    def __repr__(self) -> str:
        return f"LogRegLearner(seed={self.seed!r}, C={self.C!r}, max_iter={self.max_iter!r})"
