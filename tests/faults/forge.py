"""Forging a format-2 checkpoint file: its header edited and its digest recomputed to match, as an
attacker (or a buggy writer) could; checksums do not stop a forger, so what the reader checks after
the digest must."""

from __future__ import annotations

import hashlib
import json
import struct

from deepnets.train.checkpoint_format import DIGEST_AT, DIGEST_KEY


def resign(path, edit=None, *, header: bytes | None = None) -> None:
    """Rewrite the checkpoint file ``path`` with its header edited by ``edit(header_dict)`` (or
    replaced by the raw JSON ``header``) and a digest that matches."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    if header is None:
        head = json.loads(raw[8:8 + n])
        edit(head)
        meta = head.pop("__metadata__")
        meta = {DIGEST_KEY: "0" * 64, **{k: v for k, v in meta.items() if k != DIGEST_KEY}}
        header = json.dumps({"__metadata__": meta, **head}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    blank = struct.pack("<Q", len(header)) + header + raw[8 + n:]
    path.write_bytes(blank[:DIGEST_AT] + hashlib.sha256(blank).hexdigest().encode() + blank[DIGEST_AT + 64:])
