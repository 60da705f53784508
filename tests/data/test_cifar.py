"""CIFAR-10 batches through the allow-list unpickler: the published layout in, hostile pickles out."""

from __future__ import annotations

import pickle
import struct
import tracemalloc

import numpy as np
import pytest

from deepnets.data.cifar import load_cifar10, read_cifar_batch, unpickle_restricted
from deepnets.errors import DataError


class _Py2Pickler(pickle._Pickler):
    """Writes protocol 2 the way Python 2's cPickle wrote the published batches: every ``bytes``
    and ``str`` as a Python 2 string (BINSTRING), NumPy under its 1.x module name."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def _batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch 1 of 5",
            b"labels": [int(v) for v in rng.integers(0, 10, size=n)],
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def _dump(obj, style):
    if style == "py2":
        buf = __import__("io").BytesIO()
        _Py2Pickler(buf, protocol=2).dump(obj)
        return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return pickle.dumps(obj, protocol={"p2": 2, "p4": 4, "p5": 5}[style])


@pytest.mark.parametrize("style", ["py2", "p2", "p4", "p5"])
def test_published_layout_reads_back(tmp_path, style):
    raw = _batch(7)
    blob = _dump(raw, style)
    if style == "py2":  # it really is Python 2 style: no unicode opcodes, no _codecs
        assert b"_codecs" not in blob and b"numpy.core.multiarray" in blob
    (tmp_path / "data_batch_1").write_bytes(blob)
    batch = read_cifar_batch(tmp_path / "data_batch_1")
    assert batch.images.shape == (7, 3, 32, 32) and batch.images.dtype == np.uint8
    # independent layout check: pixel (c, y, x) of image i is data[i, 1024 c + 32 y + x]
    assert batch.images[3, 2, 5, 7] == raw[b"data"][3, 2 * 1024 + 5 * 32 + 7]
    assert np.array_equal(batch.images.reshape(7, -1), raw[b"data"])
    assert batch.labels.tolist() == raw[b"labels"] and batch.labels.dtype == np.int64
    assert batch.batch_label == "training batch 1 of 5" and batch.filenames[6] == "img_6.png"


def test_load_cifar10_folder(tmp_path):
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}").write_bytes(_dump(_batch(3, seed=i), "py2"))
    (tmp_path / "test_batch").write_bytes(_dump(_batch(2, seed=9), "py2"))
    x, y, xt, yt = load_cifar10(tmp_path)
    assert x.shape == (15, 3, 32, 32) and y.shape == (15,) and xt.shape == (2, 3, 32, 32)
    assert np.array_equal(x[3:6].reshape(3, -1), _batch(3, seed=2)[b"data"])
    (tmp_path / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch: no such file"):
        load_cifar10(tmp_path)


class _Marker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _System:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("style", ["py2", "p2", "p4", "p5"])
def test_pickle_that_would_run_code_is_refused(tmp_path, style):
    marker = tmp_path / "marker"
    batch = {**_batch(2), b"batch_label": _Marker(marker)}
    (tmp_path / "evil").write_bytes(_dump(batch, style))
    with pytest.raises(DataError, match=r"evil: refused: pickle names (io|builtins)\.open, which is "
                                        r"not on the allow-list"):
        read_cifar_batch(tmp_path / "evil")
    assert not marker.exists()
    (tmp_path / "sys").write_bytes(_dump(_System(), style))
    with pytest.raises(DataError, match=r"names (posix|os|nt)\.system"):
        unpickle_restricted(tmp_path / "sys")


class _LyingArray:
    """Pickles like an ndarray whose state declares 2**40 bytes but carries 3."""

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct
        return (_reconstruct, (np.ndarray, (0,), b"b"),
                (1, (1 << 20, 1 << 20), np.dtype(np.uint8), False, b"abc"))


# {b'data': numpy.ndarray.__new__(numpy.ndarray, 2**40)} by the NEWOBJ opcode, written by hand
# (a plain unpickler would try to allocate 1 TiB)
NEWOBJ_PICKLE = (b"\x80\x02}U\x04data" b"cnumpy\nndarray\n"
                 + b"\x8a\x06" + (1 << 40).to_bytes(6, "little", signed=True) + b"\x85\x81s.")


# BUILD on an allowed global, {'fn': 1}: would set attributes on the stand-in for later files
POISON_PICKLE = b"\x80\x02c_codecs\nencode\n}U\x02fnK\x01sb."


def test_arrays_that_lie_or_allocate_are_refused_with_little_memory(tmp_path):
    for name, obj, message in [
        ("lie", {b"data": _LyingArray()}, r"lie: refused: array of shape \(1048576, 1048576\) and "
                                          r"dtype uint8 needs 1099511627776 bytes, the pickle holds 3"),
        ("new", NEWOBJ_PICKLE, r"new: expected a pickled CIFAR batch, found a malformed.*NEWOBJ"),
        ("obj", {b"data": np.array([1, "x"], dtype=object)},
         r"obj: refused: dtype 'O8': expected a numeric dtype, found kind 'O'"),
        ("poison", POISON_PICKLE, r"poison: refused: pickle tries to set state on _codecs.encode"),
    ]:
        blob = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
        (tmp_path / name).write_bytes(blob)
        tracemalloc.start()
        try:
            with pytest.raises(DataError, match=message):
                read_cifar_batch(tmp_path / name)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 50 << 20, name


def test_shared_references_are_not_expanded(tmp_path):
    nested = [np.zeros(3, np.uint8)]
    for _ in range(40):  # 2**40 leaves if every reference were copied
        nested = [nested, nested]
    (tmp_path / "laughs").write_bytes(pickle.dumps({b"data": nested, b"labels": []}, protocol=2))
    assert (tmp_path / "laughs").stat().st_size < 2000
    with pytest.raises(DataError, match=r"b'data': expected a uint8 array \(N, 3072\), found list"):
        read_cifar_batch(tmp_path / "laughs")


def test_layout_errors_name_the_field(tmp_path):
    cases = {
        "notdict": ([1, 2], "expected a dict batch, found list"),
        "nolabels": ({b"data": np.zeros((2, 3072), np.uint8)}, r"expected key b'labels'"),
        "shape": ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
                  r"b'data': expected a uint8 array \(N, 3072\), found uint8 \(2, 100\)"),
        "dtype": ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]},
                  r"found float32 \(2, 3072\)"),
        "count": ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
                  r"b'labels': expected a list of 2 ints in 0..9, found 1 items"),
        "range": ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]},
                  r"expected a list of 2 ints in 0..9"),
    }
    for name, (obj, message) in cases.items():
        (tmp_path / name).write_bytes(_dump(obj, "py2"))
        with pytest.raises(DataError, match=rf"/{name}: .*{message}"):
            read_cifar_batch(tmp_path / name)


def test_truncated_and_oversized_files(tmp_path):
    blob = _dump(_batch(4), "py2")
    (tmp_path / "cut").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"cut: (truncated|expected a pickled CIFAR batch)"):
        read_cifar_batch(tmp_path / "cut")
    (tmp_path / "big").write_bytes(blob)
    with pytest.raises(DataError, match=rf"big: {len(blob)} bytes, above the cap of 1000"):
        unpickle_restricted(tmp_path / "big", max_bytes=1000)
