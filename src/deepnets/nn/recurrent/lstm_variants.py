"""The LSTM with gates taken out: the ablations of Greff et al.'s "LSTM: A Search Space Odyssey".

The full cell (:mod:`.lstm`) has an input gate i, a forget gate f and an output gate o, each
sigma(W_x x_t + W_z z_{t-1} + w (.) c + b), and the candidate g = tanh(...). A variant removes
one part and keeps the rest (sigma logistic, (.) elementwise):

    "vanilla"               the full cell: c_t = f (.) c_{t-1} + i (.) g,  z_t = o (.) tanh(c_t)
    "no_forget"   (NFG)     f = 1: c_t = c_{t-1} + i (.) g (Hochreiter & Schmidhuber's 1997 LSTM)
    "no_input"    (NIG)     i = 1: c_t = f (.) c_{t-1} + g
    "no_output"   (NOG)     o = 1: z_t = tanh(c_t)
    "cifg"        (CIFG)    f = 1 - i, one gate coupled: c_t = (1 - i) (.) c_{t-1} + i (.) g (the GRU's rule)
    "no_output_activation" (NOAF)  z_t = o (.) c_t, no tanh on the cell

and "no peepholes" (NP) is ``peepholes=False``, the vanilla cell's flag. A removed gate has no
weights: the stacked blocks of ``weight_x``, ``weight_z`` and ``bias`` are the present ones in the
order (i, f, g, o) (``BLOCKS``), and ``peephole`` holds one row for each present gate among
(i, f, o) (CIFG: i and o). The variants run through the plain autograd loop
(:func:`lstm_variant_loop`); the vanilla cell keeps the fused path of :class:`.lstm.LSTMFunction`.

Greff et al. (2017) trained the eight variants on speech (TIMIT), handwriting (IAM Online) and
music (JSB Chorales) with random hyper-parameter search: the forget gate and the output
activation are the most critical parts (removing either, NFG or NOAF, hurt on all three data
sets), while coupling the input and forget gates (CIFG) or dropping the peepholes (NP) did not
hurt significantly. ``benchmarks/bench_lstm_gates.py`` repeats the
ablation on the adding and copy tasks.

Reference: Greff, Srivastava, Koutnik, Steunebrink & Schmidhuber (2017), "LSTM: A Search Space
Odyssey", IEEE Trans. Neural Networks and Learning Systems 28(10), 2222-2232.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...errors import ConfigError

__all__ = ["LSTM_VARIANTS", "BLOCKS", "lstm_variant_cell", "lstm_variant_loop", "peephole_gates"]

#: variant -> the weight blocks it has, in the stacked order (i, f, g, o)
BLOCKS: dict[str, str] = {
    "vanilla": "ifgo",
    "no_forget": "igo",
    "no_input": "fgo",
    "no_output": "ifg",
    "cifg": "igo",
    "no_output_activation": "ifgo",
}
LSTM_VARIANTS = tuple(BLOCKS)


def check_variant(variant: str) -> str:
    """Return ``variant`` if it is one of :data:`LSTM_VARIANTS`, else raise ConfigError."""
    if variant not in BLOCKS:
        raise ConfigError(f"LSTM variant must be one of {list(LSTM_VARIANTS)}, got {variant!r}")
    return variant


def peephole_gates(variant: str) -> str:
    """The gates with a peephole row, in row order: the present ones among (i, f, o)."""
    return BLOCKS[check_variant(variant)].replace("g", "")


def lstm_variant_cell(x: Tensor, z: Tensor, c: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor | None,
                 p: Tensor | None, variant: str) -> tuple[Tensor, Tensor]:
    """One step of the LSTM ``variant`` in plain autograd ops: returns (z_t, c_t).

    Shapes: x (N, H_in), z and c (N, H), W_x (G H, H_in), W_z (G H, H), b (G H) with G the
    number of ``BLOCKS[variant]``, p (P, H) with P the number of :func:`peephole_gates` or None.
    The input and forget gates' peepholes see c_{t-1}, the output gate's sees c_t.
    """
    blocks = BLOCKS[check_variant(variant)]
    a = x @ W_x.t() + z @ W_z.t()
    if b is not None:
        a = a + b
    pre = dict(zip(blocks, a.chunk(len(blocks), dim=1)))     # gate -> (N, H) pre-activation
    peep = {} if p is None else dict(zip(peephole_gates(variant), p.unbind(0)))
    if "i" in peep:
        pre["i"] = pre["i"] + peep["i"] * c
    if "f" in peep:
        pre["f"] = pre["f"] + peep["f"] * c
    i = torch.sigmoid(pre["i"]) if "i" in pre else None
    if variant == "cifg":
        f = 1.0 - i
    else:
        f = torch.sigmoid(pre["f"]) if "f" in pre else None
    g = torch.tanh(pre["g"])
    c = (c if f is None else f * c) + (g if i is None else i * g)
    h = c if variant == "no_output_activation" else torch.tanh(c)
    if "o" not in pre:
        return h, c
    a_o = pre["o"] + peep["o"] * c if "o" in peep else pre["o"]
    return torch.sigmoid(a_o) * h, c


def lstm_variant_loop(x: Tensor, z: Tensor, c: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor | None,
                 p: Tensor | None, variant: str) -> tuple[Tensor, Tensor, Tensor]:
    """The time loop over :func:`lstm_variant_cell`: x (L, N, H_in) -> (Z (L, N, H), z_L, c_L)."""
    outs = []
    for x_t in x.unbind(0):
        z, c = lstm_variant_cell(x_t, z, c, W_x, W_z, b, p, variant)
        outs.append(z)
    return torch.stack(outs), z, c
