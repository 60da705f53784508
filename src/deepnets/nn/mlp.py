"""The multilayer perceptron of the lecture: ẑ(l) = g(W(l) ẑ(l−1) + b(l)), l = 1..L."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..activations import get_activation
from ..backprop import Softmax, forward_layers, mlp_forward
from ..errors import ConfigError
from ..init import INITS, init_linear_
from .dropout import dropout as _dropout

#: the output layer's nonlinearity: any elementwise activation name, or "softmax".
OUTPUTS = ("linear", "logistic", "softmax", "tanh", "identity")


def _check_dropout(q) -> float:
    """The drop probability q as a float, refused outside [0, 1) with a one-line error."""
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 <= q < 1.0:
        raise ConfigError(f"dropout is the probability of dropping a hidden unit: expected a number in [0, 1), "
                          f"got {q!r}")
    return float(q)


def dropout_forward(x: Tensor, params, acts, q: float) -> Tensor:
    """ẑ(L) with inverted dropout on every hidden layer's output, by autograd:
    ẑ(l) = g_l(ŷ(l)) ∘ m(l) / (1 − q), m_i(l) ~ Bernoulli(1 − q) from torch's global generator
    (which :func:`deepnets.fit` seeds and a checkpoint saves), for l = 1..L−1; the inputs ẑ(0)
    and the output ẑ(L) are never dropped (Srivastava et al. 2014, JMLR 15:1929-1958)."""
    z, L = x, len(acts)
    for l, act in enumerate(acts):
        z = act(torch.nn.functional.linear(z, params[2 * l], params[2 * l + 1]))  # (N, M(l))
        if l < L - 1:
            z = _dropout(z, 1.0 - q, mode="inverted")  # keep probability p = 1 − q
    return z


def _output_activation(spec):
    if isinstance(spec, str) and spec.lower() == "softmax":
        return Softmax()
    try:
        return get_activation(spec)
    except ConfigError:
        raise ConfigError(f"unknown output {spec!r}: expected 'linear', 'logistic', 'softmax', "
                          f"'tanh' or another activation name") from None


class MLP(nn.Module):
    """A multilayer perceptron whose backward pass is the lecture's co-state recursion.

    ŷ(l) = W(l) ẑ(l−1) + b(l),  ẑ(l) = g_l(ŷ(l)),  ẑ(0) = x;  the output ẑ(L) uses ``output``.
    Gradients equal autograd's (tested by gradcheck in float64) and come from
    :func:`deepnets.backprop.costate_recursion`.

    Args:
        sizes: layer widths ``[M(0), M(1), ..., M(L)]``, e.g. ``[64, 100, 10]``.
        activation: hidden nonlinearity, a name (``"tanh"``, ``"logistic:2"``, ``"lecun_tanh"``,
            ``"relu"``, ``"leaky_relu:0.1"``, ``"elu"``, ``"identity"``), an
            :class:`~deepnets.activations.Activation`, or a list with one per hidden layer.
            Default ``"tanh"``.
        output: ``"linear"`` (default), ``"logistic"``, ``"softmax"``, ``"tanh"``, or any activation.
        init: ``"torch"`` (default), ``"lecun_uniform"`` (±2.4/fan_in), ``"he_normal"``
            (N(0, 2/fan_in)) or ``"xavier"``.
        bias: give every layer a bias (the weight on the constant input z_0 = 1). Default True.
        seed: seed of the initial weights (a fresh ``torch.Generator``); or pass ``generator``.
        dropout: q, the probability of DROPPING each hidden unit (torch.nn.Dropout's convention;
            :class:`deepnets.nn.Dropout` takes the keep probability p = 1 − q instead), in [0, 1).
            In training mode every hidden layer's output is multiplied by a fresh Bernoulli(1 − q)
            mask and by 1/(1 − q) (inverted dropout; the inputs and outputs are never dropped);
            in eval mode it is the identity. Masks come from torch's global generator. Default 0
            (none). With q > 0 a training step takes its gradients by autograd (the co-state
            fast path is used at q = 0 and in eval mode). Srivastava et al. (2014), JMLR 15.

    Shape: input (N, M(0)) -> output (N, M(L)).

    >>> net = MLP([2, 2, 1], activation="logistic", output="logistic", seed=0)
    >>> net(torch.zeros(4, 2)).shape
    torch.Size([4, 1])
    """

    def __init__(self, sizes: Sequence[int], activation="tanh", output="linear", init: str = "torch", *,
                 bias: bool = True, seed: int | None = None, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None, dropout: float = 0.0):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or not all(isinstance(m, int) and m > 0 for m in sizes):
            raise ConfigError(f"sizes must list at least two positive integers (inputs and outputs), got {sizes}")
        if init not in INITS:
            raise ConfigError(f"unknown init {init!r}: expected one of {list(INITS)}")
        n_hidden = len(sizes) - 2
        if isinstance(activation, (list, tuple)):
            if len(activation) != n_hidden:
                raise ConfigError(f"activation lists one per hidden layer: expected {n_hidden}, got {len(activation)}")
            hidden = [get_activation(a) for a in activation]
        else:
            hidden = [get_activation(activation)] * n_hidden
        self.sizes = sizes
        self.init = init
        self.dropout = _check_dropout(dropout)
        self.activations: list = [*hidden, _output_activation(output)]
        self.output = output if isinstance(output, str) else getattr(output, "name", repr(output))
        self.use_costate = True
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        self.reset_parameters(generator if generator is not None else
                              (torch.Generator().manual_seed(seed) if seed is not None else None))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw fresh weights by ``self.init`` (from ``generator`` when given)."""
        for layer in self.layers:
            init_linear_(layer.weight, layer.bias, self.init, generator=generator)

    def flat_params(self) -> list[Tensor | None]:
        """``[W(1), b(1), ..., W(L), b(L)]`` in the order the recursion uses."""
        out: list = []
        for layer in self.layers:
            out += [layer.weight, layer.bias]
        return out

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.sizes[0]:
            raise ConfigError(f"MLP expects input of shape (N, {self.sizes[0]}), got {tuple(x.shape)}")
        if self.dropout and self.training:
            return dropout_forward(x, self.flat_params(), self.activations, self.dropout)
        return mlp_forward(x, self.flat_params(), self.activations, use_costate=self.use_costate)

    @property
    def output_unit(self):
        """g_L, the output nonlinearity ``forward`` applies: what the outputs are to a loss is
        decided from it (:func:`deepnets.losses.output_kind`)."""
        return self.activations[-1]

    def logit_view(self) -> "LogitView":
        """The same weights seen up to the output layer's pre-activation a = ŷ(L) (the logits)."""
        return LogitView(self)

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """The input ẑ(l−1) of every layer l = 1..L, each (N, M(l−1)), without dropout (``forward`` calls no
        ``nn.Linear``, so hooks on ``layers`` would see nothing)."""
        return forward_layers(x, self.flat_params(), self.activations)[:-1]

    def extra_repr(self) -> str:
        acts = ", ".join(repr(a) for a in self.activations)
        drop = f", dropout={self.dropout}" if self.dropout else ""
        return f"sizes={self.sizes}, init={self.init!r}, activations=[{acts}]{drop}"


class LogitView(nn.Module):
    """An MLP without its output nonlinearity: a = W(L) ẑ(L−1) + b(L), the logits of a softmax or
    logistic output (p = softmax(a), p = σ(a)).

    It shares the MLP's ``layers`` (the same Parameters, masks and parameter names), so a Jacobian,
    a pruning mask or a training step taken through the view is one of the MLP itself.
    """

    def __init__(self, net: MLP):
        super().__init__()
        self.sizes = net.sizes
        self.layers = net.layers  # shared, not copied
        self.activations = [*net.activations[:-1], get_activation("identity")]
        self.dropout = net.dropout

    @property
    def output_unit(self):
        return self.activations[-1]  # the identity: the view outputs logits

    def flat_params(self) -> list[Tensor | None]:
        return [t for layer in self.layers for t in (layer.weight, layer.bias)]

    def forward(self, x: Tensor) -> Tensor:
        if self.dropout and self.training:  # the MLP's dropout, in the view's own training mode
            return dropout_forward(x, self.flat_params(), self.activations, self.dropout)
        return mlp_forward(x, self.flat_params(), self.activations, use_costate=False)  # (N, C)

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """The input ẑ(l−1) of every layer l = 1..L, each (N, M(l−1))."""
        return forward_layers(x, self.flat_params(), self.activations)[:-1]


def supports_costate(model) -> bool:
    """True when ``model``'s gradients can be taken by :func:`~deepnets.backprop.costate_backward`
    directly: a deepnets MLP (not a subclass, whose forward may differ) with the recursion on and
    no forward hooks that a direct pass would skip, and no dropout in training mode (its masks
    are not in the recursion: such a step runs by autograd)."""
    return (type(model) is MLP and model.use_costate and not (model.dropout and model.training)
            and not model._forward_hooks
            and not model._forward_pre_hooks and not torch._C._are_functorch_transforms_active())

#: The lecture's two hand-set threshold-unit XOR networks ("How does it classify it correctly?"),
#: as (W(1), b(1), W(2), b(2)) with U the unit step.
XOR_STEP_WEIGHTS = {
    # ẑ1 = U[x2 − x1 − ½], ẑ2 = U[x2 − x1 + ½], ẑ = U[ẑ1 − ẑ2 + ½]
    1: ([[-1.0, 1.0], [-1.0, 1.0]], [-0.5, 0.5], [[1.0, -1.0]], [0.5]),
    # ẑ1 = U[x1 + x2 − 1.5], ẑ2 = U[x1 + x2 − ½], ẑ = U[ẑ2 − 2ẑ1 − ½]
    2: ([[1.0, 1.0], [1.0, 1.0]], [-1.5, -0.5], [[-2.0, 1.0]], [-0.5]),
}


def xor_step_network(variant: int = 1) -> MLP:
    """One of the slide's two 2-2-1 networks of step units U that compute XOR, weights set by hand.

    >>> net = xor_step_network(2)
    >>> net(torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])).flatten().tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    if variant not in XOR_STEP_WEIGHTS:
        raise ConfigError(f"xor_step variant must be one of {sorted(XOR_STEP_WEIGHTS)}, got {variant!r}")
    net = MLP([2, 2, 1], activation="step", output="step")
    W1, b1, W2, b2 = (torch.tensor(v) for v in XOR_STEP_WEIGHTS[variant])
    with torch.no_grad():
        net.layers[0].weight.copy_(W1)
        net.layers[0].bias.copy_(b1)
        net.layers[1].weight.copy_(W2)
        net.layers[1].bias.copy_(b2)
    return net
