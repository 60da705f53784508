"""Training with hints: extra outputs that only training sees.

The lecture's example is fault diagnosis: beside the fault's class, the network is asked during
training for the fault's severity as well. The hint units share every hidden layer with the main
outputs, so what they must learn shapes the hidden features; after training they are removed and
the saved model and its predictions are the main outputs alone (Abu-Mostafa 1990, 1995).

A :class:`HintedModel` is a plain :class:`~deepnets.nn.mlp.MLP` (the main network, C outputs with
its own output unit, softmax included) plus a hint layer of H units fed by the MLP's last hidden
layer. In training mode its forward pass returns ``[ẑ_main, ẑ_hint]`` side by side, (N, C + H);
in eval mode (``model.eval()``, as :func:`~deepnets.train.loop.evaluate` sets it) the hints are
gone and it returns ẑ_main alone, so validation metrics and predictions see the main task. Train it with
:func:`hinted_loss`, E = E_main(ẑ_main, z_main) + γ E_hint(ẑ_hint, z_hint), on targets
``[z_main, z_hint]`` built by :func:`hint_targets`. :func:`strip_hints` gives back the main MLP.

>>> import torch
>>> from deepnets import MLP, fit
>>> net = MLP([2, 8, 2], activation="tanh", output="softmax", seed=0)
>>> hinted = with_hints(net, 1, seed=0)
>>> x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
>>> labels, severity = (x[:, 0] > 0).long(), x[:, :1].abs()
>>> h = fit(hinted, (x, hint_targets(labels, severity, 2)), loss=hinted_loss("cross_entropy", n_main=2),
...         optimizer="adam", lr=0.05, epochs=5, batch_size=None)
>>> strip_hints(hinted)(x).shape
torch.Size([64, 2])

References: Abu-Mostafa 1990, "Learning from hints in neural networks", J. Complexity 6;
Abu-Mostafa 1995, "Hints", Neural Computation 7; Suddarth & Kergosien 1990, "Rule-injection hints
as a means of improving network performance and learning time".
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..activations import get_activation
from ..backprop import forward_layers
from .._registry import check_positive_int
from ..errors import ConfigError, DataError
from ..init import init_linear_
from ..losses import CrossEntropy, code_targets, get_loss, unit_outputs
from ..nn.dropout import dropout
from ..nn.mlp import MLP, dropout_forward

__all__ = ["HintedModel", "HintedLoss", "with_hints", "hinted_loss", "hint_targets", "strip_hints"]


class HintedModel(nn.Module):
    """A main MLP with H extra hint outputs on its last hidden layer: ẑ = [ẑ_main, ẑ_hint], (N, C + H).

    ẑ_main = g_L(W(L) ẑ(L−1) + b(L)) is the main network's own output; ẑ_hint = g_h(V ẑ(L−1) + c),
    with V (H, M(L−1)) the hint weights and g_h the hint units' activation (linear by default).

    Args:
        net: the main network, a deepnets MLP with at least one hidden layer.
        n_hints: H, the number of hint outputs (>= 1).
        activation: the hint units' activation g_h. Default ``"linear"``.
        seed: seed of the hint weights (drawn like the main network's, by ``net.init``).
    """

    def __init__(self, net: MLP, n_hints: int, *, activation="linear", seed: int | None = None):
        super().__init__()
        if not isinstance(net, MLP):
            raise ConfigError(f"hints need a deepnets MLP as the main network, got {type(net).__name__}")
        if len(net.sizes) < 3:
            raise ConfigError(f"hints need a hidden layer to share, got an MLP of sizes {net.sizes}")
        check_positive_int("n_hints", n_hints)
        self.net = net
        self.n_main, self.n_hints = net.sizes[-1], n_hints
        self.hint = nn.Linear(net.sizes[-2], n_hints, dtype=net.layers[-1].weight.dtype)
        self.hint_activation = get_activation(activation)
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        init_linear_(self.hint.weight, self.hint.bias, net.init, generator=g)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Fresh weights (what :class:`~deepnets.train.callbacks.RestartOnStall` draws): the main
        network's by its init, then the hint layer's, both from ``generator``."""
        self.net.reset_parameters(generator)
        init_linear_(self.hint.weight, self.hint.bias, self.net.init, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.net.sizes[0]:
            raise ConfigError(f"HintedModel expects input of shape (N, {self.net.sizes[0]}), got {tuple(x.shape)}")
        if not self.training:
            return self.net(x)  # (N, C): hints exist only while training
        params = self.net.flat_params()
        q = self.net.dropout
        if q:  # the MLP's dropout on every hidden layer, ẑ(L−1) too: both heads see the same mask
            hidden = dropout(dropout_forward(x, params[:-2], self.net.activations[:-1], q), 1.0 - q, mode="inverted")
        else:
            hidden = forward_layers(x, params[:-2], self.net.activations[:-1])[-1]  # ẑ(L−1), (N, M(L−1))
        W, b = params[-2], params[-1]
        a = hidden @ W.t() if b is None else torch.addmm(b, hidden, W.t())  # (N, C)
        main = self.net.activations[-1](a)
        hint = self.hint_activation(self.hint(hidden))  # (N, H)
        return torch.cat([main, hint], dim=1)  # (N, C + H)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """The main outputs ẑ_main alone, (N, C)."""
        return self.net(x)


def with_hints(net: MLP, n_hints: int, *, activation="linear", seed: int | None = None) -> HintedModel:
    """``net`` with ``n_hints`` hint outputs added on its last hidden layer (see :class:`HintedModel`)."""
    return HintedModel(net, n_hints, activation=activation, seed=seed)


def strip_hints(model: HintedModel) -> MLP:
    """The main network with the hint units removed: a plain MLP (a copy) whose outputs are ẑ_main."""
    if not isinstance(model, HintedModel):
        raise ConfigError(f"strip_hints takes a HintedModel, got {type(model).__name__}")
    return copy.deepcopy(model.net)


class HintedLoss:
    """E = E_main(ẑ[:, :C], z[:, :C]) + γ E_hint(ẑ[:, C:], z[:, C:]).

    Given the C main outputs alone (a :class:`HintedModel` in eval mode) and main targets, it is
    E_main: validation costs compare with an unhinted network's.

    Args:
        main: the main cost (a name or a :class:`~deepnets.losses.Loss`), e.g. ``"cross_entropy"``.
        n_main: C, the number of main outputs (the first C columns).
        hint: the hint cost. Default ``"lms"``.
        gamma: γ, the weight of the hint cost. Default 1.
    """

    def __init__(self, main, n_main: int, *, hint="lms", gamma: float = 1.0):
        check_positive_int("n_main", n_main)
        if not gamma >= 0:
            raise ConfigError(f"the hint weight gamma must be >= 0, got {gamma}")
        self.main, self.hint = get_loss(main), get_loss(hint)
        self.n_main, self.gamma = n_main, float(gamma)
        self.coding = getattr(self.main, "coding", None)  # the main targets' coding

    @property
    def decision_threshold(self) -> float | None:
        """The main cost's threshold of a single output (accuracy is the main task's)."""
        return getattr(self.main, "decision_threshold", None)

    def for_model(self, model: nn.Module) -> "HintedLoss":
        """The costs resolved for what the outputs are (:func:`deepnets.losses.get_loss` with
        ``model=``, as :func:`deepnets.fit` calls it): the main cost for the main MLP's output unit,
        a cross-entropy hint for the hint units' activation."""
        net = model.net if isinstance(model, HintedModel) else model
        out = copy.copy(self)
        out.main = get_loss(self.main, model=net)
        if isinstance(model, HintedModel) and isinstance(self.hint, CrossEntropy):
            kind = unit_outputs(model.hint_activation, model.n_hints, given=self.hint.outputs)
            out.hint = self.hint if kind == self.hint.outputs else CrossEntropy(kind)
        return out

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.dim() == 2 and pred.shape[1] == self.n_main and target.shape[:1] == pred.shape[:1] and (
                target.dim() == 1 or target.shape[1] == self.n_main):
            return self.main(pred, target)  # a model in eval mode: the main outputs and targets alone
        if pred.dim() != 2 or pred.shape[1] <= self.n_main:
            raise ConfigError(f"hinted predictions need more than {self.n_main} columns (main + hints), "
                              f"got shape {tuple(pred.shape)}")
        if target.shape != pred.shape:
            raise DataError(f"hinted targets must have the predictions' shape {tuple(pred.shape)} "
                            f"(build them with hint_targets), got {tuple(target.shape)}")
        C = self.n_main
        E = self.main(pred[:, :C], target[:, :C])
        return E + self.gamma * self.hint(pred[:, C:], target[:, C:]) if self.gamma else E

    def __repr__(self):
        return f"HintedLoss(main={self.main!r}, n_main={self.n_main}, hint={self.hint!r}, gamma={self.gamma})"


def hinted_loss(main, n_main: int, *, hint="lms", gamma: float = 1.0) -> HintedLoss:
    """The cost of a hinted model: main cost on the first ``n_main`` outputs + γ · hint cost on the rest."""
    return HintedLoss(main, n_main, hint=hint, gamma=gamma)


def hint_targets(main: Tensor, hints: Tensor, n_main: int | None = None, *, coding: str = "one_hot") -> Tensor:
    """Targets ``[z_main, z_hint]``, (N, C + H): class labels (N,) are coded into C columns first.

    Args:
        main: the main targets, (N, C) floats, or class labels (N,) with ``n_main`` = C.
        hints: the hint targets, (N,) or (N, H).
        n_main: C, needed when ``main`` holds class labels.
        coding: ``"one_hot"`` (default) or ``"pm1"`` for class labels.
    """
    if hints.dim() == 1:
        hints = hints.unsqueeze(1)  # (N,) -> (N, 1)
    if not main.is_floating_point():
        if n_main is None:
            raise ConfigError("hint_targets needs n_main (the number of main outputs) to code class labels")
        main = code_targets(main, n_main, coding, dtype=hints.dtype if hints.is_floating_point() else torch.float32)
    if main.dim() != 2 or hints.dim() != 2 or main.shape[0] != hints.shape[0]:
        raise DataError(f"main targets {tuple(main.shape)} and hint targets {tuple(hints.shape)} must have "
                        f"the same number of rows")
    return torch.cat([main, hints.to(main.dtype)], dim=1)  # (N, C + H)
