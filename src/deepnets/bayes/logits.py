"""The network's outputs before the output nonlinearity, and the likelihood they enter.

The Laplace posterior and the evidence work on the activations a = ŷ(L) that enter the
likelihood: the linear outputs for regression, the logits for the logistic and softmax outputs
(p = σ(a), p = softmax(a)). A deepnets :class:`~deepnets.nn.mlp.MLP` applies its output
nonlinearity inside ``forward``; :func:`logit_model` gives a view of the same weights that stops
before it. Any other ``nn.Module`` is taken to output those activations already.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..activations import get_activation
from ..backprop import forward_layers, mlp_forward
from ..errors import ConfigError
from ..nn.mlp import MLP

#: likelihood -> the output curvature of :func:`deepnets.curvature.gauss_newton` (Λ_n)
LIKELIHOODS: dict[str, str] = {
    "regression": "mse",         # Gaussian noise with precision β_i per output, Λ_n = diag(β)
    "binary": "bce",             # one logistic output, Λ_n = p(1 − p)
    "multiclass": "cross_entropy",  # softmax over C outputs, Λ_n = diag(p) − p pᵀ
}

#: an MLP's output -> its likelihood (outputs not listed here have no Laplace likelihood)
_OUTPUT_LIKELIHOOD = {"linear": "regression", "identity": "regression",
                      "logistic": "binary", "softmax": "multiclass"}


class LogitView(nn.Module):
    """The MLP ``net`` without its output nonlinearity: a = W(L) ẑ(L−1) + b(L); same weights."""

    def __init__(self, net: MLP):
        super().__init__()
        self.net = net
        self._acts = [*net.activations[:-1], get_activation("identity")]

    def forward(self, x: Tensor) -> Tensor:
        return mlp_forward(x, self.net.flat_params(), self._acts, use_costate=False)  # (N, C)

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """The input ẑ(l−1) of every layer l = 1..L, each (N, M(l−1))."""
        return forward_layers(x, self.net.flat_params(), self._acts)[:-1]


def logit_model(model: nn.Module) -> nn.Module:
    """``model`` seen up to its output activations a (a :class:`LogitView` for a deepnets MLP)."""
    if isinstance(model, MLP):
        return LogitView(model)
    return model


def infer_likelihood(model: nn.Module) -> str:
    """``"regression"`` / ``"binary"`` / ``"multiclass"`` from an MLP's output; plain modules:
    ``"regression"`` (pass ``likelihood=`` to say otherwise)."""
    if not isinstance(model, MLP):
        return "regression"
    out = model.output.split(":")[0].lower()
    if out not in _OUTPUT_LIKELIHOOD:
        raise ConfigError(f"no Laplace likelihood for an MLP with output {model.output!r}; expected one of "
                          f"{sorted(_OUTPUT_LIKELIHOOD)}")
    return _OUTPUT_LIKELIHOOD[out]


def check_likelihood(likelihood: str) -> str:
    if likelihood not in LIKELIHOODS:
        raise ConfigError(f"unknown likelihood {likelihood!r}; expected one of {sorted(LIKELIHOODS)}")
    return likelihood
