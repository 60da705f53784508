"""Damage to a checkpoint file as a disk or a careless hand does it: truncation at a random length
or one random bit flipped, in a chosen part of the file (shared by the fault tests and
``benchmarks/fault_suite.py``)."""

from __future__ import annotations

import random

from deepnets.train.checkpoint_format import DIGEST_AT

#: the parts of a checkpoint file a fault can hit: (start, end) byte ranges, end None: the file's end
PARTS = {"length": (0, 8), "header": (8, DIGEST_AT), "digest": (DIGEST_AT, DIGEST_AT + 64),
         "header after the digest": (DIGEST_AT + 64, 1200), "tensors": (-10_000, None)}


def corrupt(path, kind: str, rnd: random.Random, part: tuple = (0, None)) -> str:
    """Truncate ``path`` at a random length or flip one random bit, inside byte range ``part``;
    return what was done."""
    data = bytearray(path.read_bytes())
    lo, hi = (i if i is None or i >= 0 else len(data) + i for i in part)
    hi = len(data) if hi is None else min(hi, len(data))
    if kind == "truncate":
        n = rnd.randrange(lo, hi)
        path.write_bytes(bytes(data[:n]))
        return f"truncated to {n} of {len(data)} bytes"
    i, bit = rnd.randrange(lo, hi), rnd.randrange(8)
    data[i] ^= 1 << bit
    path.write_bytes(bytes(data))
    return f"bit {bit} of byte {i} flipped"
