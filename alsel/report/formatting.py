"""How numbers, budgets and tables read in the report and its figures: "n/a" for a missing value,
never "nan"."""

from __future__ import annotations

import pandas as pd

__all__ = ["markdown_table", "pct", "points", "budget_text", "run_label", "counts_text", "plural"]


def markdown_table(rows: list[list[str]], headers: list[str], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; ``align`` has one of ``l``/``r``/``c`` per column.

    >>> print(markdown_table([["a", "1"]], ["name", "n"], "lr"))
    | name | n |
    | :--- | ---: |
    | a | 1 |
    """
    align = align or "l" * len(headers)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    escape = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(escape(h) for h in headers) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _missing(value) -> bool:
    return value is None or pd.isna(value)


def pct(value, digits: int = 2) -> str:
    """A share as a percentage: ``0.8312`` -> ``"83.12"``."""
    return "n/a" if _missing(value) else f"{100 * value:.{digits}f}"


def points(value, digits: int = 2) -> str:
    """A difference of shares in signed percentage points: ``0.02`` -> ``"+2.00"``."""
    return "n/a" if _missing(value) else f"{100 * value:+.{digits}f}"


def budget_text(budget) -> str:
    """A budget for readers: ``0.1`` -> ``"10%"``, ``500`` -> ``"500"``.

    >>> budget_text(0.1), budget_text(500.0), budget_text("20/class"), budget_text(float("nan"))
    ('10%', '500', '20/class', 'n/a')
    """
    if isinstance(budget, str):
        return budget
    if _missing(budget):
        return "n/a"
    return f"{100 * budget:g}%" if budget <= 1 else f"{int(budget):,}"


def run_label(strategy: str, budget) -> str:
    """``kmeans @ 10%``."""
    return f"{strategy} @ {budget_text(budget)}"


def counts_text(counts: dict | None) -> str:
    """Class counts: ``negative 428, positive 444``."""
    if not counts:
        return "n/a"
    return ", ".join(f"{k} {v:,}" for k, v in counts.items())


def plural(n: int, word: str) -> str:
    """``word`` with an ``s`` unless ``n`` is 1 (the count itself is not included)."""
    return word if n == 1 else f"{word}s"
