"""The one check of a model's floating dtype against its inputs' (float32 weights and float64
data, or the reverse), before torch's ``mat1 and mat2 must have the same dtype`` deep in a layer."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import DataError


def check_input_dtype(model: torch.nn.Module, x, what: str = "inputs") -> None:
    """Raise :class:`~deepnets.errors.DataError` when ``x`` is a floating tensor whose dtype is not
    that of ``model``'s floating parameters (integer inputs such as token ids pass), naming both
    and the two ways to match them. Nothing is converted behind the user's back."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        return
    p = next((p for p in model.parameters() if p.is_floating_point()), None)
    if p is None or p.dtype == x.dtype:
        return
    have, want = str(x.dtype).removeprefix("torch."), str(p.dtype).removeprefix("torch.")
    raise DataError(f"the {what} are {have} but the model's weights are {want}: convert one to the other, "
                    f"x.to(torch.{want}) or model.to(torch.{have})")
