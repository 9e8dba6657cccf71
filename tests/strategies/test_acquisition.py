"""Acquisition functions of issue 4 on tiny synthetic states: each test checks a defining property."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alsel.errors import ConfigError, PoolExhaustedError
from alsel.strategies import STRATEGIES, get_strategy
from alsel.strategies.badge import gradient_kmeans_pp
from alsel.strategies.ccs import bin_allocation
from alsel.strategies.compose import Balanced, Deduplicated, capped_quotas, restrict
from alsel.strategies.state import LoopState

NAMES = ["least_conf", "entropy", "margin", "el2n", "loss_sample", "ambiguous", "cluster_margin", "badge", "ccs"]


def make_state(probs=None, labels=None, *, candidates=None, embeddings=None, labeled=(), seed=0, n_classes=None, **extras):
    """A LoopState over a pool of ``len(labels)``; ``probs`` and ``extras`` align with ``candidates``."""
    labels = np.asarray(labels, dtype=np.int64)
    candidates = np.arange(len(labels)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    if n_classes is None:
        n_classes = np.asarray(probs).shape[1] if probs is not None else int(labels.max()) + 1
    return LoopState(
        labels=labels,
        n_classes=n_classes,
        candidates=candidates,
        labeled=np.asarray(labeled, dtype=np.int64),
        random_state=np.random.default_rng(seed),
        embeddings=None if embeddings is None else np.asarray(embeddings, dtype=np.float32),
        probs=None if probs is None else np.asarray(probs, dtype=np.float64),
        extras={key: np.asarray(value) for key, value in extras.items()},
    )


def full_state(seed=0, n_pool=80, n_classes=3):
    """Every input any strategy needs, for a pool whose first 10 positions are labelled."""
    rng = np.random.default_rng(1234)
    labels = rng.integers(n_classes, size=n_pool)
    candidates = np.arange(10, n_pool)
    n = len(candidates)
    return make_state(
        rng.dirichlet(np.ones(n_classes), size=n),
        labels,
        candidates=candidates,
        labeled=np.arange(10),
        embeddings=rng.standard_normal((n_pool, 8)),
        seed=seed,
        features=rng.standard_normal((n, 6)).astype(np.float32),
        dynamics=rng.uniform(size=(n, 5)),
    )


def picked(strategy, state, k):
    return set(strategy.select(state, k).indices.tolist())


# --------------------------------------------------------------------------- uncertainty


HAND_PROBS = [
    [0.98, 0.01, 0.01],  # certain
    [0.50, 0.50, 0.00],  # on a two-class boundary: margin 0, entropy ln 2
    [0.40, 0.30, 0.30],  # least confident, highest entropy, margin 0.1
    [0.90, 0.05, 0.05],
]


@pytest.mark.parametrize("name, expected", [("least_conf", 22), ("entropy", 22), ("margin", 21)])
def test_uncertainty_hand_example(name, expected):
    state = make_state(HAND_PROBS, np.zeros(24, dtype=int), candidates=[20, 21, 22, 23])
    selection = get_strategy(name).select(state, 1)
    assert selection.indices.tolist() == [expected]


@pytest.mark.parametrize("name", ["least_conf", "entropy", "margin"])
def test_uncertainty_picks_the_most_uncertain(name):
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(4) * 0.7, size=60)
    state = make_state(probs, rng.integers(4, size=100), candidates=np.arange(40, 100))
    top2 = np.sort(probs, axis=1)[:, -2:]
    uncertainty = {
        "least_conf": 1 - probs.max(axis=1),
        "entropy": stats.entropy(probs, axis=1),
        "margin": -(top2[:, 1] - top2[:, 0]),
    }[name]
    k = 12
    expected = set((40 + np.argsort(-uncertainty)[:k]).tolist())
    selection = get_strategy(name).select(state, k)
    assert set(selection.indices.tolist()) == expected
    assert np.all(np.diff(selection.scores) >= 0 if name == "margin" else np.diff(selection.scores) <= 0)


def test_el2n_picks_the_largest_errors():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), size=50)
    labels = rng.integers(3, size=50)
    error = np.linalg.norm(probs - np.eye(3)[labels], axis=1)
    selection = get_strategy("el2n").select(make_state(probs, labels), 10)
    assert set(selection.indices.tolist()) == set(np.argsort(-error)[:10].tolist())
    np.testing.assert_allclose(selection.scores, np.sort(error)[::-1][:10])


def test_el2n_prefers_confident_mistakes_that_uncertainty_ignores():
    probs = [[0.99, 0.01], [0.5, 0.5], [0.99, 0.01]]
    state = make_state(probs, [1, 0, 0])  # row 0 is a confident mistake
    assert get_strategy("el2n").select(state, 1).indices.tolist() == [0]
    assert get_strategy("least_conf").select(state, 1).indices.tolist() == [1]


# --------------------------------------------------------------------------- loss sampling


def _inclusion_counts(params, probs, labels, n_draws):
    counts = np.zeros(len(labels), dtype=np.int64)
    strategy = get_strategy("loss_sample", **params)
    for seed in range(n_draws):
        counts[strategy.select(make_state(probs, labels, seed=seed), 1).indices[0]] += 1
    return counts


@pytest.mark.parametrize(
    "params, target",
    [
        ({}, lambda p, y: -np.log(p[np.arange(len(y)), y])),
        ({"temperature": 2.0}, lambda p, y: np.log(p[np.arange(len(y)), y]) ** 2),
        ({"score": "el2n"}, lambda p, y: np.linalg.norm(p - np.eye(p.shape[1])[y], axis=1)),
        ({"score": "entropy", "temperature": 0.5}, lambda p, y: np.sqrt(stats.entropy(p, axis=1))),
        ({"temperature": 0.0}, lambda p, y: np.ones(len(y))),
    ],
)
@pytest.mark.slow
def test_loss_sample_follows_its_distribution(params, target):
    p_gold = np.array([0.9, 0.7, 0.5, 0.3, 0.1])
    probs = np.stack([p_gold, 1 - p_gold], axis=1)
    labels = np.zeros(5, dtype=int)
    weights = target(probs, labels)
    n_draws = 3000
    counts = _inclusion_counts(params, probs, labels, n_draws)
    result = stats.chisquare(counts, weights / weights.sum() * n_draws)
    assert result.pvalue > 0.001, (counts, weights / weights.sum() * n_draws)


def test_loss_sample_draws_zero_weight_rows_last():
    probs = [[1.0, 0.0], [0.5, 0.5], [1.0, 0.0], [0.2, 0.8]]
    for seed in range(20):
        selection = get_strategy("loss_sample").select(make_state(probs, [0, 0, 0, 0], seed=seed), 4)
        assert set(selection.indices[:2].tolist()) == {1, 3}
        assert set(selection.indices[2:].tolist()) == {0, 2}


# --------------------------------------------------------------------------- cartography


def test_ambiguous_regions():
    epochs = 6
    dynamics = np.array(
        [
            [0.95] * epochs,  # 0 easy
            [0.05] * epochs,  # 1 hard
            [0.1, 0.9] * (epochs // 2),  # 2 ambiguous
            [0.5] * epochs,  # 3 middling, steady
            [0.3, 0.7] * (epochs // 2),  # 4 somewhat ambiguous
            [0.9] * epochs,  # 5 easy
            [0.1] * epochs,  # 6 hard
        ]
    )
    state = make_state(labels=np.zeros(7, dtype=int), dynamics=dynamics)
    assert picked(get_strategy("ambiguous"), state, 2) == {2, 4}
    assert picked(get_strategy("ambiguous", region="easy"), state, 2) == {0, 5}
    assert picked(get_strategy("ambiguous", region="hard"), state, 2) == {1, 6}
    hard = get_strategy("ambiguous", region="hard").select(state, 2)
    assert hard.indices.tolist() == [1, 6] and hard.scores.tolist() == pytest.approx([0.05, 0.1])


def test_cartography_coordinates():
    from alsel.strategies.ambiguous import cartography

    maps = cartography([[0.2, 0.6, 0.7, 0.9]])
    assert maps["confidence"][0] == pytest.approx(0.6)
    assert maps["variability"][0] == pytest.approx(np.std([0.2, 0.6, 0.7, 0.9]))
    assert maps["correctness"][0] == pytest.approx(0.75)


# --------------------------------------------------------------------------- CCS


def binary_el2n_state(p_gold, seed=0):
    """Gold label 0 everywhere, so el2n = sqrt(2) * (1 - p_gold)."""
    p_gold = np.asarray(p_gold, dtype=np.float64)
    return make_state(np.stack([p_gold, 1 - p_gold], axis=1), np.zeros(len(p_gold), dtype=int), seed=seed)


@pytest.mark.parametrize("score", ["el2n", "p_gold", "entropy"])
def test_ccs_never_returns_the_dropped_hardest(score):
    p_gold = np.linspace(0.5, 0.99, 100) if score == "entropy" else np.linspace(0.01, 0.99, 100)
    # Hardest: lowest p_gold (for entropy, p_gold in [0.5, 1) so entropy falls as p_gold rises).
    perm = np.random.default_rng(0).permutation(100)
    hardest = set(np.flatnonzero(perm < 20).tolist())
    for seed in range(30):
        state = binary_el2n_state(p_gold[perm], seed)
        got = picked(get_strategy("ccs", score=score, beta=0.2, n_bins=5), state, 40)
        assert not got & hardest


def test_ccs_spreads_evenly_over_bins():
    state = binary_el2n_state(np.linspace(0.0, 1.0, 101)[:100])  # el2n evenly spread
    # beta=0.1 drops the 10 lowest p_gold; 90 left, 18 per bin of 5 equal-width bins.
    kept_p = np.linspace(0.0, 1.0, 101)[10:100]
    for seed in range(5):
        state.random_state = np.random.default_rng(seed)
        rows = get_strategy("ccs", n_bins=5).select(state, 20).indices
        assert rows.min() >= 10
        p = np.linspace(0.0, 1.0, 101)[rows]
        per_bin = np.histogram(p, bins=np.linspace(kept_p.min(), kept_p.max(), 6))[0]
        assert per_bin.tolist() == [4, 4, 4, 4, 4]


def test_ccs_sparse_bins_give_their_surplus_to_dense_ones():
    # Kept p_gold: 2 examples near 0.1, 3 near 0.5, 95 in [0.9, 0.95].
    p_gold = np.r_[0.1, 0.11, 0.5, 0.51, 0.52, np.linspace(0.9, 0.95, 95)]
    state = binary_el2n_state(p_gold)
    rows = get_strategy("ccs", beta=0.0, n_bins=3).select(state, 30).indices
    assert {0, 1, 2, 3, 4} <= set(rows.tolist())
    assert len(rows) == 30


def test_bin_allocation_sums_to_budget():
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(0, 20, size=rng.integers(1, 10))
        budget = int(rng.integers(0, sizes.sum() + 1))
        counts = bin_allocation(sizes, budget)
        assert counts.sum() == budget and np.all(counts <= sizes) and np.all(counts >= 0)
        # Even: a bin below the largest share is full.
        if budget:
            assert np.all((counts == sizes) | (counts >= counts.max() - 1))


# --------------------------------------------------------------------------- cluster-margin


def clustered_state(n_per=30, centres=4, seed=0):
    """``centres`` separated blobs; margins lowest in blob 0, then blob 1, ..."""
    rng = np.random.default_rng(5)
    blob = np.repeat(np.arange(centres), n_per)
    embeddings = np.eye(8)[blob] * 10 + rng.normal(scale=0.1, size=(len(blob), 8))
    gap = 0.02 * blob + rng.uniform(0, 0.01, size=len(blob))  # margin = gap
    probs = np.stack([(1 + gap) / 2, (1 - gap) / 2], axis=1)
    return make_state(probs, np.zeros(len(blob), dtype=int), embeddings=embeddings, seed=seed), blob, gap


@pytest.mark.parametrize("max_agglomerative", [2000, 0])
def test_cluster_margin_covers_clusters_of_the_low_margin_set(max_agglomerative):
    state, blob, gap = clustered_state()
    k = 4
    strategy = get_strategy("cluster_margin", pool_factor=25, max_agglomerative=max_agglomerative)
    rows = strategy.select(state, k).indices
    low_set = set(np.argsort(gap)[: 25 * k].tolist())
    assert set(rows.tolist()) <= low_set
    assert len(set(blob[rows].tolist())) == 4  # plain margin would take all four from blob 0
    assert set(get_strategy("margin").select(state, k).indices.tolist()) <= set(np.flatnonzero(blob == 0).tolist())
    # Inside each cluster the lowest-margin member goes first.
    for row in rows:
        members = np.flatnonzero(blob == blob[row])
        assert gap[row] == gap[members].min()


def test_cluster_margin_only_uses_the_low_margin_set():
    state, blob, gap = clustered_state()
    rows = get_strategy("cluster_margin", pool_factor=2).select(state, 10).indices
    assert set(rows.tolist()) <= set(np.argsort(gap)[:20].tolist())


def test_cluster_margin_round_robin_smallest_cluster_first():
    state, blob, gap = clustered_state()
    # pool_factor 10 with k=6: the 60 lowest margins are blob 0 (30) and blob 1 (30); two clusters.
    rows = get_strategy("cluster_margin", pool_factor=10, n_clusters=2).select(state, 6).indices
    assert sorted(blob[rows].tolist()) == [0, 0, 0, 1, 1, 1]


# --------------------------------------------------------------------------- BADGE


def test_badge_picks_one_per_separated_gradient_group():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(5), 20)
    features = (np.eye(12)[groups] * 5 + rng.normal(scale=1e-3, size=(100, 12))).astype(np.float32)
    probs = np.tile([0.6, 0.4], (100, 1))
    for seed in range(10):
        state = make_state(probs, np.zeros(100, dtype=int), seed=seed, features=features)
        rows = get_strategy("badge").select(state, 5).indices
        assert len(set(rows.tolist())) == 5
        assert sorted(groups[rows].tolist()) == [0, 1, 2, 3, 4]


def test_badge_matches_explicit_gradient_embeddings():
    """The implicit distances give the same seeds as k-means++ on the materialised g_i."""
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=40)
    features = rng.standard_normal((40, 5)).astype(np.float32)
    u = probs - np.eye(3)[probs.argmax(axis=1)]
    g = (u[:, :, None] * features[:, None, :].astype(np.float64)).reshape(40, -1)

    def reference(k, rng):
        seeds = [int(np.argmax((g**2).sum(axis=1)))]
        nearest = np.full(40, np.inf)
        while len(seeds) < k:
            nearest = np.minimum(nearest, ((g - g[seeds[-1]]) ** 2).sum(axis=1))
            nearest[seeds] = 0
            seeds.append(int(rng.choice(40, p=nearest / nearest.sum())))
        return seeds

    for seed in range(5):
        got = gradient_kmeans_pp(probs, features, 8, np.random.default_rng(seed)).tolist()
        assert got == reference(8, np.random.default_rng(seed))


def test_badge_returns_distinct_rows_when_gradients_collapse():
    probs = np.tile([1.0, 0.0], (10, 1))  # every gradient is zero
    state = make_state(probs, np.zeros(10, dtype=int), features=np.ones((10, 3)))
    assert len(set(get_strategy("badge").select(state, 10).indices.tolist())) == 10


# --------------------------------------------------------------------------- wrappers


def test_restrict_slices_consistently():
    state = full_state()
    mask = state.candidate_labels == 1
    sub = restrict(state, mask)
    assert sub.candidates.tolist() == state.candidates[mask].tolist()
    np.testing.assert_array_equal(sub.probs, state.probs[mask])
    np.testing.assert_array_equal(sub.extras["features"], state.extras["features"][mask])
    np.testing.assert_array_equal(sub.extras["dynamics"], state.extras["dynamics"][mask])
    assert sub.embeddings is state.embeddings and sub.random_state is state.random_state
    assert np.all(sub.candidate_labels == 1)
    assert restrict(state, np.flatnonzero(mask)[::-1]).candidates.tolist() == sub.candidates.tolist()


@pytest.mark.parametrize("shares, k", [((30, 70), 10), ((5, 12, 3), 7), ((1, 1, 98), 9), ((40, 0, 20), 60)])
def test_balanced_meets_its_quotas(shares, k):
    from alsel.data import quotas

    labels = np.repeat(np.arange(len(shares)), shares)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(shares)), size=len(labels))
    state = make_state(probs, labels)
    strategy = Balanced(get_strategy("low_conf"))
    selection = strategy.select(state, k)
    got = np.bincount(labels[selection.indices], minlength=len(shares))
    assert got.tolist() == quotas(shares, k).tolist()
    # Inside each class, the inner strategy's choice: the lowest p_gold of that class.
    p = probs[np.arange(len(labels)), labels]
    for c, q in enumerate(got):
        members = np.flatnonzero(labels == c)
        assert set(selection.indices[labels[selection.indices] == c].tolist()) == set(members[np.argsort(p[members])[:q]].tolist())
    assert strategy.name == "balanced(low_conf)" and strategy.needs == {"probs"}


def test_capped_quotas_redistribute_and_cap():
    assert capped_quotas([3, 7], 10).tolist() == [3, 7]
    assert capped_quotas([1, 0, 9], 10).tolist() == [1, 0, 9]
    with pytest.raises(ValueError):
        capped_quotas([1, 2], 4)


def duplicate_state(seed=0):
    """Groups of near-identical embeddings (cosine ~0.9999) pointing in distinct directions."""
    rng = np.random.default_rng(2)
    n_groups, per = 8, 4
    directions = np.linalg.qr(rng.standard_normal((16, 16)))[0][:n_groups]
    group = np.repeat(np.arange(n_groups), per)
    order = rng.permutation(len(group))
    group = group[order]
    embeddings = directions[group] + rng.normal(scale=1e-3, size=(len(group), 16))
    probs = rng.dirichlet(np.ones(2), size=len(group) - 2)
    state = make_state(
        probs, rng.integers(2, size=len(group)), candidates=np.arange(2, len(group)), labeled=[0, 1], embeddings=embeddings, seed=seed
    )
    return state, group


def _cosines(x):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


def test_deduplicated_never_returns_near_duplicates():
    state, group = duplicate_state()
    labelled_groups = set(group[[0, 1]].tolist())
    free = [g for g in range(8) if g not in labelled_groups]
    strategy = Deduplicated(get_strategy("random"), threshold=0.99)
    for seed in range(10):
        state.random_state = np.random.default_rng(seed)
        rows = strategy.select(state, len(free)).indices
        cos = _cosines(state.embeddings[rows].astype(np.float64))
        assert np.all(cos[np.triu_indices(len(rows), 1)] < 0.99)
        # One per group, never a labelled example's group, and each group's lowest pool position.
        assert sorted(group[rows].tolist()) == free
        for row in rows:
            assert row == min(p for p in state.candidates if group[p] == group[row])
    with pytest.raises(PoolExhaustedError, match="near-duplicates"):
        strategy.select(state, len(free) + 1)
    assert strategy.name == "deduplicated(random)" and strategy.needs == {"embeddings"}


def test_deduplicated_keeps_chains_apart_only_where_needed():
    # a~b and b~c but a and c are apart: keep a and c, drop b.
    angle = np.deg2rad([0.0, 10.0, 20.0])
    embeddings = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    state = make_state(np.full((3, 2), 0.5), [0, 0, 0], embeddings=embeddings)
    assert picked(Deduplicated(get_strategy("random"), threshold=np.cos(np.deg2rad(15))), state, 2) == {0, 2}


@pytest.mark.parametrize("block", [3, 7, 2048])
def test_near_duplicates_matches_brute_force_greedy(block):
    from alsel.strategies.compose import near_duplicates

    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 3))[rng.integers(12, size=60)] + rng.normal(scale=0.05, size=(60, 3))
    reference = x[:5] + 0.001
    cos = _cosines(np.r_[reference, x])
    expected = np.zeros(60, dtype=bool)
    kept = list(range(5))  # the reference rows come first in `cos`
    for i in range(60):
        if np.any(cos[5 + i, kept] >= 0.98):
            expected[i] = True
        else:
            kept.append(5 + i)
    np.testing.assert_array_equal(near_duplicates(x, 0.98, reference, block=block), expected)
    assert expected.sum() > 20 and (~expected).sum() > 5


# --------------------------------------------------------------------------- shared properties


def all_strategies():
    strategies = [pytest.param(get_strategy(name), id=name) for name in NAMES]
    strategies += [
        pytest.param(get_strategy("ambiguous", region="hard"), id="ambiguous-hard"),
        pytest.param(get_strategy("loss_sample", score="entropy", temperature=3.0), id="loss_sample-entropy"),
        pytest.param(get_strategy("cluster_margin", max_agglomerative=0), id="cluster_margin-faiss"),
        pytest.param(get_strategy("typiclust"), id="typiclust"),
        pytest.param(Balanced(get_strategy("badge")), id="balanced(badge)"),
        pytest.param(Deduplicated(get_strategy("loss_sample"), 0.5), id="deduplicated(loss_sample)"),
    ]
    return strategies


def test_every_name_is_registered():
    assert set(NAMES) <= set(STRATEGIES)


@pytest.mark.parametrize("strategy", all_strategies())
def test_deterministic_for_a_seed(strategy):
    first = strategy.select(full_state(seed=11), 9)
    again = strategy.select(full_state(seed=11), 9)
    np.testing.assert_array_equal(first.indices, again.indices)
    assert len(set(first.indices.tolist())) == 9
    assert set(first.indices.tolist()) <= set(full_state().candidates.tolist())


@pytest.mark.parametrize("strategy", all_strategies())
def test_missing_inputs_raise_config_error(strategy):
    for need in sorted(strategy.needs):
        state = full_state()
        if need in ("probs", "embeddings"):
            setattr(state, need, None)
        else:
            del state.extras[need]
        with pytest.raises(ConfigError, match=need if need in ("embeddings", "features", "dynamics") else "model scores"):
            strategy.select(state, 3)


@pytest.mark.parametrize(
    "name, params",
    [
        ("loss_sample", {"score": "p_gold"}),
        ("loss_sample", {"temperature": -1.0}),
        ("ambiguous", {"region": "medium"}),
        ("ccs", {"score": "loss"}),
        ("ccs", {"beta": 1.0}),
        ("ccs", {"n_bins": 0}),
        ("cluster_margin", {"pool_factor": 0.5}),
    ],
)
def test_bad_options_raise_config_error(name, params):
    with pytest.raises(ConfigError, match=name):
        get_strategy(name, **params).select(full_state(), 3)


def test_misaligned_extras_raise_config_error():
    state = full_state()
    state.extras["features"] = state.extras["features"][:-1]
    with pytest.raises(ConfigError, match="features must have shape"):
        get_strategy("badge").select(state, 3)
    state = full_state()
    state.extras["dynamics"] = state.extras["dynamics"][:, 0]
    with pytest.raises(ConfigError, match="dynamics must have shape"):
        get_strategy("ambiguous").select(state, 3)
