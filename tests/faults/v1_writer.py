"""Checkpoints of format 1 (a folder of three files), as deepnets wrote them before issue 19, for
the tests that such checkpoints still load and resume exactly: :func:`write_v1` writes a loaded
checkpoint's content the way the old writer wrote it (weights in ``model.safetensors``, the rest
pickled by ``torch.save`` in ``state.pt``, a self-checked ``manifest.json`` last)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_save

FORMAT = "deepnets-checkpoint"
WEIGHTS, STATE, MANIFEST = "model.safetensors", "state.pt", "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(body: dict) -> bytes:
    """A manifest with its own checksum over the canonical JSON of everything else."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return json.dumps({**body, "manifest_sha256": sha256(canonical)}, indent=1, sort_keys=True).encode()


def write_v1(folder, ckpt: dict, *, sequence: int | None = None) -> Path:
    """Write ``ckpt`` (what ``load_checkpoint`` returns) as the format-1 folder ``folder``."""
    folder = Path(folder)
    state = {k: v for k, v in ckpt.items() if k not in ("model", "name", "path", "sequence")}
    state["format_version"] = 1
    buf = io.BytesIO()
    torch.save(state, buf)
    blobs = {WEIGHTS: safetensors_save({k: v.contiguous() for k, v in ckpt["model"].items()},
                                       metadata={"format": FORMAT, "format_version": "1"}),
             STATE: buf.getvalue()}
    folder.mkdir(parents=True)
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
    (folder / MANIFEST).write_bytes(manifest_bytes({
        "format": FORMAT, "format_version": 1, "name": folder.name,
        "sequence": ckpt["sequence"] if sequence is None else sequence, "step": ckpt.get("step"),
        "epoch": ckpt.get("epoch"), "files": {f: {"bytes": len(b), "sha256": sha256(b)} for f, b in blobs.items()}}))
    return folder


def rewrite_state(folder, state: dict) -> None:
    """Replace ``folder/state.pt`` by ``state`` pickled (anything: a forger's pickle too) with the
    manifest's checksums made to match: checksums do not stop a forger."""
    folder = Path(folder)
    buf = io.BytesIO()
    torch.save(state, buf)
    write_state_bytes(folder, buf.getvalue())


def write_state_bytes(folder, data: bytes) -> None:
    """``folder/state.pt`` replaced by ``data``, the manifest's checksums made to match."""
    folder = Path(folder)
    (folder / STATE).write_bytes(data)
    body = json.loads((folder / MANIFEST).read_bytes())
    body.pop("manifest_sha256")
    body["files"][STATE] = {"bytes": len(data), "sha256": sha256(data)}
    (folder / MANIFEST).write_bytes(manifest_bytes(body))


def to_v1(info) -> Path:
    """Turn the format-2 checkpoint ``info`` (a CheckpointInfo) into a format-1 folder of the same
    name and sequence, as if an older deepnets had written it; return the folder."""
    from deepnets.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(info.path)
    folder = write_v1(info.path.with_name(info.name), ckpt, sequence=info.sequence)
    info.path.unlink()
    return folder
