"""The strategy protocol and registry (errors, declared parameters, strategies from user code and
plug-ins), and the study's first acquisition functions (random, high_conf, low_conf, kmeans)."""

import importlib.metadata
import re

import numpy as np
import pytest

import alsel.strategies.base as strategy_base
from alsel.errors import ConfigError, PoolExhaustedError
from alsel.strategies import STRATEGIES, Selection, Strategy, get_strategy, register
from alsel.strategies.kmeans import kmeans_nearest
from alsel.strategies.state import LoopState
from conftest import run_cli
from plugins_for_tests import LowestPositive

USER_STRATEGY = "plugins_for_tests:LowestPositive"


def make_state(n=200, seed=0, probs=True, embeddings=None, candidates=None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    candidates = np.arange(n) if candidates is None else np.asarray(candidates)
    p1 = rng.random(len(candidates))
    return LoopState(
        labels=labels,
        n_classes=2,
        candidates=candidates,
        labeled=np.array([], dtype=np.int64),
        random_state=np.random.default_rng(seed + 1),
        probs=np.stack([1 - p1, p1], axis=1) if probs else None,
        embeddings=embeddings,
    )


def blobs(n_clusters=10, per=30, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, dim)) * 10
    x = np.concatenate([c + rng.normal(size=(per, dim)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(n_clusters), per)


def test_low_conf_returns_exactly_the_k_lowest_p_gold():
    state = make_state(candidates=np.arange(0, 200, 2))
    pg = state.probs[np.arange(100), state.candidate_labels]
    chosen = get_strategy("low_conf").select(state, 10)
    assert set(chosen.indices) == set(state.candidates[np.argsort(pg)[:10]])
    assert np.all(np.diff(chosen.scores) >= 0) and chosen.scores.max() <= np.sort(pg)[10]


def test_high_conf_returns_exactly_the_k_highest_p_gold():
    state = make_state()
    pg = state.probs[np.arange(200), state.labels]
    chosen = get_strategy("high_conf").select(state, 15)
    assert set(chosen.indices) == set(np.argsort(-pg)[:15])
    assert np.all(np.diff(chosen.scores) <= 0)


def test_ties_break_towards_the_lower_pool_position():
    state = make_state(n=6)
    state.probs = np.full((6, 2), 0.5)
    assert get_strategy("low_conf").select(state, 3).indices.tolist() == [0, 1, 2]


def test_random_is_distinct_seeded_and_within_candidates():
    state = make_state(candidates=np.arange(50, 150))
    a = get_strategy("random").select(state, 30).indices
    state.random_state = np.random.default_rng(1)
    b = get_strategy("random").select(state, 30).indices
    assert np.array_equal(a, b) and len(set(a)) == 30 and set(a) <= set(range(50, 150))


def test_kmeans_takes_one_example_per_cluster_and_is_seeded():
    x, cluster = blobs()
    state = make_state(n=len(x), probs=False, embeddings=x)
    chosen = get_strategy("kmeans", projection_dim=None).select(state, 10)
    assert len(set(chosen.indices)) == 10
    # FAISS starts from random centroids, so two blobs can share a cluster; most are covered.
    assert len(set(cluster[chosen.indices])) >= 8
    state.random_state = np.random.default_rng(1)
    again = get_strategy("kmeans", projection_dim=None).select(state, 10)
    assert np.array_equal(chosen.indices, again.indices)


def test_kmeans_objective_matches_scikit_learn():
    from sklearn.cluster import KMeans

    x, _ = blobs(n_clusters=20, per=50, dim=8, seed=3)
    # Both start from random centroids and land in different local optima: compare medians.
    ours = np.median([kmeans_nearest(x, 40, rng=np.random.default_rng(s))[1] for s in range(5)])
    reference = np.median([KMeans(n_clusters=40, init="random", n_init=1, max_iter=20, random_state=s).fit(x).inertia_ for s in range(5)])
    assert ours <= 1.05 * reference


def test_kmeans_projection_and_nearest_rows_are_distinct_even_with_duplicates():
    x = np.repeat(np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32), 5, axis=0)
    rows, objective = kmeans_nearest(x, 40, rng=np.random.default_rng(0))
    assert len(set(rows)) == 40 and objective >= 0
    state = make_state(n=len(x), probs=False, embeddings=np.random.default_rng(1).normal(size=(100, 384)).astype(np.float32))
    assert len(set(get_strategy("kmeans").select(state, 25).indices)) == 25  # 384 -> 32-d


def test_protocol_errors():
    state = make_state(n=20)
    with pytest.raises(PoolExhaustedError, match="only 20 candidates"):
        get_strategy("random").select(state, 21)
    with pytest.raises(ConfigError, match="at least 1"):
        get_strategy("random").select(state, 0)
    with pytest.raises(ConfigError, match="cannot choose the initial pool"):
        get_strategy("low_conf").select(make_state(probs=False), 5)
    with pytest.raises(ConfigError, match="unknown strategy 'nope'.*random"):
        get_strategy("nope")
    with pytest.raises(ConfigError, match="takes no option"):
        get_strategy("random", projection_dim=3)


def test_a_new_strategy_is_one_class_and_a_decorator():
    @register
    class LongestFirst(Strategy):
        name = "test_first_k"

        def _select(self, state, k):
            return Selection(indices=state.candidates[:k])

    try:
        assert get_strategy("test_first_k").select(make_state(candidates=[4, 7, 9]), 2).indices.tolist() == [4, 7]
    finally:
        del STRATEGIES["test_first_k"]


def test_every_registered_strategy_declares_known_needs():
    from alsel.strategies.base import NEEDS

    for name, cls in STRATEGIES.items():
        assert cls.name == name and cls.needs <= NEEDS


# ------------------------------------------------------------------ declared parameters
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_declares_its_parameters_and_accepts_its_defaults(name):
    cls = STRATEGIES[name]
    assert set(cls._parameter_constraints) == set(cls.parameter_names())
    defaults = get_strategy(name)
    assert get_strategy(name, **defaults.get_params()).get_params() == defaults.get_params()


def test_a_strategy_with_undeclared_parameters_cannot_register():
    class Undeclared(Strategy):
        name = "undeclared_for_test"

        def __init__(self, depth: int = 2):
            self.depth = depth

    with pytest.raises(TypeError, match="_parameter_constraints"):
        register(Undeclared)
    assert "undeclared_for_test" not in STRATEGIES


def test_directly_built_strategies_are_checked_when_they_select():
    from alsel.strategies.compose import Deduplicated
    from alsel.strategies.kmeans import KMeansDiversity

    with pytest.raises(ConfigError, match=r"strategy option n_iter: must be an integer >= 1, got 0 \(kmeans\)"):
        KMeansDiversity(n_iter=0).select(None, 1)
    with pytest.raises(ConfigError, match="strategy option threshold: must be a number in"):
        Deduplicated(get_strategy("random"), threshold=2).select(None, 1)


# ------------------------------------------------------------------ strategies from user code
def test_a_module_class_strategy_and_an_entry_point_plugin(capsys, monkeypatch):
    assert get_strategy(USER_STRATEGY).__class__ is LowestPositive
    plugins = [
        importlib.metadata.EntryPoint(name="lowest_positive", value=USER_STRATEGY, group="alsel.strategies"),
        importlib.metadata.EntryPoint(name="broken", value="no_such_module_xyz:Thing", group="alsel.strategies"),
        importlib.metadata.EntryPoint(name="margin", value=USER_STRATEGY, group="alsel.strategies"),
    ]
    monkeypatch.setattr(strategy_base.importlib.metadata, "entry_points", lambda group: [ep for ep in plugins if ep.group == group])
    monkeypatch.setattr(strategy_base, "PLUGINS", {})
    assert strategy_base.plugin_names() == ["broken", "lowest_positive"]  # a plug-in cannot replace a built-in
    assert strategy_base.PLUGINS == {}  # listing names imports nothing
    assert isinstance(get_strategy("lowest_positive"), LowestPositive) and "lowest_positive" in strategy_base.PLUGINS
    assert get_strategy("margin").__class__.__name__ == "Margin"
    with pytest.raises(ConfigError, match="strategy plug-in broken .* cannot be loaded: No module named 'no_such_module_xyz'"):
        get_strategy("broken")

    code, out, _ = run_cli(capsys, "strategies")
    assert code == 0
    assert "lowest_positive (plug-in)" in out and "Lowest probability of class 1 first." in out
    assert "  broken: strategy plug-in broken" in out and "margin (plug-in)" not in out


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_one_rule_says_which_strategies_can_choose_the_initial_pool(name):
    """can_choose_initial_pool decides it for the config check, the strategy's own check on a
    state no model has scored yet, and the (init) mark of ``alsel strategies``."""
    from alsel.loops.config import LoopConfig
    from alsel.strategies import can_choose_initial_pool
    from alsel.strategies.listing import describe_strategies

    cls = STRATEGIES[name]
    state = make_state(n=60, probs=False, embeddings=np.random.default_rng(2).normal(size=(60, 8)).astype(np.float32))
    marked = re.search(rf"^  {name} \(init\)( |$)", describe_strategies(200), re.MULTILINE) is not None
    if can_choose_initial_pool(cls):
        assert len(get_strategy(name).select(state, 6).indices) == 6 and marked
        assert LoopConfig.from_options(init=name, model="minilm").resolved().init == name
    else:
        assert cls.needs & {"probs", "features", "dynamics"} and not marked
        for refused in (lambda: get_strategy(name).select(state, 6), lambda: LoopConfig.from_options(init=name, model="minilm").resolved()):
            with pytest.raises(
                ConfigError,
                match=f"^{name} needs .*, which only a trained model gives, so it cannot choose the initial pool; use it as --acq$",
            ):
                refused()
