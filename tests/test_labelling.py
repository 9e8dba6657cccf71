"""Annotation projects (alsel label): the simulated annotator selects what alsel loop selects, the
batch files round-trip, Label Studio's files are read as the contract says, and every bad input
is one line with exit status 2 that loses nothing."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from alsel.errors import AlselError, ConfigError, DataError
from alsel.labelling import LabelProject, label_config, read_export, to_tasks
from alsel.labelling.status import Stability
from alsel.loops.config import LoopConfig, plan_budget
from alsel.run import execute_loop
from conftest import UNGUARDED, run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def pool(synthetic_csv, tmp_path) -> Path:
    """300 synthetic texts with their true labels ('neg'/'pos') in a label column the project never
    reads; a copy, which a test may change."""
    path = tmp_path / "pool.csv"
    path.write_bytes((synthetic_csv / "train.csv").read_bytes())
    return path


def truth_of(pool: Path, label_column: str = "label") -> pd.Series:
    return pd.read_csv(pool, keep_default_na=False, dtype=str)[label_column]


def fill(path: Path, truth: pd.Series, only=None) -> Path:
    """The annotator: the batch file's label column filled in with the true labels (of the first
    ``only`` rows; the rest stay empty)."""
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    ids = frame["id"].astype(int)
    frame["label"] = [truth[i] if only is None or row < only else "" for row, i in enumerate(ids)]
    frame.to_csv(path, index=False)
    return path


def annotate(project: LabelProject, truth: pd.Series, sizes) -> list[int]:
    for size in sizes:
        _, path = project.next_batch(size)
        project.import_labels(fill(path, truth))
    return project.labelled_ids()


def loop_selection(pool: Path, eval_file: Path, budget: int, **options) -> tuple[list[int], list[int]]:
    """The ids ``alsel loop`` selects, in order, and the batch sizes of its plan."""
    config = LoopConfig.from_options(dataset=str(pool), eval=str(eval_file), budget=budget, **options)
    outcome = execute_loop(config)
    plan = plan_budget(outcome.config, len(outcome.pool), outcome.pool.n_classes)
    return [e.id for e in outcome.selection], [plan.init_size, *plan.round_sizes]


# ------------------------------------------------------------------ the key evidence
@pytest.mark.parametrize("strategy", ["margin on a tiny BERT with a validation split", "k-center on the embeddings (no model)"])
def test_a_simulated_annotator_labels_what_the_loop_selects(strategy, pool, synthetic_csv, tiny_bert, tmp_path):
    """init -> next -> import of the true labels -> ...: the labelled set is the loop's selection,
    the same ids in the same order, with the loop's seed, strategy and batch sizes."""
    if strategy.startswith("margin"):
        options = dict(
            init="kmeans",
            acq="margin",
            model=tiny_bert,
            epochs=2,
            min_steps=0,
            lr=5e-3,
            batch_size=16,
            learner_options=UNGUARDED,
            validation_fraction=0.45,
            seed=3,  # 50 labels hold out over 20: the second model stops on a validation split
        )
        budget = 75
    else:
        options = dict(init="random", acq="kcenter", learner="logreg", seed=1)
        budget = 30
    selected, sizes = loop_selection(pool, synthetic_csv / "eval.csv", budget, rounds=2, **options)
    assert len(sizes) == 3 and sum(sizes) == budget
    project = LabelProject.create(tmp_path / "project", pool, classes="pos,neg", **options)
    assert annotate(project, truth_of(pool), sizes) == selected
    assert [b.strategy for b in project.batches] == [options["init"], options["acq"], options["acq"]]


@pytest.mark.slow
def test_a_simulated_annotator_on_real_messages_labels_what_the_loop_selects(tmp_path):
    """The same on 200 real SMS messages (the bundled test data) with the bundled MiniLM embedder:
    kmeans_margin to 10% (20 labels in batches of 7, 7 and 6), logistic regression in the rounds."""
    messages = pd.read_csv(ROOT / "tests" / "data" / "messages.csv")
    messages.iloc[:200].to_csv(tmp_path / "pool.csv", index=False)
    messages.iloc[200:].to_csv(tmp_path / "eval.csv", index=False)
    options = dict(preset="kmeans_margin", learner="logreg", seed=0, text_column="message", label_column="category")
    selected, sizes = loop_selection(tmp_path / "pool.csv", tmp_path / "eval.csv", 20, **options)
    assert sizes == [7, 7, 6]
    project = LabelProject.create(
        tmp_path / "project",
        tmp_path / "pool.csv",
        text_column="message",
        classes_from=tmp_path / "eval.csv",
        label_column="category",
        preset="kmeans_margin",
        learner="logreg",
        seed=0,
    )
    assert annotate(project, messages["category"].iloc[:200].reset_index(drop=True), sizes) == selected


# ------------------------------------------------------------------ the command line, end to end
def test_the_cycle_from_the_command_line(capsys, pool, tmp_path):
    project = tmp_path / "project"
    code, out, _ = run_cli(
        capsys,
        "label",
        "init",
        pool,
        "--classes",
        "pos,neg",
        "--out",
        project,
        "--init",
        "random",
        "--acq",
        "margin",
        "--learner",
        "logreg",
    )
    assert code == 0 and "classes neg, pos" in out and "then margin on a logreg model" in out
    truth = truth_of(pool)
    for number, size in enumerate((12, 12), 1):
        code, out, _ = run_cli(capsys, "label", "next", project, "--batch", size, "--quiet")
        batch = project / "batches" / f"batch-{number:03d}.csv"
        assert code == 0 and str(batch) in out
        frame = pd.read_csv(batch, keep_default_na=False)
        assert list(frame.columns) == ["id", "text", "label"] and (frame["label"] == "").all() and len(frame) == size
        assert list(frame["text"]) == [pd.read_csv(pool)["text"][i] for i in frame["id"]]
        code, out, _ = run_cli(capsys, "label", "import", project, fill(batch, truth))
        assert code == 0 and f"imported {size} labels" in out and "the batch is complete" in out
    code, out, _ = run_cli(capsys, "label", "status", project, "--json")
    status = json.loads(out)
    assert code == 0 and status["labelled"] == 24 and status["pending"] == 0 and sum(status["class_counts"].values()) == 24
    assert [row["batch"] for row in status["curve"]] == [1, 2] and [row["labelled"] for row in status["curve"]] == [12, 24]
    code, out, _ = run_cli(capsys, "label", "status", project)
    assert code == 0 and "24 of 300 texts labelled" in out
    code, out, _ = run_cli(capsys, "label", "export", project, "--out", tmp_path / "labelled.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "labelled.jsonl").read_text().splitlines()]
    assert code == 0 and len(rows) == 24 and [r["batch"] for r in rows] == [1] * 12 + [2] * 12
    assert all(r["label"] == truth[r["id"]] for r in rows) and [r["id"] for r in rows] == LabelProject(project).labelled_ids()


def test_the_recommended_strategy_is_the_default_and_labels_are_the_pools_own_values(tmp_path):
    """No strategy named: alsel's recommendation chooses the batches (KMeans first, then
    cluster_margin scored by the logistic regression); numeric classes come back as numbers,
    whatever spelling the annotators used."""
    texts = [f"text number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(40)]
    pd.DataFrame({"sentence": texts}).to_csv(tmp_path / "pool.csv", index=False)
    project = LabelProject.create(tmp_path / "project", tmp_path / "pool.csv", classes="1,0")
    config = project.config
    assert project.classes == (0, 1) and (config.init, config.acq, config.learner) == ("kmeans", "cluster_margin", "logreg")
    _, path = project.next_batch(8)
    frame = pd.read_csv(path)
    frame["label"] = ["1.0", "0", 1, "1 "] + [0] * 4
    frame.to_csv(path, index=False)
    project.import_labels(path)
    batch, _ = project.next_batch(8)
    assert project.batches[0].strategy == "kmeans" and batch.strategy == "cluster_margin"
    assert not set(batch.ids) & set(project.labelled_ids())
    assert list(project.labelled_frame()["label"]) == [1, 0, 1, 1, 0, 0, 0, 0]


def test_the_readme_commands_run_as_written(capsys, tmp_path, monkeypatch, tiny_bert):
    """The README's "Labelling a new pool" commands, in order, on the CSV they name; the
    spreadsheet step types in the true labels, and init gets the tiny model's options."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme[readme.index("## Labelling a new pool") :], re.S).group(1)
    commands = [shlex.split(line.partition("#")[0]) for line in block.splitlines() if line.startswith("alsel label")]
    assert [c[:3] for c in commands] == [["alsel", "label", verb] for verb in ("init", "next", "import", "status", "export")]
    messages = pd.read_csv(ROOT / "tests" / "data" / "messages.csv")
    messages.to_csv(tmp_path / "messages.csv", index=False)
    monkeypatch.chdir(tmp_path)
    tiny = ["--model", tiny_bert, "--epochs", "1", "--learner-option", "collapse_guard=false"]
    for command in commands:
        if command[2] == "import":
            fill(Path(command[4]), messages["category"])
        code, _, err = run_cli(capsys, *command[1:], *(tiny if command[2] == "init" else []))
        assert code == 0, err
    labelled = pd.read_csv("labelled.csv")
    assert len(labelled) == 50 and labelled["label"].tolist() == messages["category"][labelled["id"]].tolist()
    assert Path("model/config.json").exists()


# ------------------------------------------------------------------ bad input: one line, exit 2, nothing lost
@pytest.fixture()
def started(pool, tmp_path):
    """A project with batch 1 (10 texts) labelled and batch 2 (10) pending."""
    project = LabelProject.create(tmp_path / "project", pool, classes=["neg", "pos"], init="random", acq="margin", learner="logreg")
    truth = truth_of(pool)
    _, first = project.next_batch(10)
    project.import_labels(fill(first, truth))
    _, second = project.next_batch(10)
    return project, second, truth


def state_bytes(project: LabelProject) -> bytes:
    return (project.path / "state.json").read_bytes()


def refused(capsys, project, *argv) -> str:
    """Run ``alsel label *argv``; it must fail in one line with status 2 and leave the state as it was."""
    before = state_bytes(project)
    code, _, err = run_cli(capsys, "label", *argv)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert state_bytes(project) == before
    return err


def test_labels_outside_the_classes_are_refused(capsys, started):
    project, second, truth = started
    frame = pd.read_csv(fill(second, truth))
    frame.loc[3, "label"] = "positive"
    frame.to_csv(second, index=False)
    err = refused(capsys, project, "import", project.path, second)
    assert "'positive'" in err and "not among the project's classes (neg, pos)" in err


def test_ids_in_no_batch_are_refused(capsys, started):
    project, second, truth = started
    frame = pd.read_csv(fill(second, truth))
    outsider = next(i for i in range(300) if i not in {*project.batches[0].ids, *project.batches[1].ids})
    frame.loc[0, "id"] = outsider
    frame.to_csv(second, index=False)
    err = refused(capsys, project, "import", project.path, second)
    assert f"1 ids are in no batch of this project (first: {outsider})" in err


def test_an_empty_import_is_refused_and_a_partial_one_leaves_the_rest_pending(capsys, started):
    project, second, truth = started
    err = refused(capsys, project, "import", project.path, second)
    assert "no labels to import" in err
    code, out, _ = run_cli(capsys, "label", "import", project.path, fill(second, truth, only=4))
    assert code == 0 and "imported 4 labels" in out and "6 of the batch still pending" in out
    assert project.pending() == project.batches[1].ids[4:]
    err = refused(capsys, project, "next", project.path, "--batch", "5")  # two next calls before the batch is labelled
    assert "batch 2 is pending (6 of 10 texts unlabelled)" in err
    code, out, _ = run_cli(capsys, "label", "batch", project.path, "--format", "jsonl", "--out", project.path / "rest.jsonl")
    rest = [json.loads(line) for line in (project.path / "rest.jsonl").read_text().splitlines()]
    assert code == 0 and [r["id"] for r in rest] == project.batches[1].ids[4:] and all(r["label"] == "" for r in rest)
    for row in rest:
        row["label"] = truth[row["id"]]
    (project.path / "rest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rest))
    code, out, _ = run_cli(capsys, "label", "import", project.path, project.path / "rest.jsonl")
    assert code == 0 and "imported 6 labels" in out and not project.pending()


def test_a_batch_saved_by_a_spreadsheet_with_a_byte_order_mark_imports(started):
    project, second, truth = started
    fill(second, truth)
    second.write_bytes(b"\xef\xbb\xbf" + second.read_bytes())  # what "CSV UTF-8" in a spreadsheet saves
    assert project.import_labels(second).new == 10


def test_disagreeing_labels_keep_a_text_pending_and_repeats_count_once(capsys, started):
    """The one rule: a text keeps one label, and alsel never chooses between disagreeing ones."""
    project, second, truth = started
    frame = pd.read_csv(fill(second, truth), keep_default_na=False)
    flip = {"neg": "pos", "pos": "neg"}
    first_id, second_id = int(frame["id"][0]), int(frame["id"][1])
    extra = pd.DataFrame({"id": [first_id, second_id], "text": ["", ""], "label": [flip[frame["label"][0]], frame["label"][1]]})
    pd.concat([frame, extra]).to_csv(second, index=False)
    code, out, _ = run_cli(capsys, "label", "import", project.path, second)
    assert code == 0 and "imported 9 labels" in out and "(1 rows repeated a label already there)" in out
    assert f"1 texts with disagreeing labels kept no new label: {first_id}" in out and "1 of the batch still pending" in out
    assert project.pending() == [first_id]
    # a label imported earlier is never replaced: a disagreeing one is reported, the first one kept
    labelled = project.batches[0].ids[0]
    kept = project.labels[labelled]
    pd.DataFrame({"id": [labelled, first_id], "label": [flip[kept], truth[first_id]]}).to_csv(project.path / "fix.csv", index=False)
    report = project.import_labels(project.path / "fix.csv")
    assert report.new == 1 and report.conflicts == {labelled: (kept, flip[kept])} and project.labels[labelled] == kept
    assert not project.pending()


def test_a_changed_pool_is_refused_naming_the_row(capsys, started, pool):
    project, second, truth = started
    frame = pd.read_csv(pool)
    frame.loc[17, "text"] = "an edited text"
    frame.to_csv(pool, index=False)
    err = refused(capsys, project, "import", project.path, fill(second, truth))
    assert "changed since alsel label init (the text of row 17 differs)" in err
    frame.iloc[:250].to_csv(pool, index=False)
    err = refused(capsys, project, "status", project.path)
    assert "300 rows then, 250 now" in err


def test_a_kill_while_the_state_is_written_loses_no_imported_label(started, monkeypatch):
    """The state is the commit point: a write cut short (here: the rename that would put it in
    place) leaves the labels imported before, and the same import then succeeds."""
    import alsel.io

    project, second, truth = started
    before = project.labels
    real_replace = alsel.io.os.replace

    def killed(src, dst):
        if Path(dst).name == "state.json":
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(alsel.io.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        project.import_labels(fill(second, truth))
    monkeypatch.setattr(alsel.io.os, "replace", real_replace)
    assert project.labels == before and len(project.pending()) == 10
    assert not [p for p in project.path.iterdir() if p.name.endswith(".tmp")]
    assert project.import_labels(second).new == 10 and len(project.labels) == 20
    # a next cut short after writing its batch file commits no batch; the rerun chooses the same one
    monkeypatch.setattr(alsel.io.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        project.next_batch(5)
    monkeypatch.setattr(alsel.io.os, "replace", real_replace)
    written = pd.read_csv(project.path / "batches" / "batch-003.csv")
    assert len(project.batches) == 2 and len(project.labels) == 20
    batch, _ = project.next_batch(5)
    assert batch.number == 3 and batch.ids == list(written["id"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--classes", "pos"], "found 1 class"),
        (["--classes", "pos,neg,pos"], "'pos' is given twice"),
        ([], "name the classes"),
        (["--classes", "pos,neg", "--preset", "low_conf"], "its seed pool is not kept"),
        (["--classes", "pos,neg", "--preset", "hybrid"], "--acq low_conf reads the labels of texts nobody has labelled yet"),
        (["--classes", "pos,neg", "--text-column", "body"], "no text column 'body'"),
    ],
)
def test_bad_projects_are_refused_at_init(capsys, pool, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "label", "init", pool, "--out", tmp_path / "project", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "project").exists()


def test_no_file_is_written_over_the_project_or_its_pool(capsys, started, pool):
    project, _, _ = started
    err = refused(capsys, project, "batch", project.path, "--format", "jsonl", "--out", project.path / "state.json")
    assert "one of its own files" in err
    err = refused(capsys, project, "export", project.path, "--out", pool)
    assert "the project's pool" in err


def test_options_of_a_labelled_pool_are_refused_from_python(pool, tmp_path):
    with pytest.raises(ConfigError, match="budget: not an option of an annotation project"):
        LabelProject.create(tmp_path / "project", pool, classes="pos,neg", budget=0.1)
    with pytest.raises(AlselError, match="not an annotation project"):
        LabelProject(tmp_path)
    LabelProject.create(tmp_path / "project", pool, classes="pos,neg")
    with pytest.raises(AlselError, match="exists and is not empty"):
        LabelProject.create(tmp_path / "project", pool, classes="pos,neg")


# ------------------------------------------------------------------ Label Studio files
def test_label_studio_files_follow_the_contract():
    assert label_config(["neg", 'say "hi"']) == (
        '<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single" showInline="true">'
        '<Choice value="neg"/><Choice value=\'say "hi"\'/></Choices></View>'
    )
    assert to_tasks(pd.DataFrame({"id": [4, 2], "text": ["a", "b"]})) == [
        {"data": {"text": "a", "alsel_id": 4}},
        {"data": {"text": "b", "alsel_id": 2}},
    ]

    def annotation(choice, cancelled=False):
        result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}]
        return {"result": result, "was_cancelled": cancelled, "id": 1}

    tasks = [
        {"id": 10, "data": {"text": "a", "alsel_id": 4}, "annotations": [annotation("pos"), annotation("neg", cancelled=True)]},
        {"id": 11, "data": {"text": "b", "alsel_id": 2}, "annotations": []},
        {"id": 12, "data": {"text": "c", "alsel_id": 7}, "annotations": [annotation("pos"), annotation("neg")]},
    ]
    assert read_export(tasks) == [(4, "pos"), (7, "pos"), (7, "neg")]
    with pytest.raises(DataError, match="task 0 has no data.alsel_id"):
        read_export([{"data": {"text": "a"}, "annotations": []}])
    with pytest.raises(DataError, match="not Label Studio's JSON export"):
        read_export({"data": {}})


def test_a_batch_goes_through_label_studio_files(capsys, started):
    """--format labelstudio writes the tasks; the JSON export read back labels what was annotated,
    keeps a skipped task pending and reports a task two annotators disagreed on."""
    project, _, truth = started
    tasks_file = project.path / "batch-002.json"
    code, _, _ = run_cli(capsys, "label", "batch", project.path, "--format", "labelstudio", "--out", tasks_file)
    tasks = json.loads(tasks_file.read_text())
    assert code == 0 and [t["data"]["alsel_id"] for t in tasks] == project.batches[1].ids
    assert (project.path / "labelstudio.xml").read_text().strip() == label_config(["neg", "pos"])

    def annotation(choice, cancelled=False):
        return {
            "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}],
            "was_cancelled": cancelled,
        }

    flip = {"neg": "pos", "pos": "neg"}
    for n, task in enumerate(tasks):
        gold = truth[task["data"]["alsel_id"]]
        task["annotations"] = {0: [annotation(gold, cancelled=True)], 1: [annotation(gold), annotation(flip[gold])]}.get(
            n, [annotation(gold)]
        )
    (project.path / "export.json").write_text(json.dumps(tasks))
    code, out, _ = run_cli(capsys, "label", "import", project.path, project.path / "export.json")
    assert code == 0 and "imported 8 labels" in out and "1 texts with disagreeing labels" in out and "2 of the batch still pending" in out
    assert project.pending() == project.batches[1].ids[:2]


# ------------------------------------------------------------------ status and the model
def test_the_stopping_signal_needs_three_agreements_of_0_99():
    assert not Stability([1.0, 1.0], 100).stable and "needs 3 agreements, 2 so far" in Stability([1.0, 1.0], 100).describe()
    assert Stability([0.5, 0.99, 0.99, 1.0], 100).stable and "have stabilised" in Stability([0.5, 0.99, 0.99, 1.0], 100).describe()
    assert not Stability([0.99, 0.99, 0.97], 100).stable and "still change" in Stability([0.99, 0.99, 0.97], 100).describe()


def test_the_final_model_is_saved_and_a_learner_that_cannot_save_is_refused(capsys, pool, tiny_bert, tmp_path):
    project = LabelProject.create(
        tmp_path / "project", pool, classes="pos,neg", init="random", model=tiny_bert, epochs=1, learner_options=UNGUARDED
    )
    _, path = project.next_batch(16)
    project.import_labels(fill(path, truth_of(pool)))
    code, out, _ = run_cli(capsys, "label", "export", project.path, "--save-model", tmp_path / "model")
    assert code == 0 and "saved the final model" in out and (tmp_path / "model" / "config.json").exists()
    assert json.loads((tmp_path / "model" / "config.json").read_text())["id2label"] == {"0": "neg", "1": "pos"}
    logreg = LabelProject.create(tmp_path / "logreg", pool, classes="pos,neg", init="random", learner="logreg")
    _, path = logreg.next_batch(16)
    logreg.import_labels(fill(path, truth_of(pool)))
    code, _, err = run_cli(capsys, "label", "export", logreg.path, "--save-model", tmp_path / "nowhere")
    assert code == 2 and "cannot save its model" in err and not (tmp_path / "nowhere").exists()


def test_label_project_is_part_of_alsels_api():
    import alsel
    import alsel.labelling

    assert alsel.LabelProject is alsel.labelling.LabelProject
