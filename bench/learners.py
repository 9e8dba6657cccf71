"""How much faster is a loop whose rounds train logistic regression on embeddings? (docs/benchmarks.md)

Times ``alsel loop --preset kmeans_margin --limit 10000 --seed 0`` with ``--learner logreg`` and
with the default fine-tuned transformer, one after the other in this sitting, each in a fresh
process with a fresh round cache. Both start from the same embedding cache, filled first by a
timed step of its own: every kmeans_margin run needs the pool's embeddings (its initial pool is
KMeans on them), and they are computed once per data set and cached, so the comparison is of
what each learner adds. The logreg run also reads the evaluation set's embeddings, which the
first step computes too.

    python bench/learners.py          # run time on a 2-core CPU: docs/benchmarks.md

Writes docs/learners.json; docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alsel.io import write_text
from alsel.models import cpu_model

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["loop", "--preset", "kmeans_margin", "--limit", "10000", "--seed", "0", "--quiet", "--json"]
LEARNERS = ("logreg", "transformer")


def _alsel(args: list[str], cache: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "alsel", *args, "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"alsel {' '.join(args)} failed:\n{result.stderr}")
    return seconds, json.loads(result.stdout)


def _warm_embeddings(cache: Path) -> float:
    """Embed the pool and the evaluation set into ``cache`` as the runs will look them up."""
    code = (
        "import sys; from alsel.data import load_data; from alsel.embed import Embedder\n"
        "s = load_data('sst2', limit=10000); e = Embedder(cache_dir=sys.argv[1])\n"
        "e.embed(s.pool.texts, s.pool.fingerprint()); e.embed(s.eval.texts, s.eval.fingerprint())\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(cache)], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        embeddings = Path(tmp) / "embeddings-only"
        embed_seconds = _warm_embeddings(embeddings)
        runs = {}
        for learner in LEARNERS:
            cache = Path(tmp) / learner
            shutil.copytree(embeddings, cache)  # the same embeddings, an empty round cache
            seconds, metrics = _alsel([*COMMAND, "--learner", learner, "--out", str(Path(tmp) / f"run-{learner}")], cache)
            runs[learner] = {"seconds": round(seconds, 1), "accuracy": metrics["accuracy"], "f1": metrics["f1"]}
            print(f"{learner:12s} {seconds:7.1f} s  accuracy {metrics['accuracy']:.4f}", flush=True)
    ratio = runs["logreg"]["seconds"] / runs["transformer"]["seconds"]
    result = {
        "command": "alsel " + " ".join(COMMAND[:-2]) + " --learner LEARNER",
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "embedding_seconds": round(embed_seconds, 1),
        "runs": runs,
        "logreg_over_transformer": round(ratio, 4),
    }
    write_text(ROOT / "docs" / "learners.json", json.dumps(result, indent=2) + "\n")
    print(f"embedding pool + eval once: {embed_seconds:.1f} s; logreg / transformer wall time: {ratio:.3f}")


if __name__ == "__main__":
    main()
