"""Multi-task learning: one shared trunk, several heads, a weighted sum of the heads' costs.

Tasks learned together share the trunk's hidden features, so each task's data shapes the
features the others use (Caruana 1997, "Multitask learning", Machine Learning 28). The cost is

    E(W) = Σ_k w_k E_k(ẑ_k, z_k),   ẑ_k = h_k(f(x)),

with f the trunk, h_k the k-th head, E_k its cost and w_k >= 0 its weight. Hints
(:mod:`deepnets.train.hints`) are the case of a main task plus auxiliary tasks dropped after
training. A :class:`MultiTaskModel` returns the heads' outputs as a tuple, in the order the heads
were given; a :class:`MultiTaskLoss` is a :class:`~deepnets.train.batches.BatchLoss` that reads a
batch ``(x, z_1, ..., z_K)``, so :func:`deepnets.fit` trains it on tensors ``(x, z_1, ..., z_K)``.

>>> import torch
>>> from deepnets import MLP, fit
>>> model = MultiTaskModel(MLP([4, 4], output="tanh", seed=0),
...                        {"cls": MLP([4, 3], output="softmax", seed=1), "reg": MLP([4, 1], seed=2)})
>>> loss = MultiTaskLoss({"cls": "cross_entropy", "reg": "lms"}, weights={"cls": 1.0, "reg": 0.5})
>>> x = torch.randn(400, 4, generator=torch.Generator().manual_seed(0))
>>> h = fit(model, (x, (x[:, 0] > 0).long(), x[:, 1:2]), loss=loss, epochs=2, batch_size=None)
>>> [tuple(o.shape) for o in model(x)]
[(400, 3), (400, 1)]
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..losses import get_loss
from .batches import BatchLoss

__all__ = ["MultiTaskModel", "MultiTaskLoss"]


class MultiTaskModel(nn.Module):
    """A shared trunk f and named heads h_k: ``forward(x) = (h_1(f(x)), ..., h_K(f(x)))``.

    Parameter names are ``trunk.*`` and ``heads.<name>.*``, the prefixes that
    :func:`~deepnets.train.freeze.freeze` and ``layer_lr`` take.

    Args:
        trunk: the shared module f (e.g. an MLP whose output layer is a hidden layer).
        heads: a mapping name -> module h_k, in task order (at least one).
    """

    def __init__(self, trunk: nn.Module, heads: Mapping[str, nn.Module]):
        super().__init__()
        if not isinstance(trunk, nn.Module):
            raise ConfigError(f"the trunk must be a torch.nn.Module, got {type(trunk).__name__}")
        if not isinstance(heads, Mapping) or not heads:
            raise ConfigError(f"heads must be a non-empty mapping name -> module, got {heads!r}")
        bad = [k for k, h in heads.items() if not isinstance(h, nn.Module)]
        if bad:
            raise ConfigError(f"head {bad[0]!r} must be a torch.nn.Module, got {type(heads[bad[0]]).__name__}")
        self.trunk = trunk
        self.heads = nn.ModuleDict(dict(heads))

    @property
    def names(self) -> list[str]:
        """The heads' names, in task order."""
        return list(self.heads.keys())

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        features = self.trunk(x)
        return tuple(head(features) for head in self.heads.values())

    @torch.no_grad()
    def predict(self, x: Tensor, head: str) -> Tensor:
        """The outputs of one head, in eval mode."""
        if head not in self.heads:
            raise ConfigError(f"no head named {head!r}; the heads are {self.names}")
        was = self.training
        self.eval()
        try:
            return self.heads[head](self.trunk(x))
        finally:
            self.train(was)


class MultiTaskLoss(BatchLoss):
    """E = Σ_k w_k E_k(ẑ_k, z_k) on a batch ``(x, z_1, ..., z_K)`` and outputs ``(ẑ_1, ..., ẑ_K)``.

    Args:
        losses: a mapping head name -> cost (a name such as ``"cross_entropy"``, a
            :class:`~deepnets.losses.Loss` or ``f(pred, target)``), in the model's head order.
            A name is resolved for its head (:func:`deepnets.losses.get_loss` with ``model=`` the
            head: cross-entropy on a softmax MLP's probabilities, or on logits).
        weights: a mapping name -> w_k >= 0 (missing names weigh 1). Default all 1.
    """

    def __init__(self, losses: Mapping, weights: Mapping | None = None):
        if not isinstance(losses, Mapping) or not losses:
            raise ConfigError(f"losses must be a non-empty mapping head name -> cost, got {losses!r}")
        weights = dict(weights or {})
        unknown = [k for k in weights if k not in losses]
        if unknown:
            raise ConfigError(f"weight for {unknown[0]!r}, which has no loss; the tasks are {list(losses)}")
        for k, w in weights.items():
            if not (isinstance(w, (int, float)) and w >= 0):
                raise ConfigError(f"the weight of task {k!r} must be a number >= 0, got {w!r}")
        self.losses = {k: get_loss(v) for k, v in losses.items()}
        self.specs = dict(losses)
        self.weights = {k: float(weights.get(k, 1.0)) for k in losses}

    def terms(self, model: nn.Module, batch) -> dict[str, Tensor]:
        """The unweighted cost E_k of each task on ``batch``."""
        if not isinstance(batch, (tuple, list)) or len(batch) != len(self.losses) + 1:
            raise DataError(f"a multi-task batch is (x, one target per task) = {len(self.losses) + 1} tensors "
                            f"for tasks {list(self.losses)}, got {len(batch) if isinstance(batch, (tuple, list)) else type(batch).__name__}")
        outputs = model(batch[0])
        if not isinstance(outputs, (tuple, list)) or len(outputs) != len(self.losses):
            raise ConfigError(f"the model must return one output per task ({len(self.losses)}: {list(self.losses)}), "
                              f"got {len(outputs) if isinstance(outputs, (tuple, list)) else type(outputs).__name__}")
        heads = getattr(model, "heads", None)
        if isinstance(model, MultiTaskModel) and list(heads.keys()) != list(self.losses):
            raise ConfigError(f"the losses' tasks {list(self.losses)} must be the model's heads {model.names}, in order")
        out = {}
        for (name, target), pred in zip(zip(self.losses, batch[1:]), outputs):
            loss = get_loss(self.specs[name], model=heads[name]) if isinstance(model, MultiTaskModel) \
                else self.losses[name]
            out[name] = loss(pred, target)
        return out

    def __call__(self, model: nn.Module, batch) -> Tensor:
        terms = self.terms(model, batch)
        return sum(self.weights[k] * e for k, e in terms.items())

    def __repr__(self):
        return f"MultiTaskLoss({self.specs!r}, weights={self.weights!r})"
