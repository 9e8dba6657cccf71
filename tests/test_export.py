"""``alsel export`` and ``--save-model`` with a tiny random BERT (conftest) on synthetic data."""

import csv
import shutil
import textwrap
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from alsel.data import load_data, load_recorded_data, save_source
from alsel.errors import AlselError, ConfigError
from alsel.export import selected_frame
from alsel.io import read_json, read_jsonl, write_dir, write_json
from alsel.loops.config import LoopConfig
from alsel.loops.rundir import source_path
from alsel.run import run_loop
from conftest import UNGUARDED, run_cli


def loop_options(data_dir, model, cache_dir, **extra):
    return dict(
        dataset=str(data_dir / "train.csv"),
        eval=str(data_dir / "eval.csv"),
        model=model,
        init="random",
        acq="low_conf",
        rounds=2,
        epochs=2,
        min_steps=0,
        lr=5e-3,
        batch_size=16,
        budget=60,
        precision="fp32",
        cache_dir=str(cache_dir),
        learner_options=UNGUARDED,
        **extra,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory, synthetic_csv, tiny_bert):
    """A finished three-round run that saved its final model (one training run for the module)."""
    tmp = tmp_path_factory.mktemp("export")
    options = loop_options(synthetic_csv, tiny_bert, tmp / "cache")
    metrics = run_loop(LoopConfig.from_options(**options, save_model=str(tmp / "model")), tmp / "run")
    return SimpleNamespace(tmp=tmp, run=tmp / "run", model=tmp / "model", options=options, metrics=metrics, data=synthetic_csv)


def copy_run(finished, tmp_path, **record_changes):
    """A copy of the finished run whose config.json is changed by ``record_changes``."""
    run = tmp_path / "run"
    shutil.copytree(finished.run, run)
    record = read_json(run / "config.json")
    write_json(run / "config.json", {**record, **record_changes})
    return run


def pipeline_accuracy(model_dir, data_dir) -> float:
    from transformers import pipeline

    evalset = pd.read_csv(data_dir / "eval.csv")
    classify = pipeline("text-classification", model=str(model_dir), device=-1)
    predicted = [p["label"] for p in classify(evalset["text"].tolist())]
    return round(float(np.mean(np.array(predicted) == evalset["label"].to_numpy())), 6)


# ------------------------------------------------------------------ the exported rows
@pytest.mark.slow
def test_selection_rows_are_the_source_rows_in_acquisition_order(finished):
    frame = selected_frame(finished.run)
    selection = read_jsonl(finished.run / "selection.jsonl")
    source = pd.read_csv(finished.data / "train.csv")
    assert list(frame.columns) == ["id", "text", "label", "round", "score"]
    assert frame["id"].tolist() == [e["id"] for e in selection] and len(frame) == 60
    assert frame["text"].tolist() == source["text"].iloc[frame["id"]].tolist()
    assert frame["label"].tolist() == source["label"].iloc[frame["id"]].tolist() and set(frame["label"]) == {"neg", "pos"}
    assert frame["round"].tolist() == [e["round"] for e in selection]
    recorded = [np.nan if e["score"] is None else e["score"] for e in selection]
    np.testing.assert_array_equal(frame["score"].to_numpy(), np.array(recorded, dtype=np.float64))

    rest = selected_frame(finished.run, complement=True)
    assert list(rest.columns) == ["id", "text", "label"]
    assert rest["id"].tolist() == sorted(set(range(len(source))) - set(frame["id"]))
    assert rest["text"].tolist() == source["text"].iloc[rest["id"]].tolist()


def read_back(path, format):
    if format == "hf":
        import datasets

        return datasets.load_from_disk(str(path)).to_pandas()
    readers = {
        "csv": lambda: pd.read_csv(path, keep_default_na=False, na_values={"score": [""]}),
        "tsv": lambda: pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, na_values={"score": [""]}),
        "jsonl": lambda: pd.DataFrame(read_jsonl(path)),
        "parquet": lambda: pd.read_parquet(path),
    }
    return readers[format]()


@pytest.mark.parametrize("format", ["csv", "tsv", "jsonl", "parquet", "hf"])
def test_every_format_reads_back_equal(capsys, finished, tmp_path, format):
    expected = selected_frame(finished.run)
    out = tmp_path / f"selection.{format}"
    code, stdout, err = run_cli(capsys, "export", finished.run, "--format", format, "--out", out)
    assert code == 0, err
    assert stdout.strip() == f"wrote 60 selected examples to {out}"
    back = read_back(out, format)
    assert list(back.columns) == list(expected.columns)
    for column in ("id", "text", "label", "round"):
        assert back[column].tolist() == expected[column].tolist()
    np.testing.assert_array_equal(back["score"].to_numpy(dtype=np.float64), expected["score"].to_numpy())
    if format != "hf":  # a flat file is a data set alsel itself reads: train on the subset
        pool = load_data(str(out), eval_spec=str(finished.data / "eval.csv")).pool
        assert pool.texts == expected["text"].tolist()


def test_default_paths_and_the_format_from_the_suffix(capsys, finished, tmp_path):
    run = copy_run(finished, tmp_path)
    assert run_cli(capsys, "export", run)[0] == 0
    assert pd.read_csv(run / "selected.csv")["id"].tolist() == selected_frame(run)["id"].tolist()
    assert run_cli(capsys, "export", run, "--complement", "--format", "hf")[0] == 0
    assert (run / "complement.hf" / "dataset_info.json").exists()
    assert run_cli(capsys, "export", run, "--out", tmp_path / "subset.parquet")[0] == 0
    assert pd.read_parquet(tmp_path / "subset.parquet")["text"].tolist() == selected_frame(run)["text"].tolist()
    # exporting again replaces the earlier file and folder
    assert run_cli(capsys, "export", run, "--complement", "--format", "hf")[0] == 0
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_a_study_run_exports_the_same_way(capsys, tmp_path, synthetic_csv, tiny_bert):
    from alsel.study import run_study

    config = tmp_path / "study.yaml"
    config.write_text(
        textwrap.dedent(f"""
        name: tiny
        epochs: 1
        min_steps: 0
        learner_options: {{collapse_guard: false}}
        batch_size: 16
        strategies:
          random: {{preset: random}}
        budgets: [40]
        seeds: [0]
        dataset: {synthetic_csv / "train.csv"}
        eval: {synthetic_csv / "eval.csv"}
        model: {tiny_bert}
        cache_dir: {tmp_path / "cache"}
    """),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="save_model would have every run write one folder"):
        run_study(config, out=tmp_path / "study", options={"save_model": str(tmp_path / "model")})
    summary = run_study(config, out=tmp_path / "study")
    assert summary.exit_code == 0
    (run,) = [o.run_dir for o in summary.outcomes]
    selection = read_jsonl(run / "selection.jsonl")
    assert run_cli(capsys, "export", run, "--format", "jsonl")[0] == 0
    assert read_jsonl(run / "selection.jsonl") == selection  # the run's record is not the export's default name
    exported = pd.read_json(run / "selected.jsonl", lines=True, dtype=False)
    assert exported["id"].tolist() == [e["id"] for e in selection] and len(exported) == 40
    assert exported["text"].tolist() == pd.read_csv(synthetic_csv / "train.csv")["text"].iloc[exported["id"]].tolist()


# ------------------------------------------------------------------ refusals: one line, exit 2
@pytest.mark.parametrize("edit", ["text", "label"])
def test_a_changed_data_set_is_refused(capsys, finished, tmp_path, edit):
    frame = pd.read_csv(finished.data / "train.csv")
    row = selected_frame(finished.run)["id"].iloc[0]
    if edit == "text":
        frame.loc[row, "text"] = frame.loc[row, "text"] + " indeed"
    else:
        frame.loc[row, "label"] = "neg" if frame.loc[row, "label"] == "pos" else "pos"
    frame.to_csv(tmp_path / "train.csv", index=False)
    run = copy_run(finished, tmp_path, dataset=str(tmp_path / "train.csv"))
    code, _, err = run_cli(capsys, "export", run)
    assert code == 2 and err.count("\n") == 1
    assert f"{run}: the data set changed since the run (fingerprint " in err and "export needs the data the run used" in err
    assert not (run / "selected.csv").exists()


def test_runs_without_the_labelled_fingerprint_are_checked_by_their_texts(capsys, finished, tmp_path):
    record = read_json(finished.run / "config.json")
    data = {k: v for k, v in record["data"].items() if k != "pool_labelled_fingerprint"}
    run = copy_run(finished, tmp_path, data=data)
    assert run_cli(capsys, "export", run)[0] == 0  # unchanged texts: exports
    frame = pd.read_csv(finished.data / "train.csv")
    frame.loc[0, "text"] = "changed"
    frame.to_csv(tmp_path / "train.csv", index=False)
    write_json(run / "config.json", {**read_json(run / "config.json"), "dataset": str(tmp_path / "train.csv")})
    code, _, err = run_cli(capsys, "export", run)
    assert code == 2 and "the data set changed since the run" in err


def test_an_unfinished_run_is_refused(capsys, finished, tmp_path):
    run = copy_run(finished, tmp_path)
    (run / "metrics.json").unlink()
    write_json(run / "checkpoint.json", {**read_json(run / "checkpoint.json"), "n_rounds": 2})
    code, _, err = run_cli(capsys, "export", run)
    assert code == 2 and err.count("\n") == 1
    assert f"{run}: unfinished run (2 of 3 rounds); finish it" in err and f"--out {run}" in err


def test_bad_requests_are_one_line(capsys, finished, tmp_path):
    (tmp_path / "empty").mkdir()
    cases = [
        (["export", finished.run, "--format", "xls"], "unknown export format 'xls'"),
        (["export", finished.run, "--out", tmp_path / "x.xlsx"], "unknown export format '.xlsx'"),
        (["export", tmp_path / "missing"], "no such run directory"),
        (["export", tmp_path / "empty"], "not a run directory (no config.json)"),
        (["export", finished.run, "--out", finished.run / "selection.jsonl"], "one of the run's own records"),
        (
            ["export", finished.run, "--format", "csv", "--out", finished.run / "error.txt"],
            "one of the run's own records",
        ),  # a study writes it
        (["export", finished.run, "--format", "hf", "--out", finished.run / "data"], "one of the run's own records"),
    ]
    for argv, message in cases:
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)


@pytest.mark.parametrize("source", ["dataset", "eval", "kept"])
def test_an_output_path_that_is_one_of_the_runs_inputs_is_refused(capsys, finished, tmp_path, monkeypatch, source):
    for name in ("train.csv", "eval.csv"):
        shutil.copy(finished.data / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)  # the recorded paths and --out are relative to where alsel runs
    run = copy_run(finished, tmp_path, dataset="train.csv", eval=str(tmp_path / "eval.csv"))
    if source == "kept":  # a run of alsel.select on data in memory names the copy it keeps
        save_source(load_recorded_data(read_json(run / "config.json")).pool, source_path(run, "pool"))
        write_json(run / "config.json", {**read_json(run / "config.json"), "dataset": str(source_path(run, "pool"))})
    outs = {"dataset": (tmp_path / "train.csv", "dataset"), "eval": ("eval.csv", "eval"), "kept": (source_path(run, "pool"), "dataset")}
    out, option = outs[source]
    inputs = {p: p.read_bytes() for p in (tmp_path / "train.csv", tmp_path / "eval.csv", source_path(run, "pool")) if p.exists()}
    code, _, err = run_cli(capsys, "export", run, "--out", out)
    assert code == 2 and err.count("\n") == 1 and f"{out} is the run's {option} file (config.json); pass another --out" in err, err
    assert {p: p.read_bytes() for p in inputs} == inputs and not (run / "selected.csv").exists()


def test_tsv_refuses_texts_it_cannot_hold(finished, tmp_path):
    from alsel.export import write_frame

    frame = selected_frame(finished.run)
    frame.loc[3, "text"] = "a\tb"
    with pytest.raises(AlselError, match=f"id {frame['id'].iloc[3]}.*use csv, jsonl or parquet"):
        write_frame(frame, tmp_path / "x.tsv", "tsv")
    assert not (tmp_path / "x.tsv").exists()


# ------------------------------------------------------------------ --save-model
def test_the_saved_model_predicts_label_names_with_the_runs_accuracy(finished):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(finished.model)
    assert model.config.id2label == {0: "neg", 1: "pos"} and model.config.label2id == {"neg": 0, "pos": 1}
    assert pipeline_accuracy(finished.model, finished.data) == read_json(finished.run / "metrics.json")["accuracy"]
    assert read_json(finished.run / "config.json")["save_model"] == str(finished.model)


@pytest.mark.slow
def test_a_cached_final_round_still_trains_the_model_it_saves(finished):
    again = finished.tmp / "again"
    metrics = run_loop(LoopConfig.from_options(**finished.options, save_model=str(finished.tmp / "model2")), again)
    assert [r["cached"] for r in read_jsonl(again / "rounds.jsonl")] == [True, True, False]
    assert metrics["accuracy"] == finished.metrics["accuracy"]
    assert pipeline_accuracy(finished.tmp / "model2", finished.data) == finished.metrics["accuracy"]


def test_save_model_refuses_a_folder_of_other_files_before_training(capsys, finished, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in finished.options.items() if k != "learner_options"]
    argv = ["loop", *flags, "--learner-option", "collapse_guard=false", "--out", tmp_path / "run", "--save-model", tmp_path / "mine"]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "holds other files (no config.json)" in err and err.count("\n") == 1
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me" and not (tmp_path / "run").exists()


def test_save_model_needs_a_final_learner_that_can_save(finished, tmp_path):
    options = dict(finished.options, learner="logreg", learner_options={}, save_model=str(tmp_path / "model"))
    with pytest.raises(ConfigError, match="--save-model: the final learner logreg cannot save its model"):
        LoopConfig.from_options(**options).resolved()
    assert LoopConfig.from_options(**options, final_learner="transformer").resolved().save_model == str(tmp_path / "model")


def test_write_dir_replaces_only_its_own_output(tmp_path):
    def fill(text):
        return lambda tmp: (tmp / "config.json").write_text(text)

    write_dir(tmp_path / "out", fill("one"), marker="config.json")
    write_dir(tmp_path / "out", fill("two"), marker="config.json")
    assert (tmp_path / "out" / "config.json").read_text() == "two"

    def fails(tmp):
        (tmp / "config.json").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dir(tmp_path / "out", fails, marker="config.json")
    assert (tmp_path / "out" / "config.json").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(AlselError, match="is not a directory"):
        write_dir(tmp_path / "file", fill("three"), marker="config.json")


def test_write_dir_never_deletes_what_it_did_not_write(tmp_path):
    """A saved model's folder where the user added notes and a subfolder is refused, whole."""
    write_dir(tmp_path / "model", lambda tmp: (tmp / "config.json").write_text("{}"), marker="config.json")
    (tmp_path / "model" / "notes.txt").write_text("mine")
    (tmp_path / "model" / "plots").mkdir()
    (tmp_path / "model" / "plots" / "a.png").write_bytes(b"png")
    with pytest.raises(AlselError, match="holds files alsel did not write \\(notes.txt, ...\\)"):
        write_dir(tmp_path / "model", lambda tmp: (tmp / "config.json").write_text("new"), marker="config.json")
    assert (tmp_path / "model" / "notes.txt").read_text() == "mine" and (tmp_path / "model" / "config.json").read_text() == "{}"
    (tmp_path / "old").mkdir()  # a model folder with no record of what alsel wrote (another tool's, or the user's)
    (tmp_path / "old" / "config.json").write_text("{}")
    with pytest.raises(AlselError, match="no record of writing"):
        write_dir(tmp_path / "old", lambda tmp: (tmp / "config.json").write_text("new"), marker="config.json")


def test_save_model_never_writes_into_the_model_it_loads(finished, tmp_path):
    import shutil

    model = tmp_path / "weights"
    shutil.copytree(finished.options["model"], model)
    for target in (model, model / "inner"):
        with pytest.raises(ConfigError, match="that is where --model .* is loaded from"):
            LoopConfig.from_options(**dict(finished.options, model=str(model), save_model=str(target))).resolved()


# ------------------------------------------------------------------ the bundled data
@pytest.mark.slow
def test_export_of_a_bundled_sst2_run_holds_its_rows(capsys, tmp_path, tiny_bert):
    run = tmp_path / "run"
    argv = [
        "loop",
        "--dataset",
        "sst2",
        "--limit",
        "600",
        "--eval-limit",
        "200",
        "--budget",
        "60",
        "--preset",
        "random",
        "--model",
        tiny_bert,
        "--epochs",
        "1",
        "--min-steps",
        "0",
        "--learner-option",
        "collapse_guard=false",
        "--cache-dir",
        tmp_path / "cache",
        "--out",
        run,
    ]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert run_cli(capsys, "export", run, "--out", tmp_path / "subset.parquet")[0] == 0
    exported = pd.read_parquet(tmp_path / "subset.parquet")
    train = load_data("sst2").pool
    assert len(exported) == 60
    assert exported["id"].tolist() == [e["id"] for e in read_jsonl(run / "selection.jsonl")]
    assert exported["text"].tolist() == [train.texts[i] for i in exported["id"]]
    assert exported["label"].tolist() == [train.label_value(i) for i in exported["id"]] and set(exported["label"]) <= {0, 1}
