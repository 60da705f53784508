"""Cheap checkpoints (#19): one file written with one fsync of it, one rename and one fsync of the
folder; compact RNG state; a snapshot that shares nothing with the run; a background writer with
the same files and the same crash guarantee; the manager's kept listing."""

import os
import random
import signal
import threading
import types
import warnings

import pytest
import torch

from deepnets import MLP, fit
from deepnets.atomic import CheckpointWriteError
from deepnets.errors import CheckpointError
from deepnets.train.callbacks import Checkpointer
from deepnets.train.callbacks.base import pack_series, unpack_series
from deepnets.train.checkpoint import CheckpointManager
from deepnets.train.checkpoint_format import read_header
from deepnets.train.checkpoint_snapshot import snapshot
from deepnets.train.rng import get_rng_state, set_rng_state


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=g)
    return x, x[:, :1] - x[:, 2:] ** 2


def _run(epochs, callbacks=()):
    net = MLP([3, 5, 1], seed=0)
    h = fit(net, _data(), epochs=epochs, batch_size=8, lr=0.01, seed=2, callbacks=list(callbacks))
    return net, h


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def _equal(a, b):
    """Plain-data trees equal, tensors bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_python_rng_state_is_one_tensor_and_restores_the_stream():
    s = get_rng_state()
    assert isinstance(s["python"]["state"], torch.Tensor) and s["python"]["state"].numel() == 625
    want = [random.random() for _ in range(5)]
    set_rng_state(s)
    assert [random.random() for _ in range(5)] == want


def test_rng_state_in_the_old_list_form_still_restores():
    version, internal, gauss = random.getstate()
    old = {**get_rng_state(), "python": [version, list(internal), gauss]}
    want = [random.random() for _ in range(5)]
    set_rng_state(old)
    assert [random.random() for _ in range(5)] == want


def _state_json(run) -> tuple[int, int]:
    """(characters of the state's JSON, tensors) in the newest checkpoint's header."""
    import json
    import struct

    path = CheckpointManager(run).latest_good().path
    raw = path.read_bytes()
    head = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    return len(head["__metadata__"]["state"]), len(head) - 1


def test_the_state_in_the_header_is_small_and_does_not_grow_with_the_epochs(tmp_path):
    _run(2, [Checkpointer(tmp_path / "a", every_epochs=1)])
    _run(12, [Checkpointer(tmp_path / "b", every_epochs=1)])
    (short, tensors), (long, tensors_long) = _state_json(tmp_path / "a"), _state_json(tmp_path / "b")
    assert short < 2500 and tensors == tensors_long  # the RNG words and the history are tensors
    assert abs(long - short) <= 10  # a few more digits in the counters, not an entry an epoch


def test_a_save_is_one_file_one_write_of_each_part_two_fsyncs_one_rename(tmp_path, monkeypatch):
    net = MLP([3, 5, 1], seed=0)
    manager = CheckpointManager(tmp_path, keep=2)
    manager.save(1, model=net)
    calls = []
    for name in ("fsync", "rename", "replace", "mkdir", "open", "unlink"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1])
    manager.save(2, model=net)
    manager.save(3, model=net)  # prunes step 1: one unlink
    monkeypatch.undo()
    assert calls.count("fsync") == 4 and calls.count("rename") == 2 and calls.count("replace") == 0
    assert calls.count("unlink") == 1
    assert sorted(os.listdir(manager.dir)) == ["step-000000002.safetensors", "step-000000003.safetensors"]
    assert read_header(manager.dir / "step-000000003.safetensors")["sequence"] == 3


def test_a_snapshot_shares_nothing_with_the_run(tmp_path):
    net = MLP([3, 5, 1], seed=0)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    extra = {"alone": torch.arange(3, dtype=torch.float64), "list": [torch.ones(2)], "d": {"k": 1}}
    before = {k: v.clone() for k, v in net.state_dict().items()}
    moment = opt.state[net.layers[0].weight]["exp_avg"].clone()
    snap = snapshot(model=net, optimizer=opt, step=1, extra=extra)
    with torch.no_grad():  # the run goes on: every tensor and container changed in place
        for p in net.parameters():
            p.add_(1.0)
    opt.state[net.layers[0].weight]["exp_avg"].mul_(3)
    extra["alone"].add_(5)  # (the only float64 tensor: a group of one)
    extra["list"][0].zero_()
    extra["d"]["k"] = 2
    got = CheckpointManager(tmp_path).load(CheckpointManager(tmp_path).write(1, snap).stem)
    assert all(torch.equal(got["model"][k], v) for k, v in before.items())
    assert torch.equal(got["optimizer"]["state"]["layers.0.weight"]["exp_avg"], moment)
    assert torch.equal(got["extra"]["alone"], torch.arange(3, dtype=torch.float64))
    assert torch.equal(got["extra"]["list"][0], torch.ones(2)) and got["extra"]["d"] == {"k": 1}


def test_history_columns_pack_to_tensors_only_when_nothing_is_lost():
    floats, ints = [0.1, 1e-300, 2.5], [0, 3, 7]
    assert pack_series(floats).dtype == torch.float64 and unpack_series(pack_series(floats)) == floats
    assert pack_series(ints).dtype == torch.int64 and unpack_series(pack_series(ints)) == ints
    for keep in ([], [0.5, float("nan")], [1, 2.0], [2 ** 70], [True, False]):
        packed = pack_series(keep)
        assert type(packed) is list and packed == keep or (packed != packed) == (keep != keep)


def test_background_writes_the_same_checkpoints_and_the_same_run(tmp_path):
    plain, plain_h = _run(3)
    sync_net, _ = _run(3, [Checkpointer(tmp_path / "sync", every_epochs=1, every_steps=2, keep=20)])
    bg = Checkpointer(tmp_path / "bg", every_epochs=1, every_steps=2, keep=20, background=True)
    bg_net, bg_h = _run(3, [bg])
    assert _same(bg_net, plain) and _same(sync_net, plain) and bg_h.history == plain_h.history
    a, b = CheckpointManager(tmp_path / "sync"), CheckpointManager(tmp_path / "bg")
    names = [i.name for i in b.list()]
    assert len(a.list()) == 9  # step 10 saved twice
    assert set(names) <= {i.name for i in a.list()} and names[-1] == "step-000000015"
    assert bg.last == b.list()[-1].path  # the run ended after its last write
    for name in names:  # each written one: the bytes a save in one go wrote
        x, y = a.load(name), b.load(name)
        for key in ("model", "optimizer", "rng", "extra", "step", "epoch", "position"):
            assert _equal(x[key], y[key]), key


def test_a_slow_disk_gets_the_newest_state_and_drops_the_ones_waiting(tmp_path, monkeypatch):
    gate, real = threading.Event(), CheckpointManager.write

    def write(self, name, snap):
        gate.wait(30)  # the first write is held until the run has saved three more times
        return real(self, name, snap)
    monkeypatch.setattr(CheckpointManager, "write", write)
    saver = Checkpointer(tmp_path, every_epochs=1, keep=10, background=True)
    net = MLP([3, 5, 1], seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    saver.set_loop(types.SimpleNamespace(model=net, optimizer=opt, step=0, epoch=0, position=0,
                                         state_dict=lambda: {}))
    for step in (1, 2, 3, 4):
        saver.loop.step = step
        with torch.no_grad():
            net.layers[0].bias.fill_(step)
        saver.save()
    gate.set()
    saver.flush()
    written = CheckpointManager(tmp_path).list()
    assert [i.name for i in written] == ["step-000000001", "step-000000004"] and saver.skipped == 2
    newest = CheckpointManager(tmp_path).load("step-000000004")["model"]["layers.0.bias"]
    assert torch.equal(newest, torch.full((5,), 4.0))


def test_a_failed_background_write_is_raised_by_fit(tmp_path, monkeypatch):
    real, calls = CheckpointManager.write, []

    def write(self, name, snap):
        calls.append(name)
        if len(calls) == 2:
            raise CheckpointWriteError("cannot write checkpoint: no space left on device", needed_bytes=1,
                                       free_bytes=0, errno_=28)
        return real(self, name, snap)
    monkeypatch.setattr(CheckpointManager, "write", write)
    with pytest.raises(CheckpointWriteError, match="no space left"):
        _run(4, [Checkpointer(tmp_path, every_epochs=1, background=True)])
    assert [i.name for i in CheckpointManager(tmp_path).list()] == ["step-000000005"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("fsync_no", [2, 3])  # first write: after its rename; second: inside its file
def test_kill_9_inside_a_background_write_leaves_a_good_checkpoint_and_resume_is_exact(tmp_path, fsync_no):
    full, full_h = _run(5)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: dies at its fsync_no-th fsync, on the writer thread
        try:
            real, count = os.fsync, [0]

            def fsync(fd):
                count[0] += 1
                if count[0] == fsync_no:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(fd)
            os.fsync = fsync
            _run(5, [Checkpointer(tmp_path, every_epochs=1, background=True)])
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    manager = CheckpointManager(tmp_path)  # a restart: the killed writer's temp folder goes
    assert not [p for p in manager.dir.iterdir() if p.name.startswith(".tmp")]
    good = manager.latest_good()
    assert good is not None
    net, h = _run(5, [Checkpointer(tmp_path, every_epochs=1, resume=True)])
    assert _same(net, full) and h.history == full_h.history


def test_the_manager_notices_a_checkpoint_another_manager_wrote(tmp_path):
    net = MLP([3, 5, 1], seed=0)
    a, b = CheckpointManager(tmp_path, keep=2), CheckpointManager(tmp_path, keep=5)
    a.save(1, model=net)
    b.save(2, model=net)
    a.save(3, model=net)  # sequence after b's, and a's prune sees b's checkpoint
    infos = CheckpointManager(tmp_path).list()
    assert [(i.name, i.sequence) for i in infos] == [("step-000000002", 2), ("step-000000003", 3)]


def test_one_check_over_all_tensors_still_names_the_non_finite_one(tmp_path):
    net = MLP([3, 5, 1], seed=0)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    opt.state[net.layers[1].bias]["exp_avg_sq"][0] = float("inf")
    extra = {"fine": torch.zeros(3, dtype=torch.float64), "steps": torch.arange(3)}
    with pytest.raises(CheckpointError, match=r"non-finite.*optimizer.*layers.1.bias.*exp_avg_sq.*1 NaN/inf"):
        CheckpointManager(tmp_path).save(1, model=net, optimizer=opt, extra=extra)
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").iterdir())
