"""Hostile files: pickles that run code, gzip bombs, NPZ with objects or lying headers."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zipfile

import numpy as np
import pytest
import torch

from deepnets.data.safe_files import load_npz, load_pt, read_gzip_capped
from deepnets.errors import DataError


class Marker:
    """Unpickling this object creates a file: the code-execution probe."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pt_that_would_run_code_is_refused_and_marker_never_appears(tmp_path):
    marker = tmp_path / "marker"
    torch.save({"weight": torch.ones(2), "evil": Marker(marker)}, tmp_path / "evil.pt")
    with pytest.raises(DataError, match=r"evil.pt: refused: .*GLOBAL io.open"):
        load_pt(tmp_path / "evil.pt")
    assert not marker.exists()
    # the probe is live: an unsafe load does run it
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def test_plain_pt_loads(tmp_path):
    torch.save({"w": torch.arange(3.0), "meta": [1, "a"]}, tmp_path / "ok.pt")
    out = load_pt(tmp_path / "ok.pt")
    assert torch.equal(out["w"], torch.arange(3.0)) and out["meta"] == [1, "a"]
    (tmp_path / "junk.pt").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match="junk.pt: refused"):
        load_pt(tmp_path / "junk.pt")


def _gzip_of_zeros(path, n):
    with gzip.open(path, "wb") as f:
        for _ in range(n >> 20):
            f.write(bytes(1 << 20))


def test_gzip_bomb_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.gz"
    _gzip_of_zeros(path, 64 << 20)  # 64 MiB of zeros in ~64 KB
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"bomb.gz: gzip inflates past the cap of 4194304 bytes"):
            read_gzip_capped(path, max_bytes=4 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # a few chunks, never the 64 MiB
    assert len(read_gzip_capped(path, max_bytes=64 << 20)) == 64 << 20  # exactly at the cap is fine


def test_gzip_corrupt_or_truncated(tmp_path):
    data = gzip.compress(np.random.default_rng(0).bytes(5000))
    (tmp_path / "cut.gz").write_bytes(data[:-100])
    with pytest.raises(DataError, match="cut.gz: corrupt or truncated gzip"):
        read_gzip_capped(tmp_path / "cut.gz")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (tmp_path / "flip.gz").write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="flip.gz: corrupt or truncated gzip"):
        read_gzip_capped(tmp_path / "flip.gz")
    (tmp_path / "plain").write_bytes(b"hello")
    with pytest.raises(DataError, match="expected a gzip file"):
        read_gzip_capped(tmp_path / "plain")


def test_npz_round_trip(tmp_path):
    a, b = np.arange(12, dtype=np.float32).reshape(3, 4), np.array([1, 2], dtype=">i8")
    np.savez_compressed(tmp_path / "x.npz", a=a, b=b)
    out = load_npz(tmp_path / "x.npz")
    assert np.array_equal(out["a"], a) and np.array_equal(out["b"], b) and sorted(out) == ["a", "b"]


def test_npz_with_object_array_is_refused_and_marker_never_appears(tmp_path):
    marker = tmp_path / "marker"
    np.savez(tmp_path / "evil.npz", x=np.array([Marker(marker)], dtype=object))
    with pytest.raises(DataError, match=r"evil.npz: member 'x.npy': dtype object holds Python objects"):
        load_npz(tmp_path / "evil.npz")
    assert not marker.exists()


def test_npz_member_count_and_declared_size_are_checked_first(tmp_path):
    np.savez(tmp_path / "many.npz", **{f"a{i}": np.zeros(1) for i in range(5)})
    with pytest.raises(DataError, match="at most 4 arrays, the zip lists 5"):
        load_npz(tmp_path / "many.npz", max_members=4)
    np.savez_compressed(tmp_path / "big.npz", z=np.zeros(1 << 20, dtype=np.uint8))
    with pytest.raises(DataError, match=r"declare 1048\d+ bytes uncompressed, above the cap of 1000"):
        load_npz(tmp_path / "big.npz", max_bytes=1000)


def test_npz_header_that_lies_about_its_shape_is_refused(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": (1 << 20, 1 << 20)})
    buf.write(np.zeros(4).tobytes())
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as zf:
        zf.writestr("x.npy", buf.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"member 'x.npy': header declares shape \(1048576, 1048576\)"
                                            r" of float64 \(8796093022208 bytes\), the member holds 32"):
            load_npz(tmp_path / "lie.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20
    (tmp_path / "note.npz").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "note.npz", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(DataError, match="'readme.txt': expected a .npy"):
        load_npz(tmp_path / "note.npz")
