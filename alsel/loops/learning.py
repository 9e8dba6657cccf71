"""What the loop needs from a learner: the protocol, the registry behind ``--learner``, the
factory that builds learners and the calls that pass each only the arguments it takes.

A learner is anything with

- ``fit(texts, labels, n_classes) -> self``: train a fresh model;
- ``predict_proba(texts) -> ndarray of shape (n, n_classes)``: class probabilities.

Optional capabilities are read from the signatures, so a plain two-method class is a complete
learner:

- ``predict_proba(texts, return_features=True) -> (probs, features)``: a representation per text,
  for strategies that need ``features`` (``badge``);
- ``fit(..., on_epoch_end=callback)``: ``callback(learner, epoch)`` after each epoch, for
  strategies that need training ``dynamics`` (``ambiguous``);
- ``fit(..., progress=...)`` / ``predict_proba(..., progress=...)``: an
  :class:`~alsel.progress.Progress` to report to;
- ``save(directory, label_names)``: write the trained model.

The loop trains a fresh learner from the factory every round (small-text's ClassifierFactory).
The loop defines this and never imports a concrete learner: :mod:`alsel.learners` registers
alsel's own (``transformer``, ``logreg``) with :func:`register_learner` when it is imported, which
the entry points do through :mod:`alsel.run`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import ConfigError
from ..imports import import_object, is_import_spec
from ..progress import SILENT, Progress

__all__ = [
    "Learner", "LearnerContext", "LearnerFactory", "LEARNERS", "register_learner", "build_from_signature", "resolve_learner", "make_learner",
    "fit", "predict_proba", "evaluate", "classification_metrics",
]


@runtime_checkable
class Learner(Protocol):
    """What the loop trains each round. See the module docstring for optional capabilities."""

    def fit(self, texts: Sequence[str], labels: np.ndarray, n_classes: int) -> "Learner": ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class LearnerContext:
    """What a run offers the learners it builds.

    Attributes
    ----------
    seed : int
        The run's fine-tuning seed.
    embed : callable
        ``embed(texts) -> ndarray of shape (n, d)``: cached sentence embeddings (the pool's are
        computed once per run), for learners that train on embeddings.
    training : dict
        The transformer fine-tuner's options (model, epochs, lr, ...).
    """

    seed: int = 0
    embed: Callable[[Sequence[str]], np.ndarray] | None = None
    training: dict = field(default_factory=dict)


def build_from_signature(cls: type, context: LearnerContext):
    """``cls(seed=..., embed=...)``, passing only the ones its constructor names."""
    offered = {"seed": context.seed, "embed": context.embed}
    return cls(**{k: v for k, v in offered.items() if _accepts(cls, k)})


#: ``--learner`` names: the class, and how to build one from a run's context. Empty until
#: :mod:`alsel.learners` registers alsel's own.
LEARNERS: dict[str, tuple[type, Callable[[type, LearnerContext], object]]] = {}


def register_learner(name: str, cls: type, build: Callable[[type, LearnerContext], object] = build_from_signature) -> None:
    """Make ``--learner name`` build ``build(cls, context)``."""
    LEARNERS[name] = (cls, build)


@dataclass(frozen=True)
class LearnerFactory:
    """Builds fresh, untrained learners of one kind, and says what they can do.

    Attributes
    ----------
    spec : str
        ``transformer``, ``logreg`` or ``package.module:Class``.
    cls : type
    build : callable
        ``build(cls, context) -> learner``.
    """

    spec: str
    cls: type
    build: Callable[[type, LearnerContext], object]

    def new(self, context: LearnerContext) -> Learner:
        return self.build(self.cls, context)

    @property
    def gives_features(self) -> bool:
        return _accepts(self.cls.predict_proba, "return_features")

    @property
    def records_dynamics(self) -> bool:
        return _accepts(self.cls.fit, "on_epoch_end")


def resolve_learner(spec: str, option: str = "--learner") -> LearnerFactory:
    """The factory of ``spec``: a registered name or ``package.module:Class``.

    A user class is built as ``Class(seed=seed, embed=embed)``, passing only the arguments its
    constructor names (so ``Class()`` where it names neither). A spec that does not import, or
    names something that is not a class with ``fit`` and ``predict_proba``, raises one
    :class:`ConfigError` line.
    """
    if spec in LEARNERS:
        return LearnerFactory(spec, *LEARNERS[spec])
    if not is_import_spec(spec):
        registered = ", ".join(LEARNERS) or "(none registered: import alsel.run, which registers alsel's own)"
        raise ConfigError(f"unknown {option} {spec!r}: use {registered} or package.module:Class")
    cls = import_object(spec, option)
    if not (isinstance(cls, type) and issubclass(cls, Learner)):
        raise ConfigError(f"{option} {spec}: not a learner class (it needs fit(texts, labels, n_classes) and predict_proba(texts))")
    return LearnerFactory(spec, cls, build_from_signature)


def make_learner(spec: str, context: LearnerContext) -> Learner:
    """A fresh learner of kind ``spec`` (see :func:`resolve_learner`)."""
    return resolve_learner(spec).new(context)


# ------------------------------------------------------------------ calling any learner
def _accepts(func, name: str) -> bool:
    """Whether ``func`` takes the keyword argument ``name`` (by name or through ``**kwargs``)."""
    parameters = inspect.signature(func).parameters
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _supported(func, options: dict) -> dict:
    return {k: v for k, v in options.items() if v is not None and _accepts(func, k)}


def fit(learner: Learner, texts, labels, n_classes: int, *, progress: Progress = SILENT, on_epoch_end=None) -> Learner:
    """``learner.fit`` with the optional arguments it takes."""
    learner.fit(texts, labels, n_classes, **_supported(learner.fit, {"progress": progress, "on_epoch_end": on_epoch_end}))
    return learner


def predict_proba(learner: Learner, texts, *, progress: Progress = SILENT, return_features: bool = False):
    """``learner.predict_proba`` with the optional arguments it takes; ``(probs, features)``
    with ``return_features``."""
    options = _supported(learner.predict_proba, {"progress": progress, "return_features": return_features or None})
    return learner.predict_proba(texts, **options)


def evaluate(learner: Learner, texts, labels, n_classes: int, *, progress: Progress = SILENT) -> tuple[dict, np.ndarray]:
    """Accuracy and F1 (:func:`classification_metrics`) and the class
    probabilities they come from, ndarray of shape (n, n_classes)."""
    probs = np.asarray(predict_proba(learner, texts, progress=progress))
    if probs.shape != (len(texts), n_classes):
        raise ConfigError(f"{type(learner).__name__}.predict_proba returned shape {probs.shape}; expected ({len(texts)}, {n_classes})")
    return classification_metrics(np.asarray(labels), probs.argmax(axis=1), n_classes), probs


def classification_metrics(y_true, y_pred, n_classes: int) -> dict[str, float]:
    """Accuracy and F1: F1 of the positive class (label 1) for two classes, macro-F1 otherwise."""
    from sklearn.metrics import accuracy_score, f1_score

    if n_classes == 2:
        f1 = f1_score(y_true, y_pred, pos_label=1, average="binary", zero_division=0)
    else:
        f1 = f1_score(y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "f1": float(f1)}
