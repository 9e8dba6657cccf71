"""alsel's Label Studio transport, and an annotation project's cycle through it (``alsel label
push/pull``), against a real Label Studio server started for the test.

The server is the ``label-studio`` executable that the environment variable
``ALSEL_LABEL_STUDIO`` names (``.ci/run`` installs one into ``.ci/label-studio-venv``; Label
Studio pins its own dependencies, so it lives in a virtual environment of its own). Without
the variable the tests skip. The server starts once for the module, on a free localhost port
with a fresh SQLite store in a temporary folder and a known user and legacy token, and is
stopped when the module's tests are done.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from alsel.data.sources import bundled_sst2
from alsel.errors import AlselError
from alsel.labelling import LabelProject, label_config
from alsel.labelling.labelstudio_api import LabelStudioClient, connect, pull_export, push_batch
from conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio]

STARTUP_S = 600  # a fresh store runs Label Studio's migrations first: about 80 s on a busy CPU core
STOP_S = 60
CLASSES = ["negative", "positive"]


class Server:
    """A Label Studio server process and how to reach it."""

    def __init__(self, process: subprocess.Popen, url: str, token: str, log: Path):
        self.process = process
        self.url = url
        self.token = token
        self.log = log

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = os.environ.get("ALSEL_LABEL_STUDIO")
    if not binary:
        pytest.skip("set ALSEL_LABEL_STUDIO to a label-studio executable to run the live Label Studio tests (.ci/run installs one)")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"ALSEL_LABEL_STUDIO={binary} is not an executable file")
    data_dir = tmp_path_factory.mktemp("label-studio")
    port, token = free_port(), secrets.token_hex(20)
    # Label Studio reads LABEL_STUDIO_* variables as settings: start it from none but these.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "HEARTEX_")) and k != "PYTHONPATH"}
    env |= {
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
    }
    command = [binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    command += [
        "--username",
        "annotator@example.com",
        "--password",
        secrets.token_hex(8),
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    log = data_dir / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    live = Server(process, f"http://127.0.0.1:{port}", token, log)
    try:
        wait_until_it_answers(live)
        yield live
    finally:
        stop(live)


def wait_until_it_answers(live: Server) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        if live.process.poll() is not None:
            pytest.fail(f"label-studio exited with status {live.process.returncode} while starting:\n{live.log_tail()}")
        try:
            connect(live.url, live.token, timeout=10)
            return
        except AlselError:
            if time.monotonic() > deadline:
                pytest.fail(f"label-studio did not answer at {live.url} within {STARTUP_S} s:\n{live.log_tail()}")
            time.sleep(1)


def stop(live: Server) -> None:
    """SIGTERM to the server's process group (it started a session of its own), SIGKILL if it
    has not exited within STOP_S seconds; the test fails then, as it does if it had died early."""
    if live.process.poll() is not None:
        pytest.fail(f"label-studio exited on its own with status {live.process.returncode}:\n{live.log_tail()}")
    os.killpg(live.process.pid, signal.SIGTERM)
    try:
        live.process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        os.killpg(live.process.pid, signal.SIGKILL)
        live.process.wait()
        pytest.fail(f"label-studio did not stop within {STOP_S} s of SIGTERM")


@pytest.fixture(scope="module")
def sentences():
    """Real SST-2 sentences (the bundled dev split) with their true labels: the annotator's answers."""
    dev = bundled_sst2("dev")
    return [(int(i), text, dev.label_names[label]) for i, text, label in zip(dev.ids[:60], dev.texts[:60], dev.labels[:60])]


def as_tasks(rows):
    return [{"data": {"text": text, "alsel_id": alsel_id}} for alsel_id, text, _ in rows]


def choices_result(choice: str | None) -> list[dict]:
    """An annotation's ``result`` for one choice, as Label Studio's labelling page writes it; empty when skipped."""
    return [] if choice is None else [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}]


def annotate(client: LabelStudioClient, task_id: int, choice: str | None) -> None:
    """What Label Studio's labelling page posts when an annotator submits a choice, or skips (None)."""
    client.request(
        "POST",
        f"/api/tasks/{task_id}/annotations/",
        body={"result": choices_result(choice), "was_cancelled": choice is None, "lead_time": 1.5},
    )


def chosen(task: dict) -> tuple:
    """A pulled task as ``(alsel_id, text, choice)``, choice None for a skipped task, once its
    one annotation's result is exactly what was posted."""
    (annotation,) = task["annotations"]
    choice = None if annotation["was_cancelled"] else annotation["result"][0]["value"]["choices"][0]
    assert annotation["result"] == choices_result(choice)
    return task["data"]["alsel_id"], task["data"]["text"], choice


def all_tasks(client: LabelStudioClient, project: int) -> list[dict]:
    return client.request("GET", f"/api/projects/{project}/export", query={"exportType": "JSON", "download_all_tasks": "true"})


def test_a_batch_round_trips_through_a_live_server(server, sentences):
    client = connect(server.url, server.token)
    first, second = sentences[:30], sentences[30:]
    project = push_batch(client, as_tasks(first), label_config(CLASSES), title="alsel sst2 live test")
    assert push_batch(client, as_tasks(first), label_config(CLASSES), title="alsel sst2 live test") == project  # a retry: no new tasks
    assert pull_export(client, project) == []

    held = {task["data"]["alsel_id"]: task for task in all_tasks(client, project)}
    assert sorted(held) == sorted(i for i, _, _ in first)
    assert all(held[i]["data"] == {"text": text, "alsel_id": i} for i, text, _ in first)

    # the annotator labels 27 of the 30 with the true label, skips 1 and leaves 2 for later
    labelled, skipped = first[:27], first[27]
    for alsel_id, _, label in reversed(labelled):
        annotate(client, held[alsel_id]["id"], label)
    annotate(client, held[skipped[0]]["id"], None)
    pulled = pull_export(client, project)
    assert sorted(chosen(task) for task in pulled) == sorted([*labelled, (skipped[0], skipped[1], None)])
    assert {task["id"] for task in pulled} == {held[i]["id"] for i, _, _ in [*labelled, skipped]}

    # the next batch goes into the same project; the first batch's annotations stay as they were
    assert push_batch(client, as_tasks(second), label_config(CLASSES), project=project) == project
    assert sorted(task["data"]["alsel_id"] for task in all_tasks(client, project)) == sorted(i for i, _, _ in sentences)
    assert sorted(chosen(task) for task in pull_export(client, project)) == sorted(chosen(task) for task in pulled)


def test_the_live_server_refuses_other_classes_and_bad_keys(server, sentences):
    client = connect(server.url, server.token)
    project = push_batch(client, as_tasks(sentences[:2]), label_config(CLASSES), title="alsel classes test")
    with pytest.raises(
        AlselError, match=rf"^Label Studio project {project} has the classes negative, positive, not negative, neutral, positive"
    ):
        push_batch(client, as_tasks(sentences[2:4]), label_config(["negative", "neutral", "positive"]), project=project)
    with pytest.raises(AlselError, match=r"^Label Studio has no project 999999"):
        pull_export(client, 999999)
    with pytest.raises(AlselError, match=rf"^Label Studio at {server.url} refused the API key \(Invalid token.\)"):
        connect(server.url, "not-the-token")


def test_a_personal_access_token_works_on_the_live_server(server, sentences):
    """The key Label Studio's Account & Settings page hands out by default: a JWT refresh token."""
    legacy = connect(server.url, server.token)
    personal = legacy.request("POST", "/api/token/", body={})["token"]
    client = connect(server.url, personal)
    project = push_batch(client, as_tasks(sentences[:3]), label_config(CLASSES), title="alsel token test")
    first = all_tasks(client, project)[0]
    annotate(client, first["id"], "positive")
    assert [chosen(task) for task in pull_export(client, project)] == [(first["data"]["alsel_id"], first["data"]["text"], "positive")]


def test_an_annotation_project_runs_its_cycle_through_a_live_server(server, capsys, tmp_path, monkeypatch):
    """init on 250 real SST-2 sentences (labels hidden) -> next (kmeans) -> push -> the annotator
    labels the batch in Label Studio -> pull -> next (margin on a logistic regression) -> push, all
    through alsel label's commands, with the server's address and key in the environment."""
    dev = bundled_sst2("dev")
    truth = [dev.label_names[label] for label in dev.labels[:250]]
    pd.DataFrame({"sentence": dev.texts[:250]}).to_csv(tmp_path / "pool.csv", index=False)
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.token)
    path = tmp_path / "project"

    def alsel_label(*argv) -> str:
        code, out, err = run_cli(capsys, "label", *argv)
        assert code == 0, err
        return out

    alsel_label(
        "init",
        tmp_path / "pool.csv",
        "--classes",
        ",".join(CLASSES),
        "--preset",
        "kmeans_margin",
        "--learner",
        "logreg",
        "--seed",
        "0",
        "--out",
        path,
    )
    alsel_label("next", path, "--batch", "12", "--quiet")
    assert alsel_label("push", path, "--title", "alsel project live test").startswith(
        "pushed the 12 pending texts to Label Studio project "
    )
    project = LabelProject(path)
    (first,) = project.batches
    ls_project = project.label_studio_project
    assert first.strategy == "kmeans" and ls_project is not None
    held = {task["data"]["alsel_id"]: task for task in all_tasks(connect(server.url, server.token), ls_project)}
    assert sorted(held) == sorted(first.ids) and all(held[i]["data"]["text"] == dev.texts[i] for i in first.ids)

    client = connect(server.url, server.token)
    for alsel_id in first.ids:
        annotate(client, held[alsel_id]["id"], truth[alsel_id])
    assert alsel_label("pull", path).startswith(f"imported 12 labels from Label Studio project {ls_project}; the batch is complete")
    assert project.labels == {i: truth[i] for i in first.ids} and project.pending() == []

    alsel_label("next", path, "--batch", "12", "--quiet")
    second = project.batches[1]
    assert second.strategy == "margin" and len(second.ids) == 12 and not set(second.ids) & set(first.ids)
    alsel_label("push", path)  # to the recorded Label Studio project
    assert sorted(task["data"]["alsel_id"] for task in all_tasks(client, ls_project)) == sorted(first.ids + second.ids)
    assert sorted(chosen(task)[0] for task in pull_export(client, ls_project)) == sorted(first.ids)  # the second batch waits
