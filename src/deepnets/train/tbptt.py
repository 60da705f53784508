"""Truncated back-propagation through time: one update per chunk of k steps of a long sequence.

"How far to unroll? Typically less than 25 steps ... initialize hidden variables from last
unroll": the state carries across chunks of k steps, but the graph is cut between them
(:func:`~deepnets.nn.recurrent.base.detach_state`).

Reference: Williams & Peng (1990), "An efficient gradient-based algorithm for on-line training
of recurrent network trajectories", Neural Computation 2(4).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..errors import DataError
from ..nn.recurrent.base import State, check_sizes, detach_state


def truncated_bptt(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable,
                   optimizer: torch.optim.Optimizer, *, k: int, state: State | None = None,
                   max_norm: float | None = None) -> tuple[float, State | None]:
    """Train on one long sequence by truncated BPTT: one update per chunk of k steps.

    For each chunk x[:, s:s+k] the model starts from the state the previous chunk ended in,
    detached (the values carry over, the graph does not), back-propagates through at most k
    steps, clips the gradient norm with ``torch.nn.utils.clip_grad_norm_`` (rescales all
    gradients together so that their joint 2-norm is at most ``max_norm``: Pascanu, Mikolov &
    Bengio 2013) and takes an optimizer step.

    Args:
        model: ``y_hat, state = model(x_chunk, state)`` with batch-first (N, L, ...) tensors,
            e.g. a :class:`~deepnets.zoo.recurrent_net.RecurrentNet` in ``"many_to_many"`` mode.
        x: inputs (N, L, H_in); y: targets (N, L, ...), one per step.
        loss_fn: ``loss_fn(y_hat, y_chunk) -> scalar``.
        optimizer: any ``torch.optim.Optimizer`` over the model's parameters.
        k: the truncation length (the lecture: "typically less than 25 steps").
        state: the state to start from (None: zeros).
        max_norm: clip threshold; None leaves the gradients alone.

    Returns:
        (mean of the chunk losses weighted by chunk length, the final state, detached).

    Reference: Williams & Peng (1990); Sutskever (2013), PhD thesis, Sec. 2.8.
    """
    check_sizes(k=k)
    if x.dim() < 2 or y.dim() < 2 or x.shape[:2] != y.shape[:2]:
        raise DataError(f"x and y must share (N, L), got {tuple(x.shape)} and {tuple(y.shape)}")
    total, length = 0.0, x.shape[1]
    for s in range(0, length, k):
        state = detach_state(state)
        y_hat, state = model(x[:, s:s + k], state)
        loss = loss_fn(y_hat, y[:, s:s + k])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        total += loss.item() * min(k, length - s)   # one sync per chunk, not per step
    return total / length, detach_state(state)
