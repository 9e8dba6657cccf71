"""Push a batch into a Label Studio project and pull its finished annotations, over Label Studio's REST API.

The few calls alsel needs (find or create a project, import tasks, export annotations) go
through Python's standard library, so this needs no extra package: ``label-studio-sdk`` pins
``numpy<2.3`` (through opencv), which would downgrade alsel's own numpy.

What travels follows alsel's labelling contract:

- the label config: ``<Text name="text" value="$text"/>`` and one
  ``<Choices name="label" toName="text">`` holding one ``<Choice value="CLASS"/>`` per class;
- a task: ``{"data": {"text": TEXT, "alsel_id": ID}}``;
- what :func:`pull_export` returns: Label Studio's JSON export, a list of task dicts with
  ``id``, ``data`` and ``annotations`` (each with ``result`` and ``was_cancelled``), the same as
  a file exported from Label Studio's web page, so one reader takes both.

The server's address and API key come from :func:`connect`'s arguments, else from the
environment variables ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``. Both kinds of key that
Label Studio issues work: a personal access token (a JWT, exchanged at ``/api/token/refresh/``
for an access token that lasts minutes, renewed when it runs out) and a legacy token (sent as
``Token KEY``). Every failure, an unreachable server or a refused key included, is one
:class:`~alsel.errors.AlselError` line.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from xml.etree import ElementTree

from ..errors import AlselError

__all__ = ["URL_ENV", "API_KEY_ENV", "LabelStudioError", "LabelStudioClient", "connect", "config_classes", "push_batch", "pull_export"]

#: Environment variables that :func:`connect` reads when not given the address or the key.
URL_ENV = "LABEL_STUDIO_URL"
API_KEY_ENV = "LABEL_STUDIO_API_KEY"

_PAGE_SIZE = 100  # the most projects Label Studio lists on one page


class LabelStudioError(AlselError):
    """Label Studio answered a request with an error status (kept in ``status``)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class LabelStudioClient:
    """A connection to one Label Studio server: JSON requests signed with an API key.

    :func:`connect` makes one and checks the address and the key; :func:`push_batch` and
    :func:`pull_export` take it (or any object with the same :meth:`request`).

    Parameters
    ----------
    url : str
        The server's address, e.g. ``"http://localhost:8080"``.
    api_key : str
        A personal access token or a legacy token, from Label Studio's *Account & Settings*.
    timeout : float, default=60
        Seconds to wait for one answer.
    """

    def __init__(self, url: str, api_key: str, *, timeout: float = 60.0):
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self._access_token: str | None = None  # from a personal access token, renewed when refused

    def request(self, method: str, path: str, *, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON answer to ``method path`` (``path`` starts with ``/api/``).

        Raises
        ------
        AlselError
            The server cannot be reached or answered something other than JSON.
        LabelStudioError
            The server answered an error status; the message names it and Label Studio's reason.
        """
        try:
            return self._send(method, path, body, query, self._authorization())
        except LabelStudioError as exc:
            if exc.status != 401 or self._access_token is None:
                raise
            self._access_token = None  # the access token ran out: renew it once
            return self._send(method, path, body, query, self._authorization())

    def _authorization(self) -> str:
        kind = _jwt_type(self.api_key)
        if kind == "access":
            return f"Bearer {self.api_key}"
        if kind != "refresh":
            return f"Token {self.api_key}"
        if self._access_token is None:
            answer = self._send("POST", "/api/token/refresh/", {"refresh": self.api_key}, None, None)
            self._access_token = str(_field(answer, "access", "its answer to a token refresh"))
        return f"Bearer {self._access_token}"

    def _base(self) -> str:
        return self.url.rstrip("/")

    def _send(self, method: str, path: str, body: Any, query: Mapping[str, Any] | None, authorization: str | None) -> Any:
        url = self._base() + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise _status_error(self._base(), method, path, exc.code, exc.read()) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise AlselError(
                f"cannot reach Label Studio at {self._base()} ({_one_line(reason)}): is it running there? Set {URL_ENV} to its address"
            ) from None
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            raise AlselError(f"{self._base()} answered {method} {path} with something other than JSON: is it Label Studio?") from None


def _status_error(base: str, method: str, path: str, status: int, payload: bytes) -> LabelStudioError:
    """The error for an error status; its reason is Label Studio's ``detail`` (and
    ``validation_errors``) where the answer is JSON, else the answer's text."""
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = payload.decode("utf-8", "replace")
    reason = answer
    if isinstance(answer, dict):
        reason = " ".join(
            json.dumps(answer[key]) if key == "validation_errors" else str(answer[key])
            for key in ("detail", "validation_errors")
            if answer.get(key)
        )
    reason = _one_line(reason or f"HTTP {status}")[:300]
    if status == 401:
        return LabelStudioError(
            f"Label Studio at {base} refused the API key ({reason}): copy a token from Account & Settings into {API_KEY_ENV}", status
        )
    return LabelStudioError(f"Label Studio at {base} answered {method} {path} with HTTP {status} ({reason})", status)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _jwt_type(key: str) -> str | None:
    """The ``token_type`` claim of a JWT key: ``"refresh"`` for a personal access token,
    ``"access"`` for the token it is exchanged for; None for a legacy token."""
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    return claims.get("token_type") if isinstance(claims, dict) else None


def connect(url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0) -> LabelStudioClient:
    """A client for the Label Studio server at ``url``, once it has accepted ``api_key``.

    Parameters
    ----------
    url : str, optional
        The server's address; default: the environment variable ``LABEL_STUDIO_URL``.
    api_key : str, optional
        A personal access token or a legacy token; default: ``LABEL_STUDIO_API_KEY``.
    timeout : float, default=60
        Seconds to wait for one answer.

    Returns
    -------
    LabelStudioClient

    Raises
    ------
    AlselError
        The address or the key is missing, the address is not an http(s) URL, the server cannot
        be reached, or it refused the key.

    Examples
    --------
    >>> connect("localhost:8080", "KEY")
    Traceback (most recent call last):
    ...
    alsel.errors.AlselError: Label Studio address 'localhost:8080' must start with http:// or https://
    """
    url = url or os.environ.get(URL_ENV)
    api_key = api_key or os.environ.get(API_KEY_ENV)
    if not url:
        raise AlselError(f"no Label Studio address: set {URL_ENV} (for example http://localhost:8080)")
    if not api_key:
        raise AlselError(f"no Label Studio API key: set {API_KEY_ENV} to a token from Label Studio's Account & Settings")
    address = urllib.parse.urlsplit(url)
    if address.scheme not in ("http", "https") or not address.netloc:
        raise AlselError(f"Label Studio address {url!r} must start with http:// or https://")
    client = LabelStudioClient(url, api_key, timeout=timeout)
    client.request("GET", "/api/current-user/whoami")  # checks the address and the key at once
    return client


def config_classes(label_config: str) -> list[str]:
    """The classes of an alsel label config: the values of ``<Choices name="label" toName="text">``.

    Raises
    ------
    AlselError
        ``label_config`` is not XML, or has no such ``<Choices>`` or no ``<Choice>`` in it.

    Examples
    --------
    >>> config_classes('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
    ...                '<Choice value="neg"/><Choice value="pos"/></Choices></View>')
    ['neg', 'pos']
    """
    try:
        root = ElementTree.fromstring(label_config)
    except ElementTree.ParseError as exc:
        raise AlselError(f"the label config is not XML ({exc})") from None
    choices = [node for node in root.iter("Choices") if node.get("name") == "label" and node.get("toName") == "text"]
    if len(choices) != 1:
        raise AlselError('the label config needs one <Choices name="label" toName="text">, the one alsel writes')
    classes = [str(choice.get("value")) for choice in choices[0].iter("Choice")]
    if not classes:
        raise AlselError('the label config\'s <Choices name="label"> holds no <Choice>')
    return classes


def push_batch(
    client, tasks: Iterable[Mapping[str, Any]], label_config: str, *, project: int | None = None, title: str | None = None
) -> int:
    """Add a batch of tasks to a Label Studio project; the project's id.

    Give ``project`` (the id of a project that exists) or ``title``: the project with that exact
    title, created with ``label_config`` when none has it. A project whose label config has
    other classes than ``label_config`` is refused, as is a batch with a task that is not
    ``{"data": {"text": TEXT, "alsel_id": ID}}``. Tasks whose ``alsel_id`` the project already
    holds are not imported again, so pushing a batch twice (a retry after a lost answer) adds it once.

    Parameters
    ----------
    client : LabelStudioClient
        From :func:`connect`.
    tasks : iterable of dict
        The batch, one ``{"data": {"text": ..., "alsel_id": ...}}`` per text.
    label_config : str
        The label config alsel writes for the annotation project's classes.
    project : int, optional
        The id of the project to add to.
    title : str, optional
        The title of the project to add to or create.

    Returns
    -------
    int
        The project's id: pass it as ``project`` from then on.

    Raises
    ------
    AlselError
        Bad arguments or tasks, a project that does not exist or whose classes differ, two
        projects with the title, or any failure of the server (one line).
    """
    batch = _checked_tasks(tasks)
    classes = config_classes(label_config)
    if (project is None) == (title is None):
        raise AlselError("push_batch needs either project= (an id) or title=, not both or neither")
    if project is None:
        project = _project_titled(client, str(title))
        if project is None:
            created = client.request("POST", "/api/projects", body={"title": title, "label_config": label_config})
            return _import(client, int(_field(created, "id", "the project it created")), batch)
    _check_classes(client, project, classes)
    present = {task["data"].get("alsel_id") for task in _export(client, project, all_tasks=True) if isinstance(task.get("data"), dict)}
    return _import(client, project, [task for task in batch if task["data"]["alsel_id"] not in present])


def pull_export(client, project_id: int) -> list[dict]:
    """The tasks of a project that have annotations, in Label Studio's JSON export format.

    Each task dict has ``id``, ``data`` (as pushed: ``text`` and ``alsel_id``) and
    ``annotations``, each with ``result`` (``[{"from_name": "label", "to_name": "text", "type":
    "choices", "value": {"choices": [CLASS]}}]``) and ``was_cancelled`` (the annotator skipped
    the task). Tasks nobody has annotated yet are left out.

    Raises
    ------
    AlselError
        The project does not exist, or the server failed (one line).
    """
    return _export(client, project_id, all_tasks=False)


def _checked_tasks(tasks: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The batch as a list, once every task is ``{"data": {"text": str, "alsel_id": str | int}}``
    and no ``alsel_id`` comes twice."""
    batch = list(tasks)
    seen = set()
    for position, task in enumerate(batch):
        data = task.get("data") if isinstance(task, Mapping) else None
        text, alsel_id = (data.get("text"), data.get("alsel_id")) if isinstance(data, Mapping) else (None, None)
        if not isinstance(text, str) or not isinstance(alsel_id, str | int) or isinstance(alsel_id, bool):
            raise AlselError(
                f'task {position} of the batch is not {{"data": {{"text": TEXT, "alsel_id": ID}}}} with a string or integer ID'
            )
        if alsel_id in seen:
            raise AlselError(f"the batch holds alsel_id {alsel_id!r} twice")
        seen.add(alsel_id)
    return [dict(task) for task in batch]


def _project_titled(client, title: str) -> int | None:
    """The id of the project titled exactly ``title``; None if there is none."""
    found, page = [], 1
    while True:
        answer = client.request("GET", "/api/projects", query={"title": title, "page": page, "page_size": _PAGE_SIZE})
        found += [p.get("id") for p in _field(answer, "results", "its list of projects") if isinstance(p, dict) and p.get("title") == title]
        if not answer.get("next"):
            break
        page += 1
    if len(found) > 1:
        raise AlselError(f"Label Studio has {len(found)} projects titled {title!r} (ids {', '.join(map(str, found))}): pass the id instead")
    return found[0] if found else None


def _check_classes(client, project: int, classes: list[str]) -> None:
    details = _project_request(client, project, "GET", f"/api/projects/{project}")
    try:
        theirs = config_classes(str(_field(details, "label_config", f"project {project}")))
    except AlselError as exc:
        raise AlselError(f"Label Studio project {project} was not made by alsel: {exc}") from None
    if sorted(theirs) != sorted(classes):
        raise AlselError(
            f"Label Studio project {project} has the classes {', '.join(theirs)}, not {', '.join(classes)}: push to another project"
        )


def _export(client, project: int, *, all_tasks: bool) -> list[dict]:
    query = {"exportType": "JSON", "download_all_tasks": "true" if all_tasks else "false"}
    answer = _project_request(client, project, "GET", f"/api/projects/{project}/export", query=query)
    if not isinstance(answer, list):
        raise AlselError(f"Label Studio's export of project {project} is not a list of tasks")
    return answer


def _import(client, project: int, tasks: list[dict]) -> int:
    if tasks:
        answer = _project_request(client, project, "POST", f"/api/projects/{project}/import", body=tasks)
        taken = _field(answer, "task_count", "its answer to an import")
        if taken != len(tasks):
            raise AlselError(f"Label Studio project {project} took {taken} of the batch's {len(tasks)} tasks")
    return project


def _project_request(client, project: int, method: str, path: str, **kwargs) -> Any:
    """``client.request`` for one project's ``path``, where "not found" means the project is missing."""
    try:
        return client.request(method, path, **kwargs)
    except LabelStudioError as exc:
        if exc.status == 404:
            raise AlselError(f"Label Studio has no project {project} (or this API key cannot see it)") from None
        raise


def _field(answer: Any, key: str, what: str) -> Any:
    """``answer[key]``, or one line saying Label Studio's answer lacked it."""
    if not isinstance(answer, dict) or key not in answer:
        raise AlselError(f"Label Studio's answer lacks {key!r} ({what}): is the server Label Studio 1.x?")
    return answer[key]
