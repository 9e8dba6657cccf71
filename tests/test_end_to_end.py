"""The real bundled model (all-MiniLM-L6-v2) on a real SST-2 slice, through the CLI."""

import os

import pytest

from alsel.io import read_json, read_jsonl
from conftest import run_cli


@pytest.fixture()
def all_cores():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_kmeans_then_margin_on_sst2_beats_the_majority_class(capsys, tmp_path, all_cores):
    out = tmp_path / "run"
    argv = [
        "loop",
        "--init",
        "kmeans",
        "--acq",
        "margin",
        "--rounds",
        "1",
        "--limit",
        "3000",
        "--budget",
        "600",
        "--model",
        "minilm",
        "--seed",
        "0",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(out),
    ]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    metrics = read_json(out / "metrics.json")
    selection = read_jsonl(out / "selection.jsonl")
    assert len({e["id"] for e in selection}) == 600 and metrics["n_eval"] == 872
    # SST-2 dev: the majority class is 50.9%; 600 examples of a fine-tuned MiniLM must be far above.
    assert metrics["accuracy"] >= metrics["majority_accuracy"] + 0.15, metrics
    rounds = read_jsonl(out / "rounds.jsonl")
    assert [r["n_labeled"] for r in rounds] == [300, 600]
    # each fine-tuning stopped on a validation split of its selection and kept its best epoch
    assert [r["training"]["validation"] for r in rounds] == [30, 60]
    assert all(1 <= r["training"]["best_epoch"] <= r["training"]["epochs"] <= 20 and "collapsed" not in r["training"] for r in rounds)
