"""Checks for plug-in authors, as scikit-learn's ``check_estimator``: :func:`check_strategy` and
:func:`check_learner` run a strategy or a learner on tiny synthetic data and raise an
:class:`AssertionError` that names the first promise it breaks, so a plug-in can be tested
before the loop ever meets it (where the same fault would cost a fine-tuning, or pass unseen)::

    from alsel.testing import check_learner, check_strategy

    def test_my_plugins():
        check_strategy(MyStrategy)         # or an instance with its options: MyStrategy(beta=0.2)
        check_learner(MyLearner)           # constructor options as keywords: check_learner(L, C=2.0)

What they check is what the loop relies on and does not re-check on every call. The data is
synthetic (a few dozen rows), so both run in about a second for a light plug-in.

Layer: the top one, beside :mod:`alsel.cli`: like the command line, it builds strategies' states
and learners as the loop does, and nothing in alsel imports it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import NoReturn

import numpy as np

from .errors import ConfigError, PoolExhaustedError, first_line
from .loops.learning import LearnerContext, LearnerFactory, checked_probabilities, predict_proba, resolve_learner
from .strategies.base import NEEDS, ScoreStrategy, Selection, Strategy, can_choose_initial_pool
from .strategies.state import LoopState

__all__ = ["check_strategy", "check_learner", "synthetic_state", "synthetic_embed"]

#: The synthetic pool: every fifth position is labelled, the rest are candidates.
N_POOL, N_CLASSES, EMBEDDING_DIM, N_EPOCHS = 60, 3, 8, 4
#: How many examples each strategy call asks for (besides all of them, and one too many).
K = 5


def _fail(label: str, problem: str) -> NoReturn:
    raise AssertionError(f"{label} {problem}")


def _called(label: str, what: str, call: Callable, *args, **kwargs):
    """``call(*args, **kwargs)``; an exception other than an AssertionError becomes one that says
    which call raised it, on the synthetic data (the plug-in's own traceback stays chained)."""
    try:
        return call(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # a plug-in may raise anything
        raise AssertionError(f"{label}: {what} raised {type(exc).__name__}: {first_line(exc)}") from exc


# ------------------------------------------------------------------ strategies
def synthetic_state(needs=frozenset(), seed: int = 0, *, tied: bool = False, initial: bool = False) -> LoopState:
    """A round's state on a synthetic pool of :data:`N_POOL` examples in :data:`N_CLASSES`
    classes, holding what ``needs`` asks for; ``seed`` seeds only its ``random_state`` (the data
    is always the same). Every fifth position is labelled, from position 0, so a strategy that
    picks pool positions instead of candidates picks labelled ones. ``tied``: the candidates come
    in pairs (in pool order) with the same label, embedding, probabilities, features and
    dynamics, so every score ties within a pair. ``initial``: the state the loop gives a
    strategy choosing the initial pool instead: round 0, nothing labelled, every position a
    candidate, embeddings if ``needs`` has them and nothing a model would give."""
    data = np.random.default_rng(20240530)
    positions = np.arange(N_POOL)
    labeled = positions[::5]
    candidates = np.setdiff1d(positions, labeled)
    rows = np.arange(len(candidates)) // 2 if tied else np.arange(len(candidates))
    labels = data.integers(0, N_CLASSES, N_POOL)
    labels[candidates] = labels[candidates][rows]
    embeddings = data.normal(size=(N_POOL, EMBEDDING_DIM)).astype(np.float32)
    embeddings[candidates] = embeddings[candidates][rows]
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    per_candidate: dict[str, np.ndarray] = {
        "probs": data.dirichlet(np.ones(N_CLASSES), len(candidates)),
        "features": data.normal(size=(len(candidates), 6)).astype(np.float32),
        "dynamics": data.uniform(0.05, 0.95, size=(len(candidates), N_EPOCHS)),
    }
    if initial:
        return LoopState(
            labels=labels,
            n_classes=N_CLASSES,
            candidates=positions,
            labeled=positions[:0],
            random_state=np.random.default_rng(seed),
            round=0,
            embeddings=embeddings if "embeddings" in needs else None,
        )
    given = {name: values[rows] for name, values in per_candidate.items() if name in needs}
    return LoopState(
        labels=labels,
        n_classes=N_CLASSES,
        candidates=candidates,
        labeled=labeled,
        random_state=np.random.default_rng(seed),
        round=1,
        embeddings=embeddings if "embeddings" in needs else None,
        probs=given.pop("probs", None),
        extras=given,
    )


def check_strategy(strategy, *, seed: int = 0) -> None:
    """Check that a strategy keeps the promises the loop relies on.

    On a synthetic :class:`~alsel.strategies.LoopState` holding what the strategy ``needs``, it
    must select ``k`` distinct candidates (never a labelled example), all of them when ``k`` is
    the number of candidates, the same ones again for the same seed, and reject a ``k`` above
    the candidates with :class:`~alsel.errors.PoolExhaustedError`; on candidates that tie in
    pairs it must still choose the same ones each time (a :class:`~alsel.strategies.ScoreStrategy`,
    the earlier of a tied pair first). It must leave the state's arrays as they were (the loop
    hands the same embeddings to every round). A strategy that needs nothing a model gives can
    choose the initial pool, so it must also select from the loop's first state, where nothing
    is labelled yet. Its ``needs`` must be inputs alsel provides and its
    ``_parameter_constraints`` must name only ``__init__`` parameters.

    Parameters
    ----------
    strategy : Strategy subclass or instance
        A class is built with its defaults; an instance is checked with its options.
    seed : int
        Seeds the states' ``random_state``.

    Raises
    ------
    AssertionError
        Naming the strategy and the first promise it breaks.
    """
    strategy = strategy() if isinstance(strategy, type) else strategy
    label = f"strategy {strategy.name or type(strategy).__name__!r}"
    _check_declarations(strategy, label)
    needs = frozenset(strategy.needs)
    first = _selected(strategy, synthetic_state(needs, seed), K, label)
    again = _selected(strategy, synthetic_state(needs, seed), K, label)
    if not np.array_equal(first, again):
        _fail(
            label,
            f"is not deterministic: two states of seed {seed} gave {first.tolist()} and {again.tolist()} (draw only from state.random_state)",
        )
    state = synthetic_state(needs, seed)
    everything = _selected(strategy, state, len(state.candidates), label)
    if set(everything.tolist()) != set(state.candidates.tolist()):
        _fail(label, f"asked for all {len(state.candidates)} candidates, did not return each of them once")
    _check_rejects_too_many(strategy, needs, seed, label)
    _check_ties(strategy, needs, seed, label)
    _check_leaves_the_state_alone(strategy, synthetic_state(needs, seed), label)
    if can_choose_initial_pool(strategy):
        initial = synthetic_state(needs, seed, initial=True)
        _selected(strategy, initial, K, f"{label} (choosing the initial pool, nothing labelled)")
        _check_leaves_the_state_alone(strategy, initial, f"{label} (choosing the initial pool)")


def _check_declarations(strategy: Strategy, label: str) -> None:
    unknown = sorted(set(strategy.needs) - NEEDS)
    if unknown:
        _fail(label, f"needs {', '.join(unknown)}, which alsel does not provide (it provides {', '.join(sorted(NEEDS))})")
    undeclared = sorted(set(strategy._parameter_constraints) - set(strategy.parameter_names()))
    if undeclared:
        _fail(
            label,
            f"declares constraints for {', '.join(undeclared)}, which are not __init__ parameters ({', '.join(strategy.parameter_names()) or 'none'})",
        )


def _selected(strategy: Strategy, state: LoopState, k: int, label: str) -> np.ndarray:
    """The positions ``strategy`` selects, after checking they are ``k`` distinct candidates."""
    selection = _called(label, f"select(state, k={k})", strategy.select, state, k)
    if not isinstance(selection, Selection):
        _fail(label, f"select returned {type(selection).__name__}, not a Selection")
    indices = np.asarray(selection.indices)
    if not np.issubdtype(indices.dtype, np.integer) or indices.shape != (k,):
        _fail(label, f"returned indices of dtype {indices.dtype} and shape {indices.shape} for k={k}; expected {k} integer pool positions")
    if len(np.unique(indices)) != k:
        _fail(label, f"returned {len(np.unique(indices))} distinct candidates for k={k}: {indices.tolist()}")
    labelled = sorted(set(indices.tolist()) & set(state.labeled.tolist()))
    if labelled:
        _fail(label, f"returned labelled examples {labelled}: it must choose among state.candidates")
    if not np.isin(indices, state.candidates).all():
        _fail(label, f"returned positions that are not candidates: {sorted(set(indices.tolist()) - set(state.candidates.tolist()))}")
    if selection.scores is not None and len(selection.scores) != k:
        _fail(label, f"returned {len(selection.scores)} scores for {k} indices")
    return indices


def _check_rejects_too_many(strategy: Strategy, needs: frozenset, seed: int, label: str) -> None:
    state = synthetic_state(needs, seed)
    k = len(state.candidates) + 1
    try:
        strategy.select(state, k)
    except PoolExhaustedError:
        return
    except Exception as exc:  # the wrong error is the finding
        _fail(label, f"asked for k={k} of {k - 1} candidates raised {type(exc).__name__}, not alsel.errors.PoolExhaustedError")
    _fail(label, f"accepted k={k} with only {k - 1} candidates; it must raise alsel.errors.PoolExhaustedError")


def _arrays(state: LoopState) -> dict[str, np.ndarray]:
    """Copies of every array in ``state``, by name."""
    arrays = {name: getattr(state, name) for name in ("labels", "candidates", "labeled", "embeddings", "probs")} | state.extras
    return {name: np.array(values, copy=True) for name, values in arrays.items() if values is not None}


def _check_leaves_the_state_alone(strategy: Strategy, state: LoopState, label: str) -> None:
    before = _arrays(state)
    _selected(strategy, state, K, label)
    after = _arrays(state)
    changed = sorted(name for name in before if name not in after or not np.array_equal(before[name], after[name], equal_nan=True))
    if changed:
        _fail(
            label, f"changed the state's {', '.join(changed)}; the loop passes the same arrays to every round, so copy before changing them"
        )


def _check_ties(strategy: Strategy, needs: frozenset, seed: int, label: str) -> None:
    """On candidates tied in pairs: the same choice each time; a score strategy's tied pair in
    pool order (the documented rule: ties go to the lower position)."""
    first = _selected(strategy, synthetic_state(needs, seed, tied=True), K, label)
    again = _selected(strategy, synthetic_state(needs, seed, tied=True), K, label)
    if not np.array_equal(first, again):
        _fail(label, f"breaks ties differently on two calls: {first.tolist()} and {again.tolist()}")
    if not isinstance(strategy, ScoreStrategy):
        return
    candidates = synthetic_state(needs, seed, tied=True).candidates
    rank = {position: i for i, position in enumerate(first.tolist())}
    for position in first.tolist():
        j = int(np.searchsorted(candidates, position))
        earlier = int(candidates[j - 1])
        if j % 2 and rank.get(earlier, len(first)) > rank[position]:
            _fail(
                label, f"put {position} before {earlier}, which ties with it at a lower pool position: ties must go to the lower position"
            )


# ------------------------------------------------------------------ learners
#: The synthetic texts: each class has a word of its own among words every class shares.
_CLASS_WORDS = ("good", "bad", "odd")
_SHARED_WORDS = ("film", "plot", "cast", "scene", "music")


def _texts(n_per_class: int, offset: int) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for i in range(n_per_class):
        for c, word in enumerate(_CLASS_WORDS):
            shared = _SHARED_WORDS[(i + c + offset) % len(_SHARED_WORDS)]
            texts.append(f"a {word} {shared} and a {word} {_SHARED_WORDS[(i + offset) % len(_SHARED_WORDS)]}")
            labels.append(c)
    return texts, np.array(labels, dtype=np.int64)


def synthetic_embed(texts: Sequence[str]) -> np.ndarray:
    """Deterministic stand-in for sentence embeddings: hashed word counts, ndarray of shape
    (n, 16), each row of unit length; what :func:`check_learner` hands a learner by default."""
    x = np.zeros((len(texts), 16), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            x[row, zlib.crc32(word.encode()) % 16] += 1
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def check_learner(cls: type, *, embed: Callable[[Sequence[str]], np.ndarray] | None = None, seed: int = 0, **options) -> None:
    """Check that a learner class keeps the promises the loop relies on.

    It must be resolvable as ``module:Class`` (how ``--learner`` names it), be built as the loop
    builds it, return itself from ``fit``, give finite probability rows of shape (n, n_classes)
    that sum to 1, also when trained on labels that miss a class (as a small initial pool often
    does), and give the same ones when built with the same seed and fitted on the same data. A
    capability its signatures declare must work: ``predict_proba(return_features=True)``
    gives ``(probs, features)`` with one finite row per text; ``fit(on_epoch_end=...)`` calls it
    with the learner and each epoch from 0; ``fit(validation=...)`` trains with a held-out split.

    Parameters
    ----------
    cls : type
    embed : callable, optional
        What the learner is offered as ``embed``; default :func:`synthetic_embed`.
    seed : int
    **options
        Constructor options, as ``--learner-option`` would give them.

    Raises
    ------
    AssertionError
        Naming the learner and the first promise it breaks.
    """
    spec = f"{cls.__module__}:{cls.__qualname__}"
    label = f"learner {spec}"
    factory = _resolved(cls, spec, label)
    context = LearnerContext(seed=seed, embed=embed or synthetic_embed, options=options)
    train, test = _texts(8, 0), _texts(3, 2)[0]
    probs = _fitted_probabilities(factory, context, train, test, label)
    again = _fitted_probabilities(factory, context, train, test, label)
    if not np.array_equal(probs, again):
        _fail(label, f"gave other probabilities for the same seed and data (largest difference {np.abs(probs - again).max():.3g})")
    some = train[1] < N_CLASSES - 1
    unseen = f"{label} (trained without class {N_CLASSES - 1}, as a small initial pool can be)"
    _fitted_probabilities(factory, context, ([t for t, kept in zip(train[0], some) if kept], train[1][some]), test, unseen)
    if factory.gives_features:
        _check_features(factory, context, train, test, probs, label)
    if factory.records_dynamics:
        _check_epochs(factory, context, train, test, label)
    if factory.takes_validation:
        held = _texts(2, 1)
        _fitted_probabilities(factory, context, train, test, label, validation=held)


def _resolved(cls: type, spec: str, label: str) -> LearnerFactory:
    try:
        factory = resolve_learner(spec)
    except ConfigError as exc:
        raise AssertionError(f"{label} cannot be resolved as module:Class: {exc}") from None
    if factory.cls is not cls:
        _fail(label, f"resolves to {factory.cls!r}, another object than the class checked")
    return factory


def _probabilities(learner, texts, label: str) -> np.ndarray:
    try:
        return checked_probabilities(learner, _called(label, "predict_proba", predict_proba, learner, texts), len(texts), N_CLASSES)
    except ConfigError as exc:
        raise AssertionError(f"{label}: {exc}") from None


def _fitted_probabilities(factory: LearnerFactory, context: LearnerContext, train, test, label: str, **fit_options) -> np.ndarray:
    """A fresh learner fitted on ``train`` (with ``fit_options``), its probabilities for ``test``."""
    learner = _called(label, "the constructor", factory.new, context)
    what = f"fit({', '.join(['texts, labels, n_classes', *fit_options])})"
    fitted = _called(label, what, learner.fit, *train, N_CLASSES, **fit_options)
    if fitted is not learner:
        _fail(label, f"{what} returned {type(fitted).__name__}; it must return self")
    if hasattr(learner, "training_") and not isinstance(learner.training_, dict):
        _fail(label, f"has a training_ of type {type(learner.training_).__name__}; it must be a dict")
    return _probabilities(learner, test, label)


def _check_features(
    factory: LearnerFactory, context: LearnerContext, train: tuple[list[str], np.ndarray], test, probs: np.ndarray, label: str
) -> None:
    learner = factory.new(context).fit(*train, N_CLASSES)
    result = _called(label, "predict_proba(return_features=True)", predict_proba, learner, test, return_features=True)
    if not (isinstance(result, tuple) and len(result) == 2):
        _fail(label, "predict_proba(return_features=True) must return (probs, features)")
    features = np.asarray(result[1])
    if features.ndim != 2 or len(features) != len(test) or not np.isfinite(features).all():
        _fail(label, f"predict_proba(return_features=True) gave features of shape {features.shape}; expected ({len(test)}, d), all finite")
    if not np.allclose(np.asarray(result[0]), probs, atol=1e-6):
        _fail(label, "predict_proba(return_features=True) gave other probabilities than predict_proba")


def _check_epochs(factory: LearnerFactory, context: LearnerContext, train, test, label: str) -> None:
    """``on_epoch_end(learner, epoch)`` after each epoch from 0, with a learner that predicts (the
    loop reads per-epoch probabilities there)."""
    epochs = []

    def on_epoch_end(model, epoch):
        epochs.append(epoch)
        _probabilities(model, test, f"{label} (in on_epoch_end)")

    _fitted_probabilities(factory, context, train, test, label, on_epoch_end=on_epoch_end)
    if not epochs or epochs[0] != 0 or not all(isinstance(e, (int, np.integer)) and e >= 0 for e in epochs):
        _fail(label, f"called on_epoch_end with epochs {epochs}; expected at least one call, counting from 0")
