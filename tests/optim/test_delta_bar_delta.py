import pytest
import torch

from deepnets.optim import DeltaBarDelta


def run_with_grads(opt, w, grads):
    """Apply opt.step() with the given gradients written into w.grad; returns w after each."""
    out = []
    for g in grads:
        w.grad = torch.tensor(g, dtype=w.dtype)
        opt.step()
        out.append(w.detach().clone())
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_three_hand_worked_steps(dtype):
    # lr = eta(0) = 0.1, kappa = 0.05, phi = 0.2, theta = 0.5, no momentum.
    w = torch.tensor([1.0, -2.0, 0.5], dtype=dtype, requires_grad=True)
    opt = DeltaBarDelta([w], lr=0.1, kappa=0.05, phi=0.2, theta=0.5)
    w1, w2, w3 = run_with_grads(opt, w, [[2.0, -1.0, 0.5], [1.0, 0.5, -0.5], [1.0, 3.0, 0.0]])
    # Step 1: delta_bar(0) = 0, so eta stays 0.1; w = w - 0.1 delta = (0.8, -1.9, 0.45);
    #         delta_bar(1) = 0.5 delta(1) = (1, -0.5, 0.25).
    torch.testing.assert_close(w1, torch.tensor([0.8, -1.9, 0.45], dtype=dtype))
    # Step 2: delta_bar(1) delta(2) = (1, -0.25, -0.125): eta = (0.1 + 0.05, 0.1 * 0.8, 0.1 * 0.8)
    #         = (0.15, 0.08, 0.08); w = (0.8 - 0.15, -1.9 - 0.04, 0.45 + 0.04) = (0.65, -1.94, 0.49);
    #         delta_bar(2) = 0.5 delta(2) + 0.5 delta_bar(1) = (1, 0, -0.125).
    torch.testing.assert_close(w2, torch.tensor([0.65, -1.94, 0.49], dtype=dtype))
    torch.testing.assert_close(opt.state[w]["eta"], torch.tensor([0.2, 0.08, 0.08], dtype=dtype))
    # Step 3: delta_bar(2) delta(3) = (1, 0, 0): eta = (0.2, 0.08, 0.08);
    #         w = (0.65 - 0.2, -1.94 - 0.24, 0.49 - 0) = (0.45, -2.18, 0.49).
    torch.testing.assert_close(w3, torch.tensor([0.45, -2.18, 0.49], dtype=dtype))
    torch.testing.assert_close(opt.state[w]["delta_bar"], torch.tensor([1.0, 1.5, -0.0625], dtype=dtype))


def test_momentum_by_hand():
    # lr 0.1, kappa 0.05, theta 0.7, momentum 0.5; gradient 1 twice.
    # Step 1: eta 0.1, Delta w = -0.1, w = 0.9; delta_bar = 0.3.
    # Step 2: 0.3 * 1 > 0 so eta = 0.15; Delta w = 0.5 * (-0.1) - 0.15 = -0.2; w = 0.7.
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = DeltaBarDelta([w], lr=0.1, kappa=0.05, theta=0.7, momentum=0.5)
    w1, w2 = run_with_grads(opt, w, [[1.0], [1.0]])
    assert w1.item() == pytest.approx(0.9, abs=1e-15)
    assert w2.item() == pytest.approx(0.7, abs=1e-15)


def test_parameter_groups_keep_their_own_settings():
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = DeltaBarDelta([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = torch.ones(2)
    b.grad = torch.ones(2)
    opt.step()
    torch.testing.assert_close(a.detach(), torch.full((2,), -0.1))
    torch.testing.assert_close(b.detach(), torch.full((2,), -0.5))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"lr": -1.0}, "Invalid learning rate: -1.0"), ({"phi": 1.0}, "Invalid phi: 1.0"),
     ({"theta": -0.1}, "Invalid theta: -0.1"), ({"kappa": -1}, "Invalid kappa: -1")],
)
def test_invalid_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeltaBarDelta([torch.zeros(1, requires_grad=True)], **kwargs)
