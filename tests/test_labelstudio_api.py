"""The Label Studio transport without a Label Studio server: push/pull logic against an in-memory
fake of the few endpoints it calls, and the HTTP layer (keys, unreachable servers, error
answers) against a stub HTTP server on localhost. tests/test_labelstudio_live.py runs the same
calls against a real server."""

from __future__ import annotations

import base64
import doctest
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alsel.errors import AlselError
from alsel.labelling import label_config, labelstudio_api
from alsel.labelling.labelstudio_api import LabelStudioClient, LabelStudioError, config_classes, connect, pull_export, push_batch


def tasks(*ids):
    return [{"data": {"text": f"sentence {i}", "alsel_id": i}} for i in ids]


class FakeLabelStudio:
    """Label Studio's answers to the calls alsel makes, kept in memory; lists at most
    ``page_size_cap`` projects a page, as the server caps ``page_size``."""

    def __init__(self, page_size_cap=100):
        self.page_size_cap = page_size_cap
        self.projects: dict[int, dict] = {}
        self.tasks: dict[int, list[dict]] = {}
        self.imports: list[tuple[int, list]] = []

    def add_project(self, title, config):
        project = {"id": len(self.projects) + 1, "title": title, "label_config": config}
        self.projects[project["id"]] = project
        self.tasks[project["id"]] = []
        return project

    def annotate(self, project, alsel_id, choice):
        task = next(t for t in self.tasks[project] if t["data"]["alsel_id"] == alsel_id)
        result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}]
        task["annotations"].append({"id": len(task["annotations"]) + 1, "result": result, "was_cancelled": False})

    def request(self, method, path, *, body=None, query=None):
        parts = path.strip("/").split("/")[1:]  # without "api"
        if parts == ["projects"] and method == "POST":
            return self.add_project(body["title"], body["label_config"])
        if parts == ["projects"]:
            matching = [p for p in self.projects.values() if query["title"].lower() in p["title"].lower()]
            size = min(int(query["page_size"]), self.page_size_cap)
            page = int(query["page"])
            more = len(matching) > page * size
            return {"count": len(matching), "next": "next-page" if more else None, "results": matching[(page - 1) * size : page * size]}
        project = int(parts[1])
        if project not in self.projects:
            raise LabelStudioError("Label Studio answered with HTTP 404 (No Project matches the given query.)", 404)
        if len(parts) == 2:
            return self.projects[project]
        if parts[2] == "import":
            self.imports.append((project, body))
            held = self.tasks[project]
            held += [{"id": len(held) + i + 1, "data": task["data"], "annotations": []} for i, task in enumerate(body)]
            return {"task_count": len(body)}
        assert parts[2] == "export" and query["exportType"] == "JSON"
        return [t for t in self.tasks[project] if query["download_all_tasks"] == "true" or t["annotations"]]


# --- push and pull ---------------------------------------------------------------------------


def test_the_first_push_creates_the_project_and_later_pushes_append_to_it():
    server = FakeLabelStudio()
    config = label_config(["negative", "positive"])
    project = push_batch(server, tasks(3, 1), config, title="sst2 pool")
    assert server.projects[project]["label_config"] == config
    assert push_batch(server, tasks(7), config, title="sst2 pool") == project
    assert push_batch(server, tasks(8), config, project=project) == project
    assert [t["data"]["alsel_id"] for t in server.tasks[project]] == [3, 1, 7, 8]
    assert len(server.projects) == 1


def test_a_batch_pushed_again_is_not_imported_twice():
    server = FakeLabelStudio()
    config = label_config(["a", "b"])
    project = push_batch(server, tasks(1, 2), config, title="t")
    push_batch(server, tasks(2, 1, 5), config, project=project)
    assert [t["data"]["alsel_id"] for t in server.tasks[project]] == [1, 2, 5]
    push_batch(server, tasks(5), config, project=project)
    assert len(server.imports) == 2  # nothing left to import: no call


def test_pull_export_returns_the_annotated_tasks_in_the_export_format():
    server = FakeLabelStudio()
    project = push_batch(server, tasks(10, 11, 12), label_config(["a", "b"]), title="t")
    server.annotate(project, 12, "b")
    server.annotate(project, 10, "a")
    pulled = pull_export(server, project)
    assert [(t["data"]["alsel_id"], t["annotations"][0]["result"][0]["value"]["choices"]) for t in pulled] == [(10, ["a"]), (12, ["b"])]


def test_the_title_is_matched_exactly_across_pages():
    """Label Studio's title filter matches substrings, case-insensitively, a page at a time."""
    server = FakeLabelStudio(page_size_cap=2)
    config = label_config(["a", "b"])
    for title in ["Pool", "pool 2", "my pool", "pool"]:
        server.add_project(title, config)
    assert push_batch(server, tasks(1), config, title="pool") == 4
    assert push_batch(server, tasks(1), config, title="poo") == 5  # none had that title: created


def test_a_project_with_other_classes_is_refused_and_nothing_is_imported():
    server = FakeLabelStudio()
    project = server.add_project("t", label_config(["negative", "positive"]))["id"]
    with pytest.raises(
        AlselError,
        match=r"^Label Studio project 1 has the classes negative, positive, not negative, neutral, positive: push to another project$",
    ):
        push_batch(server, tasks(1), label_config(["negative", "neutral", "positive"]), project=project)
    with pytest.raises(AlselError, match="has the classes"):
        push_batch(server, tasks(1), label_config(["neg", "pos"]), title="t")
    assert server.imports == []
    # the same classes in another order are the same project
    assert push_batch(server, tasks(1), label_config(["positive", "negative"]), project=project) == project


def test_a_project_alsel_did_not_make_is_refused():
    server = FakeLabelStudio()
    project = server.add_project(
        "images", '<View><Image name="image" value="$image"/><Choices name="label" toName="image"><Choice value="a"/></Choices></View>'
    )["id"]
    with pytest.raises(
        AlselError, match=r'^Label Studio project 1 was not made by alsel: the label config needs one <Choices name="label" toName="text">'
    ):
        push_batch(server, tasks(1), label_config(["a"]), project=project)


def test_a_missing_project_and_an_ambiguous_title_are_one_line():
    server = FakeLabelStudio()
    with pytest.raises(AlselError, match=r"^Label Studio has no project 9 \(or this API key cannot see it\)$"):
        push_batch(server, tasks(1), label_config(["a"]), project=9)
    with pytest.raises(AlselError, match=r"^Label Studio has no project 9"):
        pull_export(server, 9)
    server.add_project("twin", label_config(["a"]))
    server.add_project("twin", label_config(["a"]))
    with pytest.raises(AlselError, match=r"^Label Studio has 2 projects titled 'twin' \(ids 1, 2\): pass the id instead$"):
        push_batch(server, tasks(1), label_config(["a"]), title="twin")


@pytest.mark.parametrize(
    "batch, message",
    [
        ([{"text": "no data key", "alsel_id": 1}], r"^task 0 of the batch is not"),
        ([*tasks(1), {"data": {"text": "no id"}}], r"^task 1 of the batch is not"),
        ([{"data": {"text": None, "alsel_id": 1}}], r"^task 0 of the batch is not"),
        ([{"data": {"text": "float id", "alsel_id": 1.5}}], r"with a string or integer ID$"),
        (tasks(4, 5, 4), r"^the batch holds alsel_id 4 twice$"),
    ],
)
def test_a_malformed_batch_is_refused_before_any_request(batch, message):
    server = FakeLabelStudio()
    with pytest.raises(AlselError, match=message):
        push_batch(server, batch, label_config(["a"]), title="t")
    assert server.projects == {}


def test_project_or_title_and_a_valid_config_are_required():
    server = FakeLabelStudio()
    with pytest.raises(AlselError, match="either project= .* or title=, not both or neither"):
        push_batch(server, tasks(1), label_config(["a"]))
    with pytest.raises(AlselError, match="not both or neither"):
        push_batch(server, tasks(1), label_config(["a"]), project=1, title="t")
    with pytest.raises(AlselError, match=r"^the label config is not XML"):
        push_batch(server, tasks(1), "<View>", title="t")
    with pytest.raises(AlselError, match=r"holds no <Choice>"):
        push_batch(server, tasks(1), label_config([]), title="t")


def test_an_import_the_server_takes_only_part_of_is_reported():
    server = FakeLabelStudio()
    server.request = _answering(server.request, "import", {"task_count": 1})
    with pytest.raises(AlselError, match=r"^Label Studio project 1 took 1 of the batch's 2 tasks$"):
        push_batch(server, tasks(1, 2), label_config(["a"]), title="t")


def _answering(request, endpoint, answer):
    def wrapped(method, path, **kwargs):
        return answer if path.endswith("/" + endpoint) else request(method, path, **kwargs)

    return wrapped


def test_doctests():
    result = doctest.testmod(labelstudio_api)
    assert (result.attempted, result.failed) == (2, 0)


def test_config_classes_reads_the_contract_config():
    assert config_classes(label_config(["neg", "pos", "mixed"])) == ["neg", "pos", "mixed"]


# --- the HTTP layer ------------------------------------------------------------------------------


class StubServer:
    """A localhost HTTP server answering each path from ``routes`` (path -> callable of the
    request's Authorization header returning ``(status, body)``) and recording every request."""

    def __init__(self, routes):
        self.routes = routes
        self.requests: list[tuple[str, str, str | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                path = self.path.split("?")[0]
                stub.requests.append((self.command, path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, answer = stub.routes[path](self.headers.get("Authorization"), body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


WHOAMI = "/api/current-user/whoami"


def test_a_legacy_token_is_sent_as_token():
    with StubServer({WHOAMI: lambda auth, body: (200, {"id": 1})}) as stub:
        connect(stub.url + "/", "abc123")
    assert stub.requests == [("GET", WHOAMI, "Token abc123")]


def fake_jwt(token_type):
    claims = base64.urlsafe_b64encode(json.dumps({"token_type": token_type, "exp": 9999999999}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{claims}.signature"


def test_a_personal_access_token_is_exchanged_and_renewed_when_refused():
    refresh = fake_jwt("refresh")
    issued, used = [], []

    def refresh_route(auth, body):
        assert body == {"refresh": refresh} and auth is None
        issued.append(f"access-{len(issued) + 1}")
        return 200, {"access": issued[-1]}

    def whoami(auth, body):  # an access token runs out after one use
        fresh = auth not in used
        used.append(auth)
        return (200, {"id": 1}) if fresh and auth == f"Bearer {issued[-1]}" else (401, {"detail": "Token is expired"})

    with StubServer({"/api/token/refresh/": refresh_route, WHOAMI: whoami}) as stub:
        client = connect(stub.url, refresh)
        assert client.request("GET", WHOAMI) == {"id": 1}
    assert [r[1:] for r in stub.requests] == [
        ("/api/token/refresh/", None),
        (WHOAMI, "Bearer access-1"),
        (WHOAMI, "Bearer access-1"),
        ("/api/token/refresh/", None),
        (WHOAMI, "Bearer access-2"),
    ]


def test_an_access_token_is_sent_as_bearer_and_not_renewed():
    access = fake_jwt("access")
    with (
        StubServer({WHOAMI: lambda auth, body: (401, {"detail": "Token is expired"})}) as stub,
        pytest.raises(AlselError, match=r"refused the API key \(Token is expired\)"),
    ):
        connect(stub.url, access)
    assert stub.requests == [("GET", WHOAMI, f"Bearer {access}")]


def test_a_refused_key_is_one_line_naming_the_variable():
    detail = "Authentication token no longer valid: legacy token authentication has been disabled for this organization"
    with (
        StubServer({WHOAMI: lambda auth, body: (401, {"id": "x", "status_code": 401, "detail": detail})}) as stub,
        pytest.raises(AlselError) as caught,
    ):
        connect(stub.url, "wrong")
    assert (
        str(caught.value)
        == f"Label Studio at {stub.url} refused the API key ({detail}): copy a token from Account & Settings into LABEL_STUDIO_API_KEY"
    )


def test_an_error_answer_names_the_request_and_the_reason():
    answer = {"detail": "Validation error", "validation_errors": {"title": ["Ensure this field has no more than 50 characters."]}}
    with StubServer({"/api/projects": lambda auth, body: (400, answer)}) as stub:
        client = LabelStudioClient(stub.url, "key")
        with pytest.raises(LabelStudioError) as caught:
            client.request("POST", "/api/projects", body={"title": "x" * 60})
    assert caught.value.status == 400
    assert str(caught.value) == (
        f"Label Studio at {stub.url} answered POST /api/projects with HTTP 400 "
        '(Validation error {"title": ["Ensure this field has no more than 50 characters."]})'
    )


def test_a_server_that_is_not_label_studio_is_one_line():
    with (
        StubServer({WHOAMI: lambda auth, body: (200, b"<html>\n<body>hello</body>\n</html>")}) as stub,
        pytest.raises(AlselError, match=r"answered GET /api/current-user/whoami with something other than JSON: is it Label Studio\?$"),
    ):
        connect(stub.url, "key")
    with (
        StubServer({WHOAMI: lambda auth, body: (500, b"Internal\nServer Error")}) as stub,
        pytest.raises(AlselError, match=r"with HTTP 500 \(Internal Server Error\)$"),
    ):
        connect(stub.url, "key")


def test_an_unreachable_server_is_one_line():
    with socket.socket() as sock:  # a port nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        AlselError,
        match=rf"^cannot reach Label Studio at http://127.0.0.1:{port} \(.*refused.*\): is it running there\? Set LABEL_STUDIO_URL to its address$",
    ):
        connect(f"http://127.0.0.1:{port}", "key")


def test_the_address_and_key_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(AlselError, match=r"^no Label Studio address: set LABEL_STUDIO_URL"):
        connect(api_key="key")
    with pytest.raises(AlselError, match=r"^no Label Studio API key: set LABEL_STUDIO_API_KEY"):
        connect("http://127.0.0.1:1")
    with pytest.raises(AlselError, match=r"^Label Studio address 'ftp://host' must start with http:// or https://$"):
        connect("ftp://host", "key")
    with StubServer({WHOAMI: lambda auth, body: (200, {"id": 1})}) as stub:
        monkeypatch.setenv("LABEL_STUDIO_URL", stub.url)
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", "from-env")
        assert connect().url == stub.url
    assert stub.requests == [("GET", WHOAMI, "Token from-env")]
