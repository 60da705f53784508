"""Checkpoints of format 1 (a folder of three files, written before issue 19) still load, resume
bit for bit, and keep every check they had; a run resumed from one goes on in format 2."""

import shutil
import warnings
from pathlib import Path

import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import CheckpointError
from deepnets.train.callbacks import Checkpointer
from deepnets.train.checkpoint import CheckpointManager, load_checkpoint
from faults.v1_writer import MANIFEST, STATE, WEIGHTS, manifest_bytes, rewrite_state, to_v1, write_v1

FIXTURE = Path(__file__).parent / "data" / "checkpoint_v1"  # written by deepnets at 04f93e7 (format 1)


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
    h = fit(net, _data(), epochs=epochs, batch_size=8, lr=0.01, seed=2, optimizer="adam", callbacks=list(callbacks))
    return net, h


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_a_folder_the_old_code_wrote_loads(tmp_path):
    ckpt = load_checkpoint(FIXTURE / "step-000000010")
    assert ckpt["format_version"] == 1 and ckpt["step"] == 10 and ckpt["epoch"] == 2
    assert sorted(ckpt["model"]) == ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]
    assert sorted(ckpt["optimizer"]["state"]) == sorted(ckpt["model"]) and ckpt["optimizer_class"] == "Adam"
    assert ckpt["extra"]["loop"]["step"] == 10 and ckpt["sequence"] == 2


def test_a_run_resumed_from_the_old_folder_goes_on_in_format_2_exactly(tmp_path):
    for run in ("a", "b"):
        shutil.copytree(FIXTURE, tmp_path / run / "checkpoints")
    straight, straight_h = _run(4, [Checkpointer(tmp_path / "a", every_epochs=0, resume=True)])
    # b: one epoch from the old folder, saved in format 2, then the rest from that file
    _run(3, [Checkpointer(tmp_path / "b", every_epochs=1, resume=True)])
    manager = CheckpointManager(tmp_path / "b")
    newest = manager.list()[-1]
    assert newest.path.name == "step-000000015.safetensors" and newest.sequence == 3
    assert (tmp_path / "b" / "checkpoints" / "step-000000010").is_dir()  # kept (keep=3)
    via_v2, via_v2_h = _run(4, [Checkpointer(tmp_path / "b", every_epochs=0, resume=True)])
    assert _same(straight, via_v2) and straight_h.history == via_v2_h.history


def test_the_old_rng_and_history_lists_still_load_and_resume_exactly(tmp_path):
    full, full_h = _run(4)
    _run(2, [Checkpointer(tmp_path, every_epochs=1)])
    manager = CheckpointManager(tmp_path)
    newest = manager.list()[-1]
    ckpt = load_checkpoint(newest.path)
    py, hist = ckpt["rng"]["python"], ckpt["extra"]["loop"]["history"]
    ckpt["rng"]["python"] = [py["version"], py["state"].tolist(), py["gauss_next"]]  # as written before
    hist["epoch"], hist["logs"] = hist["epoch"].tolist(), {k: v.tolist() for k, v in hist["logs"].items()}
    to_v1(newest)
    rewrite_state(newest.path.with_name(newest.name), {k: v for k, v in ckpt.items()
                                                        if k not in ("model", "name", "path", "sequence")})
    assert isinstance(load_checkpoint(newest.path.with_name(newest.name))["rng"]["python"], list)
    net, h = _run(4, [Checkpointer(tmp_path, every_epochs=0, resume=True)])
    assert _same(net, full) and h.history == full_h.history


def _old_pair(tmp_path):
    manager = CheckpointManager(tmp_path, keep=5)
    net = MLP([3, 5, 1], seed=0)
    manager.save(1, model=net, step=1)
    manager.save(2, model=net, step=2)
    old, new = (to_v1(i) for i in manager.list())
    # the folders an earlier deepnets wrote, found by the manager of a later run (a manager lists the
    # folder at its first write, not again while it alone writes there)
    return CheckpointManager(tmp_path, keep=5), old, new


@pytest.mark.parametrize("fname", [WEIGHTS, STATE, MANIFEST])
def test_a_damaged_old_folder_is_named_and_skipped(tmp_path, fname):
    manager, old, new = _old_pair(tmp_path)
    data = (new / fname).read_bytes()
    for damaged, fault in ((data[:len(data) // 2], "truncated"), (data[:40] + bytes([data[40] ^ 4]) + data[41:],
                                                                   "checksum mismatch")):
        (new / fname).write_bytes(damaged)
        with pytest.raises(CheckpointError, match=rf"{fname}: {fault}"):
            load_checkpoint(new)
        assert manager.latest_good().name == old.name and manager.load()["step"] == 1
    (new / MANIFEST).unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        load_checkpoint(new)


def test_an_old_folder_of_a_newer_format_is_refused(tmp_path):
    _, _, new = _old_pair(tmp_path)
    import json
    body = json.loads((new / MANIFEST).read_bytes())
    body.pop("manifest_sha256")
    body["format_version"] = 99
    (new / MANIFEST).write_bytes(manifest_bytes(body))
    with pytest.raises(CheckpointError, match="format version 99 is newer"):
        load_checkpoint(new)


class _Marker:
    """Unpickling this object creates a file: the code-execution probe."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_an_old_state_file_that_would_run_code_is_refused(tmp_path):
    manager, old, new = _old_pair(tmp_path)
    marker = tmp_path / "pwned"
    rewrite_state(new, {"format": "deepnets-checkpoint", "x": _Marker(marker)})
    with pytest.raises(CheckpointError, match=r"state.pt: refused.*GLOBAL io.open"):
        load_checkpoint(new)
    assert manager.load()["step"] == 1 and not marker.exists()


def test_saving_a_name_an_old_folder_holds_replaces_it(tmp_path):
    manager, old, new = _old_pair(tmp_path)
    net = MLP([3, 5, 1], seed=1)
    path = manager.save(2, model=net, step=20)
    assert path.name == "step-000000002.safetensors" and not new.exists()  # the folder of that name is gone
    assert [(i.name, i.path.name) for i in manager.list()] == [("step-000000001", "step-000000001"),
                                                               ("step-000000002", "step-000000002.safetensors")]
    assert manager.load(2)["step"] == 20 and manager.load(1)["step"] == 1


def test_old_folders_are_pruned_like_files(tmp_path):
    manager, old, new = _old_pair(tmp_path)
    manager = CheckpointManager(tmp_path, keep=2)
    net = MLP([3, 5, 1], seed=1)
    manager.save(3, model=net)
    manager.save(4, model=net)
    assert sorted(p.name for p in manager.dir.iterdir()) == ["step-000000003.safetensors", "step-000000004.safetensors"]


def _equal(a, b):
    """Plain-data trees equal, tensors bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_write_v1_writes_what_the_old_code_wrote(tmp_path):
    # the helper against the folder the old code wrote: the same content, read back by the same reader
    ckpt = load_checkpoint(FIXTURE / "step-000000010")
    again = load_checkpoint(write_v1(tmp_path / "step-000000010", ckpt))
    assert _equal({k: v for k, v in again.items() if k != "path"}, {k: v for k, v in ckpt.items() if k != "path"})
    assert sorted(p.name for p in (tmp_path / "step-000000010").iterdir()) == [MANIFEST, WEIGHTS, STATE]
