"""How close the approximate paths of the diversity strategies come to the exact ones on the whole
SST-2 training pool (67,349 sentences, bundled MiniLM embeddings), where both run (issue 29).

For ``kmeans``, ``kcenter`` and ``facility_location`` at 10%, and for ``--dedup 0.95``, the exact
and the approximate path run on the same pool with the same seed, each timed; then:

- ``kmeans``: the KMeans objective, the sum over the pool of the squared distance to the nearest
  chosen row, in the 32-d projection both paths cluster in and in the 384-d embedding space;
- ``kcenter``: the covering radius (largest distance of a row to its nearest chosen row) and the
  mean distance;
- ``facility_location``: its objective on the exact 20-neighbour graph, and without the graph
  (the sum over the pool of the largest cosine to a chosen row);
- ``--dedup 0.95``: the share of the exact near-duplicate pairs (cosine >= 0.95, from an exact
  range search) the approximate path finds;
- the inverted file's recall of the exact 20 nearest neighbours (:data:`N_PROBE` cells probed),
  which feeds facility location and typicality.

Usage (one BLAS thread, as a loop selects)::

    OMP_NUM_THREADS=1 python bench/approximate_quality.py --out docs/approximate-quality.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUDGET = 0.1
DEDUP_THRESHOLD = 0.95
NEIGHBOURS = 20


def pool_embeddings() -> np.ndarray:
    """The bundled SST-2 training pool's MiniLM embeddings (alsel's cache; embedded if missing)."""
    from alsel.data import load_data
    from alsel.embed import Embedder

    pool = load_data("sst2").pool
    return np.ascontiguousarray(Embedder().embed(pool.texts, pool.fingerprint()))


def _state(x: np.ndarray, seed: int):
    from alsel.strategies import LoopState

    return LoopState(
        labels=np.zeros(len(x), dtype=np.int64),
        n_classes=1,
        candidates=np.arange(len(x)),
        labeled=np.arange(0),
        random_state=np.random.default_rng(seed),
        embeddings=x,
    )


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, round(time.perf_counter() - t0, 2)


def _nearest_squared(x: np.ndarray, rows) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(x[rows]))
    return np.maximum(index.search(np.ascontiguousarray(x), 1)[0][:, 0].astype(np.float64), 0.0)


def _both_paths(name: str, x: np.ndarray, k: int, seed: int) -> dict:
    from alsel.strategies import get_strategy

    out = {}
    for path, flag in (("exact", False), ("approximate", True)):
        selection, seconds = _timed(get_strategy(name, approximate=flag).select, _state(x, seed), k)
        out[path] = {"rows": selection.indices, "seconds": seconds}
    return out


def kmeans_quality(x: np.ndarray, k: int, seed: int) -> dict:
    from alsel.strategies.kmeans import gaussian_projection

    runs = _both_paths("kmeans", x, k, seed)
    projected = gaussian_projection(x, 32, np.random.default_rng(seed))  # the strategy's first draw
    result = {}
    for path, run in runs.items():
        result[path] = {
            "seconds": run["seconds"],
            "objective_32d": float(_nearest_squared(projected, run["rows"]).sum()),
            "objective_384d": float(_nearest_squared(x, run["rows"]).sum()),
        }
    for space in ("objective_32d", "objective_384d"):
        result[f"{space}_ratio"] = result["approximate"][space] / result["exact"][space]
    return result


def kcenter_quality(x: np.ndarray, k: int, seed: int) -> dict:
    result = {}
    for path, run in _both_paths("kcenter", x, k, seed).items():
        distances = np.sqrt(_nearest_squared(x, run["rows"]))
        result[path] = {"seconds": run["seconds"], "radius": float(distances.max()), "mean_distance": float(distances.mean())}
    result["radius_ratio"] = result["approximate"]["radius"] / result["exact"]["radius"]
    result["mean_distance_ratio"] = result["approximate"]["mean_distance"] / result["exact"]["mean_distance"]
    return result


def facility_location_quality(x: np.ndarray, k: int, seed: int, graph) -> dict:
    import faiss

    from alsel.strategies.facility_location import facility_location_objective

    def dense_objective(rows) -> float:
        """sum over the pool of the largest cosine to a chosen row (clipped at 0): the objective
        without the graph's sparsification."""
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(np.ascontiguousarray(x[rows]))
        return float(np.maximum(index.search(x, 1)[0][:, 0].astype(np.float64), 0.0).sum())

    result = {}
    for path, run in _both_paths("facility_location", x, k, seed).items():
        objective = facility_location_objective(*graph, run["rows"])
        result[path] = {"seconds": run["seconds"], "objective": objective, "dense_objective": dense_objective(run["rows"])}
    result["objective_ratio"] = result["approximate"]["objective"] / result["exact"]["objective"]
    result["dense_objective_ratio"] = result["approximate"]["dense_objective"] / result["exact"]["dense_objective"]
    return result


def dedup_quality(x: np.ndarray, k: int, seed: int) -> dict:
    import faiss

    from alsel.strategies import get_strategy
    from alsel.strategies.compose import Deduplicated
    from alsel.strategies.neighbours import approximate_pairs

    def exact_pairs() -> set:
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        lims, _, found = index.range_search(x, DEDUP_THRESHOLD)
        rows = np.repeat(np.arange(len(x)), np.diff(lims.astype(np.int64)))
        keep = found < rows
        return set(zip(rows[keep].tolist(), found[keep].tolist()))

    exact, exact_seconds = _timed(exact_pairs)
    (later, earlier), approx_seconds = _timed(lambda: approximate_pairs(x, DEDUP_THRESHOLD))
    approx = set(zip(later.tolist(), earlier.tolist()))
    result = {
        "exact_pairs": len(exact),
        "approximate_pairs": len(approx),
        "recall": len(exact & approx) / len(exact) if exact else 1.0,
        "false_pairs": len(approx - exact),
        "pairs_seconds": {"exact": exact_seconds, "approximate": approx_seconds},
    }
    for path, flag in (("exact", False), ("approximate", True)):
        strategy = Deduplicated(get_strategy("random"), threshold=DEDUP_THRESHOLD, approximate=flag)
        selection, seconds = _timed(strategy.select, _state(x, seed), k)
        result[path] = {"seconds": seconds, "rows": selection.indices}
    result["same_selection"] = bool(np.array_equal(result["exact"].pop("rows"), result["approximate"].pop("rows")))
    return result


def knn_recall(x: np.ndarray, graph) -> dict:
    from alsel.strategies.neighbours import N_PROBE, approximate_knn

    (found, _), seconds = _timed(approximate_knn, x, NEIGHBOURS, metric="ip")
    exact = graph[0]
    hits = sum(len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(found, exact))
    return {"probes": N_PROBE, "neighbours": NEIGHBOURS, "recall": hits / exact.size, "seconds": seconds}


MEASURES = ("kmeans", "kcenter", "facility_location", "dedup", "knn")


def run(seed: int, only=MEASURES) -> dict:
    from alsel.strategies.facility_location import knn_graph

    x = pool_embeddings()
    k = round(BUDGET * len(x))
    results: dict = {"pool": len(x), "k": k, "seed": seed}
    graph = None
    if {"facility_location", "knn"} & set(only):  # the exact graph takes about 30 s
        graph, results["exact_graph_seconds"] = _timed(knn_graph, x, NEIGHBOURS)
    measures = {
        "kmeans": lambda: kmeans_quality(x, k, seed),
        "kcenter": lambda: kcenter_quality(x, k, seed),
        "facility_location": lambda: facility_location_quality(x, k, seed, graph),
        "dedup": lambda: dedup_quality(x, k, seed),
        "knn": lambda: knn_recall(x, graph),
    }
    for name in only:
        results[name] = measures[name]()
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=MEASURES, default=list(MEASURES), help="measure these only")
    parser.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    args = parser.parse_args(argv)
    results = run(args.seed, args.only)
    text = json.dumps(results, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
