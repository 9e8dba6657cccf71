"""What the loop needs from a learner: the protocol, the names behind ``--learner``, the
factory that builds learners and the calls that pass each only the arguments it takes.

A learner is anything with

- ``fit(texts, labels, n_classes) -> self``: train a fresh model;
- ``predict_proba(texts) -> ndarray of shape (n, n_classes)``: class probabilities.

Optional capabilities are read from the signatures, so a plain two-method class is a complete
learner:

- ``fit(..., validation=(texts, labels))``: a split held out of the selection by the loop, to
  choose when to stop (never evaluation data);
- ``predict_proba(texts, return_features=True) -> (probs, features)``: a representation per text,
  for strategies that need ``features`` (``badge``);
- ``fit(..., on_epoch_end=callback)``: ``callback(learner, epoch)`` after each epoch, for
  strategies that need training ``dynamics`` (``ambiguous``);
- ``fit(..., progress=...)`` / ``predict_proba(..., progress=...)``: an
  :class:`~alsel.progress.Progress` to report to;
- ``save(directory, label_names)``: write the trained model;
- ``fit(..., warm_from=directory)``: continue from a model ``save`` wrote (the previous
  round's) instead of the initial weights, for ``--warm-start`` (it needs ``save`` too);
- a ``training_`` dict after ``fit``: how the training went (kept in ``rounds.jsonl``).

A learner's constructor is offered the run's ``seed``, ``embed`` (cached sentence embeddings),
its training options (``model``, ``epochs``, ``lr``, ...) and ``--learner-option`` values, and
takes those it names. Options of its own are declared like a strategy's: the ``__init__``
keywords, constrained by ``_parameter_constraints`` (:mod:`alsel.params`).

The loop trains a fresh learner from the factory every round (small-text's ClassifierFactory).
It never imports a concrete learner: alsel's own are named by ``module:Class`` in
:data:`BUILTIN_LEARNERS` and imported when first resolved, the way a user's ``--learner
package.module:Class`` is, and an installed package can add names in the ``alsel.learners``
entry-point group.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, first_line
from ..imports import import_object, is_import_spec
from ..params import check
from ..progress import SILENT, Progress

__all__ = [
    "Learner",
    "SavingLearner",
    "LearnerContext",
    "LearnerFactory",
    "BUILTIN_LEARNERS",
    "PLUGIN_GROUP",
    "learner_names",
    "resolve_learner",
    "make_learner",
    "fit",
    "predict_proba",
    "save",
    "evaluate",
    "checked_probabilities",
    "classification_metrics",
]

#: ``--learner`` names of alsel's own learners.
BUILTIN_LEARNERS = {
    "transformer": "alsel.learners.transformer:TransformerLearner",
    "logreg": "alsel.learners.logreg:LogRegLearner",
}
#: The entry-point group of learner plug-ins (``name = "package.module:Class"``).
PLUGIN_GROUP = "alsel.learners"


@runtime_checkable
class Learner(Protocol):
    """What the loop trains each round. See the module docstring for optional capabilities."""

    def fit(self, texts: Sequence[str], labels: np.ndarray, n_classes: int) -> Learner: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class SavingLearner(Learner, Protocol):
    """A learner that can write its trained model: what ``--save-model`` and ``--warm-start``
    need."""

    def save(self, directory: str | Path, label_names: Sequence[str]) -> None: ...


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
        The run's training options (model, epochs, lr, ...).
    options : dict
        ``--learner-option`` values.
    """

    seed: int = 0
    embed: Callable[[Sequence[str]], np.ndarray] | None = None
    training: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP)}


def learner_names() -> list[str]:
    """Every ``--learner`` name: the built-in ones, then installed plug-ins."""
    return list(dict.fromkeys([*BUILTIN_LEARNERS, *_plugins()]))


@dataclass(frozen=True)
class LearnerFactory:
    """Builds fresh, untrained learners of one kind, and says what they can do.

    Attributes
    ----------
    spec : str
        ``transformer``, ``logreg``, a plug-in's name or ``package.module:Class``.
    cls : type
    """

    spec: str
    cls: type[Learner]

    def parameter_names(self) -> list[str]:
        """The constructor's keyword arguments."""
        return [name for name in inspect.signature(self.cls).parameters if name != "self"]

    def option_names(self, run_options) -> list[str]:
        """What ``--learner-option`` may set: the constructor's arguments that are not the run's
        (``run_options``, the seed and the embeddings)."""
        return [name for name in self.parameter_names() if name not in {"seed", "embed", *run_options}]

    def check_options(self, options: dict) -> dict:
        """``options`` converted by the class's ``_parameter_constraints``; a bad value raises."""
        constraints = getattr(self.cls, "_parameter_constraints", {})
        return {k: check(f"--learner-option {k}", v, constraints[k]) if k in constraints else v for k, v in options.items()}

    def new(self, context: LearnerContext) -> Learner:
        offered = {"seed": context.seed, "embed": context.embed, **context.training, **context.options}
        taken = self.parameter_names()
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(self.cls).parameters.values()):
            offered = {k: v for k, v in offered.items() if k in taken}
        options = self.check_options(offered)
        try:
            return self.cls(**options)
        except Exception as exc:  # a user's constructor may raise anything; say whose it was
            raise ConfigError(f"--learner {self.spec}: its constructor failed ({type(exc).__name__}: {first_line(exc)})") from None

    @property
    def reads_embeddings(self) -> bool:
        """Whether it is built on the run's sentence embeddings (it takes ``embed``): a proxy such
        as ``logreg``, cheap enough to score the whole pool every round."""
        return "embed" in self.parameter_names()

    @property
    def gives_features(self) -> bool:
        return _accepts(self.cls.predict_proba, "return_features")

    @property
    def records_dynamics(self) -> bool:
        return _accepts(self.cls.fit, "on_epoch_end")

    @property
    def takes_validation(self) -> bool:
        return _accepts(self.cls.fit, "validation")

    @property
    def saves(self) -> bool:
        """Whether its trained model can be written (``save``), for ``--save-model`` and ``--warm-start``."""
        return issubclass(self.cls, SavingLearner)

    @property
    def warm_starts(self) -> bool:
        """Whether its fit can continue from a saved model (``warm_from``), for ``--warm-start``."""
        return _accepts(self.cls.fit, "warm_from")


def resolve_learner(spec: str, option: str = "--learner") -> LearnerFactory:
    """The factory of ``spec``: a built-in name, a plug-in's name or ``package.module:Class``.

    A spec that does not import, or names something that is not a class with ``fit`` and
    ``predict_proba``, raises one :class:`ConfigError` line.
    """
    target = BUILTIN_LEARNERS.get(spec) or (None if is_import_spec(spec) else _plugins().get(spec))
    if target is None and not is_import_spec(spec):
        raise ConfigError(f"unknown {option} {spec!r}: use {', '.join(learner_names())} or package.module:Class")
    cls = import_object(target or spec, option)
    if not (isinstance(cls, type) and issubclass(cls, Learner)):
        raise ConfigError(f"{option} {spec}: not a learner class (it needs fit(texts, labels, n_classes) and predict_proba(texts))")
    return LearnerFactory(spec, cls)


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


def fit(
    learner: Learner, texts, labels, n_classes: int, *, validation=None, progress: Progress = SILENT, on_epoch_end=None, warm_from=None
) -> Learner:
    """``learner.fit`` with the optional arguments it takes."""
    options = {"validation": validation, "progress": progress, "on_epoch_end": on_epoch_end, "warm_from": warm_from}
    learner.fit(texts, labels, n_classes, **_supported(learner.fit, options))
    return learner


def predict_proba(learner: Learner, texts, *, progress: Progress = SILENT, return_features: bool = False):
    """``learner.predict_proba`` with the optional arguments it takes; ``(probs, features)``
    with ``return_features``."""
    options = _supported(learner.predict_proba, {"progress": progress, "return_features": return_features or None})
    return learner.predict_proba(texts, **options)


def save(learner: Learner | None, directory: str | Path, label_names: Sequence[str]) -> None:
    """``learner.save``: write a trained model. The run's checks (:meth:`LoopConfig.resolved`)
    refuse to start a run that would save a learner without ``save``, and the controller trains
    the models it keeps even where the round cache holds their outcome, so anything else here
    (a learner that cannot save, ``None`` for no trained model) is a bug: ``TypeError``."""
    if not isinstance(learner, SavingLearner):
        raise TypeError(f"cannot save {type(learner).__name__}: not a trained learner with save(directory, label_names)")
    learner.save(directory, label_names)


def evaluate(learner: Learner, texts, labels, n_classes: int, *, progress: Progress = SILENT) -> tuple[dict, np.ndarray]:
    """Accuracy and F1 (:func:`classification_metrics`) and the class
    probabilities they come from, ndarray of shape (n, n_classes). No texts (an annotation
    project has no evaluation set): NaN metrics and no probabilities."""
    if len(texts) == 0:
        return {"accuracy": float("nan"), "f1": float("nan")}, np.zeros((0, n_classes), dtype=np.float32)
    probs = checked_probabilities(learner, predict_proba(learner, texts, progress=progress), len(texts), n_classes)
    return classification_metrics(np.asarray(labels), probs.argmax(axis=1), n_classes), probs


def checked_probabilities(learner: Learner, probs, n_rows: int, n_classes: int) -> np.ndarray:
    """``probs`` as an array, after checking it is what the loop can use: shape (n_rows,
    n_classes), finite, each row a distribution (non-negative, summing to 1 within 1e-3). A
    learner's NaN would otherwise rank candidates by pool position and reach rounds.jsonl."""
    probs = np.asarray(probs)
    name = type(learner).__name__
    if probs.shape != (n_rows, n_classes):
        raise ConfigError(f"{name}.predict_proba returned shape {probs.shape}; expected ({n_rows}, {n_classes})")
    if not np.all(np.isfinite(probs)):
        raise ConfigError(f"{name}.predict_proba returned {int(np.sum(~np.isfinite(probs)))} values that are NaN or infinite")
    if probs.size and (probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)):
        raise ConfigError(f"{name}.predict_proba returned rows that are not probabilities (negative, or not summing to 1)")
    return probs


def classification_metrics(y_true, y_pred, n_classes: int) -> dict[str, float]:
    """Accuracy and F1: F1 of the positive class (label 1) for two classes, macro-F1 otherwise."""
    from sklearn.metrics import accuracy_score, f1_score

    if n_classes == 2:
        f1 = f1_score(y_true, y_pred, pos_label=1, average="binary", zero_division=0)
    else:
        f1 = f1_score(y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "f1": float(f1)}
