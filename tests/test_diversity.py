"""Diversity strategies on tiny synthetic data: greedy k-center and facility location."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits
import pytest

from alsel.errors import ConfigError, PoolExhaustedError
from alsel.strategies.state import LoopState
from alsel.strategies import get_strategy
from alsel.strategies import facility_location as fl
from alsel.strategies.facility_location import (
    facility_location_greedy,
    facility_location_objective,
    facility_location_ranking,
    knn_graph,
)
from alsel.strategies.kcenter import greedy_kcenter
from alsel.strategies.kmeans import kmeans_nearest


def blobs(n=600, d=16, centers=12, spread=0.15, seed=0):
    """Gaussian blobs on the unit sphere, float32, L2-normalised rows."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centers, d))
    x = means[rng.integers(centers, size=n)] + spread * rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def make_state(x, labeled=(), seed=0):
    n = len(x)
    labeled = np.asarray(labeled, dtype=np.int64)
    return LoopState(
        labels=np.arange(n) % 2,
        n_classes=2,
        candidates=np.setdiff1d(np.arange(n), labeled),
        labeled=labeled,
        random_state=np.random.default_rng(seed),
        embeddings=x,
    )


def covering_radius(x, centers, points=None):
    points = np.arange(len(x)) if points is None else points
    d = np.linalg.norm(x[points, None, :].astype(np.float64) - x[None, centers, :], axis=2)
    return d.min(axis=1).max()


def naive_kcenter(x, k, initial, first):
    """Textbook greedy k-center on a full float64 distance matrix."""
    x = x.astype(np.float64)
    dist = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)
    chosen = list(initial)
    mind = dist[:, chosen].min(axis=1) if chosen else np.full(len(x), np.inf)
    order, radii = [], []
    for step in range(k):
        c = first if (step == 0 and not chosen) else int(np.argmax(np.where(np.isin(np.arange(len(x)), chosen), -1, mind)))
        chosen.append(c)
        order.append(c)
        mind = np.minimum(mind, dist[:, c])
        radii.append(mind.max())
    return np.array(order), np.array(radii)


# --------------------------------------------------------------------------- k-center


def test_kcenter_radius_beats_random_on_blobs():
    x = blobs()
    k = 24
    kc = get_strategy("kcenter").select(make_state(x, seed=1), k)
    rnd = get_strategy("random").select(make_state(x, seed=1), k)
    assert covering_radius(x, kc.indices) < 0.8 * covering_radius(x, rnd.indices)


@pytest.mark.parametrize("block_size", [7, 64, 4096])
@pytest.mark.parametrize("initial", [None, [3, 50, 120]])
def test_greedy_kcenter_matches_naive(block_size, initial):
    x = blobs(n=300, d=8, seed=2)
    k = 60
    order, radii = greedy_kcenter(x, k, initial=initial, rng=np.random.default_rng(5), block_size=block_size)
    first = int(np.random.default_rng(5).integers(len(x)))
    ref_order, ref_radii = naive_kcenter(x, k, initial or [], first)
    np.testing.assert_array_equal(order, ref_order)
    np.testing.assert_allclose(radii, ref_radii, atol=1e-5)
    assert np.all(np.diff(radii) <= 1e-7)


def test_kcenter_labeled_are_centers_and_scores_are_pick_distances():
    x = blobs(n=200, seed=3)
    labeled = np.array([0, 5, 9])
    state = make_state(x, labeled=labeled)
    sel = get_strategy("kcenter").select(state, 15)
    assert not np.isin(sel.indices, labeled).any()
    # The first pick is the candidate farthest from the labelled set, at that distance.
    candidates = state.candidates
    far = candidates[np.argmax([covering_radius(x, labeled, [c]) for c in candidates])]
    assert sel.indices[0] == far
    np.testing.assert_allclose(sel.scores[0], covering_radius(x, labeled), atol=1e-5)
    # Each later score is the pick's distance to the centers before it.
    for j in range(1, 15):
        centers = np.concatenate([labeled, sel.indices[:j]])
        np.testing.assert_allclose(sel.scores[j], covering_radius(x, centers, [sel.indices[j]]), atol=1e-5)


def test_kcenter_prefix_and_determinism():
    x = blobs(n=250, seed=4)
    a = get_strategy("kcenter").select(make_state(x, seed=7), 30)
    b = get_strategy("kcenter").select(make_state(x, seed=7), 30)
    small = get_strategy("kcenter").select(make_state(x, seed=7), 12)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(small.indices, a.indices[:12])


# --------------------------------------------------------------------------- facility location


def test_knn_graph_matches_faiss_flat_ip(monkeypatch):
    import faiss

    monkeypatch.setattr(fl, "_BLOCK", 37)  # several blocks, diagonal and off-diagonal
    x = blobs(n=150, d=8, seed=5)
    neighbors, sims = knn_graph(x, 6)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    ref_sims, ref_neighbors = index.search(x, 6)
    np.testing.assert_allclose(sims, np.maximum(ref_sims, 0), atol=1e-5)
    assert (np.sort(neighbors, axis=1) == np.sort(ref_neighbors, axis=1)).mean() > 0.99
    assert (neighbors == np.arange(len(x))[:, None]).any(axis=1).all()
    assert sims.min() >= 0


@pytest.mark.parametrize("initial", [None, [1, 40, 77]])
def test_lazy_greedy_equals_naive_greedy(initial):
    x = blobs(n=240, d=8, seed=6)
    neighbors, sims = knn_graph(x, 10)
    lazy = facility_location_greedy(neighbors, sims, 80, optimizer="lazy", initial=initial)
    naive = facility_location_greedy(neighbors, sims, 80, optimizer="naive", initial=initial)
    np.testing.assert_array_equal(lazy[0], naive[0])
    np.testing.assert_array_equal(lazy[1], naive[1])
    assert np.all(np.diff(lazy[1]) <= 0)
    # The gains add up to the objective.
    seed = [] if initial is None else initial
    total = facility_location_objective(neighbors, sims, np.concatenate([seed, lazy[0]]).astype(int))
    base = facility_location_objective(neighbors, sims, seed) if initial else 0.0
    np.testing.assert_allclose(lazy[1].sum(), total - base, rtol=1e-9)


def test_facility_location_beats_kmeans_nearest_on_its_objective():
    x = blobs(n=500, d=16, seed=7)
    k = 25
    neighbors, sims = knn_graph(x, 20)
    ranking, _ = facility_location_greedy(neighbors, sims, k)
    rows, _ = kmeans_nearest(x, k, rng=np.random.default_rng(0))
    assert facility_location_objective(neighbors, sims, ranking) >= facility_location_objective(neighbors, sims, rows)


def test_facility_location_prefix_property():
    x = blobs(n=300, seed=8)
    big = facility_location_ranking(x, 40, n_neighbors=15)
    small = facility_location_ranking(x, 15, n_neighbors=15)
    np.testing.assert_array_equal(small[0], big[0][:15])
    np.testing.assert_array_equal(small[1], big[1][:15])


def test_facility_location_strategy_seeds_with_labeled_and_is_deterministic():
    x = blobs(n=300, seed=9)
    labeled = np.array([2, 3, 100])
    sel = get_strategy("facility_location").select(make_state(x, labeled=labeled), 20)
    again = get_strategy("facility_location").select(make_state(x, labeled=labeled), 20)
    np.testing.assert_array_equal(sel.indices, again.indices)
    assert not np.isin(sel.indices, labeled).any()
    # Pool positions map back to rows of the ground set [candidates, labeled].
    candidates = np.setdiff1d(np.arange(len(x)), labeled)
    ground = np.concatenate([candidates, labeled])
    with threadpool_limits(limits=1, user_api="blas"):  # as Strategy.select runs it: sums split by threads differ
        ranking, gains = facility_location_ranking(x[ground], 20, n_neighbors=20, initial=np.arange(len(candidates), len(ground)))
    np.testing.assert_array_equal(sel.indices, ground[ranking])
    np.testing.assert_array_equal(sel.scores, gains)


def test_stochastic_greedy_is_seeded_and_close_to_lazy():
    x = blobs(n=400, seed=10)
    k = 30
    a = get_strategy("facility_location", optimizer="stochastic").select(make_state(x, seed=3), k)
    b = get_strategy("facility_location", optimizer="stochastic").select(make_state(x, seed=3), k)
    np.testing.assert_array_equal(a.indices, b.indices)
    neighbors, sims = knn_graph(x, 20)
    lazy, _ = facility_location_greedy(neighbors, sims, k)
    f_lazy = facility_location_objective(neighbors, sims, lazy)
    f_stoch = facility_location_objective(neighbors, sims, a.indices)
    assert 0.9 * f_lazy <= f_stoch <= f_lazy + 1e-9


def test_facility_location_rejects_bad_options():
    state = make_state(blobs(n=50))
    with pytest.raises(ConfigError):
        get_strategy("facility_location", optimizer="magic").select(state, 5)
    with pytest.raises(ConfigError):
        get_strategy("facility_location", n_neighbors=0).select(state, 5)


# --------------------------------------------------------------------------- both


@pytest.mark.parametrize("name", ["kcenter", "facility_location"])
def test_pool_exhausted(name):
    x = blobs(n=40)
    state = make_state(x, labeled=np.arange(30))
    with pytest.raises(PoolExhaustedError):
        get_strategy(name).select(state, 11)
    assert len(get_strategy(name).select(make_state(x, labeled=np.arange(30)), 10).indices) == 10


@pytest.mark.parametrize("name", ["kcenter", "facility_location"])
def test_select_all_candidates_with_duplicates(name):
    x = np.repeat(blobs(n=10), 3, axis=0)  # every point three times
    sel = get_strategy(name).select(make_state(x, labeled=[0]), 29)
    assert sorted(sel.indices.tolist()) == list(range(1, 30))
