"""``alsel label push/pull``: an annotation project's batches through Label Studio's API, against
the in-memory fake Label Studio of tests/test_labelstudio_api.py (tests/test_labelstudio_live.py
runs the same cycle against a real server)."""

from __future__ import annotations

import json

import pytest

from alsel.errors import AlselError
from alsel.labelling import LabelProject, label_config
from conftest import run_cli
from test_labelling import fill, refused, truth_of
from test_labelstudio_api import FakeLabelStudio


@pytest.fixture()
def server(monkeypatch) -> FakeLabelStudio:
    """The fake Label Studio that ``connect`` answers with; ``server.connected`` keeps its arguments."""
    fake = FakeLabelStudio()
    fake.connected = []

    def connect(url, api_key):
        fake.connected.append((url, api_key))
        return fake

    monkeypatch.setattr("alsel.labelling.project.connect", connect)
    return fake


@pytest.fixture()
def pending(synthetic_csv, tmp_path):
    """A project whose first batch (10 texts, chosen at random: no model) is pending, and the pool's true labels."""
    pool = tmp_path / "pool.csv"
    pool.write_bytes((synthetic_csv / "train.csv").read_bytes())
    project = LabelProject.create(tmp_path / "project", pool, classes=["neg", "pos"], init="random", learner="logreg")
    project.next_batch(10)
    return project, truth_of(pool)


def held_ids(server: FakeLabelStudio, project: int) -> list[int]:
    return [task["data"]["alsel_id"] for task in server.tasks[project]]


def test_the_pending_batch_is_pushed_once_and_the_project_is_recorded(capsys, pending, server):
    project, _ = pending
    code, out, err = run_cli(capsys, "label", "push", project.path, "--title", "reviews", "--url", "http://ls:8080", "--api-key", "KEY")
    assert code == 0, err
    assert out.splitlines()[0] == "pushed the 10 pending texts to Label Studio project 1 (texts it held already are not added again)"
    assert server.connected == [("http://ls:8080", "KEY")]
    assert server.projects[1]["title"] == "reviews" and server.projects[1]["label_config"] == label_config(["neg", "pos"])
    assert held_ids(server, 1) == project.batches[0].ids
    texts = project.texts()
    assert all(task["data"]["text"] == texts[task["data"]["alsel_id"]] for task in server.tasks[1])
    assert project.label_studio_project == 1 and json.loads((project.path / "state.json").read_text())["label_studio_project"] == 1

    code, _, err = run_cli(capsys, "label", "push", project.path)  # no id: the recorded project; nothing new to add
    assert code == 0, err
    assert held_ids(server, 1) == project.batches[0].ids and len(server.imports) == 1


def test_a_partial_annotation_pulled_leaves_the_rest_pending(capsys, pending, server):
    project, truth = pending
    ls_project, pushed = project.push(server, title="reviews")
    assert (ls_project, pushed) == (1, 10)
    batch = project.batches[0].ids
    for alsel_id in batch[:6]:
        server.annotate(ls_project, alsel_id, truth[alsel_id])
    report = project.pull(server)
    assert report.describe() == "imported 6 labels from Label Studio project 1; 4 of the batch still pending"
    assert project.labels == {i: truth[i] for i in batch[:6]} and project.pending() == batch[6:]

    assert project.push(server) == (1, 4) and held_ids(server, 1) == batch  # the pending rest is held already
    for alsel_id in batch[6:]:
        server.annotate(ls_project, alsel_id, truth[alsel_id])
    code, out, err = run_cli(capsys, "label", "pull", project.path)
    assert code == 0, err
    assert (
        out.splitlines()[0]
        == "imported 4 labels from Label Studio project 1 (6 rows repeated a label already there); the batch is complete"
    )
    assert project.labels == {i: truth[i] for i in batch[:6] + batch[6:]} and project.pending() == []


def test_a_pulled_label_outside_the_classes_is_refused_and_nothing_is_imported(capsys, pending, server):
    project, truth = pending
    project.push(server, title="reviews")
    first, second = project.batches[0].ids[:2]
    server.annotate(1, first, truth[first])
    server.annotate(1, second, "positive")
    err = refused(capsys, project, "pull", project.path)
    assert err == "error: Label Studio project 1: labels 'positive' are not among the project's classes (neg, pos)\n"
    assert project.labels == {}


def test_pull_and_push_without_a_recorded_project_are_one_line(capsys, pending, server):
    project, _ = pending
    err = refused(capsys, project, "pull", project.path)
    assert err == f"error: {project.path}: no Label Studio project recorded yet: alsel label push first\n"
    err = refused(capsys, project, "push", project.path)
    assert err.startswith(f"error: {project.path}: no Label Studio project recorded yet: --ls-project ID or --title TITLE")
    err = refused(capsys, project, "push", project.path, "--ls-project", "1", "--title", "reviews")
    assert "not both" in err
    err = refused(capsys, project, "push", project.path, "--ls-project", "7")
    assert err == "error: Label Studio has no project 7 (or this API key cannot see it)\n"
    assert server.connected and not server.projects


def test_push_needs_a_pending_batch(pending, server):
    project, truth = pending
    project.import_labels(fill(project.path / "batches" / "batch-001.csv", truth))
    with pytest.raises(AlselError, match=r"no batch is pending; choose one with alsel label next$"):
        project.push(server, title="reviews")
    assert not server.projects and project.label_studio_project is None
