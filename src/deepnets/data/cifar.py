"""CIFAR-10's "python version" batch files, read through an allow-list unpickler.

The published batches (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html) are pickles
of a dict ``{b'batch_label': bytes, b'labels': [int] * N, b'data': uint8 array (N, 3072),
b'filenames': [bytes] * N}``; a row of ``data`` is the 1024 red, then green, then blue values of
a 32 x 32 image. A pickle may name any Python callable, so the unpickler here resolves only the
few names such a file uses, each to a checking stand-in that never calls NumPy's own reconstructors:

- ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct`` with
  ``numpy.ndarray`` and a ``numpy.dtype``: how protocols 0 to 4 write an array, whose shape, dtype
  and raw bytes then arrive by ``__setstate__``;
- ``numpy._core.numeric._frombuffer``: how protocol 5 writes an array;
- ``_codecs.encode(text, "latin1")``: how Python 3 writes ``bytes`` under protocol 2.

Only numeric dtypes are accepted (no object arrays, which would unpickle more objects), and an
array's raw bytes must be exactly ``prod(shape) * itemsize``, computed with Python integers.

Memory in proportion to the file: a pickle's opcodes are counted before anything is built (at most
``LIMITS.pickle_ops``; one byte ``]`` builds a 56-byte list, so 16 MB of them would cost 3 GB),
and the bytes the stand-ins make (arrays, latin1 text) are charged to a budget of twice the file's
size (each array's bytes are in the file once; a memo reference could otherwise copy them again
and again).
"""

from __future__ import annotations

import contextvars
import io
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepnets.data.limits import LIMITS, raise_hint
from deepnets.data.safe_files import count_pickle_ops, file_size
from deepnets.errors import DataError

#: Bytes the stand-ins may still make during the current unpickle ([remaining], or None: no budget).
_BUDGET: contextvars.ContextVar[list | None] = contextvars.ContextVar("cifar_budget", default=None)
IMAGE_SHAPE = (3, 32, 32)
N_CLASSES = 10


class _Global:
    """What a name on the allow-list resolves to: callable like the real thing, nothing more.

    Not a type, so the NEWOBJ opcode cannot instantiate it, and ``__setstate__`` refuses, so the
    BUILD opcode cannot set attributes on it (a pickle could otherwise poison the stand-ins).
    """

    __slots__ = ("fn", "name")

    def __init__(self, fn, name: str):
        self.fn, self.name = fn, name

    def __call__(self, *args):
        if self.fn is None:
            raise _Refused(f"{self.name} is only allowed as _reconstruct's first argument")
        return self.fn(*args)

    def __setstate__(self, state):
        raise _Refused(f"pickle tries to set state on {self.name}")


#: Stands for ``numpy.ndarray``; it cannot be called to allocate an array.
_NDARRAY = _Global(None, "numpy.ndarray")


class _DtypeSpec:
    """A numeric dtype named by a pickle, checked on construction and on ``__setstate__``."""

    def __init__(self, name, align=False, copy=True):
        name = name.decode("ascii") if isinstance(name, bytes) else name
        try:
            dtype = np.dtype(name)
        except TypeError as exc:
            raise _Refused(f"dtype {name!r} is not a NumPy dtype") from exc
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise _Refused(f"dtype {name!r}: expected a numeric dtype, found kind {dtype.kind!r}")
        self.dtype = dtype

    def __setstate__(self, state):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if not (isinstance(state, tuple) and len(state) >= 5 and state[2:5] == (None, None, None)):
            raise _Refused(f"dtype state {state!r}: expected a plain numeric dtype")
        order = state[1].decode("ascii") if isinstance(state[1], bytes) else state[1]
        if order not in ("<", ">", "|", "="):
            raise _Refused(f"dtype byte order {order!r}")
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


def _charge(n: int, what: str) -> None:
    """Take ``n`` bytes from the current unpickle's budget before making them."""
    budget = _BUDGET.get()
    if budget is None:
        return
    budget[0] -= n
    if budget[0] < 0:
        raise _Refused(f"{what}: the pickle builds more bytes than twice the file's size (each "
                       f"array's bytes are in a batch file once; memo references repeat them)")


def _array(raw, dtype_spec, shape, order: str) -> np.ndarray:
    """An array from raw bytes after checking that they are exactly what shape and dtype need."""
    if not isinstance(dtype_spec, _DtypeSpec):
        raise _Refused(f"array dtype: expected a numpy.dtype, found {type(dtype_spec).__name__}")
    if not (isinstance(shape, tuple) and all(type(s) is int and s >= 0 for s in shape)):
        raise _Refused(f"array shape {shape!r}: expected a tuple of non-negative ints")
    if not isinstance(raw, (bytes, bytearray)):
        raise _Refused(f"array data: expected bytes, found {type(raw).__name__}")
    need = math.prod(shape) * dtype_spec.dtype.itemsize
    if need != len(raw):
        raise _Refused(f"array of shape {shape} and dtype {dtype_spec.dtype} needs {need} bytes, "
                       f"the pickle holds {len(raw)}")
    _charge(need, f"array of shape {shape}")
    # (prod(shape),) -> shape; a writable copy in native byte order
    flat = np.frombuffer(raw, dtype=dtype_spec.dtype)
    return flat.reshape(shape, order=order).astype(dtype_spec.dtype.newbyteorder("="))


class _ArraySpec:
    """What ``_reconstruct(ndarray, (0,), b'b')`` returns; ``__setstate__`` supplies the array."""

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # drop the version number
        if not (isinstance(state, tuple) and len(state) == 4):
            raise _Refused("array state: expected (shape, dtype, fortran, data)")
        shape, dtype_spec, fortran, raw = state
        self.array = _array(raw, dtype_spec, shape, "F" if fortran else "C")


def _reconstruct(subtype, shape, typecode):
    if subtype is not _NDARRAY:
        raise _Refused(f"_reconstruct of {subtype!r}: expected numpy.ndarray")
    return _ArraySpec()


def _frombuffer(buf, dtype_spec, shape, order):
    order = order.decode("ascii") if isinstance(order, bytes) else order
    if order not in ("C", "F"):
        raise _Refused(f"array order {order!r}")
    if not isinstance(buf, bytes):
        _charge(len(buf), "array buffer")
    return _array(bytes(buf), dtype_spec, shape, order)


def _latin1(text, encoding):
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode with {encoding!r}: only latin1 text is allowed")
    _charge(len(text), "latin1 bytes")
    return text.encode("latin1")


class _Refused(Exception):
    """Raised inside the unpickler; turned into a DataError naming the file."""


#: (module, name) a pickle may name -> the checking stand-in it resolves to. Nothing else.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _Global(_reconstruct, "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): _Global(_reconstruct, "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): _Global(_frombuffer, "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): _Global(_frombuffer, "_frombuffer"),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Global(_DtypeSpec, "numpy.dtype"),
    ("_codecs", "encode"): _Global(_latin1, "_codecs.encode"),
}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _Refused(f"pickle names {module}.{name}, which is not on the allow-list "
                           f"(numpy array reconstruction and latin1 bytes only)") from None


def _resolve(obj, done: dict | None = None):
    """Replace each _ArraySpec by its array (containers are rebuilt, not mutated).

    ``done`` maps id(container) -> its rebuilt copy, so a container the pickle references many
    times (memo GET) is rebuilt once: nesting shared lists 30 deep costs 30 copies, not 2**30.
    """
    done = {} if done is None else done
    if id(obj) in done:
        return done[id(obj)]
    if isinstance(obj, _ArraySpec):
        if obj.array is None:
            raise _Refused("an array was announced but never given its data")
        out = obj.array
    elif isinstance(obj, dict):
        out = {k: _resolve(v, done) for k, v in obj.items()}
    elif isinstance(obj, list):
        out = [_resolve(v, done) for v in obj]
    elif isinstance(obj, (_DtypeSpec, _Global)):
        raise _Refused("a bare numpy type or function appears outside an array")
    else:
        return obj
    done[id(obj)] = out
    return out


def unpickle_restricted(path: str | os.PathLike, *, max_bytes: int | None = None,
                        max_ops: int | None = None):
    """Unpickle ``path`` with the allow-list above (strings as bytes, as CIFAR's README loads them).

    Caps: the file's size (``max_bytes``, default ``LIMITS.cifar_bytes``, 256 MiB), its opcode
    count (``max_ops``, default ``LIMITS.pickle_ops``), and the bytes of arrays and latin1 text it
    makes (twice the file's size).

    Raises:
        DataError: the file is too large, truncated, malformed, or names anything not allowed.
    """
    max_bytes = LIMITS.cifar_bytes if max_bytes is None else max_bytes
    size = file_size(path)
    if size > max_bytes:
        raise DataError(f"{path}: {size} bytes, above the cap of {max_bytes} for a pickled batch "
                        f"(cifar_bytes; {raise_hint('cifar_bytes')})")
    raw = Path(path).read_bytes()
    count_pickle_ops(raw, path, LIMITS.pickle_ops if max_ops is None else max_ops)
    token = _BUDGET.set([2 * size + (1 << 20)])
    try:
        return _resolve(_AllowListUnpickler(io.BytesIO(raw), encoding="bytes").load())
    except _Refused as exc:
        raise DataError(f"{path}: refused: {exc}") from None
    except EOFError:
        raise DataError(f"{path}: truncated: the pickle ends early ({size} bytes)") from None
    except (pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError, RecursionError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: expected a pickled CIFAR batch, found a malformed pickle "
                        f"({type(exc).__name__}: {exc})") from None
    finally:
        _BUDGET.reset(token)


@dataclass(frozen=True)
class CifarBatch:
    """One CIFAR-10 batch: ``images`` (N, 3, 32, 32) uint8, ``labels`` (N,) int64 in 0..9."""

    images: np.ndarray
    labels: np.ndarray
    batch_label: str
    filenames: tuple[str, ...]


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_cifar_batch(path: str | os.PathLike) -> CifarBatch:
    """Read one CIFAR-10 python batch file (``data_batch_1`` ... ``test_batch``).

    Raises:
        DataError: naming the file and the field that differs from the published layout.
    """
    obj = unpickle_restricted(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict batch, found {type(obj).__name__}")
    batch = {_text(k): v for k, v in obj.items()}
    for key in ("data", "labels"):
        if key not in batch:
            raise DataError(f"{path}: expected key b'{key}', found keys {sorted(batch)}")
    data, labels = batch["data"], batch["labels"]
    n_pixels = math.prod(IMAGE_SHAPE)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == n_pixels):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: b'data': expected a uint8 array (N, {n_pixels}), found {found}")
    n = data.shape[0]
    if not (isinstance(labels, list) and len(labels) == n
            and all(type(v) is int and 0 <= v < N_CLASSES for v in labels)):
        found = f"{len(labels)} items" if isinstance(labels, list) else type(labels).__name__
        raise DataError(f"{path}: b'labels': expected a list of {n} ints in 0..{N_CLASSES - 1}, "
                        f"found {found}")
    names = batch.get("filenames", [])
    if not isinstance(names, list) or (names and len(names) != n):
        raise DataError(f"{path}: b'filenames': expected {n} names, found "
                        f"{len(names) if isinstance(names, list) else type(names).__name__}")
    images = data.reshape(n, *IMAGE_SHAPE)  # (N, 3072) -> (N, 3, 32, 32): R, G, B planes
    return CifarBatch(images, np.asarray(labels, dtype=np.int64), _text(batch.get("batch_label", "")),
                      tuple(_text(s) for s in names))


def load_cifar10(root: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The five training batches and the test batch under ``root`` (``cifar-10-batches-py``).

    Returns:
        ``(x_train (50000, 3, 32, 32) uint8, y_train (50000,), x_test, y_test)`` for the
        published files; any N for smaller ones.

    Raises:
        DataError: a batch is missing or malformed (names it).
    """
    root = Path(root)
    train = [read_cifar_batch(root / f"data_batch_{i}") for i in range(1, 6)]
    test = read_cifar_batch(root / "test_batch")
    return (np.concatenate([b.images for b in train]), np.concatenate([b.labels for b in train]),
            test.images, test.labels)
