"""A run folder as one ONNX file: raw feature rows in, what ``deepnets predict`` prints out.

The graph is ``Softmax? ∘ network ∘ scaler`` (a regression network trained on standardised targets
ends in y = z·s + ȳ, so it answers in the target's units): the input scaler x' = (x − shift)·scale + offset
fitted on the run's training split is the graph's first node, so the file takes the CSV's raw
feature values; a network that ends in logits gets the softmax that ``deepnets predict`` applies.
What the columns mean travels in ``metadata_props``: the feature names in input order, the class
labels (classification) or target names (regression), the task, and the scaler's numbers.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .._version import __version__
from ..errors import ConfigError
from ..experiment.folder import load_run
from ..experiment.targets import TargetUnits
from .onnx import to_onnx

__all__ = ["export_run", "run_graph"]


class _TargetUnits(nn.Module):
    """y = z·s + ȳ: a standardised regression output back in the target's units (float32 in the graph)."""

    def __init__(self, units: TargetUnits):
        super().__init__()
        self.register_buffer("std", units.scaler.std.float())
        self.register_buffer("mean", units.scaler.mean.float())

    def forward(self, z):
        return z * self.std + self.mean


class _Softmax(nn.Module):
    def forward(self, a):
        return torch.softmax(a, dim=1)  # (N, C) class probabilities from logits


def run_graph(path) -> tuple[nn.Module, dict]:
    """``(graph, metadata)``: the run's scaler and network (and softmax on logits) in one module,
    and the ``metadata_props`` that say what its inputs and outputs are."""
    exp, summary, model, scaler = load_run(path)
    if "forecast" in summary:
        raise ConfigError(f"{path}: a series run forecasts from a series column, which the graph cannot "
                          f"read; export its network with deepnets.export.to_onnx instead")
    units = TargetUnits.from_summary(summary)
    parts = [scaler, model] + ([_Softmax()] if summary["output"] == "logits" else []) + (
        [_TargetUnits(units)] if units is not None and units.scaler is not None else [])
    graph = nn.Sequential(*parts).eval()
    classification = summary["task"] == "classification"
    n_out = summary.get("n_outputs") or 1
    if classification:
        labels = summary.get("classes") or list(range(summary["n_classes"]))
        columns = ([f"p(class {labels[1]})"] if n_out == 1 else [f"p(class {c})" for c in labels])
    else:
        labels, columns = None, list(summary["target_names"])
    metadata = {
        "producer": f"deepnets {__version__}", "run": os.path.abspath(os.fspath(path)),
        "task": summary["task"], "dataset": summary["dataset"], "model_kind": exp.model.kind,
        "feature_names": summary["feature_names"], "output_columns": columns,
        "class_labels": labels, "target_names": summary["target_names"],
        # a single logistic (or tanh) output is the score of class 1; classes are read at 0.5 (0 for tanh)
        "decision_threshold": (0.0 if summary["output"].startswith("tanh") or summary["output"] == "lecun_tanh"
                               else 0.5) if classification and n_out == 1 else None,
        "scaler": {k: v.tolist() for k, v in scaler.state_dict().items()},
        "scaler_in_graph": True,
    }
    return graph, metadata


def export_run(path, out) -> dict:
    """Write the run folder ``path`` as the ONNX file ``out`` (see the module docstring) and return
    ``{"path", "inputs", "outputs", "metadata"}``. Input ``x`` (batch, F) float32, output ``y``."""
    graph, metadata = run_graph(path)
    n_features = len(metadata["feature_names"])
    example = torch.zeros(2, n_features)
    proto = to_onnx(graph, example, out, input_names=["x"], output_names=["y"], metadata=metadata)
    return {"path": os.fspath(out), "inputs": n_features, "outputs": len(metadata["output_columns"]),
            "metadata": {p.key: p.value for p in proto.metadata_props}}
