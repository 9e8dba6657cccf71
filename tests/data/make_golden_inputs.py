"""Write ``golden_inputs.npz``: the fixed inputs of ``tests/strategies/test_golden_selections.py``.

- ``embeddings``, float32 of shape (300, 384): the bundled all-MiniLM-L6-v2's fp32 sentence
  embeddings of the first 300 sentences of the bundled SST-2 training split (``ids``, their row
  numbers there; ``labels``, their gold labels). Real embeddings rather than a seeded array,
  because the strategies are meant for their geometry: topics that cluster, phrases that nearly
  repeat (what de-duplication removes), a few outliers. The model's CPU kernels run here, once;
  the golden test only reads the stored numbers, so they are the same input on every machine.
- ``probs`` (300, 2), ``features`` (300, 16) and ``dynamics`` (300, 4): stand-ins for what a
  scoring model gives an acquisition round (class probabilities, penultimate features, p_gold
  after each epoch), drawn from ``numpy.random.default_rng(0)``. Stored rather than drawn in
  the test, so a change in NumPy's generators cannot change the input.

Re-run only to change the inputs (then re-record the golden selections, see the test module)::

    python tests/data/make_golden_inputs.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

N_SENTENCES = 300
OUT = Path(__file__).with_name("golden_inputs.npz")


def main() -> None:
    from alsel.data.dataset import fingerprint
    from alsel.data.sources import bundled_sst2
    from alsel.embed import Embedder

    sst2 = bundled_sst2("train")
    texts = sst2.texts[:N_SENTENCES]
    with tempfile.TemporaryDirectory() as cache:  # computed here, never served from a cache
        embeddings = Embedder(model="minilm", cache_dir=cache, precision="fp32", device="cpu").embed(texts, fingerprint(texts))
    rng = np.random.default_rng(0)
    arrays = {
        "embeddings": np.asarray(embeddings, dtype=np.float32),
        "ids": sst2.ids[:N_SENTENCES].astype(np.int64),
        "labels": sst2.labels[:N_SENTENCES].astype(np.int64),
        "probs": rng.dirichlet(np.ones(2), N_SENTENCES),
        "features": rng.normal(size=(N_SENTENCES, 16)).astype(np.float32),
        "dynamics": rng.uniform(0.05, 0.95, size=(N_SENTENCES, 4)),
    }
    with open(OUT, "wb") as file:  # np.savez would add ".npz" to a path object without it
        np.savez(file, **arrays)
    print(f"wrote {OUT.name}: " + ", ".join(f"{name} {a.dtype}{a.shape}" for name, a in arrays.items()))


if __name__ == "__main__":
    main()
