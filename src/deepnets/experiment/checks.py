"""Checks of a run's settings made before its run folder exists: a mistake in ``[train]`` (epochs,
batch size, learning rate, optimizer options, device) is reported as one line and leaves nothing
behind, instead of a folder holding only ``config.toml``.
"""

from __future__ import annotations

import math

import torch

from .._registry import lookup
from ..errors import ConfigError
from ..nn.mlp import MLP
from ..optim import OPTIMIZERS
from ..train.callbacks import DivergenceGuard
from ..train.optimizers import make_optimizer
from ..train.setup import check_options


def check_device(name: str | None) -> None:
    """Refuse a ``train.device.name`` torch cannot parse or this machine does not have.

    Raises:
        ConfigError: naming the device and what this machine offers.
    """
    if not name:
        return
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(f"train.device.name: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got {name!r}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"train.device.name = {name!r}, but this machine has no CUDA device "
                              f"(torch.cuda.is_available() is False); use 'cpu'")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"train.device.name = {name!r}, but this machine has {count} CUDA device(s): "
                              f"cuda:0 .. cuda:{count - 1}")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"train.device.name = {name!r}, but MPS is not available on this machine; use 'cpu'")
    elif device.type != "cpu":
        raise ConfigError(f"train.device.name: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got {name!r}")


def check_batch_cost(exp, table: str, cost: str, val_loss: str) -> None:
    """Refuse what cannot train on a batch cost of ``[train.<table>]`` (``cost`` names it): early
    stopping on anything but ``val_loss`` (with a batch cost the validation log holds ``val_loss``
    alone; ``val_loss`` says what it is) and an optimizer that measures (outputs, targets) itself (the EKF, Levenberg-Marquardt).

    Raises:
        ConfigError: naming the setting, what was expected and what came.
    """
    t = exp.train
    if t.early_stopping is not None and t.early_stopping.monitor != "val_loss":
        raise ConfigError(f"with [train.{table}] the validation log holds val_loss alone ({val_loss}): expected "
                          f"train.early_stopping.monitor = 'val_loss', got {t.early_stopping.monitor!r}")
    if getattr(lookup(t.optimizer.name, OPTIMIZERS, what="optimizer"), "closure_returns", None) == "outputs_targets":
        raise ConfigError(f"train.optimizer {t.optimizer.name!r} measures (outputs, targets) itself: it cannot "
                          f"train on {cost}; choose a gradient optimizer (adam, sgd, ...)")


def check_fit_arguments(model: torch.nn.Module, arguments: dict) -> None:
    """Check what :func:`~deepnets.experiment.run.fit_arguments` made before anything is written:
    the loop's options, the learning rate, the optimizer built once on ``model`` (then dropped:
    building one changes no weight) and the device.

    Raises:
        ConfigError: naming the first ``[train]`` key out of range.
    """
    try:
        check_options(epochs=arguments["epochs"], batch_size=arguments["batch_size"],
                      input_noise=arguments["input_noise"], precision=arguments["precision"])
    except ConfigError as e:
        raise ConfigError(f"train.{e}") from None
    lr = arguments["lr"]
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr)
                           or lr <= 0):
        raise ConfigError(f"train.optimizer.lr must be a finite number > 0, got {lr!r}")
    try:
        make_optimizer(arguments["optimizer"], model, lr=lr, layer_lr=arguments["layer_lr"],
                       **arguments["optimizer_options"])
    except ConfigError as e:  # "optimizer 'sgd': Invalid momentum value: -1.0" names the table
        raise ConfigError(f"train.{e}" if str(e).startswith("optimizer ") else str(e)) from None
    except (ValueError, TypeError) as e:  # torch's own checks: "Invalid momentum value: -1", ...
        raise ConfigError(f"train.optimizer {arguments['optimizer']!r}: {e}") from None
    check_device(arguments["device"])


def check_run(exp, model: torch.nn.Module, validation) -> None:
    """The checks of ``[train]`` and ``[run]`` that need the data and the model, made before the run
    folder exists: ``train.diverge_factor`` is 0 or > 1, early stopping needs a validation split,
    ``run.costates`` an MLP.

    Raises:
        ConfigError: naming the key.
    """
    try:
        DivergenceGuard(exp.train.diverge_factor)
    except ConfigError as e:
        raise ConfigError(f"train.{e}") from None
    if exp.train.early_stopping is not None and validation is None:
        raise ConfigError("[train.early_stopping] needs a validation split (data.split with 3 parts)")
    if exp.run.costates and not isinstance(model, MLP):
        raise ConfigError("run.costates needs an MLP model")


__all__ = ["check_device", "check_fit_arguments", "check_run"]
