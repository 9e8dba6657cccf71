"""What changes a training-free selection when the machine changes? (docs/reproducibility.md)

Another CPU runs other floating-point kernels: oneDNN/MKL and ATen pick them by instruction set
for the transformer that embeds, OpenBLAS picks them by core type for the matrix products of
the projection and the clustering. This script imitates other CPUs on this one by forcing those
choices through their documented environment variables, each in a fresh process:

- embeddings of 2,000 SST-2 sentences: fp32 (reference); fp32 with ATen, MKL and oneDNN held to
  SSE (``ATEN_CPU_CAPABILITY=default``, ``MKL_ENABLE_INSTRUCTIONS=SSE4_2``,
  ``ONEDNN_MAX_CPU_ISA=SSE41``); bf16 autocast (what ``precision=auto`` gave on CPUs with
  AVX-512 BF16 or AMX before embeddings were pinned to fp32);
- 200-example pools by ``random``, ``kmeans``, ``kcenter`` and ``facility_location`` from the
  reference embeddings under OpenBLAS core types Haswell (this machine's), Prescott and
  Sandybridge, and with 1 and 2 threads; and from the other two embeddings.

Each pool is compared with the reference pool (reference embeddings, this machine's kernels,
2 threads) by the number of shared picks. Writes docs/reproducibility.json.

    python bench/reproducibility.py            # about 3 minutes on a 2-core CPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from alsel.io import write_text
from alsel.models import cpu_model

N_TEXTS = 2000
K = 200
STRATEGIES = ("random", "kmeans", "kcenter", "facility_location")
SSE = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"}
EMBEDDINGS = {"fp32": ("fp32", {}), "fp32, SSE kernels": ("fp32", SSE), "bf16": ("bf16", {})}
KERNELS = {
    "this CPU's kernels, 2 threads": {},
    "this CPU's kernels, 1 thread": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    "OpenBLAS Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "OpenBLAS Sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
}
ROOT = Path(__file__).resolve().parents[1]


def embed(precision: str, out: str) -> None:
    from alsel.data import load_data
    from alsel.embed import Embedder

    pool = load_data("sst2", limit=N_TEXTS).pool
    with tempfile.TemporaryDirectory() as cache:  # never the user's cache: every variant computes
        vectors = Embedder(model="minilm", cache_dir=cache, precision=precision).embed(pool.texts, pool.fingerprint())
    np.save(out, vectors)


def pools(embeddings: str, out: str) -> None:
    from alsel.strategies import LoopState, get_strategy

    x = np.load(embeddings)
    positions = np.arange(len(x))
    picks = {}
    for name in STRATEGIES:
        state = LoopState(
            labels=np.zeros(len(x), dtype=np.int64),
            n_classes=2,
            candidates=positions,
            labeled=positions[:0],
            random_state=np.random.default_rng([0, 0, 0]),
            embeddings=x,
        )
        picks[name] = get_strategy(name).select(state, K).indices.tolist()
    Path(out).write_text(json.dumps(picks))


def _child(args: list[str], env: dict) -> None:
    subprocess.run([sys.executable, __file__, *args], check=True, env={**os.environ, **env}, cwd=ROOT)


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vectors = {}
        for label, (precision, env) in EMBEDDINGS.items():
            path = tmp / f"{len(vectors)}.npy"
            _child(["embed", precision, str(path)], env)
            vectors[label] = path
        runs = {}
        for label, env in KERNELS.items():
            _child(["pools", str(vectors["fp32"]), str(tmp / "p.json")], env)
            runs[f"fp32 embeddings, {label}"] = json.loads((tmp / "p.json").read_text())
        for label in ("fp32, SSE kernels", "bf16"):
            _child(["pools", str(vectors[label]), str(tmp / "p.json")], {})
            runs[f"{label} embeddings, this CPU's kernels, 2 threads"] = json.loads((tmp / "p.json").read_text())
        reference = np.load(vectors["fp32"])
        drift = {label: float(np.abs(np.load(path) - reference).max()) for label, path in vectors.items()}
    base = runs["fp32 embeddings, this CPU's kernels, 2 threads"]
    shared = {run: {s: len(set(picks[s]) & set(base[s])) for s in STRATEGIES} for run, picks in runs.items()}
    return {
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "n_texts": N_TEXTS,
        "k": K,
        "embedding_max_abs_difference": drift,
        "shared_picks_with_reference": shared,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", choices=("embed", "pools"))
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    if args.step == "embed":
        return embed(*args.args)
    if args.step == "pools":
        return pools(*args.args)
    result = measure()
    write_text(ROOT / "docs" / "reproducibility.json", json.dumps(result, indent=2) + "\n")
    print(f"embeddings, max |difference| to fp32: {result['embedding_max_abs_difference']}")
    print(f"shared picks of {K} with the reference pool:")
    for run, shared in result["shared_picks_with_reference"].items():
        print(f"  {run:58s} " + "  ".join(f"{s} {n}" for s, n in shared.items()))


if __name__ == "__main__":
    main()
