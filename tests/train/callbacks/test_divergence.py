"""The divergence guard: an epoch's loss far above the untrained network's stops training."""

import pytest
import torch

from deepnets.errors import ConfigError, TrainingDiverged
from deepnets.train import Callback, DivergenceGuard, fit


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(64, 1, generator=g)


def _untrained_lms(model, x, y):
    """The LMS cost (1/N) sum_n 1/2 ||y_n - f(x_n)||^2 of the network as it is, by hand."""
    with torch.no_grad():
        return float(0.5 * ((model(x) - y) ** 2).sum(1).mean())


class _Losses(Callback):
    """Each epoch's training loss, as a logger before the guard sees it."""

    def __init__(self):
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(logs["loss"])


def test_an_exploding_but_finite_loss_is_divergence():
    x, y = _data()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    e0 = _untrained_lms(model, x, y)
    guard, seen = DivergenceGuard(5), _Losses()
    # plain gradient descent with a step far past 2/lambda_max: the loss grows geometrically, still finite
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch \d+: the epoch's loss .* times the "
                                               r"untrained network's") as info:
        fit(model, (x, y), loss="lms", optimizer="sgd", lr=3.0, epochs=50, batch_size=8, callbacks=[seen, guard])
    assert guard.reference == pytest.approx(e0, rel=1e-6)
    *before, last = seen.losses
    assert f"loss {last:.4g} is" in str(info.value)
    assert all(v <= 5 * e0 for v in before) and 5 * e0 < last < float("inf")  # stopped at the first epoch above


def test_honest_training_is_not_stopped_and_the_guard_can_be_switched_off():
    x, y = _data()
    torch.manual_seed(0)
    h = fit(torch.nn.Linear(3, 1), (x, y), loss="lms", optimizer="sgd", lr=0.05, epochs=20, batch_size=8,
            callbacks=[DivergenceGuard(5)])
    assert h.history["loss"][-1] < h.history["loss"][0]
    torch.manual_seed(0)
    h = fit(torch.nn.Linear(3, 1), (x, y), loss="lms", optimizer="sgd", lr=3.0, epochs=6, batch_size=8,
            callbacks=[DivergenceGuard(0)])
    assert len(h.epoch) == 6 and h.history["loss"][-1] > 5 * h.history["loss"][0]  # off: the exploding run goes on


@pytest.mark.parametrize("factor", [1, 0.5, -2, float("inf"), float("nan"), True, "5"])
def test_a_factor_that_cannot_mean_divergence_is_refused(factor):
    with pytest.raises(ConfigError, match="diverge_factor must be 0 \\(off\\) or a finite number > 1"):
        DivergenceGuard(factor)


def test_the_reference_is_checkpointed_with_the_run():
    guard = DivergenceGuard(5)
    guard.reference = 0.25
    other = DivergenceGuard(5)
    other.load_state_dict(guard.state_dict())
    assert other.reference == 0.25


def test_a_run_that_fails_puts_the_signal_handlers_back():
    import signal

    from deepnets.train import GracefulStop

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    x, y = _data()
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged):
        fit(torch.nn.Linear(3, 1), (x, y), loss="lms", optimizer="sgd", lr=3.0, epochs=50, batch_size=8,
            callbacks=[GracefulStop(), DivergenceGuard(5)])
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # Ctrl-C works again
