"""Atomic file writes: a reader never sees half a file, an interrupted write leaves the old one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes) -> None:
    write_file(path, lambda tmp: tmp.write_bytes(data))


def write_file(path: str | Path, fill: Callable[[Path], object]) -> None:
    """The file ``fill(temporary_path)`` writes, renamed to ``path`` once it is whole (and on
    disk): for a file written piece by piece, too large to hold in memory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        fill(Path(tmp))
        # mkstemp creates the file as 0600; give it the mode a plain open() would (0666 - umask)
        os.chmod(tmp, 0o666 & ~_umask())
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_dir(path: str | Path) -> Path:
    """A new empty directory beside ``path`` with the mode a plain mkdir() would give: fill
    it, then rename it to ``path`` to write a directory whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700
    return staging


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def write_npy(path: str | Path, array) -> None:
    """An ``.npy`` file (never a pickle): the format of every array cache."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes(path, buffer.getvalue())


#: The list of files :func:`write_dir` wrote into a folder: what it may replace there later.
WRITTEN_FILES = ".alsel-files.json"


def check_replaceable(path: str | Path, marker: str) -> None:
    """Refuse a ``path`` that :func:`write_dir` must not replace: a file, or a folder holding
    anything that an earlier :func:`write_dir` did not write (``marker``, the file its writer
    writes, names what a folder of another kind would lack). The user's own files next to a
    saved model are never deleted."""
    from .errors import AlselError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AlselError(f"{path} exists and is not a directory; pass another path")
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not (path / marker).exists():
        raise AlselError(f"{path} holds other files (no {marker}); pass an empty or new directory")
    try:
        written = set(json.loads((path / WRITTEN_FILES).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        raise AlselError(
            f"{path} holds files alsel has no record of writing (no {WRITTEN_FILES}); pass an empty or new directory"
        ) from None
    others = sorted(
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() and p.relative_to(path).as_posix() not in written | {WRITTEN_FILES}
    )
    if others:
        raise AlselError(
            f"{path} holds files alsel did not write ({others[0]}{', ...' if len(others) > 1 else ''}); pass an empty or new directory"
        )


def write_dir(path: str | Path, fill: Callable[[Path], None], *, marker: str) -> None:
    """Fill a fresh directory with ``fill(tmp)`` and move it to ``path`` once complete: an
    interrupted write leaves the old directory, which is replaced only by a finished new one.

    The directory lists what it holds in :data:`WRITTEN_FILES`; an existing ``path`` holding
    anything else (or lacking ``marker``) is refused, so a folder of the user's own files is never
    deleted.
    """
    path = Path(path)
    check_replaceable(path, marker)
    tmp = staging_dir(path)
    old = tmp.with_suffix(".old")
    try:
        fill(tmp)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        (tmp / WRITTEN_FILES).write_text(json.dumps(files, indent=1) + "\n", encoding="utf-8")
        if path.exists():
            os.replace(path, old)  # a directory cannot be renamed onto a non-empty one
        os.replace(tmp, path)
    except BaseException:
        if old.exists() and not path.exists():
            os.replace(old, path)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_yaml_mapping(path: str | Path, expected: str = "a mapping of options") -> dict:
    """A YAML file that must hold a mapping; unreadable or malformed files raise ConfigError."""
    import yaml

    from .errors import ConfigError, first_line

    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({first_line(exc)})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected {expected}")
    return loaded
