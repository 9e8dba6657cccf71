"""Golden selections that every CPU checks: each strategy's picks from fixed, stored inputs.

The inputs are ``tests/data/golden_inputs.npz`` (real sentence embeddings of 300 SST-2
sentences, and stand-in scorer outputs; ``tests/data/make_golden_inputs.py`` says how they were
made). No model runs, so no CPU-dependent model kernel enters: what is compared is the strategies'
own arithmetic, on the same numbers everywhere. Unlike ``tests/test_golden.py`` (whole tiny-model
loops, compared only on the CPU they were recorded on), these run on every machine.

Each case selects 20 examples as the initial pool (no labelled examples, embeddings only) or in
an acquisition round (every tenth position labelled, the scorer's outputs for the other 270),
and must give the recorded pool positions in the recorded order.

Portable, as far as could be measured on one machine (an Intel Xeon with AVX-512 and AMX): the
positions were recomputed under FAISS's SIMD levels NONE, AVX2 and AVX512 (``FAISS_SIMD_LEVEL``;
AVX512_SPR recorded them), OpenBLAS core types Haswell, Sandybridge and Prescott
(``OPENBLAS_CORETYPE``; SkylakeX recorded them), NumPy held to AVX2 or to its baseline
(``NPY_DISABLE_CPU_FEATURES=X86_V4`` or ``X86_V3,X86_V4``), with 1 and 2 threads, and from 60
copies of the inputs moved at random by up to 1e-6: every case gave the recorded positions (at
1e-5, ``typiclust``'s began to move). To re-check a kernel, run this module under its variable,
e.g. ``OPENBLAS_CORETYPE=Prescott FAISS_SIMD_LEVEL=NONE pytest tests/strategies/test_golden_selections.py``.

Left out: ``kmeans``, which is not portable. It takes the row nearest each centroid, and a
two-member cluster's centroid is their midpoint, so the two tie up to rounding (here at a
relative gap of 8e-7): other OpenBLAS kernels, or inputs moved by 1e-7, swapped one of its 20
picks. A pool whose picks rest on such a tie cannot be compared exactly across CPUs; ``kmeans``
keeps its golden in ``tests/test_golden.py``, on the CPU that recorded it. (``typiclust``,
``cluster_margin`` and ``badge`` cluster too, but pick by density, margin or distance, where
this pool has no such tie: they never moved.)

After a change that is meant to alter selections, re-record (and say why in the commit)::

    ALSEL_UPDATE_GOLDEN=1 pytest tests/strategies/test_golden_selections.py
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alsel.io import write_text
from alsel.strategies import STRATEGIES, Strategy, get_strategy
from alsel.strategies.compose import Balanced, Deduplicated
from alsel.strategies.state import LoopState

INPUTS = Path(__file__).parents[1] / "data" / "golden_inputs.npz"
GOLDEN = Path(__file__).with_name("golden_selections.json")
UPDATE = os.environ.get("ALSEL_UPDATE_GOLDEN") == "1"
K = 20
#: De-duplication at this cosine similarity: 17 pairs of the 300 reach it (none reaches 0.8), and
#: the nearest pair's similarity is 7e-4 from it, far beyond what rounding moves.
DEDUP_THRESHOLD = 0.6


def load_inputs() -> dict[str, np.ndarray]:
    with np.load(INPUTS, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def initial_state(inputs: dict[str, np.ndarray]) -> LoopState:
    """The initial pool's state: nothing labelled, every position a candidate, embeddings only."""
    positions = np.arange(len(inputs["labels"]))
    return LoopState(
        labels=inputs["labels"],
        n_classes=2,
        candidates=positions,
        labeled=positions[:0],
        random_state=np.random.default_rng([0, 0, 0]),
        embeddings=inputs["embeddings"],
    )


def acquisition_state(inputs: dict[str, np.ndarray]) -> LoopState:
    """Round 1: every tenth position labelled; the scorer's outputs for the other 270."""
    positions = np.arange(len(inputs["labels"]))
    labeled = positions[::10]
    candidates = np.setdiff1d(positions, labeled)
    return LoopState(
        labels=inputs["labels"],
        n_classes=2,
        candidates=candidates,
        labeled=labeled,
        random_state=np.random.default_rng([0, 1, 1]),
        round=1,
        embeddings=inputs["embeddings"],
        probs=inputs["probs"][candidates],
        extras={"features": inputs["features"][candidates], "dynamics": inputs["dynamics"][candidates]},
    )


#: Strategies whose picks rest on near-ties that other CPUs' rounding may break (see above).
NOT_PORTABLE = {"kmeans"}
PORTABLE = {name: cls for name, cls in sorted(STRATEGIES.items()) if name not in NOT_PORTABLE}

#: Case name -> (the state it selects from, the strategy). Every portable built-in strategy in
#: an acquisition round, those that need only embeddings as the initial pool too, and the
#: optimizers and wrappers whose arithmetic differs.
CASES: dict[str, tuple[Callable[[dict], LoopState], Callable[[], Strategy]]] = {
    **{f"init:{name}": (initial_state, cls) for name, cls in PORTABLE.items() if not cls.needs - {"embeddings"}},
    **{f"acq:{name}": (acquisition_state, cls) for name, cls in PORTABLE.items()},
    "init:facility_location(optimizer=naive)": (initial_state, lambda: get_strategy("facility_location", optimizer="naive")),
    "init:facility_location(optimizer=stochastic)": (initial_state, lambda: get_strategy("facility_location", optimizer="stochastic")),
    "init:deduplicated(facility_location)": (
        initial_state,
        lambda: Deduplicated(get_strategy("facility_location"), threshold=DEDUP_THRESHOLD),
    ),
    "init:balanced(kcenter)": (initial_state, lambda: Balanced(get_strategy("kcenter"))),
    "acq:deduplicated(random)": (acquisition_state, lambda: Deduplicated(get_strategy("random"), threshold=DEDUP_THRESHOLD)),
    "acq:balanced(typiclust)": (acquisition_state, lambda: Balanced(get_strategy("typiclust"))),
}


def selected(case: str, inputs: dict[str, np.ndarray]) -> list[int]:
    """The pool positions ``case`` selects, in acquisition order."""
    state, strategy = CASES[case]
    return [int(i) for i in strategy().select(state(inputs), K).indices]


def inputs_digest() -> str:
    return hashlib.sha256(INPUTS.read_bytes()).hexdigest()


def write_golden(selections: dict[str, list[int]]) -> None:
    """The golden file, one case a line, so that a re-recording's diff shows which cases moved."""
    lines = ",\n".join(f"    {json.dumps(case)}: {json.dumps(ids)}" for case, ids in sorted(selections.items()))
    write_text(GOLDEN, f'{{\n  "inputs_sha256": "{inputs_digest()}",\n  "selections": {{\n{lines}\n  }}\n}}\n')


@pytest.fixture(scope="module")
def inputs():
    return load_inputs()


@pytest.fixture(scope="module")
def recorded():
    if UPDATE:
        return None
    golden = json.loads(GOLDEN.read_text())
    if golden["inputs_sha256"] != inputs_digest():
        pytest.fail("tests/data/golden_inputs.npz changed since the selections were recorded: re-record them with ALSEL_UPDATE_GOLDEN=1")
    return golden["selections"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_selection_is_the_recorded_one(case, inputs, recorded):
    positions = selected(case, inputs)
    if recorded is None:
        previous = json.loads(GOLDEN.read_text())["selections"] if GOLDEN.exists() else {}
        write_golden({name: ids for name, ids in previous.items() if name in CASES} | {case: positions})
        return
    assert case in recorded, f"{case} has no recorded selection: record it with ALSEL_UPDATE_GOLDEN=1"
    assert positions == recorded[case], f"{case}: the selection changed"


def test_every_recorded_selection_is_still_a_case(recorded):
    if recorded is None:
        pytest.skip("recording")
    assert sorted(set(recorded) - set(CASES)) == []
