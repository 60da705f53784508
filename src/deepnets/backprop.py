"""Back-propagation as the lecture writes it: a co-state (Lagrange multiplier) recursion.

Forward pass, layer l = 1..L (ẑ(0) = x; biases are the weights w_i0 on a constant input 1):

    ŷ(l) = W(l) ẑ(l−1) + b(l),    ẑ(l) = g(ŷ(l))

Backward pass, from the terminal condition λ(L) = ∂E/∂ẑ(L):

    δ(l)   = λ(l) ∘ g'(ŷ(l))          (softmax output: δ = ẑ ∘ (λ − ⟨λ, ẑ⟩), its Jacobian)
    ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ,   ∂E/∂b(l) = Σ_n δ(l)
    λ(l−1) = W(l)ᵀ δ(l)

For the LMS cost the terminal condition is λ(L) = ẑ(L) − z, and δ(L) = (ẑ(L) − z) g'(ŷ(L)).
The λ(l) are the co-states of optimal control; Bishop's δ(l) = ∂E/∂ŷ(l) are the same signals one
step further down. The recursion runs on whole minibatches: rows are samples, so every product
above is one matrix multiply.

:class:`CostateMLP` is the ``torch.autograd.Function`` that makes this recursion the MLP's
backward pass. Higher-order derivatives (``create_graph=True``, Hessian-vector products) are
taken by recomputing the forward pass under autograd inside ``backward``, so they stay exact.

Reference: Rumelhart, Hinton & Williams (1986); Bryson & Ho (1969) for the co-state view.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .errors import ConfigError
from .losses import Loss, get_loss


class Softmax:
    """The softmax output ẑ_i = exp(ŷ_i) / Σ_j exp(ŷ_j); not elementwise, so its δ is a Jacobian
    product: δ = ẑ ∘ (λ − Σ_i λ_i ẑ_i)."""

    name = "softmax"

    def __call__(self, y: Tensor) -> Tensor:
        if y.dim() == 2 and y.device.type == "cpu":
            # softmax along the short class axis is several times slower on the CPU than along the
            # long sample axis (the kernel vectorises the reduced axis): take it over the transpose
            return torch.softmax(y.t(), dim=0).t()  # (N, C), same numbers as torch.softmax(y, -1)
        return torch.softmax(y, dim=-1)

    def delta(self, lam: Tensor, z: Tensor) -> Tensor:
        return z * (lam - (lam * z).sum(-1, keepdim=True))  # (N, C)

    def __repr__(self):
        return "Softmax()"


def layer_delta(act, lam: Tensor, z: Tensor) -> Tensor:
    """δ(l) = λ(l) ∘ g'(ŷ(l)) for an elementwise g, or the softmax Jacobian product."""
    return act.delta(lam, z)


def forward_layers(x: Tensor, params: Sequence[Tensor], acts: Sequence) -> list[Tensor]:
    """ẑ(0..L) for weights/biases ``params = (W1, b1, W2, b2, ...)``; ẑ(l) = g_l(W(l) ẑ(l−1) + b(l))."""
    zs = [x]
    for l, act in enumerate(acts):
        W, b = params[2 * l], params[2 * l + 1]
        y = torch.nn.functional.linear(zs[-1], W, b)  # (N, M(l)) = ẑ(l−1) W(l)ᵀ + b(l), one addmm
        zs.append(act(y))
    return zs


def costate_recursion(lam: Tensor | None, zs: Sequence[Tensor], params: Sequence[Tensor], acts: Sequence,
                      *, need_input: bool = False, keep: bool = False, delta_L: Tensor | None = None,
                      out: Sequence[Tensor | None] | None = None):
    """Run the backward recursion from λ(L) = ``lam`` (or from δ(L) = ``delta_L`` directly, for
    costs whose δ(L) has a closed form, such as cross-entropy with its matching output unit).

    Returns ``(grads, lams, deltas)``: ``grads`` is [∂E/∂W(1), ∂E/∂b(1), ..., ∂E/∂x or None first]
    laid out as ``(dx, dW1, db1, dW2, db2, ...)``; ``lams`` and ``deltas`` hold λ(l), δ(l) for
    l = 1..L when ``keep`` is true (else empty lists). ``out`` (aligned with ``params``) names
    tensors to write the gradients into instead of new ones (None entries: new tensors).
    """
    L = len(acts)
    grads: list = [None] * (2 * L)
    lams, deltas = [], []
    for l in range(L - 1, -1, -1):
        W, b = params[2 * l], params[2 * l + 1]
        if l == L - 1 and delta_L is not None:
            delta = delta_L
        else:
            delta = layer_delta(acts[l], lam, zs[l + 1])  # (N, M(l))
        if keep:
            lams.append(lam)
            deltas.append(delta)
        dW, db = (out[2 * l], out[2 * l + 1]) if out is not None else (None, None)
        # (M(l), M(l-1)) = δᵀ ẑ(l−1), and (M(l),) = Σ_n δ
        grads[2 * l] = torch.mm(delta.t(), zs[l]) if dW is None else torch.mm(delta.t(), zs[l], out=dW)
        if b is not None:
            grads[2 * l + 1] = delta.sum(0) if db is None else torch.sum(delta, 0, out=db)
        if l > 0 or need_input:
            lam = delta.mm(W)  # (N, M(l-1)) = λ(l−1) = W(l)ᵀ δ(l), row-wise
    dx = lam if need_input else None
    return [dx, *grads], lams[::-1], deltas[::-1]


class CostateMLP(torch.autograd.Function):
    """The MLP's forward pass with the co-state recursion as its backward pass."""

    @staticmethod
    def forward(ctx, x, acts, *params):
        zs = forward_layers(x, params, acts)
        ctx.acts = acts
        ctx.save_for_backward(*zs, *params)
        ctx.n_z = len(zs)
        return zs[-1]

    @staticmethod
    def backward(ctx, lam):
        saved = ctx.saved_tensors
        zs, params = saved[: ctx.n_z], saved[ctx.n_z:]
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the recursion itself by recomputing under autograd
            x = zs[0]
            inputs = [t for t in (x, *params) if t is not None and t.requires_grad]
            out = forward_layers(x, params, ctx.acts)[-1]
            got = iter(torch.autograd.grad(out, inputs, lam, create_graph=True, allow_unused=True))
            return (next(got) if x.requires_grad else None, None,
                    *[next(got) if p is not None and p.requires_grad else None for p in params])
        grads, _, _ = costate_recursion(lam, zs, params, ctx.acts, need_input=ctx.needs_input_grad[0])
        dx, rest = grads[0], grads[1:]
        return (dx, None, *rest)


def mlp_forward(x: Tensor, params: Sequence[Tensor], acts: Sequence, *, use_costate: bool = True) -> Tensor:
    """ẑ(L) for input ``x`` (N, M(0)); the backward pass is the co-state recursion when
    ``use_costate`` and neither a ``torch.func`` transform nor autocast is active (those take the
    plain autograd path: per-op dtype casting and functional transforms need it)."""
    if use_costate and not torch._C._are_functorch_transforms_active() and not torch.is_autocast_enabled(x.device.type):
        return CostateMLP.apply(x, tuple(acts), *params)
    return forward_layers(x, params, acts)[-1]


def terminal_condition(loss, pred: Tensor, target: Tensor, output, *, validate: bool = True):
    """E and the terminal co-state of the cost: ``(E, λ(L), δ(L) or None)``.

    deepnets losses give λ(L) = ∂E/∂ẑ(L) (and δ(L) itself where it has a closed form) by formula;
    any other callable loss gets λ(L) from autograd on the loss alone: the network's part of the
    backward pass is still the recursion.
    """
    if isinstance(loss, Loss):
        return loss.terminal(pred, target, output, validate=validate)
    terminal = getattr(loss, "terminal", None)
    if terminal is not None:
        return terminal(pred, target, output)
    with torch.enable_grad():
        zL = pred.detach().requires_grad_(True)
        E = loss(zL, target)
        (lam,) = torch.autograd.grad(E, zL)
    return E.detach(), lam, None


def costate_backward(model, x: Tensor, target: Tensor, loss, *, validate: bool = True,
                     params: Sequence[Tensor | None] | None = None, overwrite: bool = False) -> Tensor:
    """E for the batch, with ∂E/∂w accumulated into each parameter's ``.grad`` by the recursion.

    The training step of the lecture's algorithm without building an autograd graph: forward pass
    (remember ẑ(l)), terminal condition, backward recursion, gradients. Equivalent to
    ``loss(model(x), target).backward()`` (tested), and faster on small nets because no graph is
    recorded. ``validate=False`` skips the per-batch class-label range check (for callers that
    checked the labels once, as :func:`deepnets.fit` does); ``params`` is ``model.flat_params()``
    when the caller already holds it; ``overwrite=True`` writes the gradients into the existing
    ``.grad`` tensors instead of adding to them (a training step without zeroing them first).
    """
    params, acts = (model.flat_params() if params is None else params), model.activations
    if x.dim() != 2 or x.shape[1] != model.sizes[0]:
        raise ConfigError(f"MLP expects input of shape (N, {model.sizes[0]}), got {tuple(x.shape)}")
    # no autograd graph: the grad-mode switch by hand, lighter than entering a torch.no_grad()
    # context (this runs once per minibatch)
    grad_was_enabled = torch.is_grad_enabled()
    torch._C._set_grad_enabled(False)
    try:
        return _costate_step(x, target, loss, params, acts, validate, overwrite)
    finally:
        torch._C._set_grad_enabled(grad_was_enabled)


def _costate_step(x, target, loss, params, acts, validate: bool, overwrite: bool) -> Tensor:
    """Forward pass, terminal condition, recursion; the gradients added to (or written into) ``.grad``."""
    zs = forward_layers(x, params, acts)
    E, lam, delta_L = terminal_condition(loss, zs[-1], target, acts[-1], validate=validate)
    out = None
    if overwrite:  # write straight into .grad where it exists with the parameter's shape and dtype
        out = [g if p is not None and (g := p.grad) is not None and g.shape == p.shape and g.dtype == p.dtype
               and not g.requires_grad else None for p in params]
    grads, _, _ = costate_recursion(lam, zs, params, acts, delta_L=delta_L, out=out)
    for i, (p, g) in enumerate(zip(params, grads[1:])):
        if p is None or not p.requires_grad or (out is not None and out[i] is not None):
            continue  # (written in place)
        if p.grad is None or overwrite:
            p.grad = g
        else:
            p.grad += g
    return E


def costates(model, x: Tensor, target: Tensor, loss="lms"):
    """The error signals of every layer for a batch: ``(lams, deltas)``, lists over l = 1..L.

    ``lams[l-1]`` is λ(l) = ∂E/∂ẑ(l) and ``deltas[l-1]`` is δ(l) = ∂E/∂ŷ(l), each (N, M(l)), for
    the cost ``loss`` (a name or a callable) averaged over the batch. Their norms per layer show
    gradients vanish in deep sigmoid nets: ‖δ(l)‖ shrinks by about max g' = 1/4 a layer.

    >>> from deepnets.nn import MLP
    >>> net = MLP([2, 3, 3, 1], activation="logistic", seed=0)
    >>> lams, deltas = costates(net, torch.ones(5, 2), torch.zeros(5, 1))
    >>> [tuple(d.shape) for d in deltas]
    [(5, 3), (5, 3), (5, 1)]
    """
    loss = get_loss(loss, model=model)
    params = [p.detach() if p is not None else None for p in model.flat_params()]
    acts = model.activations
    with torch.no_grad():
        zs = forward_layers(x, params, acts)
        _, lam, delta_L = terminal_condition(loss, zs[-1], target, acts[-1])
        if lam is None:
            lam = delta_L  # placeholder; replaced below
        _, lams, deltas = costate_recursion(lam, zs, params, acts, keep=True, delta_L=delta_L)
        if delta_L is not None:
            # the closed-form δ(L) skipped λ(L); recover it from its definition ∂E/∂ẑ(L)
            _, lam_L, _ = terminal_condition(_NoShortcut(loss), zs[-1], target, acts[-1])
            lams[-1] = lam_L
    return lams, deltas


class _NoShortcut:
    """Wrap a loss so its terminal condition is the plain λ(L) (no closed-form δ(L))."""

    def __init__(self, loss):
        self.loss = loss

    def terminal(self, pred, target, output):
        E, lam, _ = self.loss.terminal(pred, target, None)
        return E, lam, None
