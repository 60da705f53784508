"""Atomic file replacement: all of the new content or all of the old, and nothing left behind."""

from __future__ import annotations

import errno
import os

import pytest

from deepnets import atomic
from deepnets.atomic import FileWriteError, remove_stale_temps, write_atomic


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.bin"
    write_atomic(path, b"old")
    write_atomic(path, b"new content")
    assert path.read_bytes() == b"new content" and os.listdir(tmp_path) == ["f.bin"]


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(atomic.os, "write", lambda fd, data: real(fd, bytes(data[:3])))
    write_atomic(tmp_path / "f", b"0123456789")
    assert (tmp_path / "f").read_bytes() == b"0123456789"


@pytest.mark.parametrize("err,what", [(errno.ENOSPC, "no space left on device"),
                                      (errno.EDQUOT, "no space left on device"),
                                      (errno.EROFS, "read-only or not writable"),
                                      (errno.EIO, "write failed")])
def test_failed_write_keeps_old_content(tmp_path, monkeypatch, err, what):
    path = tmp_path / "f"
    write_atomic(path, b"old")

    def fail(fd, data):
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(atomic.os, "write", fail)
    with pytest.raises(FileWriteError, match=rf"cannot write file .*{what}.*; the save needs 5000 bytes") as info:
        write_atomic(path, bytes(5000))
    assert info.value.errno == err and info.value.needed_bytes == 5000
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]


def test_remove_stale_temps_only_touches_temps(tmp_path):
    (tmp_path / ".tmp-a.1.x").write_bytes(b"")
    (tmp_path / ".tmp-b.2.y").mkdir()
    (tmp_path / "keep").write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"")
    assert remove_stale_temps(tmp_path) == [".tmp-a.1.x", ".tmp-b.2.y"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "keep"]
    assert remove_stale_temps(tmp_path / "absent") == []
