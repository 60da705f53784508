"""One network written twice: a deepnets MLP whose output unit gives probabilities, and the same
weights as ``nn.Sequential(Linear, Tanh, Linear)`` ending in the logits. The one loss vocabulary
must give both the same numbers (training, pruning, Laplace, evidence, curvature)."""

import torch
from torch import nn

from deepnets import MLP


def mlp_and_twin(n_in: int, n_hidden: int, n_out: int, *, seed: int = 0, dtype=torch.float64):
    """A tanh MLP with a softmax (n_out > 1) or logistic (n_out = 1) output, and its twin with a
    linear output: ``(net, seq)``, the same weights, in ``dtype`` (None: torch's default dtype)."""
    dtype = torch.get_default_dtype() if dtype is None else dtype
    net = MLP([n_in, n_hidden, n_out], activation="tanh", output="softmax" if n_out > 1 else "logistic",
              seed=seed, dtype=dtype)
    seq = nn.Sequential(nn.Linear(n_in, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_out)).to(dtype)
    with torch.no_grad():
        for lin, layer in zip((seq[0], seq[2]), net.layers):
            lin.weight.copy_(layer.weight)
            lin.bias.copy_(layer.bias)
    return net, seq
