"""Automatic relevance determination on a small regression: which inputs matter, and what each
relevance measure says. z = 0.5 x₀ + sin 2x₁ + noise, x₂ irrelevant; a 3-5-1 tanh net.

MacKay's evidence re-estimation (``evidence_ard``) and the lecture's objective l(α, β) with Gamma
hyper-priors (``gradient_ard``) give one α per input; 1/α is the prior variance of that input's
weights. The sensitivity (RMS of ∂f/∂x_j over the data) measures the input's effect instead: see
the README's "What the relevance measures". From the command line, after `deepnets train` of a
regression experiment: `deepnets relevance RUN --method mackay|lecture|evidence [--hyper A B C D]`.

    python examples/ard_relevance.py
"""

import torch

import deepnets
from deepnets.bayes import evidence_ard, gradient_ard, input_sensitivity

torch.manual_seed(0)
g = torch.Generator().manual_seed(1)
x = torch.randn(60, 3, generator=g, dtype=torch.float64)
z = 0.5 * x[:, :1] + torch.sin(2 * x[:, 1:2]) + 0.1 * torch.randn(60, 1, generator=g, dtype=torch.float64)


def net():
    return deepnets.MLP([3, 5, 1], activation="tanh", seed=0, dtype=torch.float64)


runs = {"MacKay's re-estimation": lambda f: evidence_ard(f, x, z, outer=6, inner=40),
        "lecture's l, Gamma(2, 1e-3) priors": lambda f: gradient_ard(f, x, z, objective="lecture", alpha=0.01,
                                                                     a=2.0, b=1e-3, c=2.0, d=1e-3, outer=6,
                                                                     inner=60, steps=20)}
print(f"{'method':36s} {'1/alpha (x0, x1, x2)':>32s} {'sensitivity (x0, x1, x2)':>30s}")
for name, run in runs.items():
    f = net()
    result = run(f)
    rel = ", ".join(f"{v:.2g}" for v in result.input_relevance().tolist())
    sens = ", ".join(f"{v:.2f}" for v in input_sensitivity(f, x).tolist())
    print(f"{name:36s} {rel:>32s} {sens:>30s}")
mse = float((f(x) - z).pow(2).mean())
print(f"x0 acts linearly (0.5), x1 through sin 2x1, x2 not at all (last net's training MSE {mse:.4f}; noise 0.01)")
