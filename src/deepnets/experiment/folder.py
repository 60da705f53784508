"""The run folder: what a run writes, and reading it back.

A run folder holds ``config.toml`` (the resolved experiment), ``metrics.jsonl`` (one line per
epoch), ``weights.safetensors`` (the model under ``model.`` and the input scaler under
``scaler.``), ``summary.json`` (test metrics, sizes, feature names, timing), ``checkpoints/``,
and PNGs: the learning curve, for classification the test confusion matrix, for a series the
forecasts, and optionally the per-layer error-signal norms. :func:`load_run` rebuilds the model
from the folder alone, from any working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as st_save

from ..atomic import write_atomic
from ..config import Experiment, dumps_toml, experiment_from_dict, load_toml, upgrade_flat
from ..config.read import check_run_name, shown
from ..data import Scaler
from ..data.limits import override
from ..data.safe_files import loads_json, read_safetensors_header
from ..errors import CheckpointError, ConfigError, DataError
from ..report import plots
from ..train.callbacks.base import unpack_series
from ..train.metrics import predicted_classes
from ..train.state_dict import load_state_dict_checked
from .build import build_model
from .forecast import series_plot

#: the files of a finished run (a multi-start run copies those of its chosen start)
RUN_FILES = ("weights.safetensors", "data.json", "metrics.jsonl", "learning_curve.png", "confusion.png", "forecast.png",
             "costates.png")


@dataclass
class RunResult:
    """What a finished run returns: its folder, test metrics and the training history.

    ``model`` is the trained network on scaled inputs; for regression with ``data.scale_target`` it
    is followed by the target's :class:`~deepnets.data.scaling.TargetScaler`, so that its outputs
    are in the target's units (the saved weights are the network's alone).
    """

    path: str
    test: dict
    history: dict
    model: torch.nn.Module
    summary: dict


def make_run_dir(exp: Experiment, source: str) -> str:
    """A new folder ``run.out/run.name`` (default: the experiment file's name and the time; ``-2``,
    ``-3``, ... appended when it exists)."""
    stem = os.path.splitext(os.path.basename(source))[0].encode()[:100].decode(errors="ignore") or "run"
    name = check_run_name(exp.run.name) or f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = os.path.join(exp.run.out, name)
    base, k = path, 1
    while os.path.exists(path):
        k += 1
        path = f"{base}-{k}"
    try:
        os.makedirs(path)
    except OSError as e:  # run.out under a file, a read-only or full disk, ...
        raise ConfigError(f"run.out: cannot create the run folder {path}: {_why(e, exp.run.out)}") from None
    return path


def _why(e: OSError, parent: str) -> str:
    """Why a folder could not be made, in words (the part of ``parent`` that is a file, named)."""
    if isinstance(e, (NotADirectoryError, FileExistsError)):
        head = os.path.abspath(parent)
        while head and not os.path.exists(head):
            head = os.path.dirname(head)
        if os.path.exists(head) and not os.path.isdir(head):
            return f"{head} is a file, not a folder"
    return e.strerror or str(e)


def write_config(path: str, resolved: dict) -> None:
    write_atomic(os.path.join(path, "config.toml"), dumps_toml(resolved).encode())


def read_experiment(path) -> Experiment:
    """The experiment a run folder was made from (its ``config.toml``; one in the flat layout of
    version 1 is read in the nested one; one written before ``data.scale_target`` existed trained
    on raw targets, and is read so, so that it resumes as it began)."""
    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, "config.toml")):
        raise CheckpointError(f"{path}: not a run folder (no config.toml)")
    d = upgrade_flat(load_toml(os.path.join(path, "config.toml")))
    if isinstance(d.get("data"), dict) and "scale_target" not in d["data"]:
        d["data"]["scale_target"] = False
    return experiment_from_dict(d)


def rewind_metrics(path: str, checkpoint: dict) -> None:
    """Rewrite ``metrics.jsonl`` from a checkpoint's history: epochs logged after it are redone."""
    logged = checkpoint["extra"]["loop"]["history"]
    logs = {k: unpack_series(v) for k, v in logged["logs"].items()}
    lines = [json.dumps({"epoch": e + 1, **{k: v[i] for k, v in logs.items()}})
             for i, e in enumerate(unpack_series(logged["epoch"]))]
    write_atomic(os.path.join(path, "metrics.jsonl"), "".join(line + "\n" for line in lines).encode())


def _confusion(model, pair, n_classes: int, threshold: float) -> list[list[int]]:
    with torch.no_grad():
        pred = predicted_classes(model(pair[0]), threshold)
    C = max(n_classes, 2)
    counts = torch.zeros(C, C, dtype=torch.int64)
    counts.index_put_((pair[1].long(), pred), torch.ones_like(pred), accumulate=True)
    return counts.tolist()


def write_run(path: str, exp: Experiment, data, model, scaler, loss, history: dict, summary: dict, test, *,
              predictor=None) -> None:
    """Write the weights, ``summary.json`` and (with ``run.plots``) the PNGs of a finished run
    (``predictor``: the model with outputs in the target's units, for a series' forecast plot).

    ``summary["weights_sha256"]`` is set to the SHA-256 of ``weights.safetensors``, which
    :func:`load_run` checks (a flipped bit is refused, not evaluated). Each file is written
    atomically; a full disk raises :class:`~deepnets.atomic.FileWriteError` naming the file.
    """
    state = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    state.update({f"scaler.{k}": v.contiguous() for k, v in scaler.state_dict().items()})
    blob = st_save(state)
    summary["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    write_atomic(os.path.join(path, "weights.safetensors"), blob, what="weights file")
    write_atomic(os.path.join(path, "summary.json"), json.dumps(summary, indent=2).encode(), what="run summary")
    if not exp.run.plots:
        return
    if history:
        plots.learning_curve(history, os.path.join(path, "learning_curve.png"), title=data.name)
    if data.task == "classification" and test is not None:
        thr = 0.0 if getattr(loss, "coding", None) == "pm1" else 0.5
        plots.confusion_matrix(_confusion(model, test, data.n_classes, thr), os.path.join(path, "confusion.png"),
                               title=f"{data.name}: test confusion matrix")
    series_plot(exp, data, scaler, predictor or model, summary, os.path.join(path, "forecast.png"))  # series runs only
    if summary["costate_norms"]:
        plots.costate_norms(summary["costate_norms"], os.path.join(path, "costates.png"),
                            title=f"{data.name}: error signals per layer")


def _sha256_of(path: str) -> str:
    """SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_weights(wpath: str, summary: dict) -> None:
    """Refuse ``weights.safetensors`` when its SHA-256 differs from the one ``summary.json``
    recorded (a run written before checksums were recorded is read with a warning)."""
    if not isinstance(summary, dict):
        return  # refused with its own message when the summary is read
    recorded = summary.get("weights_sha256")
    if recorded is None:
        warnings.warn(f"{wpath}: summary.json records no checksum (a run written by an older deepnets): "
                      f"the weights are not verified", stacklevel=3)
        return
    try:
        actual = _sha256_of(wpath)
    except OSError as e:
        raise CheckpointError(f"{wpath}: cannot read the weights ({e.strerror or e})") from None
    if actual != recorded:
        raise CheckpointError(f"{wpath}: checksum mismatch: summary.json records SHA-256 {recorded}, the file "
                              f"hashes to {actual} (changed or corrupted since the run wrote it)")


def finished_run(path) -> str | None:
    """None while the run in ``path`` is unfinished (no ``summary.json`` yet), else a few words on
    it: ``"finished: 120 epochs, test accuracy 0.9800"``."""
    try:
        with open(os.path.join(os.fspath(path), "summary.json"), "rb") as fh:
            summary = loads_json(fh.read(), os.path.join(os.fspath(path), "summary.json"))  # capped
    except FileNotFoundError:
        return None
    except DataError as e:
        raise CheckpointError(str(e)) from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{os.fspath(path)}/summary.json: cannot be read ({e})") from None
    if not isinstance(summary, dict):
        raise CheckpointError(f"{os.fspath(path)}/summary.json: expected a JSON object")
    metrics = summary.get("metrics") or {}
    split = next((n for n in ("test", "val", "train") if n in metrics), None)
    key = next((k for k in ("accuracy", "rmse", "loss") if split and k in metrics[split]), None)
    score = f", {split} {key} {metrics[split][key]:.4f}" if key else ""
    return f"finished: {summary.get('epochs_run', '?')} epochs{score}"


def _io_sizes(summary, state: dict, path: str) -> tuple[int, int]:
    """(inputs, outputs) of a run's model from its summary, checked against its weights before
    a model of that size is built: the scaler holds one value per input, and the weights hold at
    least one number per output."""
    sizes = summary.get("sizes") if isinstance(summary, dict) else None
    if not (isinstance(summary, dict) and isinstance(summary.get("feature_names"), list)
            and isinstance(summary.get("output"), str) and (sizes is None or isinstance(sizes, list))):
        raise CheckpointError(f"{path}/summary.json: expected an object with feature_names (a list) and "
                              f"output (a string)")
    n_in = len(summary["feature_names"])
    n_out = summary.get("n_outputs") or (sizes[-1] if sizes else 1)
    shift = state.get("scaler.shift")
    if shift is None or tuple(shift.shape) != (n_in,):
        raise CheckpointError(f"{path}: summary.json lists {n_in} feature names, the weights' scaler has "
                              f"{'none' if shift is None else tuple(shift.shape)}")
    total = sum(v.numel() for k, v in state.items() if k.startswith("model."))
    if not (isinstance(n_out, int) and 0 < n_out <= total):
        raise CheckpointError(f"{path}/summary.json: {shown(n_out)} outputs, the weights hold {total} numbers")
    return n_in, n_out


def load_run(path):
    """``(experiment, summary, model, scaler)`` of a run folder, the weights loaded and checked."""
    path = os.fspath(path)
    for f in ("config.toml", "summary.json", "weights.safetensors"):
        if not os.path.isfile(os.path.join(path, f)):
            raise CheckpointError(f"{path}: not a run folder (no {f})")
    exp = read_experiment(path)
    try:
        with open(os.path.join(path, "summary.json"), "rb") as fh:
            summary = loads_json(fh.read(), os.path.join(path, "summary.json"))
    except DataError as e:
        raise CheckpointError(str(e)) from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, nesting
        raise CheckpointError(f"{path}/summary.json: not valid JSON ({e})") from None
    wpath = os.path.join(path, "weights.safetensors")
    try:
        with override(**exp.data.limits):
            read_safetensors_header(wpath)
    except DataError as e:
        raise CheckpointError(str(e)) from None
    check_weights(wpath, summary)  # streamed in blocks, before the weights are loaded
    try:
        state = load_file(wpath)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{wpath}: cannot read the weights ({e})") from None
    n_in, n_out = _io_sizes(summary, state, path)
    model = build_model(exp, n_in, n_out, summary["output"])
    scaler = Scaler(n_in)
    for prefix, module in (("model.", model), ("scaler.", scaler)):
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        load_state_dict_checked(module, sub, source=f"{wpath} ({prefix[:-1]})")
    model.eval()
    return exp, summary, model, scaler


__all__ = ["RunResult", "RUN_FILES", "make_run_dir", "write_config", "read_experiment", "rewind_metrics",
           "write_run", "load_run", "check_weights"]
