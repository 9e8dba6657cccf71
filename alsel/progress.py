"""Progress reporting as a tiny protocol, so the core never imports rich (the CLI does): the
no-op base, and tqdm bars for the Python API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Progress:
    """No-op progress: ``with progress.task("training", total=n) as advance: advance(32)``."""

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        yield _ignore

    def log(self, message: str) -> None:
        """A line for the person watching; silent here."""


def _ignore(n: int = 1) -> None:
    pass


SILENT = Progress()


class TqdmProgress(Progress):
    """Progress bars from ``tqdm.auto`` (widgets in a notebook, text in a terminal) and log
    lines through ``tqdm.write``, which keeps them from breaking a bar that is drawing."""

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=description, leave=False)

        def advance(n: int = 1) -> None:
            bar.update(n)

        try:
            yield advance
        finally:
            bar.close()

    def log(self, message: str) -> None:
        import sys

        from tqdm.auto import tqdm

        tqdm.write(message, file=sys.stderr)
