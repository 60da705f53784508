"""Targets as the costs read them: class labels coded as one-hot or ±1 vectors, shapes checked
(a prediction/target mismatch is an error, never a broadcast)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError

CODINGS = ("one_hot", "pm1")


def _check_label_range(labels: Tensor, n_classes: int) -> None:
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= max(n_classes, 2)):
        raise ConfigError(f"class labels must lie in [0, {max(n_classes, 2) - 1}] for {n_classes} output(s), "
                          f"got values in [{int(labels.min())}, {int(labels.max())}]")


def code_targets(labels: Tensor, n_classes: int, coding: str = "one_hot", dtype=torch.float32) -> Tensor:
    """Class labels (N,) -> target vectors (N, C): one-hot 0/1, or ±1 ("pm1"). A single output
    (C = 1) codes class 1 as the high value and class 0 as the low one."""
    if coding not in CODINGS:
        raise ConfigError(f"unknown target coding {coding!r}: expected one of {list(CODINGS)}")
    low = -1.0 if coding == "pm1" else 0.0
    _check_label_range(labels, n_classes)
    if n_classes == 1:
        t = labels.to(dtype).unsqueeze(1)
        return t * (1.0 - low) + low
    t = torch.full((labels.shape[0], n_classes), low, dtype=dtype, device=labels.device)
    return t.scatter_(1, labels.long().unsqueeze(1), 1.0)


def _check_labels(pred: Tensor, target: Tensor) -> None:
    if target.dim() != 1 or target.shape[0] != pred.shape[0]:
        raise ConfigError(f"class labels must have shape ({pred.shape[0]},) for predictions of shape "
                          f"{tuple(pred.shape)}, got {tuple(target.shape)}")


def _target_like(pred: Tensor, target: Tensor, coding: str) -> Tensor:
    if pred.dim() != 2:
        raise ConfigError(f"predictions must have shape (N, outputs), got {tuple(pred.shape)}")
    if not target.is_floating_point():
        _check_labels(pred, target)
        return code_targets(target, pred.shape[1], coding, pred.dtype)
    if target.shape != pred.shape:
        raise ConfigError(f"target shape {tuple(target.shape)} does not match prediction shape "
                          f"{tuple(pred.shape)} (no broadcasting: reshape the target)")
    return target
