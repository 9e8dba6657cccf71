"""alsel.testing (issue 30): the checks a plug-in author runs pass every built-in strategy and
alsel's logistic regression, and name what a broken strategy or learner gets wrong."""

from __future__ import annotations

import numpy as np
import pytest

import plugins_for_tests as plugins
from alsel.learners.logreg import LogRegLearner
from alsel.params import Real
from alsel.strategies import STRATEGIES, ScoreStrategy, Selection, Strategy
from alsel.testing import check_learner, check_strategy, synthetic_embed


# ------------------------------------------------------------------ strategies
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_built_in_strategy_passes(name):
    check_strategy(STRATEGIES[name])


def test_an_instance_is_checked_with_its_options():
    check_strategy(STRATEGIES["kmeans"](projection_dim=None, n_iter=5))
    check_strategy(plugins.LowestPositive(), seed=3)


class Duplicates(Strategy):
    name = "duplicates"

    def _select(self, state, k):
        return Selection(indices=np.repeat(state.candidates[:1], k))


class PicksLabelled(Strategy):
    """Returns pool positions from 0, whatever is labelled."""

    name = "picks_labelled"

    def select(self, state, k):
        return Selection(indices=np.arange(k))


class Unseeded(Strategy):
    name = "unseeded"

    def _select(self, state, k):
        return Selection(indices=np.random.default_rng().choice(state.candidates, size=k, replace=False))


class NoPoolCheck(Strategy):
    """Overrides select, so the base class's check of k never runs."""

    name = "no_pool_check"

    def select(self, state, k):
        return Selection(indices=state.candidates[:k])


class LastOfTies(ScoreStrategy):
    """Highest margin-free score, ties to the higher pool position."""

    name = "last_of_ties"

    def score(self, state):
        return state.probs.max(axis=1)

    def _select(self, state, k):
        scores = self.score(state)[::-1]
        order = (len(scores) - 1 - np.argsort(-scores, kind="stable"))[:k]
        return Selection(indices=state.candidates[order])


class UndeclaredOption(Strategy):
    name = "undeclared_option"
    _parameter_constraints = {"beta": Real()}

    def _select(self, state, k):
        return Selection(indices=state.candidates[:k])


class NeedsLabels(Strategy):
    name = "needs_labels"
    needs = frozenset({"gold"})


class CentresInPlace(Strategy):
    """Centres the pool's embeddings where they lie, then takes the candidates nearest the mean."""

    name = "centres_in_place"
    needs = frozenset({"embeddings"})

    def _select(self, state, k):
        state.embeddings -= state.embeddings.mean(axis=0)
        distance = np.linalg.norm(state.embeddings[state.candidates], axis=1)
        return Selection(indices=state.candidates[np.argsort(distance, kind="stable")[:k]])


class NearestToTheFirstLabelled(Strategy):
    """Assumes something is labelled: wrong for the initial pool, which it could choose."""

    name = "nearest_to_the_first_labelled"
    needs = frozenset({"embeddings"})

    def _select(self, state, k):
        similarity = state.embeddings[state.candidates] @ state.embeddings[state.labeled[0]]
        return Selection(indices=state.candidates[np.argsort(-similarity, kind="stable")[:k]])


@pytest.mark.parametrize(
    "cls, message",
    [
        (Duplicates, "duplicates returned 5 indices (1 distinct) for k=5"),
        (PicksLabelled, "strategy 'picks_labelled' returned labelled examples [0]: it must choose among state.candidates"),
        (Unseeded, "strategy 'unseeded' is not deterministic: two states of seed 0 gave"),
        (NoPoolCheck, "strategy 'no_pool_check' accepted k=49 with only 48 candidates; it must raise alsel.errors.PoolExhaustedError"),
        (LastOfTies, "ties with it at a lower pool position: ties must go to the lower position"),
        (UndeclaredOption, "strategy 'undeclared_option' declares constraints for beta, which are not __init__ parameters (none)"),
        (NeedsLabels, "strategy 'needs_labels' needs gold, which alsel does not provide"),
        (CentresInPlace, "strategy 'centres_in_place' changed the state's embeddings; the loop passes the same arrays to every round"),
        (
            NearestToTheFirstLabelled,
            "strategy 'nearest_to_the_first_labelled' (choosing the initial pool, nothing labelled): select(state, k=5) raised IndexError",
        ),
    ],
)
def test_a_broken_strategy_fails_naming_what_it_breaks(cls, message):
    with pytest.raises(AssertionError) as info:
        check_strategy(cls)
    assert message in str(info.value)


def test_a_strategy_that_raises_is_named_with_the_call():
    class Crashes(Strategy):
        name = "crashes"

        def _select(self, state, k):
            raise ValueError("no clusters\nmore detail")

    with pytest.raises(AssertionError, match=r"^strategy 'crashes': select\(state, k=5\) raised ValueError: no clusters$"):
        check_strategy(Crashes)


# ------------------------------------------------------------------ learners
def test_logreg_passes_with_the_embeddings_it_is_given():
    check_learner(LogRegLearner, embed=synthetic_embed)
    check_learner(LogRegLearner, C=1.0)  # the default embed; an option as --learner-option gives it


@pytest.mark.parametrize("cls", [plugins.CentroidLearner, plugins.EpochCentroidLearner])
def test_a_plain_learner_and_one_with_every_capability_pass(cls):
    check_learner(cls)


@pytest.mark.parametrize(
    "cls, message",
    [
        (plugins.NanLearner, "learner plugins_for_tests:NanLearner: NanLearner.predict_proba returned 3 values that are NaN or infinite"),
        (plugins.NoSelfLearner, "fit(texts, labels, n_classes) returned NoneType; it must return self"),
        (plugins.SeedlessLearner, "gave other probabilities for the same seed and data"),
        (plugins.OneBasedEpochsLearner, "called on_epoch_end with epochs [1, 2]; expected at least one call, counting from 0"),
        (plugins.FeaturesPerClassLearner, "gave features of shape (3, "),
        (
            plugins.SeenClassesLearner,
            "(trained without class 2, as a small initial pool can be): SeenClassesLearner.predict_proba returned shape (9, 2); expected (9, 3)",
        ),
    ],
)
def test_a_broken_learner_fails_naming_what_it_breaks(cls, message):
    with pytest.raises(AssertionError) as info:
        check_learner(cls)
    assert message in str(info.value)


def test_a_learner_the_loop_cannot_name_fails():
    class Local(plugins.CentroidLearner):
        pass

    with pytest.raises(AssertionError, match="cannot be resolved as module:Class"):
        check_learner(Local)
