"""fit(): batching modes, optimizers through step(closure), per-layer rates, callbacks' order,
input noise, determinism, generic torch modules (early stopping and the non-finite guard:
tests/train/callbacks/)."""

import pytest
import torch
from torch import nn

import deepnets
from deepnets import MLP, Callback, fit
from deepnets.errors import ConfigError
from deepnets.losses import LMS
from deepnets.train import TensorBatches, param_groups


def _toy(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = (x[:, :1] * 0.5 - x[:, 1:2] ** 2 * 0.3)
    return x, y


@pytest.mark.parametrize("batch_size,steps", [(1, 64), (16, 4), (None, 1)])
def test_online_minibatch_full_batch_step_counts(batch_size, steps):
    x, y = _toy()
    counter = []

    class Count(Callback):
        def on_batch_end(self, batch, logs=None):
            counter.append(logs["size"])

    net = MLP([3, 4, 1], seed=0)
    fit(net, (x, y), epochs=2, batch_size=batch_size, callbacks=[Count()], optimizer="sgd", lr=0.01)
    assert len(counter) == 2 * steps and sum(counter) == 2 * 64


def test_one_sgd_step_equals_hand_update():
    """Full batch SGD: w ← w − η ∂E/∂w with E the batch-mean LMS cost (independent autograd step)."""
    x, y = _toy(8)
    net = MLP([3, 4, 1], seed=1)
    ref = MLP([3, 4, 1], seed=1)
    ref.use_costate = False
    E = LMS()(ref(x), y)
    grads = torch.autograd.grad(E, list(ref.parameters()))
    fit(net, (x, y), epochs=1, batch_size=None, optimizer="sgd", lr=0.1)
    for p, q, g in zip(net.parameters(), ref.parameters(), grads):
        torch.testing.assert_close(p.detach(), q.detach() - 0.1 * g)


def test_fast_path_equals_autograd_path_over_training():
    x, y = _toy()
    a, b = MLP([3, 5, 1], seed=2), MLP([3, 5, 1], seed=2)
    b.use_costate = False
    ha = fit(a, (x, y), epochs=5, batch_size=8, seed=4)
    hb = fit(b, (x, y), epochs=5, batch_size=8, seed=4)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-5)


def test_same_seed_same_run_different_seed_differs():
    x, y = _toy()

    def run(seed):
        net = MLP([3, 6, 1], seed=0)
        fit(net, (x, y), epochs=3, batch_size=8, seed=seed, input_noise=0.05)
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


@pytest.mark.parametrize("opt", ["sgd", "adam", "adagrad", "rmsprop", "adamw", "lbfgs"])
def test_every_optimizer_through_step_closure(opt):
    x, y = _toy()
    net = MLP([3, 8, 1], activation="tanh", seed=0)
    lr = {"sgd": 0.1, "lbfgs": 0.5}.get(opt, 0.01)
    h = fit(net, (x, y), epochs=20, batch_size=None, optimizer=opt, lr=lr)
    assert h.history["loss"][-1] < 0.8 * h.history["loss"][0]


def test_torch_optimizer_instance_and_generic_module():
    x, y = _toy()
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    h = fit(model, (x, y), epochs=30, batch_size=16, optimizer=opt)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_dataloader_input():
    x, y = _toy()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    h = fit(MLP([3, 4, 1], seed=0), loader, epochs=3)
    assert len(h.history["loss"]) == 3


def test_per_layer_learning_rates():
    net = MLP([3, 4, 4, 1], seed=0)
    groups = param_groups(net, 0.1, [0.3, 0.2, 0.1])
    assert sorted(g["lr"] for g in groups) == [0.1, 0.2, 0.3]
    x, y = _toy()
    # only the last layer learns: the first two have rate 0 -> unchanged
    before = [p.detach().clone() for p in net.parameters()]
    fit(net, (x, y), epochs=1, optimizer="sgd", lr=0.1, layer_lr={"layers.0.": 0.0, "layers.1.": 0.0})
    after = list(net.parameters())
    assert all(torch.equal(b, a) for b, a in zip(before[:4], after[:4]))
    assert not torch.equal(before[4], after[4])
    with pytest.raises(ConfigError, match="one rate per layer"):
        param_groups(net, 0.1, [0.1, 0.1])
    with pytest.raises(ConfigError, match="matches no parameter"):
        param_groups(net, 0.1, {"layer.9": 0.1})


def test_callback_order():
    calls = []

    class Rec(Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append("epoch_begin")
        def on_batch_begin(self, batch, logs=None): calls.append("batch_begin")
        def on_after_backward(self, batch, loss): calls.append("after_backward")
        def on_batch_end(self, batch, logs=None): calls.append("batch_end")
        def on_epoch_end(self, epoch, logs=None): calls.append("epoch_end")
        def on_train_end(self, logs=None): calls.append("train_end")

    x, y = _toy(8)
    fit(MLP([3, 2, 1], seed=0), (x, y), epochs=2, batch_size=4, callbacks=[Rec()], optimizer="sgd")
    batch = ["batch_begin", "after_backward", "batch_end"]
    assert calls == ["train_begin"] + (["epoch_begin"] + batch * 2 + ["epoch_end"]) * 2 + ["train_end"]


def test_input_noise_variance():
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            seen.append(x.detach().clone())
            return x[:, :1] * self.w

    x = torch.zeros(4000, 1)
    fit(Spy(), (x, torch.zeros(4000, 1)), epochs=1, batch_size=None, input_noise=0.25, optimizer="sgd", guard=False)
    assert float(seen[0].var()) == pytest.approx(0.25, rel=0.1)


def test_argument_errors():
    x, y = _toy(8)
    with pytest.raises(ConfigError):
        fit(MLP([3, 1]), (x, y), batch_size=0)
    with pytest.raises(ConfigError, match="Invalid learning rate"):
        fit(MLP([3, 1]), (x, y), lr=-1.0)
    with pytest.raises(ConfigError, match="did you mean 'adam'"):
        fit(MLP([3, 1]), (x, y), optimizer="adamm")
    with pytest.raises(ConfigError, match="does not match"):
        fit(MLP([3, 1]), (x, y[:, 0]), epochs=1)


def test_tensor_batches_cover_every_sample_once():
    x = torch.arange(10).float().unsqueeze(1)
    b = TensorBatches(x, x, batch_size=3, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([xb for xb, _ in b])
    assert sorted(seen.flatten().tolist()) == list(range(10)) and len(b) == 4


@pytest.mark.parametrize("name", ["ekf", "decoupled_ekf"])
def test_kalman_filters_train_through_fit(name):
    """The EKF's closure measures (outputs, targets); fit hands them over, labels coded."""
    d = deepnets.load_dataset("xor")
    net = MLP([2, 3, 1], activation="tanh", output="logistic", seed=0)
    h = fit(net, (d.x, d.y), optimizer=name, optimizer_options={"p0": 100.0, "q": 1e-2}, epochs=60,
            batch_size=None, validation=(d.x, d.y), metrics=["accuracy"])
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]


@pytest.mark.parametrize("workers", [0, 2])
def test_same_seed_same_run_with_dropout_and_loader_workers(workers):
    """Bit for bit on the CPU: a net with dropout, fed by a DataLoader with 0 or 2 workers."""
    x, y = _toy(48)

    def run(seed):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, 1))
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True,
                                             num_workers=workers, generator=torch.Generator().manual_seed(seed))
        fit(model, loader, epochs=2, seed=seed)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    a, b, c = run(1), run(1), run(2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    ref = run(1) if workers else None
    assert ref is None or torch.equal(a, ref)


def test_fit_leaves_the_callers_rng_alone():
    x, y = _toy(16)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    state = torch.get_rng_state()
    expected = torch.rand(3)
    torch.set_rng_state(state)
    fit(model, (x, y), epochs=2, seed=7)  # dropout draws from the forked, seeded RNG
    assert torch.equal(torch.rand(3), expected)


def test_bf16_autocast_trains_with_float32_weights():
    seen = []
    x, y = _toy(64)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    h = fit(model, (x, y), epochs=20, batch_size=16, precision="bf16", optimizer="adam", lr=0.01)
    assert torch.bfloat16 in seen  # the matmuls ran in bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    with pytest.raises(ConfigError, match="precision"):
        fit(model, (x, y), epochs=1, precision="fp8")


def test_channels_last_gives_the_same_training():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 8, 8, generator=g)
    y = torch.randint(0, 2, (16,), generator=g)

    def run(cl):
        torch.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 2))
        fit(m, (x, y), loss=nn.CrossEntropyLoss(), epochs=3, batch_size=8, optimizer="sgd", lr=0.1,
            channels_last=cl)
        return m

    a, b = run(False), run(True)
    assert b[0].weight.is_contiguous(memory_format=torch.channels_last)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_compiled_forward_equals_eager():
    x, y = _toy(32)
    a = MLP([3, 8, 1], seed=0)
    b = MLP([3, 8, 1], seed=0)
    b.use_costate = False
    fit(a, (x, y), epochs=2, batch_size=8, optimizer="sgd", lr=0.1)
    fit(b, (x, y), epochs=2, batch_size=8, optimizer="sgd", lr=0.1, compile=True)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_bf16_on_a_deepnets_mlp_takes_the_autograd_path():
    d = deepnets.load_dataset("xor")
    net = MLP([2, 4, 1], activation="tanh", output="logistic", seed=0)
    h = fit(net, (d.x, d.y), loss="cross_entropy", epochs=200, batch_size=None, lr=0.05, precision="bf16")
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
def test_fit_warns_once_when_examples_are_fewer_than_ten_per_weight():
    import warnings as _w

    from deepnets.train.loop import FewExamplesWarning

    net = MLP([2, 3, 1], activation="tanh", output="linear", seed=0)  # N_W = 13: needs 130 examples
    x, y = torch.randn(129, 2), torch.randn(129, 1)
    with pytest.warns(FewExamplesWarning, match="129 examples for 13 weights, fewer than 10 x 13") as record:
        fit(net, (x, y), optimizer="sgd", lr=0.01, epochs=3, batch_size=16)
    assert len([w for w in record if issubclass(w.category, FewExamplesWarning)]) == 1
    assert issubclass(FewExamplesWarning, UserWarning)
    with _w.catch_warnings():
        _w.simplefilter("error", FewExamplesWarning)  # 130 examples: no warning
        fit(net, (torch.randn(130, 2), torch.randn(130, 1)), optimizer="sgd", lr=0.01, epochs=1, batch_size=16)


@pytest.mark.parametrize("guard", ["validation", "penalty", "input_noise", "weight_decay", "torch_dropout",
                                   "lecture_dropout"])
def test_few_examples_warning_is_left_out_when_something_watches_for_overfitting(guard):
    import warnings as _w

    from deepnets import WeightDecay
    from deepnets.nn import Dropout
    from deepnets.train.loop import FewExamplesWarning

    x, y = torch.randn(40, 2), torch.randn(40, 1)  # 40 examples for 13 weights: the rule of thumb's case
    net = MLP([2, 3, 1], activation="tanh", output="linear", seed=0)
    kwargs = {"validation": dict(validation=(x[:8], y[:8])), "penalty": dict(penalty=WeightDecay(1e-3)),
              "input_noise": dict(input_noise=0.01), "weight_decay": dict(optimizer_options={"weight_decay": 1e-4}),
              }.get(guard, {})
    if guard.endswith("dropout"):
        drop = torch.nn.Dropout(0.2) if guard == "torch_dropout" else Dropout(0.8)
        net = torch.nn.Sequential(torch.nn.Linear(2, 3), drop, torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with _w.catch_warnings():
        _w.simplefilter("error", FewExamplesWarning)
        fit(net, (x, y), optimizer="sgd", lr=0.01, epochs=1, batch_size=16, **kwargs)
    idle = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Dropout(0.0), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with pytest.warns(FewExamplesWarning, match="40 examples for 13 weights"):  # a dropout that drops nothing
        fit(idle, (x, y), optimizer="sgd", lr=0.01, epochs=1, batch_size=16)
