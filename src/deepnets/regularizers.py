"""Penalties added to the training error: E(W) = E_data(W) + sum_l gamma_l E_l(w(l)).

A penalty is any callable ``penalty(model, x=None) -> Tensor`` (a scalar with a graph back to the
weights); add it to the data loss before ``backward()``. The weight penalties act layer by layer:
a "layer" is one parameter tensor w(l), chosen by ``params`` (default ``"weights"``: tensors with
two or more dimensions, i.e. weight matrices and kernels, not biases or normalisation scales),
and its weight gamma_l is given by ``gamma`` as

- a float: the same gamma for every chosen tensor;
- a list: one gamma per chosen tensor, in ``model.named_parameters()`` order;
- a dict: name -> gamma, where a name is a parameter name (``"0.weight"``) or a module prefix
  (``"0"``); the longest matching name wins and tensors that no name matches get gamma = 0.

The penalty is added as it is to whatever data loss is used; with a mean-reduced loss, gamma is
per sample. ``REGULARIZERS`` maps the names a TOML file uses to the classes.

Training does not differentiate a weight penalty through autograd: ``penalty.add_gradient(model)``
adds the closed-form γ_l ∂E_l/∂w(l) to each ``.grad`` (γ w for weight decay, Weigend's
2γ (w/w0²) / (1 + (w/w0)²)² for weight elimination) and returns the penalty's value.

>>> model = torch.nn.Linear(2, 1)
>>> with torch.no_grad():
...     _ = model.weight.copy_(torch.tensor([[1.0, -2.0]]))
>>> WeightDecay(gamma=0.1)(model).item()   # 0.1 * (1 + 4) / 2; the bias is not penalised
0.25
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence, Union

import torch

from .adaptive_lambda import AdaptiveLambda
from .curvature_smoothing import closed_form_applies, curvature_value_and_grads
from .errors import ConfigError

__all__ = [
    "REGULARIZERS",
    "PARAM_SELECTORS",
    "Penalty",
    "WeightDecay",
    "WeightElimination",
    "AdaptiveLambda",
    "CurvatureSmoothing",
    "weight_decay_penalty",
    "weight_elimination_penalty",
    "curvature_penalty",
    "build_regularizer",
]

GammaSpec = Union[float, Sequence[float], Mapping[str, float]]

# Which parameter tensors count as the "layers" w(l) a weight penalty acts on.
PARAM_SELECTORS: dict[str, Callable[[str, torch.Tensor], bool]] = {
    "weights": lambda name, p: p.dim() >= 2,
    "all": lambda name, p: True,
}


def _check_gamma(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where} must be a finite number >= 0, got {value!r}")
    return float(value)


def weight_decay_penalty(w: torch.Tensor) -> torch.Tensor:
    """E_l = (1/2) sum_ij w_ij^2, so that dE_l/dw = w.

    With this 1/2 the gradient step is the lecture's update form

        w(n+1) = [1 - eta gamma_l] w(n) - eta delta_i(l) z_j(l-1)

    (the lecture writes E_l without the 1/2 but differentiates it as gamma_l w).
    """
    return 0.5 * w.pow(2).sum()


def weight_elimination_penalty(w: torch.Tensor, w0: float) -> torch.Tensor:
    """E_l = sum_ij (w_ij/w0)^2 / (1 + (w_ij/w0)^2).

    Each term is ~ (w/w0)^2 for |w| << w0 (weight decay on small weights) and ~ 1 for
    |w| >> w0 (a count of the large weights), so small weights are pushed to zero while large
    ones are left alone. Reference: Weigend, Rumelhart & Huberman (1991), NIPS 3, pp. 875-882.
    """
    r2 = (w / w0).pow(2)
    return (r2 / (1.0 + r2)).sum()


class Penalty:
    """Base class: gamma_l E_l(w(l)) summed over the chosen parameter tensors.

    Subclasses give :meth:`layer_penalty`, the E_l of one tensor.

    Args:
        gamma: float, list or dict (see the module docstring); default 1e-3.
        params: ``"weights"`` (default: tensors with >= 2 dimensions) or ``"all"``.
    """

    def __init__(self, gamma: GammaSpec = 1e-3, *, params: str = "weights"):
        if params not in PARAM_SELECTORS:
            raise ConfigError(f"params must be one of {sorted(PARAM_SELECTORS)}, got {params!r}")
        if isinstance(gamma, Mapping):
            gamma = {str(k): _check_gamma(f"gamma[{k!r}]", v) for k, v in gamma.items()}
        elif isinstance(gamma, (list, tuple)):
            gamma = [_check_gamma(f"gamma[{i}]", v) for i, v in enumerate(gamma)]
        else:
            gamma = _check_gamma("gamma", gamma)
        self.gamma = gamma
        self.params = params

    def layer_penalty(self, w: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def add_gradients(self, ws: list[torch.Tensor], grads: list[torch.Tensor], gammas: list[float]) -> torch.Tensor:
        """Add gamma_l ∂E_l/∂w(l) to ``grads`` in closed form (``torch._foreach`` kernels where
        they are cheaper); return sum_l gamma_l E_l. ``ws`` are detached views of the weights."""
        raise NotImplementedError  # pragma: no cover - abstract

    def bind(self, model: torch.nn.Module) -> Callable[..., torch.Tensor]:
        """``add(x=None) -> P``: sum_l gamma_l E_l(w(l)) with its closed-form gradient added to
        each ``.grad`` (made where it is None), no autograd; the same value and gradient as
        ``self(model).backward()``. The tensors are chosen once, here (``fit`` binds once per
        run); gamma is read at every call, so :class:`AdaptiveLambda` may change it."""
        chosen = [(w, g) for _, w, g in self.layers(model)]
        if not chosen:
            raise ConfigError(f"{type(self).__name__}: the model has no {self.params!r} tensors to penalise")

        views = [w.detach() for w, _ in chosen]  # share the weights' storage: updates show

        def add(x: torch.Tensor | None = None) -> torch.Tensor:
            if isinstance(self.gamma, float):
                gammas = [self.gamma] * len(chosen)
            else:
                gammas = [g for _, g in chosen]
            grads = []
            for w, _ in chosen:
                if w.grad is None:
                    w.grad = torch.zeros_like(w)
                grads.append(w.grad)
            if 0.0 in gammas:
                live = [i for i, g in enumerate(gammas) if g != 0.0]
                if not live:
                    return torch.zeros((), dtype=views[0].dtype, device=views[0].device)
                return self.add_gradients([views[i] for i in live], [grads[i] for i in live],
                                          [gammas[i] for i in live])
            return self.add_gradients(views, grads, gammas)
        return add

    def add_gradient(self, model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
        """``self.bind(model)(x)``: the penalty, its closed-form gradient added to each ``.grad``."""
        return self.bind(model)(x)

    def layers(self, model: torch.nn.Module) -> list[tuple[str, torch.Tensor, float]]:
        """The chosen tensors of ``model`` as (name, tensor, gamma_l)."""
        select = PARAM_SELECTORS[self.params]
        chosen = [(n, p) for n, p in model.named_parameters() if select(n, p)]
        names = [n for n, _ in chosen]
        if isinstance(self.gamma, float):
            gammas = [self.gamma] * len(chosen)
        elif isinstance(self.gamma, list):
            if len(self.gamma) != len(chosen):
                raise ConfigError(
                    f"gamma has {len(self.gamma)} values but the model has {len(chosen)} "
                    f"{self.params!r} tensors: {names}"
                )
            gammas = self.gamma
        else:
            gammas = [self._gamma_by_name(n) for n in names]
            for key in self.gamma:
                if not any(n == key or n.startswith(key + ".") for n in names):
                    raise ConfigError(f"gamma names {key!r}, which matches none of the {self.params!r} tensors: {names}")
        return [(n, p, g) for (n, p), g in zip(chosen, gammas)]

    def _gamma_by_name(self, name: str) -> float:
        matches = [k for k in self.gamma if name == k or name.startswith(k + ".")]
        return self.gamma[max(matches, key=len)] if matches else 0.0

    def __call__(self, model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
        """sum_l gamma_l E_l(w(l)); ``x`` is ignored (weight penalties do not need the data)."""
        total = None
        for _, w, gamma in self.layers(model):
            term = gamma * self.layer_penalty(w)
            total = term if total is None else total + term
        if total is None:
            raise ConfigError(f"{type(self).__name__}: the model has no {self.params!r} tensors to penalise")
        return total


class WeightDecay(Penalty):
    """Weight decay (L2): sum_l gamma_l (1/2) sum_ij w_ij(l)^2; see :func:`weight_decay_penalty`.

    Args:
        gamma: per-layer weights gamma_l (the lecture suggests gamma ~ 0.001 - 0.1 sigma_e^2).
        params: which tensors (default ``"weights"``).
    """

    def layer_penalty(self, w: torch.Tensor) -> torch.Tensor:
        return weight_decay_penalty(w)

    def add_gradients(self, ws, grads, gammas):
        """∂E_l/∂w = w: ``grad += gamma_l w``; returns sum_l gamma_l ½ Σ w²."""
        if all(g == gammas[0] for g in gammas):
            torch._foreach_add_(grads, ws, alpha=gammas[0])
        else:
            torch._foreach_add_(grads, torch._foreach_mul(ws, gammas))
        norms = torch.stack(torch._foreach_norm(ws, 2))  # (L,) ‖w(l)‖
        return torch.dot(norms * norms, norms.new_tensor(gammas)).mul_(0.5)


class WeightElimination(Penalty):
    """Weight elimination: sum_l gamma_l sum_ij (w_ij/w0)^2 / (1 + (w_ij/w0)^2).

    Args:
        gamma: per-layer weights gamma_l (Weigend et al.'s lambda when one number).
        w0: the scale that separates "small" from "large" weights (default 1.0).
        params: which tensors (default ``"weights"``).

    Reference: Weigend, Rumelhart & Huberman (1991), "Generalization by weight-elimination with
    application to forecasting", NIPS 3, pp. 875-882.
    """

    def __init__(self, gamma: GammaSpec = 1e-3, *, w0: float = 1.0, params: str = "weights"):
        super().__init__(gamma, params=params)
        if isinstance(w0, bool) or not isinstance(w0, (int, float)) or not (math.isfinite(w0) and w0 > 0):
            raise ConfigError(f"w0 must be a finite number > 0, got {w0!r}")
        self.w0 = float(w0)

    def layer_penalty(self, w: torch.Tensor) -> torch.Tensor:
        return weight_elimination_penalty(w, self.w0)

    def add_gradients(self, ws, grads, gammas):
        """With D = w0² + w² (= w0² d, d = 1 + (w/w0)²): ∂E_l/∂w = 2 w / (w0² d²) = 2 w0² w / D²,
        added times gamma_l; returns sum_l gamma_l Σ (1 − w0²/D) (= Σ r²/d; rounding:
        |error| ≲ gamma · numel · eps)."""
        w02 = self.w0 * self.w0
        # per-tensor addcmul_ (torch's foreach addcmul costs more here, and the out-of-place one more still)
        inv = [torch.full_like(w, w02).addcmul_(w, w) for w in ws]  # D
        torch._foreach_reciprocal_(inv)  # 1/D
        sums = torch._foreach_norm(inv, 1)  # Σ 1/D per tensor (all terms > 0)
        torch._foreach_mul_(inv, inv)  # 1/D²
        for grad, w, d, g in zip(grads, ws, inv, gammas):
            grad.addcmul_(w, d, value=2.0 * w02 * g)
        if all(g == gammas[0] for g in gammas):  # one gamma: gamma (numel − w0² Σ 1/D)
            return sum(sums[1:], sums[0]).mul_(-gammas[0] * w02).add_(gammas[0] * sum(w.numel() for w in ws))
        counts = sums[0].new_tensor([float(w.numel()) for w in ws])
        return torch.dot(counts - w02 * torch.stack(sums), counts.new_tensor(gammas))


def curvature_penalty(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """sum_n sum_i sum_j (d^2 zhat_i^n / d x_j^n^2)^2 by double backward, differentiable in W.

    zhat = model(x) has shape (N, C) (or (N,)); x has shape (N, ...) and its features are
    flattened to p = x[0].numel(). The model must treat samples independently (no batch
    statistics), so that the gradient of sum_n zhat_i^n gives every sample's own derivatives.
    For each output i: one backward pass with a graph gives G = dzhat_i/dx, (N, p); one batched
    backward pass over the p unit vectors gives the Hessian rows, whose diagonals are the
    d^2 zhat_i / d x_j^2.

    Reference: Bishop (1993), "Curvature-driven smoothing: a learning algorithm for feedforward
    networks", IEEE Trans. Neural Networks 4(5):882-884 (Bishop writes a factor 1/2, here in gamma).
    """
    x = x.detach().requires_grad_(True)
    N = x.shape[0]
    p = x[0].numel()
    z = model(x).reshape(N, -1)  # (N, C)
    units = torch.eye(p, dtype=x.dtype, device=x.device).reshape(p, 1, *x.shape[1:]).expand(p, *x.shape)
    total = z.new_zeros(())
    for i in range(z.shape[1]):
        # allow_unused: zhat_i may not depend on x at all.
        (G,) = torch.autograd.grad(
            z[:, i].sum(), x, create_graph=True, allow_unused=True, materialize_grads=True
        )  # (N, ...) dzhat_i/dx
        if not G.requires_grad:
            continue  # dzhat_i/dx is constant: no curvature
        (H,) = torch.autograd.grad(
            G, x, grad_outputs=units, create_graph=True, is_grads_batched=True, allow_unused=True
        )
        if H is None:
            continue  # dzhat_i/dx depends on the weights only (a mapping linear in x)
        H = H.reshape(p, N, p)  # H[j, n, k] = d^2 zhat_i^n / dx_j dx_k
        second = H.diagonal(dim1=0, dim2=2)  # (N, p): d^2 zhat_i^n / dx_j^2
        total = total + second.pow(2).sum()
    return total


class CurvatureSmoothing:
    """Curvature-driven smoothing: gamma sum_n sum_i sum_j (d^2 zhat_i^n / d x_j^2)^2.

    A penalty on the curvature of the network's mapping at the training inputs, so it needs the
    inputs: call ``penalty(model, x)`` with the batch. Cost: for each of the C outputs, one
    backward pass and one batched backward pass over the p inputs, each with a graph.

    Args:
        gamma: the penalty weight (one number; default 1e-3).

    Reference: Bishop (1993), IEEE Trans. Neural Networks 4(5):882-884.
    """

    def __init__(self, gamma: float = 1e-3):
        self.gamma = _check_gamma("gamma", gamma)

    def __call__(self, model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
        if x is None:
            raise ConfigError("curvature_smoothing needs the inputs: call penalty(model, x)")
        return self.gamma * curvature_penalty(model, x)

    def bind(self, model: torch.nn.Module) -> Callable[..., torch.Tensor]:
        """``add(x) -> P``: the penalty at the inputs ``x`` with its gradient added to each
        ``.grad``. For a deepnets MLP with one hidden layer of tanh or logistic units and linear
        outputs (Bishop's case), by the closed form of :mod:`deepnets.curvature_smoothing`;
        for any other model, by double backward and autograd, as ``self(model, x).backward()``."""
        if not closed_form_applies(model):
            def add_by_autograd(x: torch.Tensor | None = None) -> torch.Tensor:
                with torch.enable_grad():
                    P = self(model, x)
                    P.backward()
                return P.detach()
            return add_by_autograd
        params = model.flat_params()

        @torch.no_grad()
        def add(x: torch.Tensor | None = None) -> torch.Tensor:
            if x is None:
                raise ConfigError("curvature_smoothing needs the inputs: call penalty(model, x)")
            value, grads = curvature_value_and_grads(model, x)
            for p, g in zip(params, grads):
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                p.grad.add_(g, alpha=self.gamma)
            return value * self.gamma
        return add


REGULARIZERS: dict[str, type] = {
    "weight_decay": WeightDecay,
    "weight_elimination": WeightElimination,
    "curvature_smoothing": CurvatureSmoothing,
}


def build_regularizer(name: str, **kwargs):
    """The regularizer called ``name`` in :data:`REGULARIZERS`, built with ``kwargs``.

    >>> build_regularizer("weight_elimination", gamma=0.01, w0=0.5).w0
    0.5
    """
    if name not in REGULARIZERS:
        raise ConfigError(f"unknown regularizer {name!r}; expected one of {sorted(REGULARIZERS)}")
    try:
        return REGULARIZERS[name](**kwargs)
    except TypeError as err:
        raise ConfigError(f"regularizer {name!r}: {err}") from None
