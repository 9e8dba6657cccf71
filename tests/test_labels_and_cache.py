"""Labels as the user wrote them, evaluation files with any pool, and a round cache that never
serves an outcome computed from other labels (issue 9: items 1, 5, 7, 10)."""

import numpy as np
import pandas as pd
import pytest

from alsel.data import load_data
from alsel.errors import DataError
from alsel.io import read_json, read_jsonl
from alsel.loops.config import LoopConfig
from alsel.run import run_loop
from conftest import Recorder, run_cli, synthetic_frame


@pytest.fixture()
def options(tiny_training):
    return dict(tiny_training, epochs=1, budget=40, init="random", acq="margin", rounds=1)


def write(frame, path):
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_flipped_labels_miss_the_round_cache(tmp_path, options):
    train, evalset = synthetic_frame(200, seed=0), synthetic_frame(80, seed=1)
    data = dict(dataset=write(train, tmp_path / "train.csv"), eval=write(evalset, tmp_path / "eval.csv"))
    first = run_loop(LoopConfig.from_options(**data, **options), tmp_path / "a")
    again = run_loop(LoopConfig.from_options(**data, **options), tmp_path / "b")
    assert all(r["cached"] for r in read_jsonl(tmp_path / "b" / "rounds.jsonl"))  # the control: same data hits
    assert again["accuracy"] == first["accuracy"]

    flip = {"neg": "pos", "pos": "neg"}
    flipped = dict(
        dataset=write(train.assign(label=train.label.map(flip)), tmp_path / "train-flipped.csv"),
        eval=write(evalset.assign(label=evalset.label.map(flip)), tmp_path / "eval-flipped.csv"),
    )
    metrics = run_loop(LoopConfig.from_options(**flipped, **options), tmp_path / "c")
    assert not any(r["cached"] for r in read_jsonl(tmp_path / "c" / "rounds.jsonl"))
    # the reported accuracy is the final model's, scored against the flipped labels
    eval_labels = load_data(flipped["dataset"], eval_spec=flipped["eval"]).eval.labels
    probs = np.load(tmp_path / "c" / "eval_probs.npy", allow_pickle=False)
    assert np.mean(probs.argmax(axis=1) == eval_labels) == pytest.approx(metrics["accuracy"], abs=1e-6)

    # flipping only the evaluation labels misses too
    run_loop(LoopConfig.from_options(dataset=data["dataset"], eval=flipped["eval"], **options), tmp_path / "d")
    assert not any(r["cached"] for r in read_jsonl(tmp_path / "d" / "rounds.jsonl"))


@pytest.mark.slow
def test_selection_writes_the_files_own_labels(tmp_path, options):
    frame = synthetic_frame(200, seed=0, labels=(1, 2))
    evalset = synthetic_frame(60, seed=1, labels=(1, 2))
    run_loop(
        LoopConfig.from_options(dataset=write(frame, tmp_path / "t.csv"), eval=write(evalset, tmp_path / "e.csv"), **options),
        tmp_path / "run",
    )
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    assert len(selection) == 40
    for entry in selection:
        assert entry["label"] == frame.label[entry["id"]]  # 1 or 2, as in the file
        assert entry["label_index"] == entry["label"] - 1
    assert read_json(tmp_path / "run" / "config.json")["data"]["label_values"] == [1, 2]


def test_label_strings_are_stripped_and_missing_labels_are_an_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na b,1\nc d, 1\ne f,0\ng h,0 \n")
    pool = load_data(str(path), eval_spec=str(path)).pool
    assert pool.label_names == ("0", "1") and pool.label_values == (0, 1) and pool.labels.tolist() == [1, 1, 0, 0]
    for missing in ("NaN", "", "nan", "  "):
        path.write_text(f"text,label\na b,1\nc d,{missing}\ne f,0\n")
        with pytest.raises(DataError, match="1 rows have no label in column 'label'.*row 1"):
            load_data(str(path))
    path = tmp_path / "d.jsonl"
    pd.DataFrame({"text": ["a", "b", "c"], "label": [1.0, None, 0.0]}).to_json(path, orient="records", lines=True)
    with pytest.raises(DataError, match="1 rows have no label"):
        load_data(str(path))


@pytest.mark.slow
def test_sst2_takes_an_evaluation_file(tmp_path):
    path = tmp_path / "my-eval.tsv"
    path.write_text("sentence\tlabel\na gorgeous , witty film\t1\na dull , lifeless mess\t0\nfine\tpositive\n")
    splits = load_data("sst2", eval_spec=str(path), limit=100)
    assert splits.eval.texts[0] == "a gorgeous , witty film" and splits.eval.labels.tolist() == [1, 0, 1]
    assert len(splits.pool) == 100 and splits.pool.label_values == (0, 1)
    path.write_text("sentence\tlabel\nsomething\t7\n")
    with pytest.raises(DataError, match=r"labels \['7'\] are not among the training labels \['0', '1'\]"):
        load_data("sst2", eval_spec=str(path))


@pytest.mark.parametrize("spec", ["0", "1.0", "1", "-0.2"])
def test_eval_fraction_out_of_range(spec):
    with pytest.raises(DataError, match=rf"--eval {spec}: a fraction of the pool to hold out must be in \(0, 1\)"):
        load_data("sst2", eval_spec=spec)


def test_tiny_file_names_the_hold_out(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    with pytest.raises(DataError, match="holding out 2 of 2 rows for evaluation .* leaves 0 in the pool"):
        load_data(str(path))


@pytest.mark.slow
def test_limit_larger_than_the_pool_is_said_and_recorded(tmp_path, options):
    data = dict(
        dataset=write(synthetic_frame(120, seed=0), tmp_path / "t.csv"), eval=write(synthetic_frame(40, seed=1), tmp_path / "e.csv")
    )
    log = Recorder()
    run_loop(LoopConfig.from_options(limit=5000, **data, **options), tmp_path / "run", progress=log)
    assert "--limit 5,000 is larger than the pool (120): using all of it" in log.lines
    config = read_json(tmp_path / "run" / "config.json")
    assert config["data"]["n_pool"] == 120 and config["limit"] == 5000


@pytest.mark.parametrize("values", [(False, True), (0.5, 1.5)])
@pytest.mark.slow
def test_selection_and_export_write_bool_and_float_labels_as_such(capsys, tmp_path, options, values):
    """Issue 26: a JSON-lines file's true/false or 0.5/1.5 come back as JSON booleans and
    numbers, not the strings "True" and "0.5"."""
    frame = synthetic_frame(200, seed=0, labels=values)
    path = tmp_path / "t.jsonl"
    frame.to_json(path, orient="records", lines=True)
    run_loop(LoopConfig.from_options(dataset=str(path), eval="0.2", **options), tmp_path / "run")
    code, _, err = run_cli(capsys, "export", tmp_path / "run", "--out", tmp_path / "subset.jsonl")
    assert code == 0, err
    for rows in (read_jsonl(tmp_path / "run" / "selection.jsonl"), read_jsonl(tmp_path / "subset.jsonl")):
        assert len(rows) == 40 and {type(r["label"]) for r in rows} == {type(values[0])}
        assert all(r["label"] == frame.label[r["id"]] for r in rows)
