"""MNIST's IDX files (plain or gzip), read with every size checked before any allocation.

Layout (LeCun et al., "The MNIST database", http://yann.lecun.com/exdb/mnist/): two zero bytes,
a type byte, the number of dimensions ``d``, then ``d`` big-endian uint32 sizes, then
``prod(sizes)`` big-endian items. The item count is computed with Python integers, so a header
declaring 2**40 items is refused from its 12 bytes, before anything of that size exists.
"""

from __future__ import annotations

import math
import os
import struct
from typing import BinaryIO

import numpy as np

from deepnets.data.limits import LIMITS, raise_hint
from deepnets.data.safe_files import CHUNK, file_size, is_gzip, open_gzip, read_gzip
from deepnets.errors import DataError

#: IDX type byte -> big-endian NumPy dtype (the table of the MNIST page).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: More dimensions than any real IDX file has; a larger count is a corrupt header.
MAX_DIMS = 8


def _read_exact(f: BinaryIO, n: int, path, what: str, reader=None) -> bytes:
    """Exactly ``n`` header bytes or a DataError that says how many came."""
    data = reader(n) if reader else f.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated {what}: expected {n} bytes, found {len(data)}")
    return data


def parse_header(read, path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Read the magic and sizes through ``read(n)``; return (dtype, shape, header length)."""
    magic = read(4, "magic number")
    if magic[:2] != b"\0\0":
        raise DataError(f"{path}: expected an IDX file starting with bytes 00 00, "
                        f"found {magic[:2].hex(' ')}")
    dtype = IDX_TYPES.get(magic[2])
    if dtype is None:
        known = ", ".join(f"0x{k:02X}" for k in IDX_TYPES)
        raise DataError(f"{path}: IDX type byte 0x{magic[2]:02X} is not one of {known}")
    ndim = magic[3]
    if not 1 <= ndim <= MAX_DIMS:
        raise DataError(f"{path}: expected 1 to {MAX_DIMS} dimensions, header declares {ndim}")
    shape = struct.unpack(f">{ndim}I", read(4 * ndim, "dimension sizes"))
    return dtype, tuple(shape), 4 + 4 * ndim


def read_idx(path: str | os.PathLike, *, max_bytes: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian array.

    Memory: the array itself, once (no copies); a gzip payload is taken as it arrives, so a
    header's claim costs nothing until the stream delivers the bytes.

    Args:
        path: the file; gzip is detected from its first bytes, not its name.
        max_bytes: the most data bytes the header may declare, after gunzip (default
            ``LIMITS.idx_bytes``, 1 GiB). A size cap, not a compression-ratio limit: 900 MiB of
            zeros gzip to under 1 MB and are read.

    Returns:
        an array of the header's shape and type (uint8 for MNIST images and labels).

    Raises:
        DataError: naming the file and what was expected vs found: an unknown type byte, a
            declared size above ``max_bytes`` or different from the bytes present, a truncated
            or corrupt gzip stream.
    """
    max_bytes = LIMITS.idx_bytes if max_bytes is None else max_bytes
    if is_gzip(path):
        return _read_gzip_idx(path, max_bytes)
    with open(path, "rb") as f:
        dtype, shape, header = parse_header(lambda n, what: _read_exact(f, n, path, what), path)
        count = math.prod(shape)
        need = count * dtype.itemsize  # Python ints: 2**40 items is just a number
        present = file_size(path) - header
        _check_declared(path, shape, dtype, need, max_bytes)
        if need != present:
            raise DataError(f"{path}: header declares shape {shape} of {dtype.name} ({need} bytes), "
                            f"the file holds {present} bytes after its {header}-byte header"
                            + (" (truncated)" if present < need else ""))
        data = np.fromfile(f, dtype=np.uint8, count=need)
    return _native(data, dtype, shape)


def _native(raw: np.ndarray | bytearray, dtype: np.dtype, shape) -> np.ndarray:
    """(need,) bytes, big-endian -> an array of ``shape`` in native byte order, in place (no copy)."""
    arr = np.frombuffer(raw, dtype=dtype) if isinstance(raw, bytearray) else raw.view(dtype)
    if not dtype.isnative:
        arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return arr.reshape(shape)


def _check_declared(path, shape, dtype, need: int, max_bytes: int) -> None:
    if need > max_bytes:
        raise DataError(f"{path}: header declares shape {shape} of {dtype.name}: {math.prod(shape)} "
                        f"items, {need} bytes, above the cap of {max_bytes} bytes (idx_bytes; "
                        f"{raise_hint('idx_bytes')})")


def _read_gzip_idx(path, max_bytes: int) -> np.ndarray:
    """The gzip case: the payload is read as a stream and never past the declared size."""
    with open_gzip(path) as gz:
        def read(n, what):
            return _read_exact(gz, n, path, what, reader=lambda k: read_gzip(gz, path, k))

        dtype, shape, header = parse_header(read, path)
        need = math.prod(shape) * dtype.itemsize
        _check_declared(path, shape, dtype, need, max_bytes)
        data = bytearray()  # grows with the bytes that really come, not with the claim
        while len(data) < need:
            chunk = read_gzip(gz, path, min(CHUNK, need - len(data)))
            if not chunk:
                raise DataError(f"{path}: truncated: header declares shape {shape} of {dtype.name} "
                                f"({need} bytes), the stream ends after {len(data)}")
            data += chunk
        if read_gzip(gz, path, 1):
            raise DataError(f"{path}: header declares {need} bytes of data, the stream holds more")
    return _native(data, dtype, shape)


def load_mnist_idx(images: str | os.PathLike, labels: str | os.PathLike, *,
                   max_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's image and label IDX files as ``(images (N, 28, 28) uint8, labels (N,) int64)``.

    Raises:
        DataError: wrong types or ranks, counts that differ, or labels outside 0..9.
    """
    x = read_idx(images, max_bytes=max_bytes)
    y = read_idx(labels, max_bytes=max_bytes)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise DataError(f"{images}: expected uint8 images of shape (N, rows, cols), found "
                        f"{x.dtype} of shape {x.shape}")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DataError(f"{labels}: expected uint8 labels of shape (N,), found {y.dtype} "
                        f"of shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")
    if y.size and int(y.max()) > 9:
        raise DataError(f"{labels}: expected digit labels 0..9, found {int(y.max())}")
    return x, y.astype(np.int64)
