"""The plain-text listing behind ``alsel strategies``: every strategy, grouped by what it needs,
whether it can choose the initial pool, its options and their defaults."""

from __future__ import annotations

import inspect
import re
import textwrap

from ..errors import AlselError
from .base import STRATEGIES, Strategy, can_choose_initial_pool, plugin_names, resolve_strategy_class

__all__ = ["describe_strategies", "entry_lines"]

#: Headings in listing order; :func:`_group` says which a strategy belongs to.
GROUPS = {
    "labels": "Need the gold labels and a model's scores:",
    "model": "Need a model's scores (no labels):",
    "embeddings": "Need sentence embeddings:",
    "nothing": "Need nothing:",
}
NAME_WIDTH = 22


def _group(cls: type[Strategy]) -> str:
    if cls.reads_labels:
        return "labels"
    if not can_choose_initial_pool(cls):
        return "model"
    return "embeddings" if cls.needs else "nothing"


def _plain(text: str) -> str:
    """Docstring markup as plain text: ``k`` -> k, :func:`x` -> x."""
    return re.sub(r"(?::\w+:)?`{1,2}([^`]+)`{1,2}", r"\1", text)


def _summary(cls: type) -> str:
    """The docstring's first paragraph, on one line."""
    doc = inspect.getdoc(cls) or ""
    return _plain(" ".join(doc.split("\n\n")[0].split()))


def _options(cls: type[Strategy]) -> str:
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}
    return ", ".join(f"{name}={defaults[name]}" for name in cls.parameter_names())


def entry_lines(label: str, text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` beside ``label`` in a column :data:`NAME_WIDTH` wide; a label
    too long for the column gets a line of its own."""
    indent = " " * NAME_WIDTH
    head = f"  {label} ".ljust(NAME_WIDTH)
    if len(head) > NAME_WIDTH:
        lines, first = [head.rstrip()], indent
    else:
        lines, first = [], head
    return lines + textwrap.wrap(text, width, initial_indent=first, subsequent_indent=indent)


def _entry(name: str, cls: type[Strategy], width: int, plugin: bool = False) -> list[str]:
    label = name + (" (init)" if can_choose_initial_pool(cls) else "") + (" (plug-in)" if plugin else "")
    lines = entry_lines(label, _summary(cls), width)
    options = _options(cls)
    if options:
        indent = " " * NAME_WIDTH
        lines += textwrap.wrap(f"options: {options}", width, initial_indent=indent, subsequent_indent=indent + "  ")
    return lines


def describe_strategies(width: int = 100) -> str:
    """Every built-in strategy and installed plug-in, as text wrapped to ``width`` columns."""
    entries: dict[str, list[str]] = {group: [] for group in GROUPS}
    broken = []
    for name, cls in sorted(STRATEGIES.items()):
        entries[_group(cls)] += _entry(name, cls, width)
    for name in plugin_names():
        try:
            cls = resolve_strategy_class(name)
        except AlselError as exc:  # one broken plug-in must not hide the others
            broken.append(f"  {name}: {exc}")
            continue
        entries[_group(cls)] += _entry(name, cls, width, plugin=True)
    intro = (
        "Every strategy can acquire in the rounds (--acq); those marked (init) can also choose the initial pool (--init). "
        "Options: --strategy-option KEY=VALUE. p_gold is the probability the model gives an example's gold label: "
        "the strategies that read it need the labels."
    )
    lines = textwrap.wrap(intro, width)
    for group, heading in GROUPS.items():
        if entries[group]:
            lines += ["", heading, *entries[group]]
    if broken:
        lines += ["", "Plug-ins that failed to load:", *broken]
    return "\n".join(lines)
