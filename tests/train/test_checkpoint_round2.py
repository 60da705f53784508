"""Cheaper saves, round two (#19): the history packed as it grows, RNG states reused when they did
not move, the snapshot's structure resolved once; each checked against the plain path it replaces."""

import random
import warnings

import pytest
import torch

from deepnets.train.callbacks.base import History, SeriesPacker, pack_series


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _same(a, b):
    if isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return not isinstance(a, torch.Tensor) and a == b


@pytest.mark.parametrize("seed", range(6))
def test_the_incremental_packer_gives_what_pack_series_gives_after_every_append(seed):
    rng = random.Random(seed)
    kinds = [lambda: rng.random(), lambda: rng.randrange(-5, 5), lambda: float("nan"), lambda: 2 ** 70,
             lambda: True, lambda: "x"]
    values, packer, earlier = [], SeriesPacker(), []
    first = rng.choice([0, 1])  # mostly floats or ints, now and then a value that fits no tensor
    for _ in range(60):
        values.extend(kinds[first]() if rng.random() < 0.97 else rng.choice(kinds)()
                      for _ in range(rng.choice([1, 1, 1, 3])))
        got = packer.pack(values)
        assert _same(got, pack_series(values))
        earlier.append((got, pack_series(values)))
    for got, want in earlier:  # a result handed out earlier is not changed by later appends
        assert _same(got, want)


def test_a_replaced_or_shortened_history_is_packed_anew():
    h = History()
    for e in range(5):
        h.on_epoch_end(e, {"loss": 1.0 / (e + 1)})
    h.packed()
    h.history["loss"] = [0.5, 0.25]      # replaced (a resumed run's load_state_dict)
    h.epoch = h.epoch[:2]
    del h.epoch[1:]                     # shortened in place
    got = h.packed()
    assert _same(got["logs"]["loss"], pack_series([0.5, 0.25])) and _same(got["epoch"], pack_series([0]))


def _file(snap):
    return bytes(snap.encode(7))


def _swap(net, opt):
    old = net.layers[1].bias
    net.layers[1].bias = new = torch.nn.Parameter(old.detach() + 1)
    params = opt.param_groups[0]["params"]
    params[next(i for i, p in enumerate(params) if p is old)] = new
    opt.state[new] = opt.state.pop(old)


def test_a_taker_reusing_the_structure_writes_the_file_a_fresh_snapshot_writes():
    from deepnets import MLP
    from deepnets.train.checkpoint_snapshot import SnapshotTaker, snapshot

    torch.manual_seed(0)
    net = MLP([3, 4, 2], seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    take, x = SnapshotTaker(), torch.randn(8, 3)
    changes = [lambda: None,                                              # no state yet
               lambda: net(x).square().sum().backward() or opt.step(),    # the state appears
               lambda: opt.step(),                                        # values move, structure holds
               lambda: opt.param_groups[0].update(lr=-0.0),               # a setting: -0.0 is not 0.0
               lambda: opt.param_groups[0].update(lr=0.0),
               lambda: opt.state[net.layers[0].weight].update(            # a state tensor replaced
                   exp_avg=opt.state[net.layers[0].weight]["exp_avg"].clone() + 1),
               lambda: _swap(net, opt)]                                   # a weight replaced
    for change in changes:
        change()
        extra = {"loop": {"history": torch.arange(3.0)}}
        got = take(model=net, optimizer=opt, step=1, epoch=0, extra=extra)
        assert _file(got) == _file(snapshot(model=net, optimizer=opt, step=1, epoch=0, extra=extra))


def _tiny_run(epochs, callbacks=()):
    from deepnets import MLP, fit

    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=g)
    net = MLP([3, 5, 1], seed=0)
    h = fit(net, (x, x[:, :1] - x[:, 2:] ** 2), epochs=epochs, batch_size=8, lr=0.01, seed=2, callbacks=list(callbacks))
    return net, h


@pytest.mark.parametrize("every_epochs, epochs, stop_at", [(1, 8, None), (3, 10, None), (1, 8, 4)])
def test_a_busy_writer_skips_the_copies_that_would_wait_but_never_the_last_save(tmp_path, monkeypatch,
                                                                                every_epochs, epochs, stop_at):
    import time

    from deepnets.train.callbacks import Callback, Checkpointer
    from deepnets.train.checkpoint import CheckpointManager

    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.loop.stop_training = epoch == stop_at

    real = CheckpointManager.write
    monkeypatch.setattr(CheckpointManager, "write", lambda self, *a: time.sleep(0.05) or real(self, *a))  # a slow disk
    saver = Checkpointer(tmp_path, every_epochs=every_epochs, keep=50, background=True)
    taken, take = [], saver.snapshot
    saver.snapshot = lambda **kw: taken.append(kw["epoch"]) or take(**kw)
    callbacks = [StopAt()] if stop_at is not None else []
    net, h = _tiny_run(epochs, callbacks + [saver])
    asked = len(range(every_epochs - 1, len(h.epoch), every_epochs))
    written = CheckpointManager(tmp_path).list()
    assert len(taken) < asked and saver.skipped == asked - len(written)  # skipped: copied or not, never written
    assert written[-1].epoch == len(h.epoch) - (len(h.epoch) % every_epochs) == taken[-1]  # the last save is whole
    monkeypatch.setattr(CheckpointManager, "write", real)
    resumed, h2 = _tiny_run(epochs, callbacks + [Checkpointer(tmp_path, every_epochs=every_epochs, resume=True)])
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), resumed.parameters())) and h2.history == h.history


def test_the_writer_rests_so_background_saves_keep_to_their_share_and_the_last_is_still_written(tmp_path):
    from deepnets.train.callbacks import Checkpointer
    from deepnets.train.checkpoint import CheckpointManager
    from deepnets.train.checkpoint_writer import BackgroundWriter

    full, full_h = _tiny_run(8)
    saver = Checkpointer(tmp_path, every_epochs=1, keep=50)  # background by default
    saver.writer.share = 1e-9  # a rest of ~1e9 times a checkpoint's CPU: only the first and the last
    net, h = _tiny_run(8, [saver])
    assert [i.epoch for i in CheckpointManager(tmp_path).list()] == [1, 8] and saver.skipped == 6
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), full.parameters())) and h.history == full_h.history
    with pytest.raises(ValueError, match="share"):
        BackgroundWriter(saver.manager, share=0)


def test_share_reaches_the_writer_from_python_and_toml(tmp_path):
    """``share`` from Checkpointer and from train.checkpoint.share; 1 writes every save the disk
    keeps up with (no rest), a bad value is refused naming what is expected."""
    import pytest

    from deepnets.config import experiment_from_dict
    from deepnets.errors import ConfigError
    from deepnets.experiment.run import run_experiment
    from deepnets.train.callbacks import Checkpointer

    assert Checkpointer(tmp_path / "a", share=0.5).writer.share == 0.5
    with pytest.raises(ConfigError, match=r"a fraction in \(0, 1\], got 0"):
        Checkpointer(tmp_path / "b", share=0)
    exp = experiment_from_dict({"data": {"name": "xor", "split": [1.0, 0.0, 0.0], "scale": "none"},
                                "model": {"hidden": [3]},
                                "train": {"epochs": 3, "checkpoint": {"every_epochs": 1, "share": 0.25}},
                                "run": {"out": str(tmp_path), "progress": False, "plots": False}})
    assert exp.train.checkpoint.share == 0.25
    import deepnets.train.callbacks.checkpointer as mod
    seen = []
    real = mod.BackgroundWriter.__init__
    def spy(self, manager, *, share=mod.SHARE):
        seen.append(share)
        real(self, manager, share=share)
    mod.BackgroundWriter.__init__ = spy
    try:
        run_experiment(exp)
    finally:
        mod.BackgroundWriter.__init__ = real
    assert seen == [0.25]
