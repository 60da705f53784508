"""Capture and restore every global random-number state as plain tensors and lists.

The states of Python's ``random``, NumPy's legacy global generator, torch's CPU generator and
every CUDA device's generator are stored in a form that ``torch.load(weights_only=True)`` reads
without an allow-list: tensors, lists, ints, floats, strings and ``None``. The Mersenne Twister
states (625 and 624 words) are tensors, not lists of Python ints: one object to check and pickle
instead of 625 (older checkpoints hold a list there; both forms load).
"""

from __future__ import annotations

import logging
import random

import numpy as np
import torch

from deepnets.errors import CheckpointError

log = logging.getLogger(__name__)


def get_rng_state() -> dict:
    """Every global RNG state as a dict of tensors and lists.

    Returns:
        ``{"python": {"version": int, "state": (625,) int64 tensor, "gauss_next": float | None},
        "numpy": {...}, "torch": uint8 tensor, "cuda": [uint8 tensor per device]}``.

    >>> s = get_rng_state(); a = torch.rand(2); set_rng_state(s); torch.equal(a, torch.rand(2))
    True
    """
    version, internal, gauss_next = random.getstate()
    kind, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "python": {"version": int(version),  # (np.fromiter: a quarter of torch.tensor's time on 625 ints)
                   "state": torch.from_numpy(np.fromiter(internal, dtype=np.int64, count=len(internal))),
                   "gauss_next": gauss_next},
        "numpy": {
            "kind": str(kind),
            "key": torch.from_numpy(key.astype(np.int64)),  # (624,) uint32 values in int64
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore the states :func:`get_rng_state` captured.

    CUDA states are restored when the number of visible devices matches; otherwise a warning is
    logged and the CUDA generators keep their current state (a GPU run resumed on the CPU).

    Raises:
        CheckpointError: a part of ``state`` is missing or has the wrong form.
    """
    try:
        py = state["python"]
        if isinstance(py, dict):
            version, internal, gauss_next = py["version"], py["state"].tolist(), py["gauss_next"]
        else:  # a checkpoint written before the state became a tensor: [version, [625 ints], gauss]
            version, internal, gauss_next = py
        random.setstate((int(version), tuple(int(x) for x in internal), gauss_next))
        n = state["numpy"]
        np.random.set_state((n["kind"], n["key"].cpu().numpy().astype(np.uint32), int(n["pos"]),
                             int(n["has_gauss"]), float(n["cached_gaussian"])))
        torch.set_rng_state(state["torch"].cpu())  # (a checkpoint loaded onto a GPU holds them there)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(
            f"RNG state: expected python/numpy/torch/cuda entries as get_rng_state() writes them, "
            f"got keys {sorted(state) if isinstance(state, dict) else type(state).__name__} ({exc})"
        ) from exc
    cuda = list(state.get("cuda", []))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    elif cuda:
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        log.warning("checkpoint holds %d CUDA RNG states but %d devices are visible; "
                    "CUDA generators not restored", len(cuda), visible)
