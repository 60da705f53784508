"""A regression run's target: standardised for training, scored in its own units beside the mean.

With ``data.scale_target`` (the default) the network learns z = (y − ȳ_train) / s_train per target
column (:class:`~deepnets.data.scaling.TargetScaler`), so the cost E, the learning rate and a
penalty's strength mean the same whatever the units of the CSV. Every score is in the target's
own units:

- RMSE = √(mean (ŷ − y)²);
- R² = 1 − Σ (ŷ − y)² / Σ (y − ȳ)², ȳ the mean over the scored split (per column, averaged);
  predicting that mean gives 0 (scikit-learn's ``r2_score``);
- the mean predictor's RMSE, √(mean (ȳ_train − y)²): the baseline a network must beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.scaling import TargetScaler


@dataclass
class TargetUnits:
    """Where a regression network's outputs live: standardised (``scaler`` set) or the raw units.

    Attributes:
        mean: ȳ_train per target column (float64).
        scaler: the :class:`TargetScaler` the network's outputs pass through, or None (raw units).
    """

    mean: Tensor
    scaler: TargetScaler | None

    @classmethod
    def fit(cls, y: Tensor, standardise: bool = True) -> "TargetUnits":
        """From the training targets ``y`` (N, k)."""
        s = TargetScaler.fit(y)
        return cls(y.double().reshape(y.shape[0], -1).mean(0), s if standardise else None)

    @classmethod
    def from_summary(cls, summary: dict) -> "TargetUnits | None":
        """The units a run's ``summary.json`` recorded (None for a classification run or a run
        written before targets were recorded)."""
        t = summary.get("target")
        if not t:
            return None
        mean = torch.tensor(t["mean"], dtype=torch.float64)
        scaler = None
        if t["standardised"]:
            scaler = TargetScaler(len(mean))
            scaler.mean.copy_(mean)
            scaler.std.copy_(torch.tensor(t["std"], dtype=torch.float64))
        return cls(mean, scaler)

    def to_summary(self) -> dict:
        std = self.scaler.std.tolist() if self.scaler is not None else [1.0] * len(self.mean)
        return {"standardised": self.scaler is not None, "mean": self.mean.tolist(), "std": std}

    def encode(self, pair):
        """``(x, z)`` for ``(x, y)``: the targets as the network learns them (None stays None)."""
        if pair is None or self.scaler is None:
            return pair
        return pair[0], self.scaler.encode(pair[1].double()).to(pair[1].dtype)

    def predictor(self, model: torch.nn.Module) -> torch.nn.Module:
        """The network with outputs in the target's units."""
        return model if self.scaler is None else torch.nn.Sequential(model, self.scaler)

    def metrics(self) -> list:
        """``rmse``, ``r2`` and ``mean_predictor_rmse`` as metrics of :func:`~deepnets.train.loop.fit`
        and :func:`~deepnets.train.metrics.evaluate`, on the outputs and targets as the network sees them."""
        a = self.scaler.std if self.scaler is not None else torch.ones_like(self.mean)
        b = self.scaler.mean if self.scaler is not None else torch.zeros_like(self.mean)
        mean = self.mean

        def rmse(pred, z):
            return float((((pred.double() - z.double()) * a) ** 2).mean().sqrt())

        def r2(pred, z):
            z = z.double()
            sse = ((pred.double() - z) ** 2).sum(0)                       # (k,) scale-free per column
            sst = ((z - z.mean(0)) ** 2).sum(0)
            return float((1 - sse / sst).mean()) if bool((sst > 0).all()) else float("nan")

        def mean_predictor_rmse(pred, z):
            return float(((z.double() * a + b - mean) ** 2).mean().sqrt())

        return [rmse, r2, mean_predictor_rmse]


__all__ = ["TargetUnits"]
