"""The LSTM gate ablations (Greff et al. 2017): each variant's step written out by hand, gradcheck,
the weights a removed gate leaves out, and the vanilla default's fused path unchanged."""

import pytest
import torch
from torch.autograd import gradcheck

from deepnets.config import Experiment
from deepnets.errors import ConfigError
from deepnets.experiment.build import build_model
from deepnets.nn.recurrent import LSTM, LSTMFunction
from deepnets.nn.recurrent.base import init_uniform_
from deepnets.nn.recurrent.lstm_variants import LSTM_VARIANTS, lstm_variant_cell, lstm_variant_loop

D64 = torch.float64
s, tanh = torch.sigmoid, torch.tanh

# the stacked weight blocks and the peephole rows each variant has (the documented layout)
LAYOUT = {"vanilla": ("ifgo", "ifo"), "no_forget": ("igo", "io"), "no_input": ("fgo", "fo"),
          "no_output": ("ifg", "if"), "cifg": ("igo", "io"), "no_output_activation": ("ifgo", "ifo")}


def reference(variant, pre, peep, c):
    """Each variant's step written out: pre(k) = W_kx x + W_kz z + b_k, peep(k, cell) = w_k (.) cell."""
    if variant == "vanilla":
        i, f = s(pre("i") + peep("i", c)), s(pre("f") + peep("f", c))
        c1 = f * c + i * tanh(pre("g"))
        return s(pre("o") + peep("o", c1)) * tanh(c1), c1
    if variant == "no_forget":                          # f = 1
        c1 = c + s(pre("i") + peep("i", c)) * tanh(pre("g"))
        return s(pre("o") + peep("o", c1)) * tanh(c1), c1
    if variant == "no_input":                           # i = 1
        c1 = s(pre("f") + peep("f", c)) * c + tanh(pre("g"))
        return s(pre("o") + peep("o", c1)) * tanh(c1), c1
    if variant == "no_output":                          # o = 1
        c1 = s(pre("f") + peep("f", c)) * c + s(pre("i") + peep("i", c)) * tanh(pre("g"))
        return tanh(c1), c1
    if variant == "cifg":                               # f = 1 - i
        i = s(pre("i") + peep("i", c))
        c1 = (1 - i) * c + i * tanh(pre("g"))
        return s(pre("o") + peep("o", c1)) * tanh(c1), c1
    assert variant == "no_output_activation"            # z = o c
    i, f = s(pre("i") + peep("i", c)), s(pre("f") + peep("f", c))
    c1 = f * c + i * tanh(pre("g"))
    return s(pre("o") + peep("o", c1)) * c1, c1


def _weights(variant, peepholes, N=3, I=4, H=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=D64)
    x, z, c = r(N, I), r(N, H), r(N, H)
    Wx, Wz, b = {k: r(H, I) for k in "ifgo"}, {k: r(H, H) for k in "ifgo"}, {k: r(H) for k in "ifgo"}
    blocks, rows = LAYOUT[variant]
    w = {k: r(H) for k in rows} if peepholes else {}
    packed = (torch.cat([Wx[k] for k in blocks]), torch.cat([Wz[k] for k in blocks]),
              torch.cat([b[k] for k in blocks]), torch.stack([w[k] for k in rows]) if peepholes else None)
    return x, z, c, Wx, Wz, b, w, packed


@pytest.mark.parametrize("peepholes", [True, False])
@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_each_variant_is_its_equations_written_out(variant, peepholes):
    x, z, c, Wx, Wz, b, w, packed = _weights(variant, peepholes)

    pre = lambda k: x @ Wx[k].t() + z @ Wz[k].t() + b[k]
    peep = lambda k, cell: w[k] * cell if k in w else 0.0
    z_ref, c_ref = reference(variant, pre, peep, c)
    z_ours, c_ours = lstm_variant_cell(x, z, c, *packed, variant)
    torch.testing.assert_close(z_ours, z_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(c_ours, c_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", [v for v in LSTM_VARIANTS if v != "vanilla"])
def test_variant_loop_passes_gradcheck(variant):
    g = torch.Generator().manual_seed(1)
    blocks, rows = LAYOUT[variant]
    L, N, I, H, G = 4, 2, 3, 3, len(blocks)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=D64).requires_grad_()
    args = (r(L, N, I), r(N, H), r(N, H), r(G * H, I), r(G * H, H), r(G * H), r(len(rows), H))
    assert gradcheck(lambda *a: lstm_variant_loop(*a, variant), args)


@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_a_removed_gate_has_no_weights_and_the_module_runs_its_loop(variant):
    H, I = 5, 3
    m = LSTM(I, H, num_layers=2, batch_first=True, variant=variant, generator=torch.Generator().manual_seed(0)).double()
    blocks, rows = LAYOUT[variant]
    assert m.weight_x_l0.shape == (len(blocks) * H, I) and m.weight_z_l1.shape == (len(blocks) * H, H)
    assert m.bias_l1.shape == (len(blocks) * H,) and m.peephole_l0.shape == (len(rows), H)
    x = torch.randn(2, 6, I, dtype=D64)
    y, (zL, cL) = m(x)
    z0 = torch.zeros(2, H, dtype=D64)
    Z0, z, c = lstm_variant_loop(x.transpose(0, 1), z0, z0, *m.layer_weights(0), variant)
    Z1, z, c = lstm_variant_loop(Z0, z0, z0, *m.layer_weights(1), variant)
    torch.testing.assert_close(y, Z1.transpose(0, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(cL[1], c, rtol=0, atol=1e-12)
    with torch.no_grad():                         # inference takes the same loop
        torch.testing.assert_close(m(x)[0], y, rtol=0, atol=1e-12)


def test_the_default_is_still_the_fused_function_bit_for_bit():
    g = torch.Generator().manual_seed(3)
    m = LSTM(3, 4, batch_first=True, forget_bias=1.0, generator=g)
    assert m.variant == "vanilla"
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {"weight_x_l0": (16, 3), "weight_z_l0": (16, 4), "bias_l0": (16,), "peephole_l0": (3, 4)}
    # the same draws as before the variants existed: U(-1/sqrt(H), 1/sqrt(H)) in parameter order, then b_f += 1
    expected = [torch.empty(16, 3), torch.empty(16, 4), torch.empty(16), torch.empty(3, 4)]
    init_uniform_(expected, 4, torch.Generator().manual_seed(3))
    expected[2][4:8] += 1.0
    for p, e in zip(m.parameters(), expected):
        assert torch.equal(p.detach(), e)
    x = torch.randn(2, 7, 3)
    y, (z, c) = m(x)
    ref = LSTMFunction.apply(x.transpose(0, 1), torch.zeros(2, 4), torch.zeros(2, 4), *m.layer_weights(0))
    assert torch.equal(y, ref[0].transpose(0, 1)) and torch.equal(c[0], ref[2])
    gy = torch.randn_like(y)
    ours = torch.autograd.grad(y, list(m.parameters()), gy)
    theirs = torch.autograd.grad(ref[0].transpose(0, 1), list(m.parameters()), gy)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_forget_bias_goes_where_the_forget_gate_is():
    H = 4
    plain = LSTM(2, H, variant="cifg", generator=torch.Generator().manual_seed(0))
    biased = LSTM(2, H, variant="cifg", forget_bias=1.0, generator=torch.Generator().manual_seed(0))
    # CIFG: f = 1 - sigma(a_i) = sigma(-a_i), so b_f + 1 is b_i - 1 (the input block comes first)
    torch.testing.assert_close(biased.bias_l0[:H], plain.bias_l0[:H] - 1.0)
    torch.testing.assert_close(biased.bias_l0[H:], plain.bias_l0[H:])
    no_input = LSTM(2, H, variant="no_input", forget_bias=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(no_input.bias_l0[:H] - 1.0,
                          LSTM(2, H, variant="no_input", generator=torch.Generator().manual_seed(0)).bias_l0[:H])


def test_mistakes_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"variant must be one of .*got 'no_gates'"):
        LSTM(2, 3, variant="no_gates")
    with pytest.raises(ConfigError, match="no forget gate"):
        LSTM(2, 3, variant="no_forget", forget_bias=1.0)
    with pytest.raises(ConfigError, match="variant='vanilla'"):
        LSTM(2, 3, peepholes=False, variant="cifg").to_torch()


def test_the_variant_is_reachable_from_the_toml_model_options():
    exp = Experiment()
    exp.model.kind, exp.model.options = "lstm", {"variant": "no_forget", "hidden_size": 6}
    net = build_model(exp, 12, 3, "logits")
    assert net.forward_core.variant == "no_forget" and net.forward_core.weight_x_l0.shape == (18, 1)
    assert net(torch.randn(4, 12)).shape == (4, 3)
    exp.model.options = {"variant": "nope"}
    with pytest.raises(ConfigError, match="variant must be one of"):
        build_model(exp, 12, 3, "logits")
