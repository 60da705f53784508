"""``deepnets prune RUN``: a trained run pruned by OBS, OBD, magnitude or layer-wise OBS into a
new run folder beside it, with the pruned weights, its accuracy (or RMSE) curve along the
pruning path and the compact exported net.

The weight matrices are pruned (biases kept), on the run's training split with its own scaling,
in float64; the curve is measured on the validation split (the test split, or the training
split, when there is none). ``--sparsity S`` stops at the fraction S of the weights removed,
``--max-error-increase E`` before the training error E (summed over the training split, as
:func:`deepnets.prune.obs_prune` measures it) rises more than E; the one-shot methods
(``magnitude`` by sparsity, ``layerwise``) take a sparsity only, and their curve is the metric at
ten sparsities up to S, each pruned afresh from the trained weights.

The new folder is a run folder: ``deepnets evaluate``, ``predict`` and ``relevance`` work on it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil

import torch

from ..atomic import write_atomic
from ..errors import ConfigError
from ..losses import CrossEntropy, code_targets
from ..nn.mlp import MLP
from ..prune import compact_mlp, layerwise_obs, magnitude_prune, obd_prune, obs_prune, remove_masks
from ..report.prune_curve import prune_curve
from .build import loss_for
from .folder import load_run, write_run
from .inspect import _run_data as run_data
from .inspect import _units as target_units
from .inspect import split_metrics
from .prepare import scaled

#: --method -> what it is (the CLI's help)
METHODS = {"obs": "Optimal Brain Surgeon, full inverse Hessian (Hassibi & Stork 1993)",
           "obd": "Optimal Brain Damage, diagonal Hessian (LeCun, Denker & Solla 1990)",
           "magnitude": "smallest |w| first",
           "layerwise": "OBS per Linear layer against its own inputs (Dong, Chen & Pan 2017)"}
#: the full OBS keeps a P x P inverse and updates it per removal (O(P^2) each): its largest P here
OBS_MAX_WEIGHTS = 4000
CURVE_POINTS = 50


def _check(method: str, sparsity, max_error_increase, n_weights: int) -> None:
    if method not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if (sparsity is None) == (max_error_increase is None):
        raise ConfigError("give one stopping rule: --sparsity S (a fraction in [0, 1)) or --max-error-increase E")
    if sparsity is not None and not 0 <= sparsity < 1:
        raise ConfigError(f"--sparsity is the fraction of weights to remove, in [0, 1), got {sparsity}")
    if max_error_increase is not None and not max_error_increase >= 0:
        raise ConfigError(f"--max-error-increase must be >= 0, got {max_error_increase}")
    if method == "layerwise" and sparsity is None:
        raise ConfigError("--method layerwise prunes each layer to a sparsity: give --sparsity S")
    if method == "obs" and n_weights > OBS_MAX_WEIGHTS:
        raise ConfigError(f"--method obs keeps a P x P inverse Hessian and updates it per removal: P = {n_weights} "
                          f"weights is more than {OBS_MAX_WEIGHTS}; use --method layerwise (OBS per layer) or obd")


def _targets(loss, data, y, n_outputs: int) -> tuple[str, torch.Tensor]:
    """The likelihood name obs_prune takes and the targets it compares the outputs with."""
    if isinstance(loss, (torch.nn.CrossEntropyLoss, CrossEntropy)):
        return "cross_entropy", y
    if data.task == "classification":
        return "lms", code_targets(y, n_outputs, getattr(loss, "coding", "one_hot"), dtype=torch.float64)
    return "lms", y.double()


def prune_run(path, *, method: str, sparsity: float | None = None, max_error_increase: float | None = None,
              out: str | None = None) -> dict:
    """Prune the trained run in ``path`` into a new run folder (default ``PATH-pruned-METHOD-S``).

    Returns ``{"path", "method", "sparsity", "removed", "n_weights", "curve", "metrics", "metric",
    "compact"}``: ``curve`` the rows ``{"removed", "sparsity", METRIC}`` along the pruning path,
    ``metrics`` the pruned net's per-split metrics, ``compact`` the layer sizes of the compact net
    (None, with ``compact_note``, when the net is not a chain of Linear layers)."""
    exp, summary, model, scaler = load_run(path)
    data, parts, _, _ = run_data(path, exp, summary)  # the file checked, a CSV's labels as the run's classes
    train, val, test = (scaled(scaler, p) for p in (parts.train, parts.val, parts.test))
    units = target_units(summary, parts)  # regression: the net learnt standardised targets
    loss = loss_for(exp, data, summary["output"])
    names = [n for n, p in model.named_parameters() if p.dim() >= 2]
    n_weights = sum(model.get_parameter(n).numel() for n in names)
    _check(method, sparsity, max_error_increase, n_weights)
    split_name, watch = next((n, p) for n, p in (("val", val), ("test", test), ("train", train)) if p is not None)
    metric = "accuracy" if data.task == "classification" else "rmse"
    model = model.double()
    x = train[0].double()
    likelihood, z = _targets(loss, data, train[1] if units is None else units.encode(train)[1], summary["n_outputs"])

    def measure(net) -> float:
        return split_metrics(copy.deepcopy(net).float(), watch, loss, data, units)[metric]

    curve = [{"removed": 0, "sparsity": 0.0, metric: measure(model)}]
    if method in ("obs", "obd") or (method == "magnitude" and sparsity is None):
        every = max(1, round((sparsity or 1.0) * n_weights / CURVE_POINTS))

        def observe(net, result):
            if len(result.removed) % every == 0:
                curve.append({"removed": len(result.removed), "sparsity": len(result.removed) / n_weights,
                              metric: measure(net)})

        run = obd_prune if method == "obd" else obs_prune
        extra = {"curvature": "identity"} if method == "magnitude" else {}
        result = run(model, x, z, loss=likelihood, names=names, sparsity=sparsity,
                     max_error_increase=max_error_increase, alpha=1e-4, callback=observe, **extra)
        removed = len(result.removed)
    else:
        def one_shot(net, s):
            if method == "magnitude":
                magnitude_prune(net, s, names=names)
            else:
                layerwise_obs(_chain(net), x, sparsity=s)
            return net

        for s in [sparsity * i / 10 for i in range(1, 11)]:
            net = one_shot(copy.deepcopy(model), s)
            curve.append({"removed": _zeros(net, names), "sparsity": _zeros(net, names) / n_weights, metric: measure(net)})
        model = one_shot(model, sparsity)
        removed = _zeros(model, names)
    if curve[-1]["removed"] != removed:
        curve.append({"removed": removed, "sparsity": removed / n_weights, metric: measure(model)})
    remove_masks(model)
    model = model.float()
    return _write(path, out, exp, data, model, scaler, loss, summary, test, train, val, units, method=method,
                  removed=removed, n_weights=n_weights, curve=curve, metric=metric, split_name=split_name)


def _zeros(net, names) -> int:
    """Zero entries of the named weights (a masked one read through its mask)."""
    total = 0
    for n in names:
        path, _, attr = n.rpartition(".")
        total += int((getattr(net.get_submodule(path) if path else net, attr) == 0).sum())
    return total


class _Unit(torch.nn.Module):
    """A deepnets activation as a parameter-free elementwise module (for hooks and compact_mlp)."""

    elementwise = True

    def __init__(self, act):
        super().__init__()
        self.act = act

    def forward(self, y):
        return self.act(y)


def _chain(model):
    """A deepnets MLP as ``nn.Sequential`` of its own ``nn.Linear`` layers (the same objects, so
    pruning the chain prunes the MLP) and activations: its forward calls no Linear module, which
    layer-wise OBS hooks and compact_mlp reads. Any other model as it is."""
    if not isinstance(model, MLP):
        return model
    return torch.nn.Sequential(*[m for layer, act in zip(model.layers, model.activations) for m in (layer, _Unit(act))])


def _compact(model) -> tuple[torch.nn.Module | None, str]:
    try:
        return compact_mlp(_chain(model)), ""
    except ConfigError as e:
        return None, f"no compact net: {e}"


def _write(path, out, exp, data, model, scaler, loss, summary, test, train, val, units, *, method, removed,
           n_weights, curve, metric, split_name) -> dict:
    path = os.path.abspath(os.fspath(path))
    s = removed / n_weights
    out = os.path.abspath(out or f"{path.rstrip(os.sep)}-pruned-{method}-{s:.2f}")
    if os.path.exists(out):
        raise ConfigError(f"{out} exists: give another --out (a pruned run is never written over)")
    os.makedirs(out)
    for name in os.listdir(path):  # the run's own files (config, data records); the rest is rewritten
        src = os.path.join(path, name)
        if (os.path.isfile(src) and not name.endswith((".png", ".lock", ".tmp"))
                and name not in ("metrics.jsonl", "summary.json")):
            shutil.copy2(src, os.path.join(out, name))
    metrics = {n: split_metrics(model, p, loss, data, units) for n, p in (("train", train), ("val", val),
                                                                          ("test", test)) if p is not None}
    compact, note = _compact(model)
    sizes = None if compact is None else [compact[0].in_features] + [m.out_features for m in compact
                                                                     if isinstance(m, torch.nn.Linear)]
    pruned = {"from": path, "method": method, "removed": removed, "n_weights": n_weights, "sparsity": s,
              "curve_split": split_name, "curve": curve, "compact_sizes": sizes}
    new_summary = {**summary, "metrics": metrics, "pruned": pruned, "costate_norms": summary.get("costate_norms", {})}
    write_run(out, exp, data, model, scaler, loss, {}, new_summary, test,
              predictor=model if units is None else units.predictor(model))
    write_atomic(os.path.join(out, "prune_curve.json"), json.dumps(curve, indent=1).encode())
    if exp.run.plots:
        prune_curve(curve, metric, os.path.join(out, "prune_curve.png"),
                    title=f"{data.name}: {method} pruning, {metric} on the {split_name} split")
    if compact is not None:
        from safetensors.torch import save as st_save

        state = {k: v.detach().contiguous() for k, v in compact.state_dict().items()}
        write_atomic(os.path.join(out, "compact.safetensors"), st_save(state, metadata={"modules": repr(compact)}))
    return {"path": out, "split": split_name, "method": method, "sparsity": s, "removed": removed, "n_weights": n_weights,
            "curve": curve, "metric": metric, "metrics": metrics, "compact": sizes, "compact_note": note}


__all__ = ["prune_run", "METHODS"]
