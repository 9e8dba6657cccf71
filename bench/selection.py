"""Benchmark of the diversity selectors on the SST-2 training pool (67,349 x 384 embeddings).

Each selector runs against a baseline in the same benchmark run, every measurement in its own
fresh subprocess so that its peak resident memory (VmHWM, which also sees FAISS and BLAS buffers)
belongs to it alone:

* ``kmeans``: the study's recipe (Gaussian projection to 32-d, then
  :func:`alsel.strategies.kmeans.kmeans_nearest`) against scikit-learn's
  ``KMeans(n_clusters=k, init="random", n_init=1, max_iter=20)`` on the same 32-d input.
* ``kcenter``: :func:`alsel.strategies.kcenter.greedy_kcenter` against a textbook NumPy loop
  (float64, full dimension, one distance vector per pick). The loop runs for a measured prefix
  of picks and its full time is extrapolated linearly (each pick costs the same).
* ``facility location``: the kNN graph (:func:`~alsel.strategies.facility_location.knn_graph`,
  with ``faiss.IndexFlatIP.search`` timed on a prefix of rows for reference) and lazy greedy,
  against apricot's ``FacilityLocationSelection`` (lazy) on the very same sparse graph, or a
  naive NumPy greedy on it where apricot cannot be imported.

Usage::

    python bench/selection.py --cache-dir .cache/alsel           # full: docs/benchmarks.*
    python bench/selection.py --cache-dir .cache/alsel --quick   # 2,000-row smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alsel.models import cpu_model  # noqa: E402  (after the path set-up above)

BUDGET_FRACTION = 0.10
N_NEIGHBORS = 20
PROJECTION_DIM = 32
TARGETS = {
    "kmeans": {"max_wall_s": 5.0, "min_speedup": 20.0, "max_objective_gap": 0.02},
    "kcenter": {"max_wall_s": 30.0, "min_speedup": 10.0},
    "facility_location": {"max_wall_s": 60.0, "min_speedup": 10.0},
    "max_peak_rss_gb": 4.0,
}


# --------------------------------------------------------------------------- measuring


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _measure(fn):
    """Run ``fn()``; return its result and wall time, CPU time (all threads) and memory.

    Memory comes from ``/proc/self/status``: VmHWM (peak resident set, which counts FAISS and BLAS
    buffers, unlike tracemalloc) is reset just before the call, so ``peak_rss_mb`` is the peak
    during the call and ``peak_over_start_mb`` its rise over the resident size before it.
    (``ru_maxrss`` is not used: a subprocess inherits its parent's value across fork.)
    """
    reset = _reset_peak()
    rss_before = _status_mb("VmRSS")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    peak = _status_mb("VmHWM")
    return result, {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak,
        "peak_is_call_only": reset,
        "rss_before_mb": rss_before,
        "peak_over_start_mb": max(0.0, peak - rss_before),
    }


# --------------------------------------------------------------------------- workers


def _worker(args) -> dict:
    x = np.load(args.embeddings, allow_pickle=False)
    n = len(x)
    k = args.k
    tmp = Path(args.tmp)
    name = args.worker
    out: dict = {"worker": name, "n": n, "k": k}

    if name in ("kmeans_alsel", "kmeans_sklearn"):
        from alsel.strategies.kmeans import gaussian_projection, kmeans_nearest

        rng = np.random.default_rng(args.seed)
        z, projection = _measure(lambda: gaussian_projection(x, PROJECTION_DIM, rng))
        out["projection"] = projection
        if name == "kmeans_alsel":
            (rows, objective), m = _measure(lambda: kmeans_nearest(z, k, rng=rng))
            out.update(m, objective=objective, n_distinct=int(len(np.unique(rows))))
        else:
            from sklearn.cluster import KMeans

            model = KMeans(n_clusters=k, init="random", n_init=1, max_iter=20, random_state=args.seed)
            fitted, m = _measure(lambda: model.fit(z))
            out.update(m, objective=float(fitted.inertia_), n_iter=int(fitted.n_iter_))

    elif name == "kcenter_alsel":
        from alsel.strategies.kcenter import greedy_kcenter

        (order, radii), m = _measure(lambda: greedy_kcenter(x, k, rng=np.random.default_rng(args.seed)))
        np.save(tmp / "kcenter_order.npy", order)
        np.save(tmp / "kcenter_radii.npy", radii)
        out.update(m, radius=float(radii[-1]), n_distinct=int(len(np.unique(order))))

    elif name == "kcenter_naive":

        def naive():
            # Textbook greedy k-center: float64, full dimension, one distance vector per pick.
            xd = x.astype(np.float64)
            first = int(np.random.default_rng(args.seed).integers(n))
            mind = np.full(n, np.inf)
            order, radii = [first], []
            c = first
            start = time.perf_counter()
            while True:
                mind = np.minimum(mind, np.sqrt(((xd - xd[c]) ** 2).sum(axis=1)))
                mind[order] = -1.0
                c = int(np.argmax(mind))
                radii.append(float(mind[c]))
                if len(order) == k or time.perf_counter() - start > args.naive_seconds:
                    return np.array(order), np.array(radii)
                order.append(c)

        (order, radii), m = _measure(naive)
        steps = len(order)
        out.update(m, steps=steps, extrapolated=steps < k, radius_at_steps=float(radii[-1]))
        out["wall_s_full"] = m["wall_s"] * k / steps
        out["cpu_s_full"] = m["cpu_s"] * k / steps
        np.save(tmp / "kcenter_naive_order.npy", order)

    elif name == "knn_graph":
        from alsel.strategies.facility_location import knn_graph

        (neighbors, sims), m = _measure(lambda: knn_graph(x, N_NEIGHBORS))
        np.save(tmp / "neighbors.npy", neighbors)
        np.save(tmp / "sims.npy", sims)
        out.update(m)

    elif name == "knn_flatip":
        import faiss

        rows = min(n, args.flatip_rows)

        def search():
            index = faiss.IndexFlatIP(x.shape[1])
            index.add(x)
            return index.search(x[:rows], N_NEIGHBORS)

        (sims, neighbors), m = _measure(search)
        ours = np.load(tmp / "neighbors.npy")[:rows]
        out.update(m, rows=rows, extrapolated=rows < n)
        out["wall_s_full"] = m["wall_s"] * n / rows
        out["cpu_s_full"] = m["cpu_s"] * n / rows
        out["same_neighbor_sets"] = float((np.sort(ours, axis=1) == np.sort(neighbors, axis=1)).all(axis=1).mean())

    elif name in ("fl_lazy", "fl_stochastic"):
        from alsel.strategies.facility_location import facility_location_greedy, facility_location_objective

        neighbors, sims = np.load(tmp / "neighbors.npy"), np.load(tmp / "sims.npy")
        optimizer = name.split("_")[1]
        (ranking, gains), m = _measure(
            lambda: facility_location_greedy(neighbors, sims, k, optimizer=optimizer, rng=np.random.default_rng(args.seed))
        )
        np.save(tmp / f"{name}_ranking.npy", ranking)
        out.update(m, objective=facility_location_objective(neighbors, sims, ranking), gain_sum=float(gains.sum()))

    elif name == "fl_apricot":
        from scipy.sparse import csr_matrix

        from alsel.strategies.facility_location import facility_location_objective

        neighbors, sims = np.load(tmp / "neighbors.npy"), np.load(tmp / "sims.npy")
        try:
            from apricot import FacilityLocationSelection
        except Exception as exc:  # apricot is optional; fall back to a naive greedy
            out["apricot_error"] = f"{type(exc).__name__}: {exc}"
            return _naive_fl(out, neighbors, sims, k, args, tmp)
        import apricot

        graph = csr_matrix(
            (
                sims.ravel().astype(np.float64),
                neighbors.ravel().astype(np.int32),
                np.arange(0, n * N_NEIGHBORS + 1, N_NEIGHBORS, dtype=np.int32),
            ),
            shape=(n, n),
        )
        graph.indices = graph.indices.astype(np.int32)
        graph.indptr = graph.indptr.astype(np.int32)
        # apricot JIT-compiles its gain kernel (numba) inside every fit; time that on a tiny graph.
        tiny = csr_matrix(np.eye(50))
        _, compile_m = _measure(lambda: FacilityLocationSelection(5, metric="precomputed", optimizer="lazy").fit(tiny))
        selector = FacilityLocationSelection(k, metric="precomputed", optimizer="lazy")
        fitted, m = _measure(lambda: selector.fit(graph))
        ranking = np.asarray(fitted.ranking, dtype=np.int64)
        np.save(tmp / "fl_apricot_ranking.npy", ranking)
        out.update(
            m,
            baseline="apricot",
            apricot_version=apricot.__version__,
            tiny_fit_s=compile_m["wall_s"],
            objective=facility_location_objective(neighbors, sims, ranking),
            gain_sum=float(np.sum(fitted.gains)),
        )
    else:
        raise SystemExit(f"unknown worker {name}")
    return out


def _naive_fl(out, neighbors, sims, k, args, tmp) -> dict:
    """Naive greedy on the same graph: every candidate re-evaluated each step (time-capped)."""
    n = len(neighbors)

    def naive():
        best = np.zeros(n)
        free = np.ones(n, dtype=bool)
        ranking = []
        s64 = sims.astype(np.float64)
        start = time.perf_counter()
        while len(ranking) < k and time.perf_counter() - start < args.naive_seconds:
            gains = np.maximum(s64 - best[neighbors], 0.0).sum(axis=1)
            gains[~free] = -1.0
            j = int(np.argmax(gains))
            ranking.append(j)
            free[j] = False
            best[neighbors[j]] = np.maximum(best[neighbors[j]], s64[j])
        return np.array(ranking)

    ranking, m = _measure(naive)
    steps = len(ranking)
    out.update(m, baseline="naive numpy greedy", steps=steps, extrapolated=steps < k)
    out["wall_s_full"] = m["wall_s"] * k / steps
    out["cpu_s_full"] = m["cpu_s"] * k / steps
    np.save(tmp / "fl_apricot_ranking.npy", ranking)
    return out


# --------------------------------------------------------------------------- orchestration


def _machine() -> dict:
    import faiss
    import scipy
    import sklearn

    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "nproc": int(nproc) if nproc.isdigit() else os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "platform": platform.platform(),
    }


def _embeddings(args) -> tuple[Path, dict]:
    from alsel.data import load_data
    from alsel.embed import Embedder

    splits = load_data("sst2", limit=2000 if args.quick else None)
    pool = splits.pool
    embedder = Embedder(cache_dir=args.cache_dir)
    fingerprint = pool.fingerprint()
    start = time.perf_counter()
    x = embedder.embed(pool.texts, fingerprint)
    info = {"n": int(x.shape[0]), "d": int(x.shape[1]), "dtype": str(x.dtype), "embed_or_load_s": time.perf_counter() - start}
    return embedder.cache_path(fingerprint), info


def _run(worker: str, emb: Path, tmp: Path, args, k: int) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        worker,
        "--embeddings",
        str(emb),
        "--tmp",
        str(tmp),
        "--k",
        str(k),
        "--seed",
        str(args.seed),
        "--naive-seconds",
        str(args.naive_seconds),
        "--flatip-rows",
        str(args.flatip_rows),
    ]
    load_before = os.getloadavg()[0]
    print(f"  {worker} ...", end=" ", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print("FAILED")
        sys.stderr.write(done.stderr)
        return {"worker": worker, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["loadavg_1min_before"] = load_before
    result["loadavg_1min_after"] = os.getloadavg()[0]
    print(f"{result.get('wall_s', float('nan')):.2f} s")
    return result


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _report(results: dict, machine: dict, data: dict, command: str, quick: bool) -> str:
    r = results
    k = data["k"]
    lines = [
        "# Selection benchmarks",
        "",
        f"Diversity selectors on the SST-2 training pool: {data['n']:,} sentence embeddings "
        f"({data['d']}-d, all-MiniLM-L6-v2, L2-normalised float32), budget 10% = {k:,} picks, seed {data['seed']}."
        + (" **Quick smoke run (2,000 rows), not the real benchmark.**" if quick else ""),
        "",
        "Command (from the repository root, with the project's virtual environment active):",
        "",
        "```",
        command,
        "```",
        "",
        f'Machine: `nproc` = {machine["nproc"]}, CPU model "{machine["cpu_model"]}", {machine["memory_gb"]} GB RAM; '
        f"Python {machine['python']}, NumPy {machine['numpy']}, SciPy {machine['scipy']}, scikit-learn {machine['scikit_learn']}, "
        f"FAISS {machine['faiss']} ({machine['faiss_threads']} OpenMP threads). Run on {data['date']}.",
        "",
        "The two cores are shared with other jobs, so wall times are noisy: the table gives each run's "
        "1-minute load average when it started (above 2 means other processes competed for the CPUs) and "
        "the process CPU time (all threads), which contention disturbs less. Every row is a fresh "
        "subprocess that loads the embeddings from the `.npy` cache. *Peak RSS* is the process's peak "
        "resident set during the measured call (Linux VmHWM, reset just before the call; it counts FAISS "
        "and BLAS buffers, which tracemalloc cannot see, plus the 99 MiB of embeddings, the interpreter "
        "and imports); *+peak* is its rise over the resident size just before the call.",
        "",
        "| Task | Implementation | Wall s | CPU s | Load | Peak RSS MB | +peak MB | Quality |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]

    def row(task, impl, res, quality, wall=None, cpu=None):
        if "error" in res:
            lines.append(f"| {task} | {impl} | failed: {res['error']} | | | | | |")
            return
        lines.append(
            f"| {task} | {impl} | {wall or _fmt(res['wall_s'])} | {cpu or _fmt(res['cpu_s'])} | {_fmt(res['loadavg_1min_before'], 1)} | "
            f"{_fmt(res['peak_rss_mb'], 0)} | {_fmt(res['peak_over_start_mb'], 0)} | {quality} |"
        )

    ka, ks = r["kmeans_alsel"], r["kmeans_sklearn"]
    row(f"KMeans, k={k:,}, 32-d", "alsel `kmeans_nearest` (FAISS, 20 iter)", ka, f"inertia {_fmt(ka.get('objective'), 1)}")
    row(
        "",
        'scikit-learn `KMeans(init="random", n_init=1, max_iter=20)`',
        ks,
        f"inertia {_fmt(ks.get('objective'), 1)} ({ks.get('n_iter', '?')} iter)",
    )
    ca, cn = r["kcenter_alsel"], r["kcenter_naive"]
    row("k-center, 384-d", "alsel `greedy_kcenter` (float32, blocked)", ca, f"radius {_fmt(ca.get('radius'), 4)}")
    if "error" not in cn:
        row(
            "",
            f"naive NumPy loop, float64 (measured {cn['steps']:,} picks, extrapolated)"
            if cn["extrapolated"]
            else "naive NumPy loop, float64",
            cn,
            f"radius after {cn['steps']:,} picks {_fmt(cn['radius_at_steps'], 4)} (alsel at the same pick: {_fmt(data.get('kcenter_alsel_radius_at_naive_steps'), 4)})",
            wall=f"{_fmt(cn['wall_s_full'], 1)} (measured {_fmt(cn['wall_s'], 1)})",
            cpu=f"{_fmt(cn['cpu_s_full'], 1)}",
        )
    else:
        row("", "naive NumPy loop", cn, "")
    kg, kf = r["knn_graph"], r["knn_flatip"]
    row(f"kNN graph, {N_NEIGHBORS} neighbours", "alsel `knn_graph` (blocked X X^T + FAISS heaps)", kg, "exact")
    if "error" not in kf:
        row(
            "",
            f"`faiss.IndexFlatIP.search` ({kf['rows']:,} rows measured, extrapolated)"
            if kf["extrapolated"]
            else "`faiss.IndexFlatIP.search`",
            kf,
            f"same neighbour sets on {kf['same_neighbor_sets']:.2%} of measured rows",
            wall=f"{_fmt(kf['wall_s_full'], 1)} (measured {_fmt(kf['wall_s'], 1)})",
            cpu=_fmt(kf["cpu_s_full"], 1),
        )
    fl, fs, fa = r["fl_lazy"], r["fl_stochastic"], r["fl_apricot"]
    row("facility location on that graph", "alsel lazy greedy", fl, f"objective {_fmt(fl.get('objective'), 2)}")
    row("", "alsel stochastic greedy (eps 0.01)", fs, f"objective {_fmt(fs.get('objective'), 2)}")
    if "error" not in fa:
        label = (
            f"apricot {fa['apricot_version']} `FacilityLocationSelection` (lazy, precomputed sparse)"
            if fa.get("baseline") == "apricot"
            else "naive NumPy greedy (apricot unavailable)"
        )
        if fa.get("extrapolated"):
            row(
                "",
                label + f", {fa['steps']:,} picks measured, extrapolated",
                fa,
                "",
                wall=_fmt(fa["wall_s_full"], 1),
                cpu=_fmt(fa["cpu_s_full"], 1),
            )
        else:
            row("", label, fa, f"objective {_fmt(fa.get('objective'), 2)}; same ranking as alsel lazy: {data.get('fl_same_ranking')}")
    else:
        row("", "apricot", fa, "")

    s = data["summary"]
    lines += [
        "",
        "## Against the targets",
        "",
        "| Selector | Wall s | Target | Speed-up vs baseline (wall / CPU) | Target | Quality | Peak RSS | Met? |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for item in s:
        lines.append(
            f"| {item['name']} | {_fmt(item['wall_s'])} | <= {item['target_wall_s']:g} | {_fmt(item['speedup_wall'], 1)}x / {_fmt(item['speedup_cpu'], 1)}x | >= {item['target_speedup']:g}x | "
            f"{item['quality']} | {_fmt(item['peak_rss_gb'], 2)} GB | {item['verdict']} |"
        )
    lines += ["", "## Notes", ""] + [f"- {note}" for note in data["notes"]] + [""]
    return "\n".join(lines)


def _summarise(r: dict, data: dict) -> tuple[list, list]:
    notes = []
    summary = []
    peak = lambda *names: max(r[n].get("peak_rss_mb", 0.0) for n in names) / 1024  # noqa: E731

    ka, ks = r["kmeans_alsel"], r["kmeans_sklearn"]
    if "error" not in ka and "error" not in ks:
        gap = (ka["objective"] - ks["objective"]) / ks["objective"]
        t = TARGETS["kmeans"]
        summary.append(
            {
                "name": "kmeans (32-d)",
                "wall_s": ka["wall_s"],
                "target_wall_s": t["max_wall_s"],
                "speedup_wall": ks["wall_s"] / ka["wall_s"],
                "speedup_cpu": ks["cpu_s"] / ka["cpu_s"],
                "target_speedup": t["min_speedup"],
                "quality": f"inertia {gap:+.2%} vs sklearn (target within 2%)",
                "peak_rss_gb": peak("kmeans_alsel"),
                "verdict": _verdict(
                    ka["wall_s"] <= t["max_wall_s"],
                    ks["wall_s"] / ka["wall_s"] >= t["min_speedup"],
                    abs(gap) <= t["max_objective_gap"],
                    peak("kmeans_alsel") <= TARGETS["max_peak_rss_gb"],
                ),
            }
        )
        data["kmeans_objective_gap"] = gap
    ca, cn = r["kcenter_alsel"], r["kcenter_naive"]
    if "error" not in ca and "error" not in cn:
        t = TARGETS["kcenter"]
        speed = cn["wall_s_full"] / ca["wall_s"]
        summary.append(
            {
                "name": "kcenter (384-d)",
                "wall_s": ca["wall_s"],
                "target_wall_s": t["max_wall_s"],
                "speedup_wall": speed,
                "speedup_cpu": cn["cpu_s_full"] / ca["cpu_s"],
                "target_speedup": t["min_speedup"],
                "quality": f"radius {ca['radius']:.4f}; same first {cn['steps']:,} picks as naive: {data.get('kcenter_same_prefix')}",
                "peak_rss_gb": peak("kcenter_alsel"),
                "verdict": _verdict(
                    ca["wall_s"] <= t["max_wall_s"], speed >= t["min_speedup"], True, peak("kcenter_alsel") <= TARGETS["max_peak_rss_gb"]
                ),
            }
        )
    kg, fl, fa = r["knn_graph"], r["fl_lazy"], r["fl_apricot"]
    if all("error" not in v for v in (kg, fl, fa)):
        t = TARGETS["facility_location"]
        ours = kg["wall_s"] + fl["wall_s"]
        base_wall = fa.get("wall_s_full", fa["wall_s"])
        base_cpu = fa.get("cpu_s_full", fa["cpu_s"])
        speed_total = (kg["wall_s"] + base_wall) / ours
        summary.append(
            {
                "name": "facility_location (graph + lazy)",
                "wall_s": ours,
                "target_wall_s": t["max_wall_s"],
                "speedup_wall": speed_total,
                "speedup_cpu": (kg["cpu_s"] + base_cpu) / (kg["cpu_s"] + fl["cpu_s"]),
                "target_speedup": t["min_speedup"],
                "quality": f"objective {fl['objective']:.2f} vs baseline {_fmt(fa.get('objective'), 2)} (same graph)",
                "peak_rss_gb": peak("knn_graph", "fl_lazy"),
                "verdict": _verdict(
                    ours <= t["max_wall_s"],
                    speed_total >= t["min_speedup"],
                    True,
                    peak("knn_graph", "fl_lazy") <= TARGETS["max_peak_rss_gb"],
                ),
            }
        )
        kf = r["knn_flatip"]
        if "error" not in kf:
            base = kf["wall_s_full"] + base_wall
            summary.append(
                {
                    "name": "facility_location vs IndexFlatIP graph + baseline",
                    "wall_s": ours,
                    "target_wall_s": t["max_wall_s"],
                    "speedup_wall": base / ours,
                    "speedup_cpu": (kf["cpu_s_full"] + base_cpu) / (kg["cpu_s"] + fl["cpu_s"]),
                    "target_speedup": t["min_speedup"],
                    "quality": "same neighbours, same objective as above",
                    "peak_rss_gb": peak("knn_graph", "fl_lazy"),
                    "verdict": _verdict(
                        ours <= t["max_wall_s"],
                        base / ours >= t["min_speedup"],
                        True,
                        peak("knn_graph", "fl_lazy") <= TARGETS["max_peak_rss_gb"],
                    ),
                }
            )
        summary.append(
            {
                "name": "facility_location, optimizer only",
                "wall_s": fl["wall_s"],
                "target_wall_s": t["max_wall_s"],
                "speedup_wall": base_wall / fl["wall_s"],
                "speedup_cpu": base_cpu / fl["cpu_s"],
                "target_speedup": t["min_speedup"],
                "quality": "same graph for both",
                "peak_rss_gb": peak("fl_lazy"),
                "verdict": _verdict(
                    fl["wall_s"] <= t["max_wall_s"],
                    base_wall / fl["wall_s"] >= t["min_speedup"],
                    True,
                    peak("fl_lazy") <= TARGETS["max_peak_rss_gb"],
                ),
            }
        )
    return summary, notes


def _verdict(time_ok, speed_ok, quality_ok, memory_ok) -> str:
    missed = [name for name, ok in (("time", time_ok), ("speed-up", speed_ok), ("quality", quality_ok), ("memory", memory_ok)) if not ok]
    return "yes" if not missed else "missed: " + ", ".join(missed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", default=str(ROOT / ".cache" / "alsel"), help="embedding cache (default: <repo>/.cache/alsel)")
    parser.add_argument("--quick", action="store_true", help="2,000-row smoke run; writes nothing unless --output is given")
    parser.add_argument("--output", default=None, help="folder for benchmarks.md/.json (default: docs, or none with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-seconds", type=float, default=None, help="time cap of the naive baselines (default 90, 5 with --quick)")
    parser.add_argument("--flatip-rows", type=int, default=4096, help="rows searched with IndexFlatIP for the reference timing")
    # Internal: one measurement in a subprocess.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--embeddings", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_seconds is None:
        args.naive_seconds = 5.0 if args.quick else 90.0
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0

    output = Path(args.output) if args.output else (None if args.quick else ROOT / "docs")
    print("loading SST-2 and its embeddings ...", flush=True)
    emb_path, data = _embeddings(args)
    k = int(math.ceil(BUDGET_FRACTION * data["n"]))
    data.update(k=k, seed=args.seed, date=time.strftime("%Y-%m-%d"))
    machine = _machine()
    command = "python bench/selection.py --cache-dir " + args.cache_dir + (" --quick" if args.quick else "")
    results = {}
    with tempfile.TemporaryDirectory(prefix="alsel-bench-") as tmp:
        tmp = Path(tmp)
        for worker in (
            "kmeans_alsel",
            "kmeans_sklearn",
            "kcenter_alsel",
            "kcenter_naive",
            "knn_graph",
            "knn_flatip",
            "fl_lazy",
            "fl_stochastic",
            "fl_apricot",
        ):
            results[worker] = _run(worker, emb_path, tmp, args, k)
        if (tmp / "kcenter_order.npy").exists() and (tmp / "kcenter_naive_order.npy").exists():
            ours, naive = np.load(tmp / "kcenter_order.npy"), np.load(tmp / "kcenter_naive_order.npy")
            data["kcenter_same_prefix"] = bool(np.array_equal(ours[: len(naive)], naive))
            data["kcenter_alsel_radius_at_naive_steps"] = float(np.load(tmp / "kcenter_radii.npy")[len(naive) - 1])
        if (tmp / "fl_lazy_ranking.npy").exists() and (tmp / "fl_apricot_ranking.npy").exists():
            ours, base = np.load(tmp / "fl_lazy_ranking.npy"), np.load(tmp / "fl_apricot_ranking.npy")
            same = len(ours) == len(base) and bool(np.array_equal(ours, base))
            data["fl_same_ranking"] = (
                "yes"
                if same
                else f"no ({np.mean(ours[: len(base)] == base[: len(ours)]):.1%} of positions agree, {len(np.intersect1d(ours, base)) / len(ours):.1%} same set)"
            )
    summary, notes = _summarise(results, data)
    data["summary"] = summary
    data["notes"] = notes + _notes(results, data)
    report = _report(results, machine, data, command, args.quick)
    print()
    print(report)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "benchmarks.md").write_text(report)
        payload = {
            "command": command,
            "machine": machine,
            "data": {k_: v for k_, v in data.items() if k_ not in ("summary", "notes")},
            "summary": summary,
            "notes": data["notes"],
            "targets": TARGETS,
            "runs": results,
        }
        (output / "benchmarks.json").write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {output / 'benchmarks.md'} and {output / 'benchmarks.json'}")
    return 0


def _notes(r: dict, data: dict) -> list[str]:
    notes = []
    ka = r.get("kmeans_alsel", {})
    if "projection" in ka:
        notes.append(
            f"The Gaussian projection to 32-d ({_fmt(ka['projection']['wall_s'], 2)} s) is shared input and not in either KMeans time."
        )
    ks = r.get("kmeans_sklearn", {})
    if "wall_s" in ka and "wall_s" in ks and ks["wall_s"] / ka["wall_s"] < TARGETS["kmeans"]["min_speedup"]:
        notes.append(
            "KMeans misses the 20x target: both sides run about 20 Lloyd iterations whose assignment step is the "
            f"same dense work (every row against every centroid, {2 * data['n'] * data['k'] * PROJECTION_DIM / 1e9:.0f} "
            f"GFLOP per iteration here), and FAISS did it {ks['cpu_s'] / ka['cpu_s']:.1f}x faster than scikit-learn "
            "in CPU time. `kmeans_nearest` spends most of its time in FAISS training; a 20x gap would need less work "
            "(fewer iterations, subsampling), which changes the study's recipe. It was tuned only where behaviour "
            "stays the same: the centroid-to-row search now uses one BLAS product per block of rows and FAISS "
            "heaps, about 2x faster than "
            "`IndexFlatL2.search` here."
        )
    cn = r.get("kcenter_naive", {})
    if cn.get("extrapolated"):
        notes.append(
            f"The naive k-center baseline ran {cn['steps']:,} of {data['k']:,} picks in {_fmt(cn['wall_s'], 1)} s; its full time is that "
            f"times {data['k'] / cn['steps']:.1f} (every pick costs one pass over the float64 matrix). alsel's picks "
            f"{'equal' if data.get('kcenter_same_prefix') else 'differ from'} the baseline's over that prefix."
        )
    kf = r.get("knn_flatip", {})
    if kf.get("extrapolated"):
        notes.append(f"`IndexFlatIP.search` was timed on the first {kf['rows']:,} query rows against all rows and scaled by n / rows.")
    fa = r.get("fl_apricot", {})
    if fa.get("baseline") == "apricot":
        notes.append(
            f"apricot (installed only for this benchmark; not a dependency) compiles its numba kernel inside every `fit`; "
            f"a fit on a 50-row graph took {_fmt(fa['tiny_fit_s'], 2)} s, roughly that overhead, which is included in its time."
        )
        notes.append(
            "The facility-location speed-up counts the shared kNN graph build in both totals; the optimizer-only row compares lazy greedy with apricot alone."
        )
    elif "apricot_error" in fa:
        notes.append(f"apricot could not be imported ({fa['apricot_error']}); the baseline is a naive NumPy greedy on the same graph.")
    kg = r.get("knn_graph", {})
    if "wall_s" in kg:
        notes.append(
            "Facility location's time is mostly the exact kNN graph: all n^2/2 inner products (about 1.7 TFLOP) "
            "are unavoidable for exact neighbours, so the graph is far from 10x faster than FAISS's flat search. "
            "The optimizer alone is the fair comparison with apricot."
        )
    loads = [v.get("loadavg_1min_before") for v in r.values() if isinstance(v, dict) and v.get("loadavg_1min_before") is not None]
    if loads and max(loads) > 2.5:
        notes.append(
            f"Other jobs shared the CPUs during this run (1-minute load average {min(loads):.1f} to {max(loads):.1f} on "
            f"{os.cpu_count()} cores); where CPU time is close to wall time a process got about one core, so expect "
            "lower wall times on an idle machine."
        )
    return notes


if __name__ == "__main__":
    raise SystemExit(main())
