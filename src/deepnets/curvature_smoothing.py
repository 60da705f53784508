"""Bishop's curvature-driven smoothing for a net with one hidden layer, value and gradient in
closed form (no double backward).

For ẑ_i = Σ_h V_ih g(a_h) + b_i with a_h = Σ_j W_hj x_j + c_h (linear outputs, as in Bishop 1993),
the curvature of the mapping along input j is ∂²ẑ_i/∂x_j² = Σ_h V_ih g''(a_h) W_hj², so with
D_nij = Σ_h V_ih g''(a_nh) W_hj² the penalty Ω = Σ_n Σ_i Σ_j D_nij² has, with G = 2D,
M_nih = Σ_j G_nij W_hj² and R_nh = Σ_i V_ih M_nih,

    ∂Ω/∂V_ih = Σ_n g''(a_nh) M_nih
    ∂Ω/∂W_hk = 2 W_hk Σ_n g''(a_nh) Σ_i V_ih G_nik + Σ_n g'''(a_nh) R_nh x_nk
    ∂Ω/∂c_h  = Σ_n g'''(a_nh) R_nh,        ∂Ω/∂b_i = 0.

Reference: Bishop (1993), "Curvature-driven smoothing: a learning algorithm for feedforward
networks", IEEE Trans. Neural Networks 4(5):882-884 (derived there for this architecture).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .activations import Identity, Logistic, Tanh
from .nn.mlp import MLP

__all__ = ["closed_form_applies", "curvature_value_and_grads"]


def _second_third(act, a: Tensor) -> tuple[Tensor, Tensor]:
    """g''(a) and g'''(a) of tanh (a·tanh(αy)) or logistic (σ(αy)) units, elementwise."""
    if isinstance(act, Tanh):
        t = torch.tanh(act.alpha * a)
        d1 = 1 - t * t
        s2, s3 = -2 * t * d1, d1 * (6 * t * t - 2)
        k2, k3 = act.scale * act.alpha ** 2, act.scale * act.alpha ** 3
    else:
        s = torch.sigmoid(act.alpha * a)
        d1 = s * (1 - s)
        s2, s3 = d1 * (1 - 2 * s), d1 * (1 - 6 * s + 6 * s * s)
        k2, k3 = act.alpha ** 2, act.alpha ** 3
    return k2 * s2, k3 * s3


def closed_form_applies(model) -> bool:
    """True for a deepnets MLP with one hidden layer of tanh or logistic units, linear outputs
    and biases: the architecture whose curvature penalty has the closed form above."""
    acts = getattr(model, "activations", None)
    layers = getattr(model, "layers", None)
    return (isinstance(model, MLP) and layers is not None and len(layers) == 2 and acts is not None
            and isinstance(acts[0], (Tanh, Logistic)) and isinstance(acts[1], Identity)
            and all(layer.bias is not None for layer in layers))


@torch.no_grad()
def curvature_value_and_grads(model, x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Ω = Σ_n Σ_i Σ_j (∂²ẑ_i^n/∂x_j²)² and [∂Ω/∂W, ∂Ω/∂c, ∂Ω/∂V, ∂Ω/∂b] (the order of
    ``model.flat_params()``), for a model where :func:`closed_form_applies`."""
    hidden, out = model.layers
    W, c, V = hidden.weight, hidden.bias, out.weight  # (H, p), (H,), (C, H)
    x = x.reshape(x.shape[0], -1).to(W.dtype)  # (N, p)
    S2, S3 = _second_third(model.activations[0], torch.addmm(c, x, W.T))  # (N, H) each
    W2 = W * W  # (H, p)
    D = torch.matmul(S2.unsqueeze(1) * V, W2)  # (N, C, p): D_nij = Σ_h V_ih S2_nh W2_hj
    value = (D * D).sum()
    G = 2 * D
    M = torch.matmul(G, W2.T)  # (N, C, H)
    dV = torch.einsum("nih,nh->ih", M, S2)
    R = torch.einsum("ih,nih->nh", V, M)  # (N, H)
    T = torch.matmul(V.T, G)  # (N, H, p): Σ_i V_ih G_nik
    S3R = S3 * R  # (N, H)
    dW = 2 * W * torch.einsum("nh,nhk->hk", S2, T) + S3R.T @ x
    return value, [dW, S3R.sum(0), dV, torch.zeros_like(out.bias)]
