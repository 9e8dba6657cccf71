"""How selection and embedding grow with the pool (issue 29): wall time and peak RSS of each
training-free selection, and of embedding, at the pool sizes given, with the growth exponent
fitted from them.

The pool is real text made distinct: each text joins two sentences of the bundled SST-2 training
set drawn at random (seeded), ``"<a> <b>"``, and is kept only if no earlier text is the same, until
there are ``n``. Selections read embeddings of that pool (``--embeddings model``, the bundled
MiniLM, cached under ``--cache-dir``) or, to measure selection without paying for embedding,
random ones (``--embeddings random``, the default): unit vectors around 1,000 random centres,
384-d like MiniLM's, so the clustering paths see clusters.

Each measurement runs in a fresh subprocess, so its peak resident memory (VmHWM, reset before
the call: FAISS and BLAS buffers count) is its own. Selections choose 10% of the pool
(``--budget``) with one BLAS thread, as the loop does; ``--approximate`` sets the strategies'
``approximate`` option (``auto``: the exact paths below 100,000 rows, the approximate ones from
there on).

Usage::

    python bench/scale.py --sizes 5000 20000                       # selections, random embeddings
    python bench/scale.py --sizes 5000 20000 --approximate true    # the approximate paths
    python bench/scale.py --sizes 67349 250000 1000000 --embed --embeddings model --out scale.json
    python bench/scale.py --sizes 20000 --embed --embeddings model --selections --ray-workers 2 --shard-rows 5000
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.selection import _measure  # noqa: E402  (after the path set-up above)

#: The training-free selections measured; ``dedup`` is ``random`` behind ``--dedup 0.95``.
SELECTIONS = ("random", "kmeans", "kcenter", "facility_location", "dedup")
DEDUP_THRESHOLD = 0.95
DIM = 384
CENTRES = 1000
_PAIRS_PER_DRAW = 100_000


def recombined_sst2(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct texts, each two SST-2 training sentences drawn at random and joined. Pairs
    are drawn in fixed chunks, so a smaller pool is the start of a larger one (the 67k and 250k
    pools are the first rows of the 1M pool)."""
    from alsel.data import load_data

    sentences = load_data("sst2").pool.texts
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    texts: list[str] = []
    while len(texts) < n:
        for a, b in rng.integers(len(sentences), size=(_PAIRS_PER_DRAW, 2)).tolist():
            text = f"{sentences[a]} {sentences[b]}"
            if a != b and text not in seen:
                seen.add(text)
                texts.append(text)
                if len(texts) == n:
                    break
    return texts


def random_embeddings(n: int, path: Path, seed: int = 0) -> None:
    """Unit vectors around :data:`CENTRES` random centres, written to ``path`` in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        x = centres[rng.integers(CENTRES, size=m)] + 0.8 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()


def model_embeddings(n: int, path: Path, cache_dir: str, ray_workers: int | None = None, shard_rows: int | None = None) -> dict:
    """Embed the recombined pool with the bundled MiniLM (cached), copy it to ``path``, and
    return the embedding's measurement. With ``ray_workers``, the shards are Ray tasks on a local
    Ray of that many CPUs (peak RSS is then the driver's only); ``shard_rows`` changes the shard
    size (default :data:`alsel.embed.SHARD_ROWS`)."""
    from alsel import embed
    from alsel.data import fingerprint

    if shard_rows:
        embed.SHARD_ROWS = shard_rows
    texts = recombined_sst2(n)
    if ray_workers:
        import ray

        ray.init(num_cpus=ray_workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    embedder = embed.Embedder(cache_dir=cache_dir, executor="ray" if ray_workers else "local")
    x, measured = _measure(lambda: embedder.embed(texts, fingerprint(texts)))
    np.save(path, np.asarray(x))
    seconds, cached = embedder.used[fingerprint(texts)]
    return {
        **measured,
        "cached": cached,
        "texts_per_s": n / measured["wall_s"],
        "shard_seconds": seconds,
        "ray_workers": ray_workers,
        "shard_rows": shard_rows or embed.SHARD_ROWS,
        "cache_entry": str(embedder.cache_path(fingerprint(texts))),
    }


def _select(name: str, embeddings: Path, budget: float, approximate) -> dict:
    from alsel.strategies import LoopState, get_strategy
    from alsel.strategies.compose import Deduplicated

    x = np.load(embeddings, mmap_mode="r")
    n = len(x)
    if name == "dedup":
        strategy = Deduplicated(get_strategy("random"), threshold=DEDUP_THRESHOLD, approximate=approximate)
    elif name in ("kmeans", "facility_location"):
        strategy = get_strategy(name, approximate=approximate)
    else:
        strategy = get_strategy(name)
    state = LoopState(
        labels=np.zeros(n, dtype=np.int64),
        n_classes=1,
        candidates=np.arange(n),
        labeled=np.arange(0),
        random_state=np.random.default_rng(0),
        embeddings=x,
    )
    k = max(1, round(budget * n))
    selection, measured = _measure(lambda: strategy.select(state, k))
    return {**measured, "k": k, "selected": len(selection.indices)}


def _worker(spec: dict) -> dict:
    if spec["what"] == "embed":
        return model_embeddings(spec["n"], Path(spec["embeddings"]), spec["cache_dir"], spec["ray_workers"], spec["shard_rows"])
    return _select(spec["what"], Path(spec["embeddings"]), spec["budget"], spec["approximate"])


def _in_subprocess(spec: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def growth_exponent(sizes, seconds) -> float | None:
    """The slope of log(seconds) against log(size), least squares; None from fewer than two sizes."""
    points = [(math.log(n), math.log(s)) for n, s in zip(sizes, seconds) if s and s > 0]
    if len(points) < 2:
        return None
    logs_n, logs_s = np.array(points).T
    return float(np.polyfit(logs_n, logs_s, 1)[0])


def run(args) -> dict:
    results: dict = {"sizes": args.sizes, "budget": args.budget, "approximate": args.approximate, "embeddings": args.embeddings, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"pool-{n}.npy"
            row = results["runs"].setdefault(str(n), {})
            if args.embeddings == "model" or args.embed:
                embed = {"what": "embed", "n": n, "embeddings": str(path), "cache_dir": args.cache_dir}
                row["embed"] = _in_subprocess({**embed, "ray_workers": args.ray_workers, "shard_rows": args.shard_rows})
            if args.embeddings == "random":
                random_embeddings(n, path)
            for name in args.selections:
                row[name] = _in_subprocess({"what": name, "embeddings": str(path), "budget": args.budget, "approximate": args.approximate})
                print(f"n={n:,} {name}: {_describe(row[name])}", file=sys.stderr)
    names = (["embed"] if args.embeddings == "model" or args.embed else []) + list(args.selections)
    results["growth_exponent"] = {
        name: growth_exponent(args.sizes, [results["runs"][str(n)][name].get("wall_s") for n in args.sizes]) for name in names
    }
    return results


def _describe(measured: dict) -> str:
    if "error" in measured:
        return f"failed: {measured['error']}"
    return f"{measured['wall_s']:.2f} s, peak RSS {measured['peak_rss_mb']:.0f} MB"


def markdown(results: dict) -> str:
    names = list(results["growth_exponent"])
    lines = ["| pool | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for n in results["sizes"]:
        cells = [_describe(results["runs"][str(n)][name]) for name in names]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    exponents = [f"{e:.2f}" if e is not None else "-" for e in results["growth_exponent"].values()]
    lines.append("| growth exponent | " + " | ".join(exponents) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000], help="pool sizes")
    parser.add_argument("--selections", nargs="*", choices=SELECTIONS, default=list(SELECTIONS))
    parser.add_argument("--budget", type=float, default=0.1, help="fraction of the pool selected")
    parser.add_argument(
        "--approximate", type=lambda v: {"true": True, "false": False}.get(v, v), choices=["auto", True, False], default="auto"
    )
    parser.add_argument("--embeddings", choices=["random", "model"], default="random", help="what the selections read")
    parser.add_argument("--embed", action="store_true", help="measure embedding the recombined pool too")
    parser.add_argument("--cache-dir", default=None, help="embedding cache (default: alsel's)")
    parser.add_argument("--ray-workers", type=int, default=None, help="embed the shards as Ray tasks on a local Ray of this many CPUs")
    parser.add_argument("--shard-rows", type=int, default=None, help="texts per embedding shard (default: alsel's)")
    parser.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return
    t0 = time.perf_counter()
    results = run(args)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
