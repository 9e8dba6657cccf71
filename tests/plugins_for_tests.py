"""User code for the plug-in tests: a learner and strategies that alsel imports by
``module:Class`` (tests/ is on sys.path under pytest)."""

from pathlib import Path

import numpy as np

from alsel.strategies import ScoreStrategy


class CentroidLearner:
    """Nearest class centroid of bag-of-words counts; probabilities are a softmax of the negative
    squared distances. Records the seed it was built with."""

    built_with: list = []

    def __init__(self, seed=None):
        self.seed = seed
        CentroidLearner.built_with.append(seed)

    def _bow(self, texts):
        x = np.zeros((len(texts), len(self.vocab_)))
        for row, text in enumerate(texts):
            for word in text.split():
                if word in self.vocab_:
                    x[row, self.vocab_[word]] += 1
        return x

    def fit(self, texts, labels, n_classes):
        labels = np.asarray(labels)
        self.vocab_ = {w: i for i, w in enumerate(sorted({w for t in texts for w in t.split()}))}
        x = self._bow(texts)
        self.centroids_ = np.stack([x[labels == c].mean(axis=0) if (labels == c).any() else np.zeros(x.shape[1]) for c in range(n_classes)])
        return self

    def predict_proba(self, texts):
        distance = ((self._bow(texts)[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        logits = -distance + distance.min(axis=1, keepdims=True)
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


class LowestPositive(ScoreStrategy):
    """Lowest probability of class 1 first."""

    name = "lowest_positive"
    ascending = True

    def score(self, state):
        return state.probs[:, 1]


class NotALearner:
    def fit(self, texts, labels, n_classes):
        return self


NOT_A_CLASS = 42


class NanLearner(CentroidLearner):
    """A learner whose probabilities hold NaN: the loop must refuse them, naming the learner."""

    def predict_proba(self, texts):
        probs = super().predict_proba(texts)
        probs[0] = np.nan
        return probs


class EpochCentroidLearner(CentroidLearner):
    """CentroidLearner with every optional capability: a validation split (ignored), two
    "epochs" reported to ``on_epoch_end``, and its bag-of-words counts as features."""

    def fit(self, texts, labels, n_classes, *, validation=None, on_epoch_end=None):
        super().fit(texts, labels, n_classes)
        for epoch in range(2):
            if on_epoch_end is not None:
                on_epoch_end(self, epoch)
        self.training_ = {"epochs": 2, "validation": 0 if validation is None else len(validation[0])}
        return self

    def predict_proba(self, texts, *, return_features=False):
        probs = super().predict_proba(texts)
        return (probs, self._bow(texts)) if return_features else probs


class OneBasedEpochsLearner(EpochCentroidLearner):
    """Reports its epochs from 1: the loop's dynamics would keep a stale first training."""

    def fit(self, texts, labels, n_classes, *, validation=None, on_epoch_end=None):
        shifted = None if on_epoch_end is None else (lambda model, epoch: on_epoch_end(model, epoch + 1))
        return super().fit(texts, labels, n_classes, validation=validation, on_epoch_end=shifted)


class FeaturesPerClassLearner(EpochCentroidLearner):
    """Returns one feature row per class instead of one per text."""

    def predict_proba(self, texts, *, return_features=False):
        probs = super().predict_proba(texts)
        return (probs, self.centroids_) if return_features else probs


class SeenClassesLearner(CentroidLearner):
    """Gives probabilities only for the classes its training labels held, as scikit-learn's
    classifiers do: trained without a class, its columns no longer line up with the classes."""

    def fit(self, texts, labels, n_classes):
        self.seen_ = np.unique(labels)
        return super().fit(texts, labels, n_classes)

    def predict_proba(self, texts):
        probs = super().predict_proba(texts)[:, self.seen_]
        return probs / probs.sum(axis=1, keepdims=True)


class NoSelfLearner(CentroidLearner):
    """fit returns nothing: ``fit(...).predict_proba`` chains would break."""

    def fit(self, texts, labels, n_classes):
        super().fit(texts, labels, n_classes)


class SeedlessLearner(CentroidLearner):
    """Adds unseeded noise to its probabilities: two runs of one seed differ."""

    def predict_proba(self, texts):
        probs = super().predict_proba(texts) + np.random.default_rng().uniform(0, 0.01, size=(len(texts), 1))
        return probs / probs.sum(axis=1, keepdims=True)


class BrokenLearner(CentroidLearner):
    """A learner whose constructor raises: the run must say so in one line, naming it."""

    def __init__(self, seed=None):
        raise ValueError("no GPU found")


class SavingCentroidLearner(CentroidLearner):
    """A centroid learner that saves its model and can continue from a saved one (what
    ``--warm-start`` needs); continuing only reads the saved centroids back."""

    def fit(self, texts, labels, n_classes, *, warm_from=None):
        if warm_from is not None:
            np.load(Path(warm_from) / "centroids.npy")  # a missing or damaged model fails here
        return super().fit(texts, labels, n_classes)

    def save(self, directory, label_names):
        Path(directory).mkdir(parents=True, exist_ok=True)
        np.save(Path(directory) / "centroids.npy", self.centroids_)
