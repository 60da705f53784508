"""IDX reader: the type table, sizes checked against the file before reading, gzip caps."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import deepnets
from deepnets.data.idx import load_mnist_idx, read_idx
from deepnets.errors import DataError

# The MNIST page's table, written out independently of the module's: type byte -> struct code.
TABLE = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}


def _idx_bytes(type_byte, shape, values):
    """An IDX file built with struct (big-endian), not NumPy."""
    head = bytes([0, 0, type_byte, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return head + struct.pack(f">{len(values)}{TABLE[type_byte]}", *values)


@pytest.mark.parametrize("type_byte", sorted(TABLE))
@pytest.mark.parametrize("compress", [False, True])
def test_every_type_round_trips(tmp_path, type_byte, compress):
    rng = np.random.default_rng(type_byte)
    values = [int(v) for v in rng.integers(-100 if type_byte != 0x08 else 0, 100, size=24)]
    if type_byte in (0x0D, 0x0E):
        values = [v / 8 for v in values]  # exactly representable in float32
    data = _idx_bytes(type_byte, (2, 3, 4), values)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype.isnative
    assert out.flatten().tolist() == values


def _header_only(tmp_path, shape, type_byte=0x08, name="huge.idx"):
    path = tmp_path / name
    path.write_bytes(bytes([0, 0, type_byte, len(shape)]) + struct.pack(f">{len(shape)}I", *shape))
    return path


@pytest.mark.parametrize("max_bytes", [1 << 30, 1 << 50])  # refused by the cap, then by the size
def test_header_declaring_2_pow_40_items_fails_fast_with_little_memory(tmp_path, max_bytes):
    path = _header_only(tmp_path, (1 << 20, 1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"huge.idx: header declares shape \(1048576, 1048576\) "
                                            r"of uint8.*1099511627776"):
            read_idx(path, max_bytes=max_bytes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


def test_gzip_header_declaring_2_pow_40_items(tmp_path):
    path = tmp_path / "huge.idx.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 2]) + struct.pack(">2I", 1 << 20, 1 << 20)))
    with pytest.raises(DataError, match="above the cap"):
        read_idx(path)
    with pytest.raises(DataError, match=r"truncated: .* the stream ends after 0"):
        read_idx(path, max_bytes=1 << 50)  # the claim costs nothing: the stream is read as it comes


def test_gzip_payload_past_the_cap_is_refused_before_decompressing(tmp_path):
    n = 8 << 20
    path = tmp_path / "big.idx.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", n))
        for _ in range(8):
            f.write(bytes(1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="8388608 bytes, above the cap of 1048576"):
            read_idx(path, max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert read_idx(path, max_bytes=n).shape == (n,)


def test_sizes_that_disagree_with_the_file(tmp_path):
    good = _idx_bytes(0x0C, (3, 2), list(range(6)))
    cases = {
        "short.idx": (good[:-1], r"shape \(3, 2\) of int32 \(24 bytes\), the file holds 23 bytes "
                                 r"after its 12-byte header \(truncated\)"),
        "long.idx": (good + b"\0", r"the file holds 25 bytes"),
        "magic.idx": (b"\x01" + good[1:],
                      r"expected an IDX file starting with bytes 00 00, found 01 00"),
        "type.idx": (good[:2] + b"\x0a" + good[3:], r"type byte 0x0A is not one of 0x08, 0x09"),
        "ndim0.idx": (good[:3] + b"\x00", r"expected 1 to 8 dimensions, header declares 0"),
        "head.idx": (good[:6], r"truncated dimension sizes: expected 8 bytes, found 2"),
        "empty.idx": (b"", r"truncated magic number: expected 4 bytes, found 0"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=rf"{name}: .*{message}"):
            read_idx(tmp_path / name)


def test_gzip_payload_truncated_or_too_long(tmp_path):
    good = _idx_bytes(0x08, (10,), list(range(10)))
    (tmp_path / "short.gz").write_bytes(gzip.compress(good[:-3]))
    with pytest.raises(DataError, match=r"short.gz: truncated: header declares shape \(10,\) of uint8 "
                                        r"\(10 bytes\), the stream ends after 7"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "long.gz").write_bytes(gzip.compress(good + b"extra"))
    with pytest.raises(DataError, match="declares 10 bytes of data, the stream holds more"):
        read_idx(tmp_path / "long.gz")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(DataError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")


def test_load_mnist_idx(tmp_path):
    rng = np.random.default_rng(0)
    pixels = [int(v) for v in rng.integers(0, 256, size=5 * 28 * 28)]
    labels = [3, 1, 4, 1, 5]
    (tmp_path / "img").write_bytes(gzip.compress(_idx_bytes(0x08, (5, 28, 28), pixels)))
    (tmp_path / "lab").write_bytes(_idx_bytes(0x08, (5,), labels))
    x, y = load_mnist_idx(tmp_path / "img", tmp_path / "lab")
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8 and x.flatten().tolist() == pixels
    assert y.tolist() == labels and y.dtype == np.int64
    (tmp_path / "lab4").write_bytes(_idx_bytes(0x08, (4,), labels[:4]))
    with pytest.raises(DataError, match="holds 5 images but .*lab4 holds 4 labels"):
        load_mnist_idx(tmp_path / "img", tmp_path / "lab4")
    (tmp_path / "lab12").write_bytes(_idx_bytes(0x08, (5,), [1, 2, 12, 0, 0]))
    with pytest.raises(DataError, match="expected digit labels 0..9, found 12"):
        load_mnist_idx(tmp_path / "img", tmp_path / "lab12")
    (tmp_path / "labf").write_bytes(_idx_bytes(0x0D, (5,), [1.0] * 5))
    with pytest.raises(DataError, match=r"expected uint8 labels of shape \(N,\), found float32"):
        load_mnist_idx(tmp_path / "img", tmp_path / "labf")


def test_2_pow_40_header_peak_rss_in_a_fresh_process(tmp_path):
    """The same refusal measured by the OS (peak resident set), which also sees C allocations."""
    path = _header_only(tmp_path, (1 << 20, 1 << 20))
    code = (
        "import resource, sys\n"
        "from deepnets.data.idx import read_idx\n"
        "from deepnets.errors import DataError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    read_idx(sys.argv[1], max_bytes=1 << 50)\n"
        "except DataError:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit('not refused')\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(deepnets.__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env=env, check=True)
    assert int(out.stdout) < 50 * 1024  # ru_maxrss is in KiB on Linux
