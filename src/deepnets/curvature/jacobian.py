"""Jacobians of a network's outputs with respect to its weights.

G(x^n) = ∇_w ẑ^n, the lecture's Jacobian, stored per sample as a (N, C, P) tensor:
``J[n, i, p] = ∂ẑ_i(x^n) / ∂w_p`` (the lecture's G(x^n) is the (P, C) transpose of ``J[n]``).

Two routes, one answer:

- :func:`per_sample_jacobian` -- for any ``nn.Module``, by ``torch.func``
  (``functional_call`` + ``vmap`` + ``jacrev``): each sample runs alone, so batch-coupled layers
  (batch norm in training mode) see a batch of one.
- :func:`output_jacobian` -- from outputs already computed with autograd (what an optimizer's
  closure hands back): one reverse pass per output component, batched with ``vmap``.

:func:`jacobian_chunks` hands out the per-sample Jacobian a chunk of samples at a time, so that a
sum over the samples (the Gauss-Newton matrix, :func:`~deepnets.curvature.accumulate_gauss_newton`)
needs the memory of one chunk, not of all N samples.

>>> import torch
>>> net = torch.nn.Linear(3, 2)
>>> x = torch.randn(5, 3)
>>> J, layout = per_sample_jacobian(net, x)
>>> J.shape, layout.numel
(torch.Size([5, 2, 8]), 8)
>>> J2 = output_jacobian(net(x), list(net.parameters()))
>>> torch.allclose(J, J2)
True
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from ..errors import DataError
from .params import ParamLayout


def per_sample_jacobian(model: nn.Module, x: Tensor, *, names: Iterable[str] | None = None,
                        chunk_size: int | None = None) -> tuple[Tensor, ParamLayout]:
    """Per-sample Jacobian J = ∂ẑ/∂w of ``model`` at the inputs ``x``, shape (N, C, P).

    J[n, i, :] = ∇_w ẑ_i(x^n, w); outputs of any shape are flattened to C per sample.

    Args:
        model: any ``nn.Module`` mapping a batch (N, ...) to outputs (N, ...).
        x: inputs (N, ...).
        names: the parameters to differentiate by (default: every parameter that requires grad).
        chunk_size: samples per ``vmap`` chunk (bounds memory; default all at once).

    Returns:
        ``(J, layout)``: J is (N, C, P) in the dtype of the parameters; ``layout`` maps the P axis
        back to named tensors.

    Reference: MacKay 1992; Hassibi & Stork 1993 (the outer-product Hessian needs G(x^n)).
    """
    if x.ndim < 1 or x.shape[0] == 0:
        raise DataError(f"expected a non-empty batch of inputs (N, ...), got shape {tuple(x.shape)}")
    layout = ParamLayout.from_module(model, names)
    params = {n: p.detach() for n, p in model.named_parameters() if n in layout.names}
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in layout.names}
    buffers = dict(model.named_buffers())

    def f(theta: dict[str, Tensor], xn: Tensor) -> Tensor:
        out = functional_call(model, ({**theta, **frozen}, buffers), (xn.unsqueeze(0),))
        return out.reshape(-1)  # (C,)

    jac = vmap(jacrev(f), in_dims=(None, 0), chunk_size=chunk_size)(params, x)  # name -> (N, C, *shape)
    N = x.shape[0]
    J = torch.cat([jac[n].reshape(N, jac[n].shape[1], -1) for n in layout.names], dim=-1)  # (N, C, P)
    return J, layout


#: the default chunk of :func:`jacobian_chunks`: as many samples as keep the chunk's Jacobian
#: (n, C, P) at or under this many entries (32 MiB in float64)
CHUNK_ENTRIES = 2 ** 22


def default_chunk_size(n_outputs: int, n_weights: int, entries: int = CHUNK_ENTRIES) -> int:
    """Samples per chunk so that a (chunk, C, P) Jacobian holds at most ``entries`` numbers (>= 1)."""
    return max(1, entries // max(1, n_outputs * n_weights))


def jacobian_chunks(model: nn.Module, x: Tensor, *, names: Iterable[str] | None = None,
                    chunk_size: int | None = None
                    ) -> Iterator[tuple[slice, Tensor, Tensor, ParamLayout]]:
    """The per-sample Jacobian of ``model`` at ``x``, a chunk of samples at a time.

    Yields ``(rows, J, a, layout)`` for consecutive chunks: ``rows`` the slice of samples,
    ``J = per_sample_jacobian(model, x[rows])`` (n, C, P), ``a`` the outputs ``model(x[rows])``
    flattened to (n, C) (computed without autograd). Concatenating the chunks gives exactly
    ``per_sample_jacobian(model, x)``: each sample's Jacobian is computed alone either way.

    Args:
        model, x, names: as in :func:`per_sample_jacobian`.
        chunk_size: samples per chunk; default :func:`default_chunk_size` (a Jacobian chunk of
            at most :data:`CHUNK_ENTRIES` numbers), so the peak memory does not grow with N.
    """
    if x.ndim < 1 or x.shape[0] == 0:
        raise DataError(f"expected a non-empty batch of inputs (N, ...), got shape {tuple(x.shape)}")
    if chunk_size is not None and chunk_size < 1:
        raise DataError(f"chunk_size must be >= 1, got {chunk_size}")
    names = None if names is None else list(names)
    N = x.shape[0]
    step = chunk_size
    start = 0
    while start < N:
        if step is None:  # the outputs per sample are known after the first forward pass
            with torch.no_grad():
                C = model(x[:1]).reshape(1, -1).shape[1]
            step = default_chunk_size(C, ParamLayout.from_module(model, names).numel)
        rows = slice(start, min(start + step, N))
        J, layout = per_sample_jacobian(model, x[rows], names=names)  # (n, C, P)
        with torch.no_grad():
            a = model(x[rows]).reshape(J.shape[0], J.shape[1])  # (n, C)
        yield rows, J, a, layout
        start = rows.stop


def output_jacobian(outputs: Tensor, params: Sequence[Tensor]) -> Tensor:
    """Jacobian of already computed ``outputs`` (N, ...) with respect to ``params``, (N, C, P).

    One reverse pass per output entry e_k (the co-state recursion started from the terminal
    condition e_k), all N·C of them batched with ``is_grads_batched``. Samples are not assumed
    independent: entry [n, i, p] is ∂ẑ_i^n/∂w_p however the batch was computed.

    Args:
        outputs: the network outputs, still attached to the autograd graph, (N, ...).
        params: the tensors to differentiate by; P is the sum of their sizes (in that order).
    """
    if outputs.ndim < 1:
        raise DataError("expected outputs of shape (N, ...), got a scalar")
    N = outputs.shape[0]
    flat = outputs.reshape(N, -1)  # (N, C)
    m = flat.numel()
    eye = torch.eye(m, dtype=flat.dtype, device=flat.device).reshape(m, *flat.shape)  # (N·C, N, C)
    try:
        grads = torch.autograd.grad(flat, params, grad_outputs=eye, is_grads_batched=True,
                                    retain_graph=True, allow_unused=True)
    except RuntimeError:  # an op without a batching rule: one reverse pass per row instead
        rows = [torch.autograd.grad(flat, params, grad_outputs=e, retain_graph=True,
                                    allow_unused=True) for e in eye]
        grads = [torch.stack([r[j] if r[j] is not None else torch.zeros_like(params[j])
                              for r in rows]) for j in range(len(params))]
    cols = [g.reshape(m, -1) if g is not None else flat.new_zeros(m, p.numel())
            for g, p in zip(grads, params)]
    return torch.cat(cols, dim=1).reshape(N, -1, sum(p.numel() for p in params))  # (N, C, P)
