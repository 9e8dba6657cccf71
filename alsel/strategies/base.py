"""The acquisition protocol: ``select(state, k) -> Selection``, and the registry behind ``--acq``.

A strategy reads arrays from the :class:`~alsel.strategies.state.LoopState` and never touches the
learner or torch, so every strategy tests in milliseconds on synthetic arrays.

To add one: write ``alsel/strategies/<name>.py`` with a subclass decorated by ``@register``
(and, if it takes options, their ``_parameter_constraints``). The package imports every module in
this folder, so nothing else needs editing. Strategies can also live in the user's code:
``--acq package.module:Class`` names a :class:`Strategy` subclass directly, and an installed package can declare plug-ins in the ``alsel.strategies`` entry-point
group (``name = "package.module:Class"``), which are loaded the first time a name is looked up
that no built-in strategy has.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import ConfigError, PoolExhaustedError, first_line
from ..imports import import_object, is_import_spec
from ..params import check
from .state import LoopState

__all__ = [
    "Selection",
    "Strategy",
    "ScoreStrategy",
    "register",
    "get_strategy",
    "resolve_strategy_class",
    "plugin_names",
    "check_params",
    "can_choose_initial_pool",
    "initial_pool_refusal",
    "STRATEGIES",
    "PLUGINS",
    "NEEDS",
    "MODEL_NEEDS",
]

#: The entry-point group of strategy plug-ins.
PLUGIN_GROUP = "alsel.strategies"

#: What a strategy may ask the controller to put in the state: sentence embeddings, the
#: scorer's class probabilities, the scoring model's penultimate features
#: (``state.extras["features"]``) and per-epoch p_gold while it trained
#: (``state.extras["dynamics"]``).
NEEDS = frozenset({"embeddings", "probs", "features", "dynamics"})
#: What of :data:`NEEDS` only a trained model gives, in words for messages: a strategy that needs
#: any of it cannot choose the initial pool, which is chosen before any model is trained.
MODEL_NEEDS = {"probs": "model scores", "features": "features", "dynamics": "training dynamics"}


def can_choose_initial_pool(strategy: Strategy | type[Strategy]) -> bool:
    """Whether ``strategy`` (a class or an instance, a wrapper too) can choose the initial pool:
    nothing it needs comes from a trained model (:data:`MODEL_NEEDS`)."""
    return not (strategy.needs & MODEL_NEEDS.keys())


def initial_pool_refusal(name: str, needs) -> ConfigError:
    """The one-line error for strategy ``name`` asked to choose the initial pool, though it needs
    ``needs`` (those of :data:`MODEL_NEEDS` count) from a trained model."""
    what = " and ".join(words for need, words in MODEL_NEEDS.items() if need in needs)
    return ConfigError(f"{name} needs {what}, which only a trained model gives, so it cannot choose the initial pool; use it as --acq")


@dataclass(frozen=True)
class Selection:
    """Pool positions in acquisition order, with each one's score where a score decided it."""

    indices: np.ndarray
    scores: np.ndarray | None = None


class Strategy:
    """Base class: validates the request and the state, then calls :meth:`_select`.

    Subclasses set ``name`` (the ``--acq`` name) and ``needs`` (a subset of :data:`NEEDS`), take
    their parameters as keyword arguments of ``__init__`` (which only stores them), declare what
    each accepts in ``_parameter_constraints`` (see :mod:`alsel.params`) and implement
    ``_select(state, k)``. Randomness comes only from ``state.random_state``.

    Parameters are declared once: names and defaults come from the ``__init__`` signature,
    constraints from ``_parameter_constraints``; :func:`get_strategy` and :meth:`select` check them,
    so a bad value fails before any work (and ``_select`` may assume valid parameters).
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    #: Whether it reads the gold labels (with its default options): the state always holds them,
    #: so this only tells users which strategies rank by how right the model is.
    reads_labels: ClassVar[bool] = False
    #: Parameter name -> what it accepts: a constraint or a tuple of alternatives (``None`` for None).
    _parameter_constraints: ClassVar[dict[str, object]] = {}

    def __init__(self) -> None:
        pass

    @classmethod
    def parameter_names(cls) -> list[str]:
        """The ``__init__`` keyword arguments: the options this strategy takes."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def select(self, state: LoopState, k: int) -> Selection:
        check_params(self.name, self._parameter_constraints, self.get_params())
        k = int(k)
        if k <= 0:
            raise ConfigError(f"{self.name}: asked for {k} examples; need at least 1")
        if k > len(state.candidates):
            raise PoolExhaustedError(f"{self.name}: asked for {k} examples but only {len(state.candidates)} candidates are left")
        missing = {need for need in self.needs & MODEL_NEEDS.keys() if (state.probs if need == "probs" else state.extras.get(need)) is None}
        if missing:  # no model has been trained yet
            raise initial_pool_refusal(self.name, missing)
        if "embeddings" in self.needs and state.embeddings is None:
            raise ConfigError(f"{self.name} needs embeddings but the state has none")
        # One BLAS thread: OpenBLAS splits a matrix product differently for each thread count,
        # which moves float32 sums and so changed KMeans and facility-location picks between
        # machines with different numbers of cores (docs/reproducibility.md).
        with threadpool_limits(limits=1, user_api="blas"):
            selection = self._select(state, k)
        if len(selection.indices) != k or len(np.unique(selection.indices)) != k:
            raise AssertionError(
                f"{self.name} returned {len(selection.indices)} indices ({len(np.unique(selection.indices))} distinct) for k={k}"
            )
        return selection

    def _select(self, state: LoopState, k: int) -> Selection:
        raise NotImplementedError

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in self.parameter_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


class ScoreStrategy(Strategy):
    """Top-k by a per-candidate score. Subclasses implement ``score(state)`` and set ``ascending``.

    Ties go to the lower pool position (a stable sort over sorted candidates), so the choice is
    deterministic.
    """

    needs: ClassVar[frozenset[str]] = frozenset({"probs"})
    #: True: acquire the lowest scores first.
    ascending: ClassVar[bool] = False

    def score(self, state: LoopState) -> np.ndarray:
        """One score per candidate, aligned with ``state.candidates``."""
        raise NotImplementedError

    def _select(self, state: LoopState, k: int) -> Selection:
        scores = np.asarray(self.score(state), dtype=np.float64)
        order = np.argsort(scores if self.ascending else -scores, kind="stable")[:k]
        return Selection(indices=state.candidates[order], scores=scores[order])


STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make ``cls`` available as ``--acq cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    if cls.name in STRATEGIES and STRATEGIES[cls.name] is not cls:
        raise TypeError(f"two strategies are named {cls.name!r}")
    unknown = cls.needs - NEEDS
    if unknown:
        raise TypeError(f"{cls.__name__}.needs has unknown entries {sorted(unknown)}")
    if set(cls._parameter_constraints) != set(cls.parameter_names()):
        raise TypeError(f"{cls.__name__}._parameter_constraints must declare exactly its __init__ parameters {cls.parameter_names()}")
    STRATEGIES[cls.name] = cls
    return cls


#: Plug-ins loaded so far, by entry-point name (kept apart from the built-in ``STRATEGIES``).
PLUGINS: dict[str, type[Strategy]] = {}


def plugin_names() -> list[str]:
    """Names of the installed ``alsel.strategies`` plug-ins, read from package metadata without
    importing them. A plug-in cannot replace a built-in strategy of the same name."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP)} - set(STRATEGIES))


def _plugin(name: str) -> type[Strategy] | None:
    """The plug-in ``name``, loaded on its first lookup; ``None`` if no package declares one."""
    if name not in PLUGINS:
        entry = next((ep for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP) if ep.name == name), None)
        if entry is None:
            return None
        what = f"strategy plug-in {name} ({entry.value})"
        try:
            loaded = entry.load()
        except Exception as exc:  # a plug-in's module may raise anything while importing
            raise ConfigError(f"{what} cannot be loaded: {first_line(exc)}") from None
        PLUGINS[name] = _checked_strategy_class(loaded, what)
    return PLUGINS[name]


def _checked_strategy_class(obj, what: str) -> type[Strategy]:
    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise ConfigError(f"{what} is not a subclass of alsel.strategies.Strategy")
    unknown = obj.needs - NEEDS
    if unknown:
        raise ConfigError(f"{what} needs unknown inputs {', '.join(sorted(unknown))}; choose from: {', '.join(sorted(NEEDS))}")
    return obj


def resolve_strategy_class(name: str, option: str = "") -> type[Strategy]:
    """The strategy class ``name`` stands for: a built-in name, an installed plug-in, or
    ``package.module:Class`` in the user's code. Anything else raises a one-line
    :class:`ConfigError` naming ``option`` (``--acq``, ``--init``) where given."""
    if is_import_spec(name):
        return _checked_strategy_class(import_object(name, option or "strategy"), f"{option or 'strategy'} {name}")
    label = f"{option} strategy" if option else "strategy"
    if "/" in name or ".." in name:  # names become parts of run directory names
        raise ConfigError(f"{label} {name!r}: a strategy name cannot contain '/' or '..'")
    cls = STRATEGIES.get(name) or _plugin(name)
    if cls is None:
        choices = ", ".join(sorted(set(STRATEGIES) | set(plugin_names())))
        raise ConfigError(f"unknown {label} {name!r}; choose one of: {choices}, or package.module:Class")
    return cls


def get_strategy(name: str, **params) -> Strategy:
    """Build the strategy ``name`` (see :func:`resolve_strategy_class`) with ``params``;
    unknown names or params raise."""
    cls = resolve_strategy_class(name)
    accepted = cls.parameter_names()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(f"strategy {name!r} takes no option {', '.join(unknown)} (it takes: {', '.join(sorted(accepted)) or 'none'})")
    return cls(**check_params(name, cls._parameter_constraints, params))


def check_params(owner: str, constraints: dict, params: dict) -> dict:
    """``params`` converted by ``constraints`` (those it names; absent ones keep their default).

    Raises
    ------
    ConfigError
        ``"strategy option <key>: must be <what it accepts>, got <value> (<owner>)"``.
    """
    checked = dict(params)
    for key in (key for key in params if key in constraints):
        try:
            checked[key] = check(f"strategy option {key}:", params[key], constraints[key])
        except ConfigError as exc:
            raise ConfigError(f"{exc} ({owner})") from None
    return checked
