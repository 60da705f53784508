"""The tied layer: decoder V = Wᵀ on the same Parameter, gradients by gradcheck in float64."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.nn import TiedLinear


def test_encoder_and_decoder_are_the_lecture_formulas():
    layer = TiedLinear(5, 3, seed=0, dtype=torch.float64)
    with torch.no_grad():
        layer.decoder_bias.uniform_(-1, 1, generator=torch.Generator().manual_seed(1))
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    W, w0, v0 = layer.weight.detach(), layer.bias.detach(), layer.decoder_bias.detach()
    torch.testing.assert_close(layer(x), x @ W.T + w0)           # h = Wᵀx + w_0 (lecture's W is weight.T)
    h = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(layer.decode(h), h @ W + v0)      # x̂ = V h + v_0, V = Wᵀ
    assert {n for n, _ in layer.named_parameters()} == {"weight", "bias", "decoder_bias"}


class _Reconstruct(torch.nn.Module):
    """x̂ = V σ(Wᵀx + w_0) + v_0 through the layer's own forward and decode."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer.decode(torch.sigmoid(self.layer(x)))


def test_gradients_of_encode_then_decode_pass_gradcheck():
    net = _Reconstruct(TiedLinear(4, 3, seed=0, dtype=torch.float64))
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    names = ["layer.weight", "layer.bias", "layer.decoder_bias"]
    params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]

    def reconstruct(x, *ps):  # W enters both the encoder and the decoder: its gradient sums the two paths
        return torch.func.functional_call(net, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(reconstruct, (x, *params))


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="out_features"):
        TiedLinear(4, 0)
