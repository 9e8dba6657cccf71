"""Label Studio files: the labelling interface of a project, a batch as tasks to import, and the
labels read back from Label Studio's JSON export.

The three pieces one project shares with a Label Studio project:

- :func:`label_config`: a text shown as ``$text`` and one single choice among the classes,
  named ``label``: paste it under Settings > Labeling Interface > Code;
- :func:`to_tasks`: one task per text of a batch, ``{"data": {"text": ..., "alsel_id": ...}}``
  (Import: a JSON file of these);
- :func:`read_export`: the ``(alsel_id, label)`` rows of Label Studio's "JSON" export (Export >
  JSON), one per submitted annotation; cancelled (skipped) annotations give none, so a task
  nobody annotated stays pending in the project.

>>> label_config(["ham", "spam"])
'<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single" showInline="true"><Choice value="ham"/><Choice value="spam"/></Choices></View>'
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd

from ..errors import DataError

__all__ = ["FROM_NAME", "TO_NAME", "label_config", "to_tasks", "read_export", "read_export_file"]

#: The name of the choice control, and of the text it labels, in :func:`label_config`.
FROM_NAME = "label"
TO_NAME = "text"


def label_config(classes) -> str:
    """The labelling interface: the text and one single choice per class (values as ``str``)."""
    choices = "".join(f"<Choice value={quoteattr(str(c))}/>" for c in classes)
    return (
        f'<View><Text name="{TO_NAME}" value="$text"/>'
        f'<Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true">{choices}</Choices></View>'
    )


def to_tasks(batch: pd.DataFrame) -> list[dict]:
    """Label Studio tasks of ``batch`` (columns ``id`` and ``text``), in its order."""
    return [{"data": {"text": str(text), "alsel_id": int(id_)}} for id_, text in zip(batch["id"], batch["text"])]


def read_export(tasks, where: str = "Label Studio export") -> list[tuple[int, str]]:
    """``(alsel_id, label)`` for every choice of every annotation that was not cancelled.

    A task with several annotations gives a row per annotation (the project's rule for
    disagreeing labels applies); a task without one gives none. Anything that is not a task
    list of this shape raises :class:`DataError` naming the task.

    >>> read_export([{"data": {"text": "hi", "alsel_id": 3}, "annotations": [
    ...     {"was_cancelled": False, "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["ham"]}}]},
    ...     {"was_cancelled": True, "result": []}]}])
    [(3, 'ham')]
    """
    if not isinstance(tasks, list):
        raise DataError(f"{where}: not Label Studio's JSON export (a list of tasks); export with Export > JSON")
    rows = []
    for number, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or "alsel_id" not in data:
            raise DataError(f"{where}: task {number} has no data.alsel_id; import tasks written by alsel label next (--format labelstudio)")
        task_id = _task_id(data["alsel_id"], where, number)
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            raise DataError(f"{where}: task {number} (alsel_id {task_id}): annotations is not a list")
        for annotation in annotations:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                continue
            rows += [(task_id, choice) for choice in _choices(annotation.get("result") or [], where, number)]
    return rows


def _task_id(value, where: str, number: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("-").isdigit():
        raise DataError(f"{where}: task {number} has alsel_id {value!r}, not a row number")
    return int(value)


def _choices(result, where: str, number: int) -> list[str]:
    """The choices of one annotation's ``label`` control."""
    if not isinstance(result, list):
        raise DataError(f"{where}: task {number}: an annotation's result is not a list")
    chosen = []
    for item in result:
        if isinstance(item, dict) and item.get("from_name") == FROM_NAME and item.get("type") == "choices":
            values = (item.get("value") or {}).get("choices")
            if not isinstance(values, list):
                raise DataError(f"{where}: task {number}: a choices result without a list of choices")
            chosen += [str(v) for v in values]
    return chosen


def read_export_file(path: str | Path) -> list[tuple[int, str]]:
    """:func:`read_export` of a JSON file."""
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    return read_export(tasks, str(path))
