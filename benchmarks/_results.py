"""One way for the benchmarks to write their results: the command that reproduces them, the
settings, the machine and its load, torch's version, then the script's own figures (written whole
through deepnets.atomic, so an interrupted benchmark leaves the previous file)."""

from __future__ import annotations

import json
import os
import platform
import sys

import torch

from deepnets.atomic import write_atomic


def write_results(path: str, script: str, argv, args, **figures) -> dict:
    """Write ``{"command", "settings", "machine", "cpus", "load_average", "torch", **figures}`` as JSON
    to ``path`` (its folder made) and say so; returns the dictionary."""
    out = {"command": f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:]),
           "settings": vars(args), "machine": platform.platform(), "cpus": os.cpu_count(),
           "load_average": os.getloadavg(), "torch": torch.__version__, **figures}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, (json.dumps(out, indent=1) + "\n").encode())
    print(f"wrote {path}")
    return out


def write_json(path: str, results: dict) -> None:
    """Write ``results`` as they are (JSON, atomic, the folder made) and say so."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, (json.dumps(results, indent=2) + "\n").encode())
    print(f"written to {path}")
