"""The approximate paths of the diversity strategies: close to the exact ones on clustered data,
taken from the threshold on (``approximate: auto``) or when forced, deterministic."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from alsel.errors import ConfigError
from alsel.loops.config import LoopConfig, build_strategy
from alsel.strategies import LoopState, approximate as approximate_module, get_strategy, kmeans as kmeans_module
from alsel.strategies.compose import Deduplicated, near_duplicates
from alsel.strategies.facility_location import approximate_knn_graph, facility_location_greedy, facility_location_objective, knn_graph
from alsel.strategies.kcenter import greedy_kcenter, partitioned_kcenter
from alsel.strategies.kmeans import kmeans_nearest, two_level_labels, two_level_nearest
from alsel.strategies.neighbours import approximate_knn, approximate_pairs
from alsel.strategies.typiclust import typicality


def clustered(n: int, d: int, *, centres: int = 60, spread: float = 0.4, seed: int = 0) -> np.ndarray:
    """``n`` L2-normalised rows around ``centres`` random centres."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    x = c[rng.integers(centres, size=n)] + spread * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def squared_distance_to_chosen(x: np.ndarray, rows) -> float:
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(x[rows]))
    return float(index.search(x, 1)[0].astype(np.float64).sum())


def state(x: np.ndarray, labeled=()) -> LoopState:
    labeled = np.asarray(labeled, dtype=np.int64)
    return LoopState(
        labels=np.zeros(len(x), dtype=np.int64),
        n_classes=1,
        candidates=np.setdiff1d(np.arange(len(x)), labeled),
        labeled=labeled,
        random_state=np.random.default_rng(0),
        embeddings=x,
    )


def test_two_level_kmeans_objective_is_within_two_percent_of_exact():
    x = clustered(6000, 32)
    k = 600
    exact, _ = kmeans_nearest(x, k, rng=np.random.default_rng(1))
    approx = two_level_nearest(x, k, rng=np.random.default_rng(1))
    assert len(np.unique(approx)) == k
    assert squared_distance_to_chosen(x, approx) <= 1.02 * squared_distance_to_chosen(x, exact)


def test_two_level_kmeans_refinement_moves_clusters_across_cell_borders(monkeypatch):
    """Without the Lloyd iterations over all centroids, cells cut through the data and leave a
    worse objective on unclustered rows."""
    x = np.random.default_rng(0).standard_normal((4000, 4)).astype(np.float32)
    refined = squared_distance_to_chosen(x, two_level_nearest(x, 400, rng=np.random.default_rng(0)))
    monkeypatch.setattr(kmeans_module, "REFINE_ITERATIONS", 0)
    cells_only = squared_distance_to_chosen(x, two_level_nearest(x, 400, rng=np.random.default_rng(0)))
    assert refined < 0.975 * cells_only  # 0.962 measured


def test_two_level_kmeans_picks_distinct_rows_when_rows_repeat():
    """50 distinct rows, each 10 times, and 80 clusters: some clusters end empty and take the
    nearest row not taken."""
    base = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    x = np.repeat(base, 10, axis=0)
    rows = two_level_nearest(x, 80, rng=np.random.default_rng(0))
    assert len(rows) == 80 and len(np.unique(rows)) == 80
    assert len(np.unique(x[rows], axis=0)) == 50  # every distinct row is chosen


def test_two_level_kmeans_rows_whose_probed_cells_hold_no_centroid_search_them_all(monkeypatch):
    """A far row is a coarse cell of its own with no share of k; probing one cell, it finds no
    centroid there and falls back to all of them."""
    x = np.vstack([np.random.default_rng(0).standard_normal((1000, 8)), np.full((1, 8), 100.0)]).astype(np.float32)
    monkeypatch.setattr(kmeans_module, "REFINE_PROBES", 1)
    rows = two_level_nearest(x, 50, rng=np.random.default_rng(0))
    assert len(np.unique(rows)) == 50 and rows.max() < len(x)


def covering_radii(x: np.ndarray, centres) -> np.ndarray:
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(x[centres]))
    return np.sqrt(np.maximum(index.search(x, 1)[0][:, 0], 0))


def test_partitioned_kcenter_covers_nearly_as_well_as_the_global_greedy():
    x = clustered(6000, 32)
    initial = np.arange(5990, 6000)
    exact, _ = greedy_kcenter(x, 600, initial=initial, rng=np.random.default_rng(1))
    rows, scores = partitioned_kcenter(x, 600, initial, np.random.default_rng(1))
    assert len(np.unique(rows)) == 600 and not np.isin(rows, initial).any()
    assert (scores[1:] <= scores[:-1]).all()  # largest pick-time distance first
    exact_radii = covering_radii(x, np.concatenate([exact, initial]))
    radii = covering_radii(x, np.concatenate([rows, initial]))
    assert radii.max() <= 1.25 * exact_radii.max()
    assert radii.mean() <= 1.05 * exact_radii.mean()
    random_rows = np.random.default_rng(0).choice(5990, 600, replace=False)
    assert radii.max() < covering_radii(x, np.concatenate([random_rows, initial])).max()


def test_two_level_labels_give_about_k_clusters_covering_every_row():
    x = clustered(3000, 16)
    labels = two_level_labels(x, 200, rng=np.random.default_rng(0))
    assert labels.shape == (3000,) and labels.min() == 0
    assert 150 <= len(np.unique(labels)) <= 200 + int(np.ceil(np.sqrt(200)))


def test_approximate_knn_finds_nearly_all_exact_neighbours_and_each_row_itself():
    x = clustered(8000, 48)
    exact, _ = knn_graph(x, 20)
    neighbors, sims = approximate_knn_graph(x, 20)
    recall = np.mean([len(np.intersect1d(a, b)) / 20 for a, b in zip(exact, neighbors)])
    assert recall >= 0.95
    assert (neighbors == np.arange(len(x))[:, None]).any(axis=1).all()
    assert (sims >= 0).all() and (np.diff(sims, axis=1) <= 1e-6).all()


def test_approximate_knn_of_a_tiny_pool_is_exact():
    x = clustered(30, 8)
    rows, dist = approximate_knn(x, 30, metric="l2")
    expected = faiss.IndexFlatL2(8)
    expected.add(x)
    np.testing.assert_allclose(dist, np.maximum(expected.search(x, 30)[0], 0), atol=1e-4)
    assert sorted(rows[0].tolist()) == list(range(30))


def test_facility_location_on_the_approximate_graph_is_within_one_percent_of_exact():
    x = clustered(8000, 48)
    neighbors, sims = knn_graph(x, 20)
    k = 400
    exact, _ = facility_location_greedy(neighbors, sims, k)
    approx, _ = facility_location_greedy(*approximate_knn_graph(x, 20), k)
    # Both judged on the exact graph's objective.
    assert facility_location_objective(neighbors, sims, approx) >= 0.99 * facility_location_objective(neighbors, sims, exact)


def test_approximate_pairs_recall_at_least_99_percent_of_exact_near_duplicates():
    rng = np.random.default_rng(3)
    base = clustered(6000, 48, seed=3)
    copies = base[rng.integers(len(base), size=1500)] + 0.02 * rng.standard_normal((1500, 48)).astype(np.float32)
    x = np.vstack([base, copies])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    later, earlier = np.nonzero(np.tril(x @ x.T >= 0.95, k=-1))
    exact = set(zip(later.tolist(), earlier.tolist()))
    found = set(zip(*(a.tolist() for a in approximate_pairs(x, 0.95))))
    assert len(exact) > 1000
    assert found <= exact  # every reported pair is a true one
    assert len(found & exact) >= 0.99 * len(exact)


def test_approximate_near_duplicates_drop_the_same_rows_as_exact():
    rng = np.random.default_rng(4)
    base = clustered(3000, 32, seed=4)
    x = np.vstack([base, base[rng.integers(3000, size=600)] + 0.01 * rng.standard_normal((600, 32)).astype(np.float32)])
    reference = x[:50] + 0.001
    exact = near_duplicates(x[50:], 0.97, reference)
    approx = near_duplicates(x[50:], 0.97, reference, approximate=True)
    assert exact.sum() >= 600
    assert (exact != approx).mean() <= 0.01


def test_approximate_typicality_is_close_to_exact_in_a_cluster_above_one_block():
    x = clustered(6000, 8, centres=3, spread=0.3)
    clusters = np.zeros(len(x), dtype=np.int64)
    exact = typicality(x, clusters, 20)
    approx = typicality(x, clusters, 20, approximate=True)
    assert np.corrcoef(exact, approx)[0, 1] >= 0.98
    assert np.median(1 - approx / exact) <= 0.05
    assert (approx <= exact * (1 + 1e-5)).all()  # neighbours it misses only lengthen the mean distance


@pytest.mark.parametrize("name", ["kmeans", "facility_location", "typiclust", "kcenter"])
def test_auto_takes_the_exact_path_below_the_threshold_and_the_approximate_one_from_it(monkeypatch, name):
    x = clustered(1200, 16)
    k = 60
    exact = get_strategy(name, approximate=False).select(state(x, labeled=[0, 1]), k).indices
    approx = get_strategy(name, approximate=True).select(state(x, labeled=[0, 1]), k).indices
    assert not np.array_equal(exact, approx)  # the paths differ, so the comparisons below can fail
    assert np.array_equal(get_strategy(name).select(state(x, labeled=[0, 1]), k).indices, exact)
    monkeypatch.setattr(approximate_module, "APPROXIMATE_FROM", len(x) - 2)  # the candidates
    assert np.array_equal(get_strategy(name).select(state(x, labeled=[0, 1]), k).indices, approx)


@pytest.mark.parametrize("name", ["kmeans", "facility_location", "typiclust", "kcenter"])
def test_forced_approximate_selections_are_distinct_and_deterministic(name):
    x = clustered(900, 16)
    first = get_strategy(name, approximate=True).select(state(x, labeled=[5]), 50).indices
    again = get_strategy(name, approximate=True).select(state(x, labeled=[5]), 50).indices
    assert len(np.unique(first)) == 50 and 5 not in first
    np.testing.assert_array_equal(first, again)


def test_forcing_the_exact_path_above_the_threshold_never_calls_the_approximate_one(monkeypatch):
    monkeypatch.setattr(approximate_module, "APPROXIMATE_FROM", 10)

    def refuse(*args, **kwargs):
        raise AssertionError("the approximate path was taken")

    monkeypatch.setattr(kmeans_module, "two_level_nearest", refuse)
    x = clustered(300, 8)
    assert len(get_strategy("kmeans", approximate=False).select(state(x), 20).indices) == 20
    with pytest.raises(AssertionError, match="approximate path"):
        get_strategy("kmeans").select(state(x), 20)


def test_approximate_option_rejects_other_values():
    with pytest.raises(ConfigError, match="approximate"):
        get_strategy("kmeans", approximate="sometimes")


def test_dedup_takes_the_approximate_strategy_option_and_other_strategies_do_not():
    strategy = build_strategy("random", LoopConfig(init="random", dedup=0.95, strategy_options={"approximate": True}))
    assert isinstance(strategy, Deduplicated) and strategy.approximate is True
    assert build_strategy("random", LoopConfig(init="random", dedup=0.95)).approximate == "auto"
    with pytest.raises(ConfigError, match="unknown strategy option 'approximate'"):
        LoopConfig(init="random", budget=0.1, strategy_options={"approximate": True}).resolved()
    with pytest.raises(ConfigError, match="approximate"):
        LoopConfig(init="random", budget=0.1, dedup=0.95, strategy_options={"approximate": "often"}).resolved()
    LoopConfig(init="random", budget=0.1, dedup=0.95, strategy_options={"approximate": True}).resolved()


def test_forced_approximate_dedup_selection_has_no_near_duplicates():
    rng = np.random.default_rng(5)
    base = clustered(800, 16, seed=5)
    x = np.vstack([base, base + 0.001 * rng.standard_normal(base.shape).astype(np.float32)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    chosen = Deduplicated(get_strategy("random"), threshold=0.99, approximate=True).select(state(x), 300).indices
    sims = x[chosen] @ x[chosen].T
    np.fill_diagonal(sims, 0)
    assert sims.max() < 0.99


def test_dedup_auto_switches_at_the_threshold_counting_labelled_rows(monkeypatch):
    from alsel.strategies import compose

    flags = []
    real = compose.near_duplicates
    monkeypatch.setattr(compose, "near_duplicates", lambda *a, **kw: flags.append(kw["approximate"]) or real(*a, **kw))
    x = clustered(400, 8)
    dedup = Deduplicated(get_strategy("random"), threshold=0.999)
    dedup.select(state(x, labeled=[0, 1]), 10)
    monkeypatch.setattr(approximate_module, "APPROXIMATE_FROM", 400)  # 398 candidates + 2 labelled
    dedup.select(state(x, labeled=[0, 1]), 10)
    monkeypatch.setattr(approximate_module, "APPROXIMATE_FROM", 401)
    dedup.select(state(x, labeled=[0, 1]), 10)
    assert flags == [False, True, False]


def test_a_second_inverted_file_only_adds_near_duplicate_pairs_and_finds_missed_ones():
    rng = np.random.default_rng(3)
    base = clustered(3000, 32, centres=5, spread=2.0, seed=3)
    x = np.vstack([base, base + 0.08 * rng.standard_normal(base.shape).astype(np.float32)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    one = set(zip(*(a.tolist() for a in approximate_pairs(x, 0.95, tables=1))))
    two = set(zip(*(a.tolist() for a in approximate_pairs(x, 0.95))))
    sims = x @ x.T
    later, earlier = np.nonzero(np.tril(sims >= 0.95, k=-1))
    exact = set(zip(later.tolist(), earlier.tolist()))
    assert one <= two <= exact
    assert len(one) < len(exact) and len(two) > len(one)


def test_cells_that_probe_each_other_are_compared_once_for_pairs_with_the_same_pairs():
    from alsel.strategies.neighbours import _blocks, cells

    x = clustered(3000, 16, centres=8, spread=1.0, seed=4)
    index = cells(x)
    xs = np.ascontiguousarray(x[index.order])

    def pairs(symmetric):
        found, blocks = set(), 0
        for q0, d0, block in _blocks(xs, index, symmetric=symmetric):
            blocks += 1
            rows, cols = np.nonzero(block >= 0.9)
            a, b = index.order[q0 + rows], index.order[d0 + cols]
            found |= {(max(i, j), min(i, j)) for i, j in zip(a.tolist(), b.tolist()) if i != j}
        return found, blocks

    both_ways, all_blocks = pairs(False)
    once, fewer_blocks = pairs(True)
    assert once == both_ways and len(once) > 100
    assert fewer_blocks < 0.8 * all_blocks
