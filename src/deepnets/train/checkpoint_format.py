"""The checkpoint file (format 2): one safetensors file holding everything, checked by one SHA-256.

``RUN/checkpoints/step-NNNNNNNNN.safetensors`` is a plain safetensors file (any safetensors reader
opens it): the model's weights as tensors ``model/<name>``, every other tensor of the state
(optimizer moments, RNG states, the epoch's sample order, the history) as ``s<i>``, and in the
header's ``__metadata__`` (strings only, as safetensors asks):

- ``deepnets_sha256``, always first: the SHA-256 of the whole file with these 64 hex digits read
  as zeros, so one hash covers the header and the data, and a reader finds it at a fixed place;
- ``format``, ``format_version``, ``sequence`` (orders saves), ``step``, ``epoch``;
- ``weights``: the model's keys in order; ``state``: the rest of the state as JSON in which each
  tensor is ``{"$t": i}`` and every type JSON lacks is tagged (``$tuple``, ``$set``, ``$od``,
  ``$counter``, ``$dict`` for non-string keys, ``$bytes``, ``$complex``, ``$dtype``, ``$device``,
  ``$size``), so the tree comes back with the same types as it went in;
- ``raw``: tensors of a dtype safetensors may not know (complex, unsigned wider than 8 bits,
  float8), stored as their bytes with their dtype and shape.

Nothing in the file is code: the header is JSON, the tensors are bytes. Tensors are laid out by
element size (8-byte ones first), so each lies aligned, and the tensors of each dtype are joined by
one C++ call into one run of bytes (one finiteness check a dtype; see :class:`Packed`).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import math
import struct

import torch

from safetensors.torch import load as safetensors_load

from deepnets.data.safe_files import check_safetensors, loads_json
from deepnets.errors import CheckpointError, DataError
from deepnets.train.state_dict import _LEAVES, _MAPPINGS, check_plain_data

FORMAT = "deepnets-checkpoint"
#: Format 1: a folder of three files (``checkpoint_v1``); format 2: this single file.
FORMAT_VERSION = 2
SUFFIX = ".safetensors"
DIGEST_KEY = "deepnets_sha256"
#: Every format-2 header starts with these bytes; the digest follows them.
HEADER_PREFIX = ('{"__metadata__":{"' + DIGEST_KEY + '":"').encode()
DIGEST_AT = 8 + len(HEADER_PREFIX)  # the digest's first byte in the file
ZERO_DIGEST = b"0" * 64

#: dtypes every safetensors release reads; others are stored as bytes (``raw``)
SAFETENSORS_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.bool: "BOOL"}
_TAGS = ("$t", "$tuple", "$set", "$od", "$counter", "$dict", "$bytes", "$complex", "$dtype", "$device", "$size")


# --------------------------------------------------------------------------- the state tree <-> JSON


_ATOMS = (str, int, float, bool, type(None))
_TENSORS = (torch.Tensor, torch.nn.Parameter)


def flatten(value, where, tensors: list):
    """``value`` as JSON-able data with each tensor replaced by ``{"$t": i}`` (appended to
    ``tensors`` as ``(tensor, where)``; see :func:`place`), after
    :func:`~deepnets.train.state_dict.check_plain_data`'s checks on everything but the tensors'
    values. Nothing in the result is shared with ``value`` but immutable leaves.

    Raises:
        CheckpointError: a value that is not plain data, or a key that is not str or int (named).
    """
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind in _TENSORS:
        tensors.append((value, where))
        return {"$t": len(tensors) - 1}
    if kind in _MAPPINGS:
        items, plain = [], kind is dict
        for k, v in value.items():
            tk = type(k)
            if tk is int or (tk is str and k[:1] == "$"):
                plain = False
            elif tk is not str:
                raise CheckpointError(f"{place(where)}: expected str or int keys, got {tk.__name__}")
            vk = type(v)
            if vk in _ATOMS:
                items.append((k, v))
            elif vk in _TENSORS:  # the place of a tensor is formatted only if it is refused
                tensors.append((v, (where, k)))
                items.append((k, {"$t": len(tensors) - 1}))
            else:
                items.append((k, flatten(v, (where, k), tensors)))  # (the place formatted only if refused)
        if plain:
            return dict(items)
        tag = {dict: "$dict", collections.OrderedDict: "$od", collections.Counter: "$counter"}[kind]
        return {tag: [list(kv) for kv in items]}
    if kind in (list, tuple, set):
        out = [v if type(v) in _ATOMS else flatten(v, (where, i), tensors) for i, v in enumerate(value)]
        return out if kind is list else {"$tuple" if kind is tuple else "$set": out}
    if kind is complex:
        return {"$complex": [value.real, value.imag]}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is torch.dtype:
        return {"$dtype": str(value).removeprefix("torch.")}
    if kind is torch.device:
        return {"$device": str(value)}
    if kind is torch.Size:
        return {"$size": list(value)}
    assert kind not in _LEAVES, kind  # every plain leaf is handled above
    check_plain_data(value, place(where))  # raises, naming the type
    raise AssertionError("unreachable")


def place(where) -> str:
    """A place :func:`flatten` recorded, as text: ``where`` itself, or ``(parent, key)`` ->
    ``parent[key]`` (formatted only when a message needs it)."""
    if type(where) is tuple:
        parent, key = where
        return f"{place(parent)}[{key!r}]"
    return where


def unflatten(value, tensors: list, where: str = "state"):
    """The tree :func:`flatten` encoded, its tensors taken from ``tensors`` by index.

    Raises:
        CheckpointError: an unknown tag or a malformed value (named by its place).
    """
    if isinstance(value, list):
        return [unflatten(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, body),) = value.items()
        if tag.startswith("$"):
            try:
                return _untag(tag, body, tensors, where)
            except CheckpointError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError) as exc:
                raise CheckpointError(f"{where}: a malformed {tag} value ({exc})") from None
    return {k: unflatten(v, tensors, f"{where}[{k!r}]") for k, v in value.items()}


def _untag(tag, body, tensors, where):
    if tag == "$t":
        if type(body) is not int or not 0 <= body < len(tensors):
            raise CheckpointError(f"{where}: refers to tensor {body!r}, the file holds {len(tensors)}")
        return tensors[body]
    if tag in ("$tuple", "$set"):
        items = [unflatten(v, tensors, f"{where}[{i}]") for i, v in enumerate(_list(body))]
        return tuple(items) if tag == "$tuple" else set(items)
    if tag in ("$dict", "$od", "$counter"):
        kind = {"$dict": dict, "$od": collections.OrderedDict, "$counter": collections.Counter}[tag]
        out = kind()
        for k, v in (_pair(kv, where) for kv in _list(body)):
            out[k] = unflatten(v, tensors, f"{where}[{k!r}]")
        return out
    if tag == "$bytes":
        return base64.b64decode(body.encode("ascii"), validate=True)
    if tag == "$complex":
        re, im = body
        return complex(float(re), float(im))
    if tag == "$dtype":
        dtype = getattr(torch, body, None) if isinstance(body, str) else None
        if not isinstance(dtype, torch.dtype):
            raise CheckpointError(f"{where}: expected a torch dtype name, found {body!r}")
        return dtype
    if tag == "$device":
        return torch.device(body)
    if tag == "$size":
        return torch.Size([int(n) for n in _list(body)])
    raise CheckpointError(f"{where}: unknown tag {tag!r} (expected one of {', '.join(_TAGS)})")


def _list(body):
    if not isinstance(body, list):
        raise TypeError(f"expected a list, found {type(body).__name__}")
    return body


def _pair(kv, where):
    if not (isinstance(kv, list) and len(kv) == 2 and type(kv[0]) in (str, int)):
        raise CheckpointError(f"{where}: expected [key, value] pairs with str or int keys, found {kv!r:.60}")
    return kv


# --------------------------------------------------------------------------- the layout of the tensors


_flatten_dense = getattr(torch._C._nn, "flatten_dense_tensors", None)  # one C++ call: a dtype's tensors joined


def _join(tensors: list) -> torch.Tensor:
    """The tensors (one dtype) flattened and copied into one new CPU tensor (never a view)."""
    if not all(t.is_cpu for t in tensors) or tensors[0].dtype.is_complex:
        tensors = [_cpu(t) for t in tensors]
    if len(tensors) == 1:  # (flatten_dense_tensors returns a view of a single tensor)
        return tensors[0].reshape(-1).clone()
    if _flatten_dense is not None:
        return _flatten_dense(tensors)
    return torch.cat([t.reshape(-1) for t in tensors])


def _cpu(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if not t.is_cpu:
        t = t.to("cpu")
    if t.dtype.is_complex:
        t = t.resolve_conj().resolve_neg()
    return t


_PLANS: dict = {}  # a sequence of dtypes -> its groups, as Packed lays them out


class Packed:
    """A save's tensors copied (on the training thread), grouped by dtype: ``parts``, CPU tensors
    written one after another as the data section, and ``kinds`` (each tensor's dtype and shape).
    8-byte elements come first, then 4, 2, 1 (dtypes safetensors may not know last, as bytes):
    every tensor lies aligned, and each floating dtype is one run, checked at once.
    :meth:`lay_out` (on the writer) says where each tensor lies.

    Raises:
        CheckpointError: (on creation) a tensor holds NaN or inf (named by ``wheres()``, called
            only then).
    """

    def __init__(self, tensors: list, wheres):
        self.kinds = kinds = [(t.dtype, t.shape) for t in tensors]
        key = tuple([k[0] for k in kinds])
        groups = _PLANS.get(key)
        if groups is None:  # (a run's saves repeat a few sequences of dtypes: the grouping is kept)
            by_dtype: dict = {}
            for i, dtype in enumerate(key):
                by_dtype.setdefault(dtype, []).append(i)
            groups = tuple((d, tuple(ix)) for d, ix in sorted(
                by_dtype.items(), key=lambda g: (g[0] not in SAFETENSORS_DTYPES, -g[0].itemsize, str(g[0]))))
            if len(_PLANS) < 256:
                _PLANS[key] = groups
        self.groups = groups
        self.parts, suspects = [], []
        for dtype, indices in self.groups:
            if dtype not in SAFETENSORS_DTYPES:  # stored as bytes, one by one
                self.parts += [_cpu(tensors[i]).reshape(-1).view(torch.uint8).clone() for i in indices]
                suspects += indices if dtype.is_floating_point or dtype.is_complex else []
            else:
                joined = _join([tensors[i] for i in indices])
                self.parts.append(joined)
                if dtype.is_floating_point and not math.isfinite(joined.sum().item()):
                    suspects += indices  # a NaN or inf in the run (or a sum past the float range)
        if suspects:
            places = wheres()
            for i in suspects:
                check_plain_data(tensors[i], places[i])  # raises for the first non-finite one

    def lay_out(self, names: list) -> tuple[list, dict]:
        """``([(name, stored dtype, stored shape, start, end)] in file order, raw)``: ``raw`` maps the
        names of tensors stored as bytes to their ``[dtype, shape]``."""
        entries, raw, at = [], {}, 0
        for dtype, indices in self.groups:
            for i in indices:
                shape = list(self.kinds[i][1])
                size = dtype.itemsize
                for d in shape:
                    size *= d
                if dtype in SAFETENSORS_DTYPES:
                    entries.append((names[i], dtype, shape, at, at + size))
                else:
                    raw[names[i]] = [str(dtype).removeprefix("torch."), shape]
                    entries.append((names[i], torch.uint8, [size], at, at + size))
                at += size
        return entries, raw

    def byte_parts(self) -> list[torch.Tensor]:
        """The data section: :attr:`parts` as bytes (uint8 views), in order."""
        return [p.view(torch.uint8) for p in self.parts if p.numel()]


# --------------------------------------------------------------------------- the header


_SEP = (",", ":")
_ENTRY_TEXT: dict = {}  # (name, dtype, shape) -> its header entry's text up to the data offsets


def header_bytes(entries: list, metadata: dict) -> bytes:
    """The header (its 8-byte length included, padded with spaces to a multiple of 8) with the digest
    as zeros: ``metadata`` (str -> str) after ``deepnets_sha256``, then each tensor's entry (from
    :meth:`Packed.lay_out`). The text ``json.dumps`` gives the dict ``{"__metadata__": ..., name:
    {"dtype", "shape", "data_offsets"}, ...}`` with separators ``,`` and ``:``, written piece by
    piece: each entry's text up to its offsets is kept between saves (a writer thread then holds
    Python's lock for less)."""
    pieces = ['{"__metadata__":', json.dumps({DIGEST_KEY: ZERO_DIGEST.decode(), **metadata}, separators=_SEP)]
    for name, dtype, shape, start, end in entries:
        key = (name, dtype, tuple(shape))
        text = _ENTRY_TEXT.get(key)
        if text is None:
            text = (f',{json.dumps(name)}:{{"dtype":"{SAFETENSORS_DTYPES[dtype]}","shape":'
                    f'{json.dumps(shape, separators=_SEP)},"data_offsets":[')
            if len(_ENTRY_TEXT) < 4096:
                _ENTRY_TEXT[key] = text
        pieces.append(f"{text}{start},{end}]}}")
    pieces.append("}")
    raw = "".join(pieces).encode()
    raw += b" " * (-len(raw) % 8)
    assert raw.startswith(HEADER_PREFIX)
    return struct.pack("<Q", len(raw)) + raw


def digest(parts) -> bytes:
    """SHA-256 (64 hex digits, ASCII) over ``parts`` (bytes-like) read one after another."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest().encode()


def verify(raw: bytes, path) -> tuple[int, bytes]:
    """Check the file ``raw`` read from ``path`` is whole and unaltered; return ``(header length,
    header bytes)``.

    Raises:
        CheckpointError: "truncated" (shorter than its header says), "corrupt" (not a format-2
            header) or "checksum mismatch" (a bit changed anywhere).
    """
    if len(raw) < 8:
        raise CheckpointError(f"{path}: truncated: {len(raw)} bytes, a checkpoint file starts with an 8-byte length")
    n = struct.unpack("<Q", raw[:8])[0]
    if n > len(raw) - 8:
        raise CheckpointError(f"{path}: truncated or corrupt: its header declares {n} bytes, the file holds "
                              f"{len(raw) - 8} after the length")
    if not raw[8:].startswith(HEADER_PREFIX) or len(raw) < DIGEST_AT + 64:
        raise CheckpointError(f"{path}: corrupt: expected a header starting with {HEADER_PREFIX.decode()!r}, "
                              f"found {bytes(raw[8:8 + len(HEADER_PREFIX)])!r}")
    view = memoryview(raw)
    claimed = bytes(view[DIGEST_AT:DIGEST_AT + 64])
    actual = digest((view[:DIGEST_AT], ZERO_DIGEST, view[DIGEST_AT + 64:]))
    if claimed != actual:
        expected = _declared_size(raw[8:8 + n])
        if expected is not None and len(raw) < expected:
            raise CheckpointError(f"{path}: truncated: {len(raw)} bytes, its header records {expected}")
        raise CheckpointError(f"{path}: checksum mismatch: the header records SHA-256 {claimed.decode('latin-1')}, "
                              f"the file hashes to {actual.decode()}")
    return n, raw[8:8 + n]


def _declared_size(header: bytes) -> int | None:
    """The file size a (possibly damaged) header declares, or None when it does not parse."""
    try:
        head = loads_json(header, "header")
        ends = [v["data_offsets"][1] for k, v in head.items() if k != "__metadata__"]
        return 8 + len(header) + max(ends, default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, DataError):
        return None


# --------------------------------------------------------------------------- reading


def decode(raw: bytes, path, *, map_location="cpu") -> dict:
    """Verify and read a format-2 checkpoint file's bytes: ``{**state, "model": weights,
    "sequence": int}`` (weights and state tensors on ``map_location``).

    Raises:
        CheckpointError: as :func:`verify`, a newer format, or content that is not what this
            format holds (named; a forged file with a matching digest ends here).
    """
    n, header = verify(raw, path)
    try:
        check_safetensors(raw, path)
        head = loads_json(header, path)
        meta = head["__metadata__"]
        if meta.get("format") != FORMAT or not meta.get("format_version", "").isdigit():
            raise CheckpointError(f"{path}: expected format {FORMAT!r}, found {meta.get('format')!r}")
        if int(meta["format_version"]) > FORMAT_VERSION:
            raise CheckpointError(f"{path}: format version {meta['format_version']} is newer than this deepnets "
                                  f"reads ({FORMAT_VERSION}); upgrade deepnets")
        names, raw_kinds = json.loads(meta["weights"]), json.loads(meta.get("raw", "{}"))
        state = loads_json(meta["state"].encode(), path)
        sequence = int(meta["sequence"])
    except CheckpointError:
        raise
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: corrupt: the header is not a deepnets checkpoint header ({exc!r:.200})") from None
    try:
        loaded = safetensors_load(bytes(raw))  # tensors only, no code
    except Exception as exc:  # the digest held, so the writer was not deepnets
        raise CheckpointError(f"{path}: refused: not a readable safetensors file ({exc})") from exc
    for name, (dtype, shape) in raw_kinds.items():
        kind = getattr(torch, dtype, None) if isinstance(dtype, str) else None
        if name not in loaded or not isinstance(kind, torch.dtype):
            raise CheckpointError(f"{path}: refused: raw tensor {name!r} of dtype {dtype!r} is not in the file")
        try:
            loaded[name] = loaded[name].view(kind).reshape(shape)
        except (RuntimeError, TypeError) as exc:
            raise CheckpointError(f"{path}: refused: raw tensor {name!r} is not {dtype} {shape} ({exc})") from None
    if map_location is not None and not isinstance(map_location, (str, torch.device)):
        raise CheckpointError(f"map_location: expected a device (a str or torch.device), got {type(map_location).__name__}")
    if map_location is not None and torch.device(map_location).type != "cpu":
        loaded = {k: v.to(map_location) for k, v in loaded.items()}
    if not isinstance(names, list) or any(not isinstance(k, str) or f"model/{k}" not in loaded for k in names):
        raise CheckpointError(f"{path}: refused: the weights listed in the header are not all in the file")
    weights = {k: loaded[f"model/{k}"] for k in names}
    others = [loaded.get(f"s{i}") for i in range(len(loaded) - len(names))]
    if any(t is None for t in others):
        raise CheckpointError(f"{path}: refused: expected tensors s0 to s{len(others) - 1} besides the weights, "
                              f"found {sorted(k for k in loaded if not k.startswith('model/'))[:5]}")
    state = unflatten(state, others, where=f"{path}: state")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: refused: expected a {FORMAT} state, found {type(state).__name__}")
    return {**state, "model": weights, "sequence": sequence}


def read_header(path) -> dict | None:
    """The ``__metadata__`` of the checkpoint file ``path`` from its header alone (its digest not
    checked: ordering saves needs ``sequence``, ``step`` and ``epoch``), or None when the header
    is unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return None
            n = struct.unpack("<Q", head)[0]
            if n > (1 << 26):
                return None
            header = f.read(n)
        meta = loads_json(header, path)["__metadata__"]
        if meta.get("format") != FORMAT:
            return None
        return {"sequence": int(meta["sequence"]), "step": _opt_int(meta.get("step")),
                "epoch": _opt_int(meta.get("epoch"))}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, DataError):
        return None


def _opt_int(text):
    return None if text in (None, "") else int(text)
