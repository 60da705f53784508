"""The LSTM's and GRU's inference passes (no gradient recorded) give the training pass's numbers
(the LSTM keeps no whole-sequence buffers, the lecture's GRU allocates nothing per step, the GRU
in torch's form runs torch's kernel) (#19)."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from deepnets.nn.recurrent import GRU, LSTM
from deepnets.nn.recurrent.lstm import lstm_loop
from deepnets.nn.recurrent.lstm_infer import CHUNK, lstm_layer_infer


@pytest.mark.parametrize("peepholes", [True, False])
@pytest.mark.parametrize("T", [1, CHUNK, 2 * CHUNK + 5])
def test_no_grad_equals_the_grad_path(peepholes, T):
    torch.manual_seed(0)
    m = LSTM(3, 6, num_layers=2, peepholes=peepholes, batch_first=True, forget_bias=1.0).double()
    x = torch.randn(4, T, 3, dtype=torch.float64)
    state = (torch.randn(2, 4, 6, dtype=torch.float64), torch.randn(2, 4, 6, dtype=torch.float64))
    y1, (z1, c1) = m(x, state)
    assert y1.grad_fn is not None  # the training pass
    with torch.no_grad():
        y2, (z2, c2) = m(x, state)
    assert y2.grad_fn is None and not y2.requires_grad
    for a, b in ((y1, y2), (z1, z2), (c1, c2)):
        assert a.shape == b.shape
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


def test_inference_mode_and_frozen_weights_take_the_inference_pass_and_agree_with_the_plain_loop():
    torch.manual_seed(1)
    m = LSTM(2, 5, peepholes=True).double()
    x = torch.randn(9, 3, 2, dtype=torch.float64)
    z0 = torch.zeros(3, 5, dtype=torch.float64)
    ref, z_ref, c_ref = lstm_loop(x, z0, z0, *(t.detach() for t in m.layer_weights(0)))  # independent loop
    with torch.inference_mode():
        y, (z, c) = m(x)
    m.requires_grad_(False)
    y_frozen, _ = m(x)
    assert y_frozen.grad_fn is None
    for a, b in ((ref, y), (z_ref, z[0]), (c_ref, c[0]), (ref, y_frozen)):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


class _Allocations(TorchDispatchMode):
    """The bytes of every fresh tensor an op returns: outputs without alias information in the op's
    schema (views, in-place and ``out=`` results alias an existing tensor and are not counted)."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for ret, t in zip(func._schema.returns, outs):
            if isinstance(t, torch.Tensor) and ret.alias_info is None:
                self.sizes.append(t.untyped_storage().nbytes())
        return out


def _buffer_bytes(T: int) -> int:
    """Bytes allocated by one inference pass over T steps, less its output (L, N, H)."""
    g = torch.Generator().manual_seed(0)
    W_x, W_z, b, p = torch.randn(32, 4, generator=g), torch.randn(32, 8, generator=g), torch.randn(32), \
        torch.randn(3, 8)
    x, z0 = torch.randn(T, 5, 4, generator=g), torch.zeros(5, 8)
    with torch.no_grad(), _Allocations() as spy:
        lstm_layer_infer(x, z0, z0, W_x, W_z, b, p)
    return sum(spy.sizes) - T * 5 * 8 * 4


@pytest.mark.parametrize("numba_off", [False, True])   # the fused Numba kernel and the torch loop
def test_memory_does_not_grow_with_the_sequence_length(monkeypatch, numba_off):
    if numba_off:
        monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    short, long = _buffer_bytes(2 * CHUNK), _buffer_bytes(20 * CHUNK)
    assert short > 0
    assert long == short  # the training pass keeps ~4 (L, 4H, N)-sized histories: 10x more here


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_no_grad_equals_the_grad_path(bias, reset_after):
    torch.manual_seed(2)
    m = GRU(3, 6, num_layers=2, bias=bias, reset_after=reset_after, batch_first=True).double()
    x, z0 = torch.randn(4, 9, 3, dtype=torch.float64), torch.randn(2, 4, 6, dtype=torch.float64)
    y1, z1 = m(x, z0)
    with torch.no_grad():
        y2, z2 = m(x, z0)
    assert y1.grad_fn is not None and y2.grad_fn is None
    assert torch.allclose(y1, y2, rtol=0, atol=1e-12) and torch.allclose(z1, z2, rtol=0, atol=1e-12)



def _gru_bytes(T: int) -> int:
    """Bytes allocated by the lecture GRU's inference pass over T steps, less its output."""
    m = GRU(4, 8)
    x = torch.randn(T, 5, 4)
    with torch.no_grad(), _Allocations() as spy:
        m(x)
    return sum(spy.sizes) - T * 5 * 8 * 4 - T * 5 * 24 * 4   # the output and the input projection


def test_lecture_gru_inference_allocates_nothing_per_step():
    assert _gru_bytes(200) == _gru_bytes(20)  # the autograd loop allocates every step's gates


def test_export_tracing_keeps_the_plain_paths(monkeypatch):
    """torch.export / ONNX tracing wants out-of-place ops: no inference pass while exporting."""
    import deepnets.nn.recurrent.lstm as lstm_mod

    def refuse(*a, **k):
        raise AssertionError("inference pass taken while exporting")

    monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
    monkeypatch.setattr(lstm_mod, "lstm_layer_infer", refuse)
    monkeypatch.setattr(GRU, "_torch_kernel", refuse)
    monkeypatch.setattr(GRU, "_infer_lecture", refuse)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        LSTM(3, 4)(x)
        GRU(3, 4)(x)
        GRU(3, 4, reset_after=True)(x)
