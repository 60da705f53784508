"""Reading checkpoints of format 1: a folder ``step-NNNNNNNNN/`` of three files.

- ``model.safetensors``: the model's ``state_dict()``;
- ``state.pt``: everything else as plain data that ``torch.load(weights_only=True)`` reads
  without an allow-list;
- ``manifest.json``, written last: size and SHA-256 of each file, the save's sequence number, and
  a SHA-256 of the manifest itself.

deepnets writes format 2 (:mod:`deepnets.train.checkpoint_format`) since issue 19; runs saved
before keep loading and resuming from these folders, with every check they had: each size and
checksum is verified before any byte is deserialised, and a pickle that would run code is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from safetensors.torch import load as safetensors_load
import torch

from deepnets.data.safe_files import check_safetensors, check_torch_file, loads_json
from deepnets.errors import CheckpointError, DataError
from deepnets.train.checkpoint_format import FORMAT, FORMAT_VERSION

WEIGHTS, STATE, MANIFEST = "model.safetensors", "state.pt", "manifest.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_bytes(body: dict) -> bytes:
    """A format-1 manifest with its own checksum over the canonical JSON of everything else."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return json.dumps({**body, "manifest_sha256": _sha256(canonical)}, indent=1, sort_keys=True).encode()


def read_manifest(folder: Path) -> dict:
    """Parse and self-check ``folder/manifest.json``.

    Raises:
        CheckpointError: missing ("incomplete"), unparsable ("truncated or corrupt"), its own
            checksum differs ("checksum mismatch"), or a format this version cannot read.
    """
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    try:
        body = loads_json(raw, path)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: truncated or corrupt: expected a JSON object, "
                              f"{len(raw)} bytes do not parse ({exc})") from None
    claimed = body.pop("manifest_sha256", None)
    actual = _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    if claimed != actual:
        raise CheckpointError(f"{path}: checksum mismatch: manifest records {claimed}, "
                              f"its content hashes to {actual}")
    if body.get("format") != FORMAT or not isinstance(body.get("format_version"), int):
        raise CheckpointError(f"{path}: expected format {FORMAT!r}, found {body.get('format')!r}")
    if body["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {body['format_version']} is newer than "
                              f"this deepnets reads ({FORMAT_VERSION}); upgrade deepnets")
    return body


def read_verified(folder: Path, manifest: dict) -> dict[str, bytes]:
    """Read each file the manifest lists and check its size and SHA-256.

    Raises:
        CheckpointError: naming the file and "truncated" (shorter than recorded) or
            "checksum mismatch" (other size or content).
    """
    out = {}
    for name in (WEIGHTS, STATE):
        rec = manifest.get("files", {}).get(name)
        path = folder / name
        if not isinstance(rec, dict):
            raise CheckpointError(f"{folder / MANIFEST}: expected an entry for {name}, found none")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{path}: missing; the manifest lists it") from None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
        if len(data) < rec["bytes"]:
            raise CheckpointError(f"{path}: truncated: {len(data)} bytes, the manifest "
                                  f"records {rec['bytes']}")
        if len(data) != rec["bytes"] or _sha256(data) != rec["sha256"]:
            raise CheckpointError(f"{path}: checksum mismatch: expected {rec['bytes']} bytes with "
                                  f"SHA-256 {rec['sha256']}, found {len(data)} bytes with "
                                  f"{_sha256(data)}")
        out[name] = data
    return out


def load_folder(folder: Path, *, map_location="cpu") -> dict:
    """Verify and read a format-1 checkpoint folder: ``{**state, "model": weights, "sequence"}``.

    Raises:
        CheckpointError: the folder is incomplete, truncated, corrupt, or not plain data.
    """
    manifest = read_manifest(folder)
    blobs = read_verified(folder, manifest)
    try:  # the checksums can be forged: sizes and counts checked before anything is built
        check_safetensors(blobs[WEIGHTS], folder / WEIGHTS)
        check_torch_file(blobs[STATE], folder / STATE)
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        weights = safetensors_load(blobs[WEIGHTS])  # tensors only, no code
    except Exception as exc:  # checksums passed, so the writer was not deepnets
        raise CheckpointError(f"{folder / WEIGHTS}: not a readable safetensors file ({exc})") from exc
    try:
        state = torch.load(io.BytesIO(blobs[STATE]), map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{folder / STATE}: refused: expected plain data readable with "
                              f"torch.load(weights_only=True), found something else "
                              f"({_first_reason(exc)})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{folder / STATE}: expected a {FORMAT} state dict")
    if map_location is not None:  # a no-op for "cpu": safetensors loads onto the CPU
        weights = {k: v.to(map_location) for k, v in weights.items()}
    return {**state, "model": weights, "sequence": manifest["sequence"]}


def _first_reason(exc: Exception) -> str:
    """The informative line of torch's long weights-only refusal (or the whole short message)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "WeightsUnpickler error" in ln:
            return ln.split("Please use", 1)[0].strip()
    return lines[0] if lines else type(exc).__name__
