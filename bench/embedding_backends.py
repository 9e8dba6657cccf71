"""Embedding throughput of the sentence-transformers backends on CPU, and what each does to the
embeddings and to a KMeans selection (issue 29).

Backends: torch fp32 (alsel's default), torch bf16 autocast (``--precision bf16``), ONNX Runtime
fp32 and dynamically quantised int8 (``export_dynamic_quantized_onnx_model``, ``avx512_vnni``),
OpenVINO fp32. Each embeds the same texts (the first ``--texts`` of ``bench/scale.py``'s recombined
SST-2 pool) in alsel's length-sorted batches of 128 on one thread (run it under ``taskset -c N``
with ``OMP_NUM_THREADS=1``), twice, in alternating order; the faster of the two is kept. Against
torch fp32 it reports the largest absolute difference of an embedding coordinate, the smallest
cosine between a text's two embeddings, and how many of a 10% ``kmeans`` selection's rows change.

ONNX and OpenVINO need ``pip install "optimum-onnx[onnxruntime]" optimum-intel openvino`` (not
alsel dependencies). The models are exported from the bundled MiniLM into a temporary folder; no
network is used.

Usage::

    OMP_NUM_THREADS=1 taskset -c 1 python bench/embedding_backends.py --texts 4000 --out docs/embedding-backends.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scale import recombined_sst2  # noqa: E402  (after the path set-up above)

BACKENDS = ("torch_fp32", "torch_bf16", "onnx_fp32", "onnx_int8", "openvino_fp32")


def load_backends(folder: Path) -> dict:
    """Each backend's ``(SentenceTransformer, precision)``, exported from the bundled MiniLM into
    ``folder``; a backend whose packages are missing is left out with the reason."""
    from sentence_transformers import SentenceTransformer

    from alsel.models import resolve_embedder

    source = Path(resolve_embedder("minilm"))
    model_dir = folder / "minilm"
    shutil.copytree(source, model_dir)
    loaded: dict = {"torch_fp32": (SentenceTransformer(str(model_dir), device="cpu"), "fp32")}
    loaded["torch_bf16"] = (loaded["torch_fp32"][0], "bf16")
    try:
        from sentence_transformers import export_dynamic_quantized_onnx_model

        onnx = SentenceTransformer(str(model_dir), device="cpu", backend="onnx")
        onnx.save_pretrained(str(model_dir))
        export_dynamic_quantized_onnx_model(onnx, "avx512_vnni", str(model_dir))
        loaded["onnx_fp32"] = (onnx, "fp32")
        int8 = SentenceTransformer(
            str(model_dir), device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model_qint8_avx512_vnni.onnx"}
        )
        loaded["onnx_int8"] = (int8, "fp32")
    except Exception as exc:  # noqa: BLE001  (a missing optional package: report, go on)
        loaded["onnx_fp32"] = loaded["onnx_int8"] = f"not measured: {type(exc).__name__}: {exc}"
    try:
        loaded["openvino_fp32"] = (SentenceTransformer(str(model_dir), device="cpu", backend="openvino"), "fp32")
    except Exception as exc:  # noqa: BLE001
        loaded["openvino_fp32"] = f"not measured: {type(exc).__name__}: {exc}"
    return loaded


def embed(model, precision: str, texts: list[str]) -> tuple[np.ndarray, float]:
    """``texts`` embedded as alsel embeds them (its length-sorted batches), and the seconds."""
    from alsel.embed import Embedder
    from alsel.progress import SILENT

    embedder = Embedder(precision=precision, device="cpu")
    embedder._loaded = model  # the backend's model in place of the torch one alsel would load
    t0 = time.perf_counter()
    vectors = embedder._compute(texts, SILENT)
    return vectors, time.perf_counter() - t0


def kmeans_rows(x: np.ndarray) -> np.ndarray:
    from alsel.strategies import LoopState, get_strategy

    state = LoopState(
        labels=np.zeros(len(x), dtype=np.int64),
        n_classes=1,
        candidates=np.arange(len(x)),
        labeled=np.arange(0),
        random_state=np.random.default_rng(0),
        embeddings=x,
    )
    return get_strategy("kmeans").select(state, round(0.1 * len(x))).indices


def run(n_texts: int) -> dict:
    import torch

    torch.set_num_threads(1)
    texts = recombined_sst2(n_texts)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_backends(Path(tmp))
        models = {name: value for name, value in loaded.items() if not isinstance(value, str)}
        embed(*models["torch_fp32"], texts[:256])  # warm-up: first-call allocations
        seconds: dict[str, list[float]] = {name: [] for name in models}
        vectors = {}
        for repeat in range(2):
            for name in models if repeat == 0 else reversed(list(models)):
                vectors[name], took = embed(*models[name], texts)
                seconds[name].append(took)
    reference = vectors["torch_fp32"]
    reference_rows = set(kmeans_rows(reference).tolist())
    results: dict = {"texts": n_texts, "threads": 1, "backends": {}}
    for name in BACKENDS:
        if isinstance(loaded[name], str):
            results["backends"][name] = {"error": loaded[name]}
            continue
        x = vectors[name]
        rows = kmeans_rows(x)
        best = min(seconds[name])
        results["backends"][name] = {
            "seconds": [round(s, 2) for s in seconds[name]],
            "texts_per_s": round(n_texts / best, 1),
            "speedup_vs_torch_fp32": round(min(seconds["torch_fp32"]) / best, 2),
            "max_abs_diff": float(np.abs(x - reference).max()),
            "min_cosine": float(np.einsum("ij,ij->i", x, reference).min()),
            "kmeans_rows_changed": len(rows) - len(reference_rows & set(rows.tolist())),
            "kmeans_rows": len(rows),
        }
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = run(args.texts)
    text = json.dumps(results, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
