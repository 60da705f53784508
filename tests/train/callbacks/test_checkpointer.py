"""Checkpointer: resume=True takes the newest good checkpoint of the run folder (or starts afresh
when there is none), resume=<checkpoint> that one; a checkpoint without loop state is refused.
(Exact resume in a new process, mid-epoch and at an epoch's end: tests/train/test_resume.py.)"""

import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.train.callbacks import Checkpointer
from deepnets.train.checkpoint import CheckpointManager


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


def test_resume_true_continues_from_the_newest_checkpoint(tmp_path):
    full, full_h = _run(6)
    _run(4, [Checkpointer(tmp_path, every_epochs=2, background=False)])  # a shorter run: checkpoints at epochs 2 and 4
    saver = Checkpointer(tmp_path, every_epochs=0, resume=True)
    net, h = _run(6, [saver])
    assert saver.resumed_from.name == "step-000000020.safetensors"  # 4 epochs of 5 batches
    assert _same(net, full) and h.history == full_h.history


def test_resume_from_a_given_checkpoint(tmp_path):
    full, full_h = _run(6)
    _run(4, [Checkpointer(tmp_path, every_epochs=2, background=False)])
    ckpt = CheckpointManager(tmp_path).load("step-000000010")
    net, h = _run(6, [Checkpointer(tmp_path, every_epochs=0, resume=ckpt)])
    assert _same(net, full) and h.history == full_h.history


def test_resume_true_without_a_checkpoint_starts_afresh(tmp_path):
    full, full_h = _run(3)
    saver = Checkpointer(tmp_path / "new", resume=True)
    net, h = _run(3, [saver])
    assert saver.resumed_from is None and _same(net, full) and h.history == full_h.history
    assert saver.last is not None and saver.last.name == "step-000000015.safetensors"


def test_a_checkpoint_without_loop_state_is_refused(tmp_path):
    net = MLP([3, 5, 1], seed=0)
    CheckpointManager(tmp_path).save(1, model=net)
    with pytest.raises(ConfigError, match="no training-loop state"):
        _run(2, [Checkpointer(tmp_path, resume=True)])
    with pytest.raises(ConfigError, match="resume must be"):
        Checkpointer(tmp_path, resume="yes")
