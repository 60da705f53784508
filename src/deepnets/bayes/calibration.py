"""How well predicted probabilities match outcomes: NLL, Brier score, expected calibration error.

For class probabilities p (N, K) and labels y (N,):

- NLL = −(1/N) Σ_n ln p_{y_n}(x_n)  (p clamped at 1e-12)
- Brier = (1/N) Σ_n Σ_k (p_k(x_n) − [y_n = k])²  (the multi-class form of Brier 1950; for a
  binary problem given as K = 2 columns this is twice the one-column score (p₁ − y)²)
- ECE = Σ_b (n_b/N) |acc_b − conf_b|: confidence c_n = max_k p_k, the interval [0, 1] cut into
  ``n_bins`` equal-width bins (0, 1/B], (1/B, 2/B], ... (a confidence of exactly 0 joins the first
  bin), acc_b the fraction of correct argmax predictions in bin b, conf_b their mean confidence
  (Naeini, Cooper & Hauskrecht 2015; Guo et al. 2017, eq. 3). Empty bins add nothing.

A one-column probability p(1) is turned into (N, 2) by :func:`class_probabilities`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import DataError


def class_probabilities(p: Tensor) -> Tensor:
    """(N, K) probabilities; a (N,) or (N, 1) p(1) becomes the columns (1 − p, p)."""
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        p1 = p.reshape(-1)
        return torch.stack([1 - p1, p1], dim=1)
    return p


def _check(p: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    p = class_probabilities(p)
    if y.ndim != 1 or y.shape[0] != p.shape[0]:
        raise DataError(f"expected labels (N,) with N = {p.shape[0]}, got shape {tuple(y.shape)}")
    y = y.long()
    if int(y.min()) < 0 or int(y.max()) >= p.shape[1]:
        raise DataError(f"labels must lie in [0, {p.shape[1] - 1}], got [{int(y.min())}, {int(y.max())}]")
    return p, y


def nll(p: Tensor, y: Tensor) -> float:
    """−(1/N) Σ ln p_y."""
    p, y = _check(p, y)
    return float(-p.gather(1, y[:, None]).clamp_min(1e-12).log().mean())


def brier(p: Tensor, y: Tensor) -> float:
    """(1/N) Σ_n ‖p(x_n) − onehot(y_n)‖²."""
    p, y = _check(p, y)
    onehot = torch.nn.functional.one_hot(y, p.shape[1]).to(p.dtype)  # (N, K)
    return float(((p - onehot) ** 2).sum(1).mean())


def reliability_bins(p: Tensor, y: Tensor, n_bins: int = 15) -> dict[str, Tensor]:
    """Per equal-width confidence bin: ``count``, ``confidence`` (mean), ``accuracy`` (NaN when empty)
    and the ``edges`` (n_bins + 1,)."""
    p, y = _check(p, y)
    conf, pred = p.max(1)  # (N,), (N,)
    correct = (pred == y).to(p.dtype)
    b = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)  # (lo, hi] bins
    count = torch.bincount(b, minlength=n_bins).to(p.dtype)
    s_conf = torch.zeros(n_bins, dtype=p.dtype).index_add_(0, b, conf)
    s_acc = torch.zeros(n_bins, dtype=p.dtype).index_add_(0, b, correct)
    nan = torch.full_like(count, float("nan"))
    nz = count > 0
    return {"count": count, "confidence": torch.where(nz, s_conf / count.clamp_min(1), nan),
            "accuracy": torch.where(nz, s_acc / count.clamp_min(1), nan),
            "edges": torch.linspace(0, 1, n_bins + 1, dtype=p.dtype)}


def ece(p: Tensor, y: Tensor, n_bins: int = 15) -> float:
    """Σ_b (n_b/N) |acc_b − conf_b| over equal-width confidence bins."""
    r = reliability_bins(p, y, n_bins)
    nz = r["count"] > 0
    w = r["count"][nz] / r["count"].sum()
    return float((w * (r["accuracy"][nz] - r["confidence"][nz]).abs()).sum())


def calibration_report(p: Tensor, y: Tensor, n_bins: int = 15) -> dict[str, float]:
    """``{"accuracy", "nll", "brier", "ece"}`` of probabilities p against labels y."""
    pp, yy = _check(p, y)
    return {"accuracy": float((pp.argmax(1) == yy).double().mean()), "nll": nll(p, y),
            "brier": brier(p, y), "ece": ece(p, y, n_bins)}
