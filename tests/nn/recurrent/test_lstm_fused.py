"""The peephole LSTM's fused CPU inference kernel (Numba) against the torch path it replaces and
against torch.nn.LSTM where the maths coincide (peepholes zero) (#19)."""

import numpy as np
import pytest
import torch

from deepnets import _numba
from deepnets.nn.recurrent import LSTM
from deepnets.nn.recurrent import lstm_infer

pytestmark = pytest.mark.skipif(not _numba.available(), reason="Numba not importable here")
if _numba.available():
    from deepnets.nn.recurrent.lstm_fused import _JIT, sigmoid_den, tanh_parts
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
# (T, N, H_in, H): one step, batch 1, across a chunk boundary, two chunks and a remainder
SHAPES = [(1, 1, 1, 1), (5, 1, 3, 4), (19, 3, 2, 5), (37, 7, 3, 9)]


class _Count:
    """Stands in for lstm_fused.lstm_steps and counts its calls (its dispatcher is itself)."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def dispatcher(self):
        return self

    def __call__(self, *args):
        self.calls += 1
        return self.real(*args)


@pytest.fixture
def spy(monkeypatch):
    from deepnets.nn.recurrent import lstm_fused
    count = _Count(lstm_fused.lstm_steps)
    monkeypatch.setattr(lstm_fused, "lstm_steps", count)
    return count


def _net(I, H, dtype, seed=0, layers=2):
    m = LSTM(I, H, num_layers=layers, forget_bias=1.0, batch_first=True,
             generator=torch.Generator().manual_seed(seed)).to(dtype)
    with torch.no_grad():
        for k in range(layers):   # peepholes of the size of the other weights, not the init's
            m.layer_weights(k)[3].normal_(0.0, 0.5, generator=torch.Generator().manual_seed(seed + k))
    return m


def _run(m, x, state):
    with torch.no_grad():
        y, (z, c) = m(x, state)
    return y, z, c


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T, N, I, H", SHAPES)
def test_fused_path_equals_the_torch_path(monkeypatch, spy, dtype, T, N, I, H):
    m = _net(I, H, dtype)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, T, I, generator=g).to(dtype)                    # batch-first: a strided view inside
    state = tuple(torch.randn(2, N, H, generator=g).to(dtype) for _ in range(2))
    fused = _run(m, x, state)
    assert spy.calls == 2                                              # one call a layer
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    plain = _run(m, x, state)
    assert spy.calls == 2                                              # the switch took the torch path
    for a, b in zip(fused, plain):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("T, N, I, H", SHAPES)
def test_zero_peepholes_give_torch_nn_lstm(spy, dtype, T, N, I, H):
    torch.manual_seed(2)
    theirs = torch.nn.LSTM(I, H).to(dtype)
    ours = LSTM(I, H, peepholes=True).to(dtype)
    with torch.no_grad():
        W_x, W_z, b, p = ours.layer_weights(0)
        W_x.copy_(theirs.weight_ih_l0)
        W_z.copy_(theirs.weight_hh_l0)
        b.copy_(theirs.bias_ih_l0 + theirs.bias_hh_l0)
        p.zero_()
    x = torch.randn(T, N, I, dtype=dtype)
    state = (torch.randn(1, N, H, dtype=dtype), torch.randn(1, N, H, dtype=dtype))
    with torch.no_grad():
        want, (z_w, c_w) = theirs(x, state)
        got, (z_g, c_g) = ours(x, state)
    assert spy.calls == 1
    for a, b in ((got, want), (z_g, z_w), (c_g, c_w)):
        torch.testing.assert_close(a, b, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_saturated_gates_and_nan_agree_with_the_torch_path(monkeypatch, dtype):
    """Pre-activations far beyond the exponential's clamp (+-40 / +-300) and a NaN input."""
    m = _net(3, 6, dtype, seed=3, layers=1)
    with torch.no_grad():
        for w in m.layer_weights(0):
            w.mul_(400.0)
    x = torch.randn(2, 9, 3, dtype=dtype) * 10
    x[1, 4, 0] = float("nan")
    fused = _run(m, x, None)
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    plain = _run(m, x, None)
    y, z, c = fused
    assert y[1, 4:].isnan().all() and not y[1, :4].isnan().any() and not y[0].isnan().any()
    assert z[:, 1].isnan().all() and c[:, 1].isnan().all()            # the NaN stays in its sequence
    for a, b in zip(fused, plain):
        assert torch.equal(a.isnan(), b.isnan())
        torch.testing.assert_close(a, b, rtol=0, atol=TOL[dtype], equal_nan=True)


def test_which_tensors_the_kernel_takes(monkeypatch):
    f32, f64 = torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.float64)
    assert lstm_infer.fused_applies(f32, f32) and lstm_infer.fused_applies(f64, f64)
    assert not lstm_infer.fused_applies(f32, f64)                            # mixed: the torch path errs
    assert not lstm_infer.fused_applies(f32.half(), f32.half())
    assert not lstm_infer.fused_applies(torch.zeros(2, 2, device="meta"), torch.zeros(2, 2, device="meta"))
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    assert not lstm_infer.fused_applies(f32, f32)


def test_blas_threads_follow_torch_and_are_restored():
    from threadpoolctl import threadpool_info

    from deepnets.nn.recurrent import lstm_fused
    m = _net(3, 4, torch.float32, layers=1)
    x = torch.randn(1, 3, 3)
    _run(m, x, None)                                  # SciPy's BLAS loaded and the controller made
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    with lstm_fused._blas_threads(1):
        inside = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert inside and set(inside.values()) == {1}
    _run(m, x, None)
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before


@pytest.mark.parametrize("numba_off", [False, True])
@pytest.mark.parametrize("N, H", [(1, 4), (3, 1), (1, 1)])
def test_inference_leaves_the_callers_state_alone(monkeypatch, numba_off, N, H):
    """With a batch of 1 (or H = 1) c0.t() is already contiguous: the inference pass must still
    copy it before overwriting c in place (it used to write into the caller's state)."""
    if numba_off:
        monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    m = _net(3, H, torch.float64, layers=2)
    x = torch.randn(N, 5, 3, dtype=torch.float64)
    state = (torch.randn(2, N, H, dtype=torch.float64), torch.randn(2, N, H, dtype=torch.float64))
    kept = [s.clone() for s in state]
    first = _run(m, x, state)
    assert all(torch.equal(s, k) for s, k in zip(state, kept))
    for a, b in zip(first, _run(m, x, state)):                       # and a second call agrees
        assert torch.equal(a, b)


def test_a_sliced_input_is_read_in_place(monkeypatch, spy):
    """x with a storage offset and gaps between rows: the kernel reads it through its strides."""
    m = _net(3, 5, torch.float64, layers=1)
    m.batch_first = False
    big = torch.randn(12, 4, 7, dtype=torch.float64)
    x = big[2:, 1:, 2:5]                                               # (10, 3, 3), offset, strided
    fused = _run(m, x, None)
    assert spy.calls == 1
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    for a, b in zip(fused, _run(m, x.contiguous(), None)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_the_kernel_only_ever_gets_c_contiguous_arrays():
    """A strided view (the peepholes spread over the batch when H = 1 was one) would make Numba
    compile a second, slower version of the kernel for it."""
    from deepnets.nn.recurrent import lstm_fused
    for N, H in ((1, 1), (3, 1), (1, 4), (2, 3)):
        _run(_net(2, H, torch.float64, layers=2), torch.randn(N, 4, 2, dtype=torch.float64), None)
    layouts = {a.layout for sig in lstm_fused.lstm_steps.compiled.signatures for a in sig if hasattr(a, "layout")}
    assert layouts == {"C"}


def _gate_functions(x, one, sig, tanh):
    """sigma and tanh as the kernel computes them, element by element (in x's float type; one[0] = 1)."""
    for k in range(x.shape[0]):
        sig[k] = one[0] / sigmoid_den(x[k])
        n, d = tanh_parts(x[k])
        tanh[k] = n / d


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1.5e-7), (np.float64, 3e-16)])
def test_the_kernels_sigmoid_and_tanh_against_float64_numpy(dtype, tol):
    """The written-out exponential (module docstring: 1.1e-7 / 2e-16 relative) gives sigma and
    tanh within about an ulp, beyond the clamp too, and passes NaN on."""
    compiled = _numba.kernel(_gate_functions, **_JIT)
    x = np.concatenate([np.linspace(-50, 50, 100_001), [-1e30, 1e30, -np.inf, np.inf, 0.0, np.nan]]).astype(dtype)
    sig, tanh = np.empty_like(x), np.empty_like(x)
    compiled(x, np.ones(1, dtype), sig, tanh)
    xd = x.astype(np.float64)[:-1]
    with np.errstate(over="ignore"):
        want_sig = 1 / (1 + np.exp(-xd))
    assert np.abs(sig[:-1] - want_sig).max() <= tol
    assert np.abs(tanh[:-1] - np.tanh(xd)).max() <= 2 * tol
    assert np.isnan(sig[-1]) and np.isnan(tanh[-1])
