"""The run directory's declared parts: the storage interface the controller uses, which RunDir
and MemoryRunDir both implement, and RunDir.FILES, every name a run writes."""

import inspect

import pytest

import alsel
from alsel.loops.rundir import MemoryRunDir, RunDir, RunStore
from alsel.progress import Progress
from conftest import synthetic_frame

MEMBERS = [name for name in dir(RunStore) if not name.startswith("_")]


def test_the_storage_interface_is_the_controllers():
    assert set(MEMBERS) == {
        "path",
        "lock",
        "read_metrics",
        "start",
        "keep_sources",
        "save",
        "save_eval_probs",
        "save_round_model",
        "read_round_model",
        "finish",
    }


@pytest.mark.parametrize("store", [RunDir("unused"), MemoryRunDir()], ids=["RunDir", "MemoryRunDir"])
def test_both_run_stores_implement_the_interface(store):
    assert isinstance(store, RunStore)
    for name in MEMBERS:
        declared = getattr(RunStore, name)
        if callable(declared):  # the methods take the protocol's arguments, by the same names
            assert list(inspect.signature(getattr(store, name)).parameters) == list(inspect.signature(declared).parameters)[1:], name


def test_a_store_that_lacks_a_method_is_not_one():
    class Partial(MemoryRunDir):
        finish = None

    assert not isinstance(Partial(), RunStore)


class Listing(Progress):
    """Every name seen in the run directory at each log line (after each round's commit point,
    while the run holds it)."""

    def __init__(self, out):
        self.out, self.seen = out, set()

    def log(self, message):
        self.seen |= {p.name for p in self.out.iterdir()}


def test_every_file_a_run_writes_is_declared(tmp_path):
    """A run of alsel.select on data in memory (data/), warm-started (models/, until it
    finishes), with rounds: everything it writes is in RunDir.FILES, which export refuses to
    overwrite. A study's error.txt is the one name only a failed run has."""
    out = tmp_path / "run"
    listing = Listing(out)
    alsel.select(
        synthetic_frame(120),
        eval=0.25,
        out=out,
        budget=30,
        init="random",
        acq="margin",
        rounds=2,
        warm_start="rounds",
        learner="plugins_for_tests:SavingCentroidLearner",
        model="minilm",
        cache_dir=str(tmp_path / "cache"),
        progress=listing,
    )
    listing.log("finished")
    assert listing.seen == set(RunDir.FILES) - {RunDir.ERROR}
    assert RunDir.DATA in {p.name for p in out.iterdir()} and RunDir.MODELS not in {p.name for p in out.iterdir()}
