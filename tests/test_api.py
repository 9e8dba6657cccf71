"""alsel.select from Python: the same loop as the command line, on data in memory or on disk."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsel
from alsel import LoopConfig, RoundRecord, SelectionResult
from alsel.errors import AlselError
from alsel.io import read_json, read_jsonl
from alsel.loops.presets import PRESETS, RECOMMENDED
from conftest import UNGUARDED, Recorder, run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def tiny(tiny_bert, cache_dir):
    """Loop options that train the tiny model in seconds; budget 40 of the 300-row pool."""
    return dict(model=tiny_bert, epochs=1, min_steps=0, lr=5e-3, batch_size=16, budget=40, cache_dir=cache_dir, learner_options=UNGUARDED)


@pytest.fixture()
def frames(synthetic_csv):
    return pd.read_csv(synthetic_csv / "train.csv"), pd.read_csv(synthetic_csv / "eval.csv")


def cli_flags(options: dict) -> list[str]:
    """The CLI spelling of ``options``: one flag per option, ``--learner-option K=V`` per learner option."""
    flags = [x for k, v in options.items() if k != "learner_options" for x in ("--" + k.replace("_", "-"), str(v))]
    return flags + [x for k, v in options.get("learner_options", {}).items() for x in ("--learner-option", f"{k}={str(v).lower()}")]


@pytest.mark.slow
def test_select_on_texts_frame_and_dataset_gives_the_cli_selection(capsys, tmp_path, synthetic_csv, frames, tiny):
    import datasets

    train, evalset = frames
    code, _, err = run_cli(
        capsys,
        "loop",
        "--dataset",
        synthetic_csv / "train.csv",
        "--eval",
        synthetic_csv / "eval.csv",
        *cli_flags(tiny),
        "--out",
        tmp_path / "cli",
        "--quiet",
    )
    assert code == 0 and err == "", err
    cli_ids = [e["id"] for e in read_jsonl(tmp_path / "cli" / "selection.jsonl")]

    from_texts = alsel.select(
        train["text"].tolist(), train["label"].tolist(), eval=(evalset["text"].tolist(), evalset["label"].tolist()), progress=False, **tiny
    )
    assert capsys.readouterr() == ("", "")  # progress=False prints nothing
    from_frame = alsel.select(train, eval=evalset, text="text", label="label", progress=False, **tiny)
    from_dataset = alsel.select(
        datasets.DatasetDict(train=datasets.Dataset.from_pandas(train), validation=datasets.Dataset.from_pandas(evalset)),
        progress=False,
        **tiny,
    )
    for result in (from_texts, from_frame, from_dataset):
        assert isinstance(result, SelectionResult) and result.ids.tolist() == cli_ids
        assert result.frame["id"].tolist() == cli_ids and result.indices.tolist() == cli_ids  # no hold-out: positions are ids
        assert result.frame["text"].tolist() == train["text"].iloc[cli_ids].tolist()
        assert result.frame["label"].tolist() == train["label"].iloc[cli_ids].tolist()  # 'neg'/'pos', as given
        assert result.metrics == read_json(tmp_path / "cli" / "metrics.json") | {"seconds": result.metrics["seconds"]}
    rounds, config, frame = from_frame.rounds, from_frame.config, from_frame.frame
    assert [r.round for r in rounds] == [0, 1, 2] and all(isinstance(r, RoundRecord) for r in rounds)
    assert [r.n_labeled for r in rounds] == [14, 27, 40] and rounds[-1].n_acquired == 0
    # the recommended loop: a KMeans third, two rounds of cluster_margin scored by the logistic regression, one fine-tuning
    assert (config.init, config.rounds, config.acq) == ("kmeans", 2, "cluster_margin")
    assert (config.learner, config.final_learner) == ("logreg", "transformer")
    assert rounds[0].epochs is None and rounds[-1].epochs is not None  # only the final model is fine-tuned
    assert frame["round"].value_counts().sort_index().tolist() == [14, 13, 13]
    assert frame.loc[frame["round"] == 0, "score"].isna().all() and frame.loc[frame["round"] > 0, "score"].notna().all()
    rounds = alsel.select(train, eval=evalset, text="text", label="label", progress=False, preset="kmeans_margin", **tiny).rounds
    assert [r.n_labeled for r in rounds] == [14, 27, 40] and rounds[0].scores["acquired"]["p_gold"]["mean"] >= 0


def test_integer_labels_stay_integers_and_the_exports_round_trip(capsys, tmp_path, frames, tiny):
    train, _ = frames
    numbers = train.assign(label=(train["label"] == "pos").astype(int) * 5)  # labels 0 and 5
    result = alsel.select(numbers, eval=0.2, out=tmp_path / "run", progress=False, **{**tiny, "rounds": 0, "init": "random"})
    assert set(result.frame["label"]) == {0, 5} and all(isinstance(v, (int, np.integer)) for v in result.frame["label"])
    assert len(result) == 40 and len(result.rounds) == 1 and result.metrics["n_eval"] == 60
    assert result.frame["text"].tolist() == numbers["text"].iloc[result.ids].tolist()  # ids are source rows
    assert not np.array_equal(result.ids, result.indices)  # positions in the pool left after the hold-out
    # the run directory keeps the data before the hold-out, which its replay repeats
    assert read_json(tmp_path / "run" / "config.json")["eval"] == "0.2" and not (tmp_path / "run" / "data" / "eval.parquet").exists()
    code, _, err = run_cli(capsys, "loop", "--config", tmp_path / "run" / "config.json", "--out", tmp_path / "replay", "--quiet")
    assert code == 0, err
    assert (tmp_path / "replay" / "selection.jsonl").read_bytes() == (tmp_path / "run" / "selection.jsonl").read_bytes()
    assert [e["label"] for e in read_jsonl(tmp_path / "replay" / "selection.jsonl")] == result.frame["label"].tolist()

    result.to_csv(tmp_path / "s.csv")
    result.to_jsonl(tmp_path / "s.jsonl")
    result.to_parquet(tmp_path / "s.parquet")
    for back in (pd.read_csv(tmp_path / "s.csv"), pd.read_json(tmp_path / "s.jsonl", lines=True), pd.read_parquet(tmp_path / "s.parquet")):
        pd.testing.assert_frame_equal(back, result.frame, check_dtype=False)
    pd.testing.assert_frame_equal(result.to_dataset().to_pandas(), result.frame, check_dtype=False)


@pytest.mark.slow
def test_out_writes_a_run_directory_that_resumes_and_replays_from_the_cli(capsys, tmp_path, frames, tiny):
    import datasets

    train, evalset = frames
    # a ClassLabel data set: ints with names, which the kept parquet files must carry
    encoded = datasets.Dataset.from_pandas(train).class_encode_column("label")
    held_out = datasets.Dataset.from_pandas(evalset).class_encode_column("label")
    spec = dict(eval=held_out, progress=False, **tiny)
    reference = alsel.select(encoded, **spec)
    assert set(reference.frame["label"]) == {0, 1}  # the data set's own values
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        alsel.select(encoded, out=run, **{**spec, "progress": Recorder(stop_after=0)})
    assert len(read_jsonl(run / "rounds.jsonl")) == 1 and not (run / "metrics.json").exists()
    config = read_json(run / "config.json")
    assert config["dataset"] == str((run / "data" / "pool.parquet").resolve()) and config["eval"].endswith("eval.parquet")
    assert config["data"]["label_names"] == ["neg", "pos"] and config["data"]["label_values"] == [0, 1]
    assert set(pd.read_parquet(run / "data" / "pool.parquet").columns) == {"id", "text", "label"}

    # the command line resumes it: its config.json names files that load as the same data
    code, _, err = run_cli(capsys, "loop", "--config", run / "config.json", "--out", run, "--quiet")
    assert code == 0, err
    assert [e["id"] for e in read_jsonl(run / "selection.jsonl")] == reference.ids.tolist()
    code, table, _ = run_cli(capsys, "show", run)
    assert code == 0 and "final: accuracy" in table
    again = alsel.select(encoded, out=run, **spec)  # finished: returns the run's result
    assert again.ids.tolist() == reference.ids.tolist() and again.metrics == read_json(run / "metrics.json")

    # and replays it into a new directory, byte for byte
    code, out, err = run_cli(capsys, "loop", "--config", run / "config.json", "--out", tmp_path / "replay", "--quiet", "--json")
    assert code == 0, err
    assert json.loads(out)["n_train"] == 40 and err == ""
    assert (tmp_path / "replay" / "selection.jsonl").read_bytes() == (run / "selection.jsonl").read_bytes()


def test_presets_mean_the_same_everywhere(capsys, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("alsel.run.run_loop", lambda config, out_dir, progress: seen.append(config) or {})
    monkeypatch.chdir(tmp_path)
    for name, preset in PRESETS.items():
        config = LoopConfig(preset=name)
        assert config == LoopConfig.from_options(preset=name)
        assert {k: getattr(config, k) for k in preset.options} == preset.options
        if "budget" in preset.fixed:  # full is the whole pool: a budget would make it a random sample (issue 26)
            with pytest.raises(AlselError, match=f"--preset {name} takes no --budget"):
                LoopConfig(preset=name, budget=0.3)
        else:
            assert LoopConfig(preset=name, budget=0.3).budget == 0.3  # explicit values win
        code, _, err = run_cli(capsys, "loop", "--preset", name, "--quiet")
        assert code == 0, err
        assert seen[-1] == config
    assert LoopConfig(preset="hybrid", rounds=2).rounds == 2 and LoopConfig(preset="hybrid", rounds=2).init == "random"


def test_the_default_config_is_the_recommended_loop(capsys, tmp_path, monkeypatch):
    recommended = PRESETS[RECOMMENDED].options
    assert {k: getattr(LoopConfig(), k) for k in recommended} == recommended
    assert recommended == {"init": "kmeans", "rounds": 2, "acq": "cluster_margin", "learner": "logreg", "final_learner": "transformer"}
    assert LoopConfig().preset is None and LoopConfig(init="kmeans", acq="low_conf", rounds=2).acq == "low_conf"
    # the recommendation fills a config only as a whole: a loop shaped here starts from one-shot KMeans, fine-tuned throughout
    own = LoopConfig(init="random")
    assert (own.init, own.rounds, own.acq, own.learner, own.final_learner) == ("random", 0, None, "transformer", None)
    own = LoopConfig(acq="margin", rounds=2)
    assert (own.init, own.learner, own.final_learner) == ("kmeans", "transformer", None)
    assert (LoopConfig(preset="random").learner, LoopConfig(preset="random").final_learner) == ("transformer", None)
    # options that shape no loop keep the recommendation: a budget, or a learner named (which then trains throughout)
    assert LoopConfig(budget=0.2).acq == "cluster_margin" and LoopConfig(budget=0.2).learner == "logreg"
    named = LoopConfig(learner="transformer")
    assert (named.acq, named.learner, named.final_learner) == ("cluster_margin", "transformer", None)
    assert LoopConfig().learner == "logreg"  # building configs leaves the defaults as they were
    seen = []
    monkeypatch.setattr("alsel.run.run_loop", lambda config, out_dir, progress: seen.append(config) or {})
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "loop", "--quiet")[0] == 0 and seen[-1] == LoopConfig()
    assert run_cli(capsys, "loop", "--init", "kmeans", "--acq", "low_conf", "--rounds", "2", "--quiet")[0] == 0
    assert (seen[-1].init, seen[-1].acq, seen[-1].rounds) == ("kmeans", "low_conf", 2)
    code, out, _ = run_cli(capsys, "loop", "--help")
    assert re.search(r"--init TEXT\s+strategy choosing the initial pool\s+\[default: kmeans\]", out)
    assert re.search(r"--rounds INTEGER RANGE\s+acquisition rounds after the initial pool\s+\[default: 0\]", out)
    assert all(name in out for name in PRESETS)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: alsel.select(["a", "b", "c"], ["x", "y"]), "3 texts but 2 labels"),
        (lambda: alsel.select(["a", "b"]), "needs its labels"),
        (lambda: alsel.select(["a", "b"], [0, 1], acquisition="margin"), "unknown option acquisition"),
        (lambda: alsel.select(["a", "b"], [0, 1], text_column="t"), "pass text_column as select's text= argument"),
        (
            lambda: alsel.select(pd.DataFrame({"review": ["a"], "label": [1]}), text="body"),
            "no text column 'body' (columns: review, label)",
        ),
        (lambda: alsel.select(pd.DataFrame({"text": ["a"], "stars": [1]})), "no label column 'label' (columns: text, stars)"),
        (lambda: alsel.select(["a", "b", "c", "d"], [0, 1, 0, 1], preset="nope"), "unknown preset 'nope'"),
    ],
)
def test_bad_input_is_a_one_line_alsel_error(call, message):
    with pytest.raises(AlselError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def readme_python_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_readme_example(frame, tmp_path, monkeypatch, tiny) -> dict:
    """The README's Python example as written, on ``frame`` saved as the CSV it reads; only the
    tiny model's options (and silence) are added to its call."""
    frame.to_csv(tmp_path / "messages.csv", index=False)
    monkeypatch.chdir(tmp_path)
    block = readme_python_example()
    code = block.replace("budget=0.1)", "budget=0.1, progress=False, **tiny)")
    assert code != block
    namespace = {"tiny": {k: v for k, v in tiny.items() if k != "budget"}}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


@pytest.mark.slow
def test_the_readme_example_runs_on_a_csv_that_is_not_sst2(tmp_path, monkeypatch, tiny):
    messages = pd.read_csv(ROOT / "tests" / "data" / "messages.csv")  # SMS spam: 260 ham, 40 spam
    result = run_readme_example(messages, tmp_path, monkeypatch, tiny)["result"]
    selected = pd.read_parquet(tmp_path / "selected.parquet")
    assert len(selected) == 27  # 10% of the 270 left after holding out 10% for evaluation
    assert selected["id"].tolist() == result.ids.tolist()
    assert selected["text"].tolist() == messages["message"][selected["id"]].tolist()
    assert selected["label"].tolist() == messages["category"][selected["id"]].tolist()
    assert set(selected["label"]) <= {"ham", "spam"}


@pytest.mark.slow
def test_the_readme_example_runs_on_sst2(tmp_path, monkeypatch, tiny):
    from alsel.data import load_data

    pool = load_data("sst2", limit=300).pool
    frame = pd.DataFrame({"message": pool.texts, "category": [pool.label_values[y] for y in pool.labels]})
    run_readme_example(frame, tmp_path, monkeypatch, tiny)
    selected = pd.read_parquet(tmp_path / "selected.parquet")
    assert len(selected) == 27 and set(selected["label"]) <= {0, 1}
    assert selected["text"].tolist() == frame["message"][selected["id"]].tolist()


def test_python_dash_m_and_py_typed():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "alsel", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "alsel, version" in result.stdout
    assert (ROOT / "alsel" / "py.typed").exists() and "py.typed" in (ROOT / "pyproject.toml").read_text()
    code = "import sys, alsel; alsel.LoopConfig; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip() == "False"


def test_study_json_prints_the_summary_rows_alone(capsys, tmp_path):
    from test_study import write_config

    code, out, err = run_cli(capsys, "study", write_config(tmp_path), "--out", tmp_path / "s", "--dry-run", "--seeds", "0", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list) and rows and {r["status"] for r in rows} == {"planned"}
    assert {"strategy", "budget", "seed", "accuracy"} <= set(rows[0])
