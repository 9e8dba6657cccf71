"""Progress reporting as a tiny protocol, so the core never imports rich (the CLI does)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


class Progress:
    """No-op progress: ``with progress.task("training", total=n) as advance: advance(32)``."""

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda n=1: None

    def log(self, message: str) -> None:
        """A line for the person watching; silent here."""


SILENT = Progress()
