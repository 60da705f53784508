import pytest
import torch

from deepnets.optim import Quickprop, quickprop_step


def run_with_grads(opt, w, grads):
    out = []
    for g in grads:
        w.grad = torch.tensor(g, dtype=w.dtype)
        before = w.detach().clone()
        opt.step()
        out.append(w.detach() - before)
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_three_hand_worked_steps(dtype):
    # epsilon = lr = 0.1, mu = 1.75, so mu / (1 + mu) = 0.63636...
    w = torch.zeros(4, dtype=dtype, requires_grad=True)
    opt = Quickprop([w], lr=0.1, mu=1.75)
    d1, d2, d3 = run_with_grads(opt, w, [[4.0, -2.0, 1.0, 3.0], [2.0, -3.0, -1.0, 0.0], [1.0, -1.0, 0.5, 2.0]])
    # Step 1: no previous step, gradient steps -0.1 S.
    torch.testing.assert_close(d1, torch.tensor([-0.4, 0.2, -0.1, -0.3], dtype=dtype))
    # Step 2, weight by weight (sigma = sign of the last step, slope = sigma S):
    #  w0: sigma -1, slope -2 vs -4: -2 > 0.636 * -4 = -2.545, not capped; secant 2/(4-2) * -0.4 = -0.4,
    #      slope < 0 so add -0.1 * 2 = -0.2: -0.6.
    #  w1: sigma +1, slope -3 vs -2: -3 <= -1.273, capped: 1.75 * 0.2 = 0.35, plus -0.1 * -3 = 0.3: 0.65.
    #  w2: sigma -1, slope +1 vs -1 (the slope changed sign): secant -1/(1+1) * -0.1 = 0.05 alone.
    #  w3: S = 0: secant 0/(3-0) * -0.3 = 0, no gradient term: 0.
    torch.testing.assert_close(d2, torch.tensor([-0.6, 0.65, 0.05, 0.0], dtype=dtype))
    # Step 3:
    #  w0: sigma -1, slope -1 vs -2: not capped; secant 1/(2-1) * -0.6 = -0.6, plus -0.1: -0.7.
    #  w1: sigma +1, slope -1 vs -3: not capped; secant -1/(-3+1) * 0.65 = 0.325, plus 0.1: 0.425.
    #  w2: sigma +1, slope 0.5 vs -1: secant 0.5/(-1-0.5) * 0.05 = -1/60, no gradient term.
    #  w3: last step was zero: gradient step -0.1 * 2 = -0.2.
    torch.testing.assert_close(d3, torch.tensor([-0.7, 0.425, -1 / 60, -0.2], dtype=dtype))


def test_secant_step_is_exact_on_a_parabola_when_the_slope_crosses_zero():
    # E = (w - 1)^2 from w = 0 with lr 0.75: S = -2, gradient step 1.5 to w = 1.5 where S = +1.
    # The slope crossed zero, so the secant step alone is taken: 1/(-2 - 1) * 1.5 = -0.5, w = 1.
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = Quickprop([w], lr=0.75)
    for _ in range(2):
        opt.zero_grad()
        ((w - 1) ** 2).sum().backward()
        opt.step()
    assert w.item() == pytest.approx(1.0, abs=1e-15)


def test_equal_slopes_take_the_capped_step_not_a_division_by_zero():
    step = quickprop_step(torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([0.5]), lr=0.1, mu=1.75)
    torch.testing.assert_close(step, torch.tensor([1.75 * 0.5]))


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="Invalid learning rate: 0"):
        Quickprop([torch.zeros(1, requires_grad=True)], lr=0)
    with pytest.raises(ValueError, match="Invalid mu: -1"):
        Quickprop([torch.zeros(1, requires_grad=True)], mu=-1)
