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

Training does not differentiate a penalty through autograd: ``penalty.bind(model)`` gives the
closed-form γ_l ∂E_l/∂w(l) (γ w for weight decay, Weigend's 2γ (w/w0²) / (1 + (w/w0)²)² for
weight elimination, Bishop's closed form for curvature-driven smoothing) and the penalty's value,
for weight decay and weight elimination in one fused call over the weights where they lie
(:mod:`deepnets.penalty_kernels`; on one flat copy of them by torch kernels where that does not
apply, :mod:`deepnets.penalty_gradients`); the co-state step has them added to the ``.grad`` it
wrote (or takes them in as its GEMMs' input), any other step adds them to ``.grad``
(``penalty.add_gradient(model)``).

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
from .penalty_gradients import FlatPenalty
from .penalty_kernels import fastest_entry, weight_decay_kernel, weight_elimination_kernel

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

    #: ``flat_fused(ws, gs, out, add) -> call``: the fused closed form bound to the weights' views ``ws``,
    #: ``call(mult, gamma)`` writing the gradients into ``gs`` (adding them, ``add``) and P into ``out[0]``
    #: (:mod:`deepnets.penalty_kernels`), or None where there is none
    flat_fused = None

    #: the penalty's code in the one-call co-state step's kernel (:mod:`deepnets.train.costate_whole`:
    #: 1 weight decay, 2 weight elimination), read only where the class itself sets it (a subclass
    #: that changes the formula does not inherit it); 0: the kernel does not add this penalty
    whole_kind = 0

    def flat_constants(self, like: torch.Tensor, G: torch.Tensor, *, uniform: bool) -> dict:
        """The buffers and constants of :meth:`flat_gradient` for flat weights like ``like``, with
        gamma_l spread over them as ``G`` (``uniform``: one gamma for all), made again when a
        setting changes: ``"w"`` (n,) receives the weights, ``"g"`` (n,) holds the gradient."""
        raise NotImplementedError  # pragma: no cover - abstract

    def flat_gradient(self, w: torch.Tensor, consts: dict) -> tuple[torch.Tensor, float]:
        """Write gamma_l ∂E_l/∂w(l) over the flat weights ``w`` into ``consts["g"]``; return (v, scale)
        with the penalty sum_l gamma_l E_l = scale · v (see :mod:`deepnets.penalty_gradients`)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def bind(self, model: torch.nn.Module) -> FlatPenalty:
        """The penalty bound to ``model``'s chosen tensors (chosen once, here: ``fit`` binds once per
        run), a :class:`~deepnets.penalty_gradients.FlatPenalty`: ``bound(x=None) -> P`` adds the
        closed-form gradient to each ``.grad`` (made where it is None), no autograd, the same value
        and gradient as ``self(model).backward()``; ``bound.gradients()`` gives the gradients
        without adding them (for the co-state step, which adds them itself). gamma is read at
        every call, so :class:`AdaptiveLambda` may change it."""
        return FlatPenalty(self, model)

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

    whole_kind = 1

    def layer_penalty(self, w: torch.Tensor) -> torch.Tensor:
        return weight_decay_penalty(w)

    def flat_constants(self, like, G, *, uniform):
        return {"w": torch.empty_like(like), "g": torch.empty_like(like), "G": G, "v": like.new_empty(())}

    def flat_gradient(self, w, consts):
        """∂E_l/∂w = w: g = Γ ∘ w; P = ½ Σ Γ w² = ½ (w · g)."""
        g = torch.mul(w, consts["G"], out=consts["g"])
        return torch.dot(w, g, out=consts["v"]), 0.5

    def flat_fused(self, ws, gs, out, add):
        """``call(mult, gamma)``: g = gamma_l w and P = ½ Σ gamma_l w² in one call
        (:func:`~deepnets.penalty_kernels.weight_decay_kernel`)."""
        run = fastest_entry(weight_decay_kernel, ws, gs, (1.0,) * len(ws), 0.0, out, add)
        return lambda mult, gamma: run(ws, gs, mult, gamma, out, add)


class WeightElimination(Penalty):
    """Weight elimination: sum_l gamma_l sum_ij (w_ij/w0)^2 / (1 + (w_ij/w0)^2).

    Args:
        gamma: per-layer weights gamma_l (Weigend et al.'s lambda when one number).
        w0: the scale that separates "small" from "large" weights (default 1.0).
        params: which tensors (default ``"weights"``).

    Reference: Weigend, Rumelhart & Huberman (1991), "Generalization by weight-elimination with
    application to forecasting", NIPS 3, pp. 875-882.
    """

    whole_kind = 2

    def __init__(self, gamma: GammaSpec = 1e-3, *, w0: float = 1.0, params: str = "weights"):
        super().__init__(gamma, params=params)
        if isinstance(w0, bool) or not isinstance(w0, (int, float)) or not (math.isfinite(w0) and w0 > 0):
            raise ConfigError(f"w0 must be a finite number > 0, got {w0!r}")
        self.w0 = float(w0)

    def layer_penalty(self, w: torch.Tensor) -> torch.Tensor:
        return weight_elimination_penalty(w, self.w0)

    def flat_constants(self, like, G, *, uniform):
        w02, gamma = self.w0 * self.w0, float(G[0]) if G.numel() else 0.0
        # one gamma > 0: scaled by k = (2 γ w0²)^(-1/2), so that the two divisions give the whole gradient
        k = (2.0 * gamma * w02) ** -0.5 if uniform and gamma > 0 else 1.0
        return {"w": torch.empty_like(like), "g": torch.empty_like(like), "k": k, "c": torch.full_like(like, k * w02),
                "K": None if k != 1.0 else G * (2.0 * w02), "scale": gamma * k if k != 1.0 else 0.5 / w02,
                "D": torch.empty_like(like), "q": torch.empty_like(like), "v": like.new_empty(())}

    def flat_gradient(self, w, consts):
        """With D = k (w0² + w²): ∂(Γ E)/∂w = 2 Γ w0² w / (w0² + w²)² = (K ∘ w / D) / D, and
        P = Σ Γ w² / (w0² + w²) = w · (K ∘ w / D) / (2 w0²) (positive terms, no cancellation),
        where one gamma takes k = (2 γ w0²)^(-1/2) and K = 1 (then P = γ k w · (w / D)), and
        per-tensor gammas k = 1 and K = 2 w0² Γ. Five kernels (four with one gamma)."""
        D = torch.addcmul(consts["c"], w, w, value=consts["k"], out=consts["D"])  # (n,) k (w0² + w²)
        q = torch.div(w, D, out=consts["q"])  # (n,) w / D
        if consts["K"] is not None:
            q.mul_(consts["K"])
        torch.div(q, D, out=consts["g"])
        return torch.dot(w, q, out=consts["v"]), consts["scale"]

    def flat_fused(self, ws, gs, out, add):
        """``call(mult, gamma)``: the same gradient and P in one call, one division an element
        (:func:`~deepnets.penalty_kernels.weight_elimination_kernel`); w0 read at every call."""
        run = fastest_entry(weight_elimination_kernel, ws, gs, (1.0,) * len(ws), 0.0, self.w0, out, add)
        return lambda mult, gamma: run(ws, gs, mult, gamma, self.w0, out, add)


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
        outputs (Bishop's case), by the closed form of :mod:`deepnets.curvature_smoothing`
        (the bound object's ``gradients(x)`` gives them without adding them, for the co-state
        step's GEMMs); for any other model, by double backward, as ``self(model, x).backward()``."""
        if not closed_form_applies(model):
            def add_by_autograd(x: torch.Tensor | None = None) -> torch.Tensor:
                with torch.enable_grad():
                    P = self(model, x)
                    P.backward()
                return P.detach()
            return add_by_autograd
        return _BoundCurvature(self, model)


class _BoundCurvature:
    """Curvature smoothing bound to a one-hidden-layer MLP (Bishop's closed form):
    ``gradients(x) -> (grads, v, scale)`` for the tensors ``targets`` (P = scale · v, ``.grad``
    untouched), ``__call__(x) -> P`` with the gradients added to each ``.grad``."""

    def __init__(self, penalty: CurvatureSmoothing, model: torch.nn.Module):
        self.penalty, self.model = penalty, model
        self.targets = [p for p in model.flat_params() if p is not None]

    @torch.no_grad()
    def gradients(self, x: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor, float]:
        if x is None:
            raise ConfigError("curvature_smoothing needs the inputs: call penalty(model, x)")
        value, grads = curvature_value_and_grads(self.model, x)  # [∂Ω/∂W, ∂Ω/∂c, ∂Ω/∂V, ∂Ω/∂b]
        torch._foreach_mul_(grads, self.penalty.gamma)
        return grads, value, self.penalty.gamma

    def __call__(self, x: torch.Tensor | None = None) -> torch.Tensor:
        grads, value, gamma = self.gradients(x)
        for p, g in zip(self.targets, grads):
            if p.grad is None:
                p.grad = g
            else:
                p.grad.add_(g)
        return value * gamma


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
