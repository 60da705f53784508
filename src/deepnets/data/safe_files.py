"""Reading files from users as data, never as code: capped gzip, weights-only .pt, checked NPZ.

Three ways a file can attack a reader, and the defence here:

- a pickle runs code while it is read (``__reduce__`` returning ``os.system``): ``.pt`` files go
  through ``torch.load(weights_only=True)`` and NPZ through ``np.load(allow_pickle=False)``;
- a small file inflates to gigabytes (a "zip bomb"): gzip is decompressed as a stream with a
  running count and a cap, and a zip's member count and declared sizes are checked before any
  member is decompressed;
- a header declares a size the file does not hold, so the reader allocates it: every size is
  computed with Python integers from the header and compared with the bytes present first.

Every refusal is a :class:`~deepnets.errors.DataError` naming the file, what was expected and
what was found.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import pickletools
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from deepnets.data.limits import LIMITS, raise_hint
from deepnets.errors import DataError

#: Default cap on the bytes one file may inflate to (MNIST's training images are 47 MB).
MAX_BYTES = 1 << 30
#: Read granularity for streams.
CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts with the gzip magic bytes (the content decides, not the name)."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_gzip_capped(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> bytes:
    """Decompress a whole gzip file, refusing it as soon as the output passes ``max_bytes``.

    Decompression is a stream read in 1 MiB pieces with a running count, so the memory used is
    at most ``max_bytes`` plus one piece whatever the file claims.

    Raises:
        DataError: not gzip, corrupt or truncated, or inflating past ``max_bytes``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> with gzip.open(p, "wb") as f: _ = f.write(b"abc" * 4)
    >>> read_gzip_capped(p)
    b'abcabcabcabc'
    """
    out = bytearray()
    with open_gzip(path) as gz:
        while True:
            chunk = read_gzip(gz, path, min(CHUNK, max_bytes + 1 - len(out)))
            if not chunk:
                return bytes(out)
            out += chunk
            if len(out) > max_bytes:
                raise DataError(f"{path}: gzip inflates past the cap of {max_bytes} bytes; "
                                f"refused after {len(out)} bytes (raise max_bytes if you trust it)")


def open_gzip(path: str | os.PathLike) -> gzip.GzipFile:
    """Open ``path`` as a gzip stream after checking its magic bytes."""
    if not is_gzip(path):
        raise DataError(f"{path}: expected a gzip file (magic 1f 8b), found other bytes")
    return gzip.open(path, "rb")


def read_gzip(gz: gzip.GzipFile, path, n: int) -> bytes:
    """Up to ``n`` decompressed bytes; corrupt or truncated streams become DataError."""
    try:
        return gz.read(n)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def load_pt(path: str | os.PathLike):
    """Load a ``.pt`` file of tensors and plain containers; refuse anything that would run code.

    Uses ``torch.load(weights_only=True, map_location="cpu")``: a pickle that names any global
    outside torch's tensor allow-list (``os.system``, ``io.open``, a user class) is refused before
    that global is called; a pickle of more than ``LIMITS.pickle_ops`` opcodes is refused before
    it is unpickled (:func:`check_torch_file`).

    Raises:
        DataError: the file holds code or objects (names the global), or is not a torch file.
    """
    import torch

    try:
        data = Path(path).read_bytes()
        check_torch_file(data, path)
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:  # UnpicklingError, RuntimeError from the zip reader, ...
        lines = [ln.strip() for ln in str(exc).splitlines() if "WeightsUnpickler error" in ln]
        reason = lines[0].split("Please use", 1)[0].strip() if lines else str(exc).splitlines()[0]
        raise DataError(f"{path}: refused: expected tensors and plain containers loadable with "
                        f"torch.load(weights_only=True), found something else ({reason})") from exc


def load_npz(path: str | os.PathLike, *, max_members: int = 64, max_bytes: int = MAX_BYTES,
             float32_copy: bool = False, cap_name: str = "npz_bytes") -> dict[str, np.ndarray]:
    """Read an ``.npz`` without pickles, after checking the zip's directory and every header.

    Before decompressing anything: at most ``max_members`` members, every member a ``.npy``
    whose header (dtype, shape) describes exactly its declared uncompressed size, no object
    dtype, and the declared sizes summing to at most ``max_bytes`` (with ``float32_copy``, the
    float32 copy the caller will make of every array counts as well: the cap then bounds the
    memory the whole read costs). A member cannot inflate past its declared size (the zip
    reader stops there and checks the CRC).

    Raises:
        DataError: naming the file, the member and what was expected vs found.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: expected an .npz (zip) file, found {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise DataError(f"{path}: expected at most {max_members} arrays, the zip lists "
                            f"{len(infos)} (npz_members; {raise_hint('npz_members')})")
        total = sum(i.file_size for i in infos)
        if total > max_bytes:
            raise DataError(f"{path}: members declare {total} bytes uncompressed, above the cap of "
                            f"{max_bytes} ({cap_name}; {raise_hint(cap_name)})")
        for info in infos:
            total += _npy_header_items(path, zf, info) * 4 * float32_copy
        if total > max_bytes:
            raise DataError(f"{path}: members declare {total} bytes uncompressed and as float32, "
                            f"above the cap of {max_bytes} ({cap_name}; {raise_hint(cap_name)})")
        out = {}
        for info in infos:
            try:
                with zf.open(info) as f:
                    out[info.filename[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise DataError(f"{path}: member {info.filename!r}: malformed ({exc})") from exc
        return out


def _npy_header_items(path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The item count of one member's ``.npy`` header, checked against its declared size."""
    if not info.filename.endswith(".npy"):
        raise DataError(f"{path}: member {info.filename!r}: expected a .npy array")
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader(f)
            header = f.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: member {info.filename!r}: malformed ({exc})") from exc
    if dtype.hasobject:
        raise DataError(f"{path}: member {info.filename!r}: dtype {dtype} holds Python "
                        f"objects (pickles); refused")
    need = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if header + need != info.file_size:
        raise DataError(f"{path}: member {info.filename!r}: header declares shape "
                        f"{shape} of {dtype} ({need} bytes), the member holds "
                        f"{info.file_size - header} bytes of data")
    return math.prod(shape)


def count_pickle_ops(raw: bytes, path, max_ops: int, *, cap_name: str = "pickle_ops") -> int:
    """Count the opcodes of the pickles in ``raw`` (one after another), refusing past ``max_ops``.

    Run before unpickling: one opcode builds at most one object (a one-byte ``]`` a 56-byte list),
    so the count bounds what unpickling can build. The count ends where the bytes stop parsing
    as a pickle; the unpickler reports that place itself, after no more opcodes than counted.
    """
    ops, stream = 0, io.BytesIO(raw)
    try:
        while stream.tell() < len(raw) and ops <= max_ops:
            for _ in pickletools.genops(stream):
                ops += 1
                if ops > max_ops:
                    break
    except (ValueError, EOFError, UnicodeDecodeError, struct.error):
        pass
    if ops > max_ops:
        raise DataError(f"{path}: the pickle has more than {max_ops} opcodes, above the cap "
                        f"({cap_name}; {raise_hint(cap_name)})")
    return ops


def check_torch_file(data: bytes, path) -> None:
    """Refuse a torch file (zip or legacy) whose pickles exceed ``LIMITS.pickle_ops`` opcodes,
    before ``torch.load`` builds anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            pickles = [i for i in zf.infolist() if i.filename.endswith(".pkl")]
            for info in pickles:
                if info.file_size > len(data):  # torch stores members uncompressed
                    raise DataError(f"{path}: member {info.filename!r} declares {info.file_size} bytes, "
                                    f"more than the whole file ({len(data)}): not a torch file")
                count_pickle_ops(zf.read(info), path, LIMITS.pickle_ops)
            return
    except zipfile.BadZipFile:
        pass
    count_pickle_ops(data, path, LIMITS.pickle_ops)  # the legacy format: pickles one after another


def check_safetensors(data: bytes | memoryview, path) -> None:
    """Refuse a safetensors file whose header is longer than the file or names more than
    ``LIMITS.safetensors_tensors`` tensors (each costs a torch tensor object: 150 000 empty ones
    in 9 MB took 2.6 s and 200 MB), from its header alone."""
    if len(data) < 8:
        raise DataError(f"{path}: expected a safetensors file (8-byte header length), found {len(data)} bytes")
    n = struct.unpack("<Q", bytes(data[:8]))[0]
    if n > len(data) - 8:
        raise DataError(f"{path}: the header declares {n} bytes, the file holds {len(data) - 8} after its length")
    tensors = bytes(data[8:8 + n]).count(b'"data_offsets"')
    if tensors > LIMITS.safetensors_tensors:
        raise DataError(f"{path}: the header names {tensors} tensors, above the cap of "
                        f"{LIMITS.safetensors_tensors} (safetensors_tensors; {raise_hint('safetensors_tensors')})")


def read_safetensors_header(path) -> None:
    """:func:`check_safetensors` on the file ``path``, reading only its header."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            size = os.fstat(f.fileno()).st_size
            body = f.read(min(n, max(size - 8, 0)))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    if len(head) == 8 and n > size - 8:
        raise DataError(f"{path}: the header declares {n} bytes, the file holds {size - 8} after its length")
    check_safetensors(head + body, path)


def loads_json(raw: bytes, path):
    """``json.loads`` with the containers counted first (at most ``LIMITS.json_containers``: a
    two-byte ``[]`` builds a 56-byte list) and deep nesting reported as a ValueError, not a
    RecursionError. Raises DataError past the cap, ValueError for JSON that does not parse."""
    containers = raw.count(b"[") + raw.count(b"{")  # brackets inside strings count too: an upper bound
    if containers > LIMITS.json_containers:
        raise DataError(f"{path}: {containers} JSON lists and objects, above the cap of {LIMITS.json_containers} "
                        f"(json_containers; {raise_hint('json_containers')})")
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def file_size(path: str | os.PathLike) -> int:
    """Size of ``path`` in bytes; a missing file is a DataError."""
    try:
        return Path(path).stat().st_size
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
