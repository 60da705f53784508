"""Caps on the files deepnets reads: one object, :data:`LIMITS`, read by every public reader.

A file from a user may be hostile: a header that promises gigabytes, a zip that inflates 1000-fold,
a pickle whose every byte builds a 64-byte Python object, a TOML key a million parts deep. Each
reader checks what it is about to spend against these caps *before* spending it, so reading a file
costs memory in proportion to its size on disk (or, for compressed data, to the size it truly
inflates to, below the cap), and a refusal is a :class:`~deepnets.errors.DataError` or
:class:`~deepnets.errors.ConfigError` naming the file, the cap and how to raise it.

Raise a cap for one block with :func:`override` (``with override(npz_bytes=4 << 30): ...``), for
the process by assigning to ``LIMITS``' fields, or for a run with the TOML table ``[data.limits]``
(``npz_bytes = 4294967296``; not the ``toml_*`` caps, which bound reading that very file).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass
class Limits:
    """The caps (bytes unless named otherwise); the defaults hold every published dataset."""

    csv_bytes: int = 1 << 30          # a CSV file on disk
    csv_line_chars: int = 1 << 22     # one line of a CSV, the header included
    csv_columns: int = 100_000        # columns of a CSV header
    npz_bytes: int = 1 << 30          # an NPZ's arrays inflated, and again as float32
    npz_members: int = 64             # arrays in one NPZ
    idx_bytes: int = 1 << 30          # an IDX file's data after gunzip (MNIST's largest: 47 MB)
    cifar_bytes: int = 256 << 20      # a CIFAR batch pickle on disk (a published one: 31 MB)
    pickle_ops: int = 250_000         # opcodes of a pickle: a CIFAR batch (30 000; re-pickled by Python 3: 90 000), a .pt
    safetensors_tensors: int = 20_000  # tensors named in a safetensors header (ResNet-152: about 1000)
    json_containers: int = 100_000    # lists and objects in a run's summary.json or a checkpoint's JSON header
    toml_bytes: int = 1 << 20         # an experiment TOML file
    toml_depth: int = 32              # nesting of TOML tables/arrays, and parts of a dotted key
    toml_string_chars: int = 4096     # one string value in an experiment


#: The caps in force. Every reader looks them up when it is called.
LIMITS = Limits()

NAMES = tuple(f.name for f in dataclasses.fields(Limits))


def raise_hint(name: str) -> str:
    """How to raise cap ``name``: the words every refusal ends with (the caps on the experiment
    file itself are read before that file, so only Python sets them)."""
    python = f"deepnets.data.limits.LIMITS.{name} = ... in Python"
    return f"raise it with {python}" if name.startswith("toml_") else \
        f"raise it with [data.limits] {name} = ... in the experiment, or {python}"


def checked(values: dict, where: str = "data.limits") -> dict:
    """``values`` as caps: known names, positive integers (ConfigError naming the key otherwise)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a table of caps, got {type(values).__name__}")
    for key, value in values.items():
        if key not in NAMES:
            raise ConfigError(f"unknown key {where}.{key}; the caps are {', '.join(NAMES)}")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{where}.{key} must be a positive integer, got {value!r}")
    return values


@contextlib.contextmanager
def override(**caps):
    """Set some caps of :data:`LIMITS` inside a ``with`` block; the old values come back after it."""
    checked(caps)
    old = {k: getattr(LIMITS, k) for k in caps}
    for k, v in caps.items():
        setattr(LIMITS, k, v)
    try:
        yield LIMITS
    finally:
        for k, v in old.items():
            setattr(LIMITS, k, v)


__all__ = ["Limits", "LIMITS", "override", "raise_hint", "checked"]
