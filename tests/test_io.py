"""Atomic writes: whole files or none, with the permissions a plain open() would give."""

import os
import stat

import numpy as np
import pytest

from alsel.io import read_json, write_json, write_npy, write_text


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    write_json(path, {"accuracy": 0.5})
    write_json(path, {"accuracy": 0.8})
    assert read_json(path) == {"accuracy": 0.8} and os.listdir(path.parent) == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.md"
    write_text(path, "old")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["report.md"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_get_the_mode_the_umask_allows(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_npy(tmp_path / "a.npy", np.arange(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.npy").stat().st_mode) == 0o666 & ~umask
    assert np.load(tmp_path / "a.npy", allow_pickle=False).tolist() == [0, 1, 2]
