"""Golden outputs: every strategy, as initial pool and as acquisition function, in a tiny-model
loop, and a 2x2 study with its report, must give the same selection.jsonl bytes, and the same
rounds.jsonl values and summary.csv cells (wall times aside), as when tests/golden.json was
recorded.

It guards restructures that must keep behaviour byte for byte. Float results of training depend
on the CPU's kernels and the library versions, so the comparison runs where the fixture was
recorded (same CPU model and kernel flags, torch, transformers and faiss) and is skipped
elsewhere, saying why; the strategies' own arithmetic, from fixed inputs, is compared on every
CPU by ``tests/strategies/test_golden_selections.py``. After a change that is meant to alter
results, re-record with ``ALSEL_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and say why in the
commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from alsel.io import read_jsonl
from alsel.loops.config import LoopConfig
from alsel.models import cpu_model
from alsel.run import run_loop
from alsel.strategies import STRATEGIES
from conftest import UNGUARDED

GOLDEN = Path(__file__).with_name("golden.json")
UPDATE = os.environ.get("ALSEL_UPDATE_GOLDEN") == "1"
TIMING_KEYS = {"seconds", "train_seconds", "score_seconds", "select_seconds", "embed_seconds", "embed_cached_seconds"}
#: Every case fine-tunes tiny models (a second or more each).
pytestmark = pytest.mark.slow


#: CPU features by which torch, oneDNN and OpenBLAS choose their float kernels. Two CPUs can show
#: one model name (a virtual machine often says "Intel(R) Xeon(R) Processor") and differ in them.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def cpu_flags() -> list[str]:
    """Which of :data:`KERNEL_FLAGS` this CPU has (none known without /proc/cpuinfo)."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    return [flag for flag in KERNEL_FLAGS if flag in flags]


def machine() -> dict:
    versions = {name: metadata.version(name) for name in ("torch", "transformers", "faiss-cpu")}
    return {"cpu": cpu_model(), "cpu_flags": cpu_flags(), **versions}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_digests(run_dir: Path) -> dict:
    rounds = [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in read_jsonl(run_dir / "rounds.jsonl")]
    return {
        "selection": digest((run_dir / "selection.jsonl").read_bytes()),
        "rounds": digest(json.dumps(rounds, sort_keys=True).encode()),
    }


@pytest.fixture(scope="module")
def recorded():
    if UPDATE:
        return None
    if not GOLDEN.exists():
        pytest.skip("no tests/golden.json: record it with ALSEL_UPDATE_GOLDEN=1")
    golden = json.loads(GOLDEN.read_text())
    if golden["machine"] != machine():
        pytest.skip(f"golden outputs were recorded on {golden['machine']}, this is {machine()}: re-record to compare here")
    return golden


def compare_or_record(recorded, key: str, value) -> None:
    if recorded is None:
        golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        golden["machine"] = machine()
        golden.setdefault("outputs", {})[key] = value
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        return
    if key not in recorded["outputs"]:  # a strategy added since the recording
        pytest.skip(f"{key} is not in tests/golden.json: record it with ALSEL_UPDATE_GOLDEN=1")
    assert value == recorded["outputs"][key], f"{key}: the outputs changed"


def tiny_options(synthetic_csv, tiny_bert, cache_dir) -> dict:
    return dict(
        dataset=str(synthetic_csv / "train.csv"),
        eval=str(synthetic_csv / "eval.csv"),
        model=tiny_bert,
        precision="fp32",
        epochs=1,
        min_steps=0,
        lr=5e-3,
        batch_size=16,
        budget=40,
        seed=0,
        cache_dir=cache_dir,
        learner_options=UNGUARDED,
    )


INITS = sorted(name for name, cls in STRATEGIES.items() if not cls.needs - {"embeddings"})
ACQS = sorted(STRATEGIES)


@pytest.mark.parametrize("role, name", [("init", n) for n in INITS] + [("acq", n) for n in ACQS])
def test_every_strategy_in_a_tiny_loop(recorded, tmp_path, synthetic_csv, tiny_bert, role, name):
    options = tiny_options(synthetic_csv, tiny_bert, str(tmp_path / "cache"))
    selection = {"init": name, "rounds": 0, "acq": None} if role == "init" else {"init": "random", "rounds": 1, "acq": name}
    run_loop(LoopConfig.from_options(**options, **selection), tmp_path / "run")
    compare_or_record(recorded, f"{role}:{name}", run_digests(tmp_path / "run"))


def test_a_two_by_two_study_and_its_report(recorded, tmp_path, synthetic_csv, tiny_bert):
    from alsel.report import write_report
    from alsel.study import run_study

    config = tmp_path / "study.yaml"
    config.write_text(
        textwrap.dedent(f"""
        name: golden
        dataset: {synthetic_csv / "train.csv"}
        eval: {synthetic_csv / "eval.csv"}
        model: {tiny_bert}
        precision: fp32
        epochs: 1
        min_steps: 0
        learner_options: {{collapse_guard: false}}
        lr: 0.005
        batch_size: 16
        strategies:
          random: {{preset: random}}
          kmeans_margin: {{preset: kmeans_margin}}
        budgets: [40]
        seeds: [0, 1]
    """)
    )
    os.environ["ALSEL_CACHE"] = str(tmp_path / "cache")  # the conftest's private cache, fresh for this study
    run_study(config, out=tmp_path / "study")
    root = tmp_path / "study" / "runs"
    runs = {str(path.parent.relative_to(root)): run_digests(path.parent) for path in sorted(root.rglob("config.json"))}
    assert len(runs) == 4
    paths = write_report(tmp_path / "study")
    compare_or_record(recorded, "study", {"runs": runs, "summary": digest(summary_without_timings(paths["summary"]))})


def summary_without_timings(path) -> bytes:
    """summary.csv without its wall-time columns (the cost table), which vary run to run."""
    import pandas as pd

    summary = pd.read_csv(path, dtype=str, keep_default_na=False)
    return summary.drop(columns=[c for c in summary.columns if c.endswith("_seconds")]).to_csv(index=False).encode()
