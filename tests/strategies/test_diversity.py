"""Diversity strategies on tiny synthetic data: greedy k-center, facility location and TypiClust."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from alsel.errors import ConfigError, PoolExhaustedError
from alsel.strategies import facility_location as fl, get_strategy
from alsel.strategies.facility_location import (
    facility_location_greedy,
    facility_location_objective,
    facility_location_ranking,
    knn_graph,
)
from alsel.strategies.kcenter import greedy_kcenter
from alsel.strategies.kmeans import kmeans_nearest
from alsel.strategies.state import LoopState
from alsel.strategies.typiclust import typicality, typiclust_order


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


# --------------------------------------------------------------------------- TypiClust


def separated_blobs(sizes, d=8, spread=0.5, seed=0):
    """Blob ``i`` (``sizes[i]`` points) around 10 * e_i: centres 14 apart, points within ~2 of theirs."""
    rng = np.random.default_rng(seed)
    blob = np.repeat(np.arange(len(sizes)), sizes)
    x = 10.0 * np.eye(d)[blob] + spread * rng.standard_normal((len(blob), d))
    return x.astype(np.float32), blob


def brute_force_typicality(x, clusters, neighbours):
    out = np.zeros(len(x))
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)
        depth = min(neighbours, len(members) - 1)
        if depth:
            dist = np.linalg.norm(x[members, None].astype(np.float64) - x[None, members], axis=2)
            out[members] = 1.0 / (np.sort(dist, axis=1)[:, 1 : depth + 1].mean(axis=1) + 1e-5)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typiclust_takes_the_most_typical_example_of_each_blob_largest_first(seed):
    sizes = [30, 70, 50, 40, 60, 20]
    x, blob = separated_blobs(sizes, seed=seed)
    sel = get_strategy("typiclust", projection_dim=None).select(make_state(x, seed=seed), 6)
    assert blob[sel.indices].tolist() == [1, 4, 2, 3, 0, 5]  # one per blob, the largest first
    # each is its blob's most typical point (the clusters are the blobs; K = 20)
    expected = brute_force_typicality(x, blob, 20)
    for i, b in zip(sel.indices, blob[sel.indices]):
        members = np.flatnonzero(blob == b)
        assert i == members[np.argmax(expected[members])]
    np.testing.assert_allclose(sel.scores, expected[sel.indices], rtol=1e-4)


def test_typiclust_prefers_the_dense_core_of_a_blob_to_its_outliers():
    rng = np.random.default_rng(4)
    core = rng.standard_normal((200, 8))
    outliers = 6.0 * np.eye(8)[:5] + 0.1 * rng.standard_normal((5, 8))  # far out, but each close to nothing
    x = np.vstack([outliers, core]).astype(np.float32)  # outliers take the lowest pool positions
    sel = get_strategy("typiclust", projection_dim=None).select(make_state(x), 1)
    assert sel.indices[0] >= 5 and np.linalg.norm(x[sel.indices[0]]) < 1.5
    assert sel.indices[0] == np.argmax(brute_force_typicality(x, np.zeros(len(x)), 20))


@pytest.mark.parametrize("neighbours", [1, 5, 20, 1000])
def test_typicality_matches_brute_force_and_caps_k_at_the_cluster_size(neighbours):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((90, 6)).astype(np.float32)
    clusters = rng.integers(4, size=90)
    clusters[7] = 4  # a cluster of one: typicality 0
    got = typicality(x, clusters, neighbours)
    np.testing.assert_allclose(got, brute_force_typicality(x, clusters, neighbours), rtol=1e-4)
    assert got[7] == 0 and (np.delete(got, 7) > 0).all()


def test_typiclust_is_deterministic_for_a_seed_and_never_takes_a_labelled_example():
    x, blob = separated_blobs([40, 40, 40, 40], seed=6)
    labeled = np.array([0, 5, 41, 47])  # blobs 0 and 1 are covered
    first = get_strategy("typiclust").select(make_state(x, labeled=labeled, seed=3), 2)
    again = get_strategy("typiclust").select(make_state(x, labeled=labeled, seed=3), 2)
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.scores, again.scores)
    assert sorted(blob[first.indices].tolist()) == [2, 3]  # the uncovered blobs
    many = get_strategy("typiclust").select(make_state(x, labeled=labeled, seed=3), 100)
    assert len(set(many.indices.tolist())) == 100 and not np.isin(many.indices, labeled).any()


def test_typiclust_spreads_a_budget_beyond_the_natural_clusters():
    x, blob = separated_blobs([60, 60, 60], seed=7)
    sel = get_strategy("typiclust", projection_dim=None).select(make_state(x), 30)
    assert len(set(sel.indices.tolist())) == 30
    assert np.bincount(blob[sel.indices], minlength=3).min() >= 7  # 30 sub-clusters of three blobs
    # capped at 3 clusters, the clusters take turns: one per blob in each pass
    capped = get_strategy("typiclust", projection_dim=None, max_clusters=3).select(make_state(x), 30)
    assert len(set(capped.indices.tolist())) == 30
    assert all(sorted(blob[capped.indices[i : i + 3]].tolist()) == [0, 1, 2] for i in range(0, 30, 3))
    everything = get_strategy("typiclust").select(make_state(x, labeled=[0]), len(x) - 1)
    assert sorted(everything.indices.tolist()) == list(range(1, len(x)))


def test_typiclust_breaks_ties_towards_the_lower_pool_position():
    x, _ = separated_blobs([30, 30], seed=8)
    doubled = np.vstack([x, x])  # position i and i + 60 are the same point
    sel = get_strategy("typiclust", projection_dim=None).select(make_state(doubled), 2)
    assert (sel.indices < 60).all()
    # equal typicality: the lowest row; equal clusters: the one offering the lowest row
    clusters = np.array([1, 0, 0, 1])
    assert typiclust_order(clusters, np.ones(4), 4, 4, min_cluster_size=1).tolist() == [0, 1, 2, 3]


def test_typiclust_order_covers_uncovered_and_large_clusters_first_and_small_ones_last():
    clusters = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 0])  # row 10 is labelled
    scores = np.arange(11.0)
    order = typiclust_order(clusters, scores, 10, 10, min_cluster_size=2).tolist()
    # the uncovered 1 (4 members), then 2; then the fewest covered first, the largest among those,
    # the lowest row among equals; cluster 3 (one member, below min_cluster_size) last
    assert order == [6, 8, 2, 5, 7, 1, 4, 0, 3, 9]


def test_typiclust_rejects_bad_options_and_needs_only_embeddings():
    state = make_state(blobs(n=50))
    for options in ({"neighbours": 0}, {"max_clusters": 0}, {"projection_dim": 0}, {"min_cluster_size": 0}, {"n_iter": 0}):
        with pytest.raises(ConfigError, match="typiclust"):
            get_strategy("typiclust", **options)
    assert state.probs is None and len(get_strategy("typiclust").select(state, 5).indices) == 5  # an initial pool
    state.embeddings = None
    with pytest.raises(ConfigError, match="embeddings"):
        get_strategy("typiclust").select(state, 5)


# --------------------------------------------------------------------------- both


@pytest.mark.parametrize("name", ["kcenter", "facility_location", "typiclust"])
def test_pool_exhausted(name):
    x = blobs(n=40)
    state = make_state(x, labeled=np.arange(30))
    with pytest.raises(PoolExhaustedError):
        get_strategy(name).select(state, 11)
    assert len(get_strategy(name).select(make_state(x, labeled=np.arange(30)), 10).indices) == 10


@pytest.mark.parametrize("name", ["kcenter", "facility_location", "typiclust"])
def test_select_all_candidates_with_duplicates(name):
    x = np.repeat(blobs(n=10), 3, axis=0)  # every point three times
    sel = get_strategy(name).select(make_state(x, labeled=[0]), 29)
    assert sorted(sel.indices.tolist()) == list(range(1, 30))


def test_faiss_kmeans_is_set_up_in_one_place():
    """Only kmeans.faiss_kmeans builds a faiss.Kmeans: every strategy that clusters shares its
    arguments (iterations, seed draw, points per centroid)."""
    import ast
    from pathlib import Path

    import alsel

    root = Path(alsel.__file__).parent
    builders = sorted(
        f"{path.relative_to(root)}:{node.name}"
        for path in root.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "Kmeans" for call in ast.walk(node)
        )
    )
    assert builders == ["strategies/kmeans.py:faiss_kmeans"]


@pytest.mark.parametrize(
    "name, options", [("kmeans", {}), ("typiclust", {}), ("cluster_margin", {"n_clusters": 4, "max_agglomerative": 10})]
)
def test_every_clustering_strategy_goes_through_faiss_kmeans(monkeypatch, name, options):
    from alsel.strategies import kmeans

    calls = []

    def spy(x, k, **kwargs):
        calls.append(k)
        return faiss_kmeans(x, k, **kwargs)

    faiss_kmeans = kmeans.faiss_kmeans
    monkeypatch.setattr(kmeans, "faiss_kmeans", spy)
    x = blobs(n=200)
    state = make_state(x)
    if name == "cluster_margin":
        p1 = np.random.default_rng(3).random(len(x))
        state.probs = np.stack([1 - p1, p1], axis=1)
    assert len(get_strategy(name, **options).select(state, 8).indices) == 8
    assert calls, f"{name} clustered without faiss_kmeans"
