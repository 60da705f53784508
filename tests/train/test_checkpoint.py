"""Checkpoint folders: round trip, plain-data state, atomicity, pruning, corruption, full disk."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from deepnets.errors import CheckpointError
from deepnets import atomic
from deepnets.atomic import CheckpointWriteError
from deepnets.train.checkpoint import CheckpointManager, load_checkpoint, restore
from deepnets.train.checkpoint_format import DIGEST_AT, ZERO_DIGEST, digest
from faults.forge import resign
from deepnets.train.rng import get_rng_state, set_rng_state


def _setup(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def _train(model, opt, sched, steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = torch.randn(8, 3, generator=g)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_round_trip_then_training_continues_identically(tmp_path):
    model, opt, sched = _setup()
    _train(model, opt, sched, 3)
    cm = CheckpointManager(tmp_path, keep=2)
    cm.save(3, model=model, optimizer=opt, scheduler=sched, step=3, epoch=1, position=7,
            config={"lr": 0.01, "layers": [3, 5, 2], "dtype": torch.float64},
            extra={"best": torch.tensor(0.5), "tag": b"x", "where": torch.device("cpu"),
                   "shape": torch.Size([2, 3]), "z": 1 + 2j, "big": 10**30})
    ckpt = cm.load()
    assert (ckpt["step"], ckpt["epoch"], ckpt["position"]) == (3, 1, 7)
    assert ckpt["config"] == {"lr": 0.01, "layers": [3, 5, 2], "dtype": torch.float64}
    assert ckpt["extra"]["shape"] == torch.Size([2, 3]) and ckpt["extra"]["big"] == 10**30
    assert ckpt["extra"]["tag"] == b"x" and ckpt["library_version"] and ckpt["format_version"] == 2
    assert set(ckpt["optimizer"]["state"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}

    fresh, fresh_opt, fresh_sched = _setup(seed=99)  # other initial weights
    restore(ckpt, model=fresh, optimizer=fresh_opt, scheduler=fresh_sched)
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k
    assert fresh_sched.get_last_lr() == sched.get_last_lr()
    # the independent answer: the uninterrupted run
    assert _train(model, opt, sched, 4, seed=5) == _train(fresh, fresh_opt, fresh_sched, 4, seed=5)
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)


def test_the_file_is_plain_safetensors_that_a_bare_reader_opens(tmp_path):
    model, opt, sched = _setup()
    _train(model, opt, sched, 2)
    path = CheckpointManager(tmp_path).save(
        "a", model=model, optimizer=opt, scheduler=sched, step=2, epoch=0, position=2,
        config={"seed": 0, "dtype": torch.float64, "device": torch.device("cpu")},
        extra={"shape": torch.Size([1]), "z": 1j, "big": 10**30, "raw": b"\0", "t": (1, [2.5])})
    assert path.name == "a.safetensors" and sorted(os.listdir(path.parent)) == ["a.safetensors"]
    # a fresh interpreter that imports only safetensors: the weights by name, the state as JSON
    code = ("import sys, json; from safetensors.torch import load_file; from safetensors import safe_open; "
            "w = load_file(sys.argv[1]); m = safe_open(sys.argv[1], 'pt').metadata(); "
            "print(m['step'], sorted(k for k in w if k.startswith('model/')), json.loads(m['state'])['position'])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout
    assert out.split() == ["2", "['model/0.bias',", "'model/0.weight',", "'model/2.bias',", "'model/2.weight']", "2"]
    weights = safetensors.torch.load_file(path)
    assert torch.equal(weights["model/0.weight"], model[0].weight)
    assert torch.equal(weights["model/2.bias"], model[2].bias)


def test_every_plain_type_comes_back_with_its_type(tmp_path):
    import collections

    model, _, _ = _setup()
    extra = {"t": (1, [2.5, None]), "s": {3, 4}, "od": collections.OrderedDict([("b", 1), ("a", 2)]),
             "c": collections.Counter({5: 2}), "ints": {1: "one", 2: "two"}, "$odd": {"$t": 0}, "b": b"\x00\xff",
             "z": -0.0 + 1.5j, "f": [float("nan"), float("inf"), -0.0, 1e-310, 0.1], "big": -(10 ** 40),
             "dt": torch.bfloat16, "dev": torch.device("cpu"), "size": torch.Size([2, 0]), "flag": True,
             "c128": torch.tensor([1 + 2j, -3j], dtype=torch.complex128), "u16": torch.tensor([0, 7, 65535], dtype=torch.int32).to(torch.uint16),
             "bf": torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "empty": torch.zeros(0, 3), "scalar": torch.tensor(7),
             "strided": torch.arange(12.).reshape(3, 4)[:, 1], "bools": torch.tensor([True, False])}
    CheckpointManager(tmp_path).save("x", model=model, extra=extra)
    got = CheckpointManager(tmp_path).load("x")["extra"]
    assert got.keys() == extra.keys()
    for k, want in extra.items():
        have = got[k]
        assert type(have) is type(want), k
        if isinstance(want, torch.Tensor):
            assert have.dtype == want.dtype and have.shape == want.shape and torch.equal(have, want), k
        elif k == "f":
            assert [repr(v) for v in have] == [repr(v) for v in want]
        elif k == "z":
            assert repr(have) == repr(want)
        else:
            assert have == want, k
    assert list(got["od"]) == ["b", "a"]


SCHEDULERS = {
    "MultiStepLR": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 4], gamma=0.5),
    "LambdaLR": lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e),
    "OneCycleLR": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=20),
    "CyclicLR": lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.001, 0.1, step_size_up=3),
    "SequentialLR": lambda o: torch.optim.lr_scheduler.SequentialLR(
        o, [torch.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=3),
            torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)], milestones=[3]),
    "CosineAnnealingWarmRestarts": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 4),
}


@pytest.mark.parametrize("kind", sorted(SCHEDULERS))
def test_common_schedulers_round_trip(tmp_path, kind):
    def make(seed):
        model, _, _ = _setup(seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return model, opt, SCHEDULERS[kind](opt)
    model, opt, sched = make(0)
    _train(model, opt, sched, 5)
    cm = CheckpointManager(tmp_path)
    cm.save("s", model=model, optimizer=opt, scheduler=sched)
    fresh = make(1)
    restore(cm.load("s"), model=fresh[0], optimizer=fresh[1], scheduler=fresh[2])
    assert _train(model, opt, sched, 6, seed=3) == _train(*fresh, 6, seed=3)
    assert sched.get_last_lr() == fresh[2].get_last_lr()


def test_rng_state_round_trip():
    state = get_rng_state()
    first = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), np.random.randn())
    set_rng_state(state)
    again = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), np.random.randn())
    assert first == again


def test_rng_state_comes_back_from_checkpoint(tmp_path):
    model, _, _ = _setup()
    cm = CheckpointManager(tmp_path)
    cm.save("r", model=model)
    expected = (random.random(), np.random.rand(), torch.rand(2).tolist())
    restore(cm.load("r"), model=model)
    assert (random.random(), np.random.rand(), torch.rand(2).tolist()) == expected


def test_non_finite_tensor_is_refused_and_named(tmp_path):
    model, opt, sched = _setup()
    cm = CheckpointManager(tmp_path)
    with torch.no_grad():
        model[2].bias[1] = float("nan")
    with pytest.raises(CheckpointError, match=r"non-finite.*model\['2.bias'\].*1 NaN/inf"):
        cm.save("x", model=model)
    with torch.no_grad():
        model[2].bias[1] = 0.0
    with pytest.raises(CheckpointError, match=r"non-finite.*extra\['loss'\]"):
        cm.save("x", model=model, extra={"loss": torch.tensor([1.0, float("inf")])})
    _train(model, opt, sched, 1)
    opt.state[model[0].weight]["exp_avg_sq"][0, 0] = float("inf")
    with pytest.raises(CheckpointError, match=r"optimizer\['state'\]\['0.weight'\]\['exp_avg_sq'\]"):
        cm.save("x", model=model, optimizer=opt)
    assert not cm.dir.exists() or not any(cm.dir.iterdir())


def test_non_plain_values_are_refused_and_named(tmp_path):
    model, _, _ = _setup()
    cm = CheckpointManager(tmp_path)
    with pytest.raises(CheckpointError, match=r"config\['out'\].*PosixPath"):
        cm.save("x", model=model, config={"out": Path("/tmp")})
    import enum

    class Mode(enum.IntEnum):
        A = 1
    with pytest.raises(CheckpointError, match=r"extra\['mode'\]"):
        cm.save("x", model=model, extra={"mode": Mode.A})
    with pytest.raises(CheckpointError, match="checkpoint name"):
        cm.save("../evil", model=model)


def test_keep_last_k_and_sequence_order(tmp_path):
    model, _, _ = _setup()
    cm = CheckpointManager(tmp_path, keep=2)
    for name in ["b", "a", "d", "c", "e"]:  # names out of order: the save sequence decides
        cm.save(name, model=model)
    assert [i.name for i in cm.list()] == ["c", "e"]
    assert cm.latest_good().name == "e"
    assert sorted(os.listdir(cm.dir)) == ["c.safetensors", "e.safetensors"]


def test_wrapped_model_is_saved_under_bare_names(tmp_path):
    model, _, _ = _setup()

    class DDPLike(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module
    wrapped = DDPLike(model)
    opt = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    folder = CheckpointManager(tmp_path).save("w", model=wrapped, optimizer=opt)
    ckpt = load_checkpoint(folder)
    assert sorted(ckpt["model"]) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert ckpt["optimizer"]["param_groups"][0]["params"][0] == "0.weight"
    bare, bare_opt, _ = _setup(seed=3)
    bare_opt = torch.optim.SGD(bare.parameters(), lr=0.1)
    restore(ckpt, model=bare, optimizer=bare_opt)
    assert torch.equal(bare[2].weight, model[2].weight)


def test_saving_same_name_replaces_it(tmp_path):
    model, _, _ = _setup()
    cm = CheckpointManager(tmp_path, keep=3)
    cm.save("s", model=model, step=1)
    cm.save("s", model=model, step=2)
    assert cm.load("s")["step"] == 2 and sorted(os.listdir(cm.dir)) == ["s.safetensors"]


def test_stale_temps_are_cleaned_at_start(tmp_path):
    model, _, _ = _setup()
    cm = CheckpointManager(tmp_path)
    cm.save("good", model=model)
    (cm.dir / ".tmp-half.123.abcd").mkdir()
    (cm.dir / ".tmp-half.123.abcd" / "x").write_bytes(b"partial")
    (cm.dir / ".tmp-file.1.2").write_bytes(b"x")
    cm2 = CheckpointManager(tmp_path)
    assert sorted(cm2.removed_temps) == [".tmp-file.1.2", ".tmp-half.123.abcd"]
    assert os.listdir(cm.dir) == ["good.safetensors"]


def _two_checkpoints(tmp_path):
    model, opt, sched = _setup()
    cm = CheckpointManager(tmp_path, keep=5)
    cm.save("old", model=model, optimizer=opt, scheduler=sched, step=1)
    _train(model, opt, sched, 1)
    new = cm.save("new", model=model, optimizer=opt, scheduler=sched, step=2)
    return cm, new


def test_truncated_file_is_named_and_falls_back(tmp_path):
    cm, new = _two_checkpoints(tmp_path)
    data = new.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 300, 9, 3):
        new.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=rf"{new.name}: truncated"):
            load_checkpoint(new)
        assert cm.latest_good().name == "old" and cm.load()["step"] == 1


@pytest.mark.parametrize("where", [0, 7, 8, 20, DIGEST_AT, DIGEST_AT + 63, 200, -1, -500])
def test_a_bit_flip_anywhere_is_refused(tmp_path, where):
    cm, new = _two_checkpoints(tmp_path)
    data = bytearray(new.read_bytes())
    data[where] ^= 0x10
    new.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{new.name}: (checksum mismatch|truncated or corrupt|corrupt)"):
        load_checkpoint(new)
    assert cm.latest_good().name == "old" and cm.load()["step"] == 1


def test_the_digest_covers_every_byte_but_itself(tmp_path):
    _, new = _two_checkpoints(tmp_path)
    data = new.read_bytes()
    # independent of the reader: SHA-256 of the file with the digest's 64 bytes as zeros
    import hashlib
    blank = data[:DIGEST_AT] + ZERO_DIGEST + data[DIGEST_AT + 64:]
    assert data[DIGEST_AT:DIGEST_AT + 64] == hashlib.sha256(blank).hexdigest().encode()
    assert digest([blank]) == hashlib.sha256(blank).hexdigest().encode()


def test_newer_format_is_refused(tmp_path):
    cm, new = _two_checkpoints(tmp_path)
    resign(new, lambda h: h["__metadata__"].update(format_version="99"))
    with pytest.raises(CheckpointError, match="format version 99 is newer"):
        load_checkpoint(new)
    assert cm.load()["step"] == 1  # skipped for the one before


def test_all_corrupt_or_none(tmp_path):
    assert CheckpointManager(tmp_path).latest_good() is None
    with pytest.raises(CheckpointError, match="no checkpoint"):
        CheckpointManager(tmp_path).load()
    cm, new = _two_checkpoints(tmp_path)
    for name in ("old", "new"):
        path = cm.dir / f"{name}.safetensors"
        path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CheckpointError, match="none verifies.*truncated"):
        cm.latest_good()


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["__metadata__"].update(state='{"format":"deepnets-checkpoint","x":{"$eval":"1"}}'), "unknown tag '\\$eval'"),
    (lambda h: h["__metadata__"].update(state='{"format":"deepnets-checkpoint","x":{"$t":999}}'), "refers to tensor 999"),
    (lambda h: h["__metadata__"].update(state='[1, 2]'), "expected a deepnets-checkpoint state"),
    (lambda h: h["__metadata__"].update(weights='["nope"]'), "weights listed in the header are not all in the file"),
    (lambda h: h["__metadata__"].pop("sequence"), "not a deepnets checkpoint header"),
    (lambda h: h["__metadata__"].update(raw='{"s0": ["os.system", [1]]}'), "raw tensor 's0'"),
    (lambda h: h["model/0.weight"].update(shape=[99]), "not a readable safetensors file"),
    (lambda h: h.update({"model/extra": h.pop("s0")}), "expected tensors s0 to"),
])
def test_forged_content_with_a_matching_digest_is_refused_and_skipped(tmp_path, edit, message):
    cm, new = _two_checkpoints(tmp_path)
    resign(new, edit)
    cm.latest_good()  # its digest holds ...
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(new)  # ... but it is refused,
    assert cm.load()["step"] == 1  # and the run falls back to the one before


def _fail_writes_after(monkeypatch, allowed_bytes, err):
    real_write = os.write
    budget = [allowed_bytes]

    def write(fd, data):
        if budget[0] <= 0:
            raise err
        n = real_write(fd, bytes(data[: max(1, min(len(data), budget[0]))]))
        budget[0] -= n
        return n
    monkeypatch.setattr(atomic.os, "write", write)


def test_disk_full_keeps_previous_and_says_how_much(tmp_path, monkeypatch):
    cm, new = _two_checkpoints(tmp_path)
    model, _, _ = _setup()
    _fail_writes_after(monkeypatch, 1000, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(CheckpointWriteError, match=r"no space left.*needs (\d+) bytes") as info:
        cm.save("third", model=model)
    monkeypatch.undo()
    needed = info.value.needed_bytes
    assert needed > 1000 and f"needs {needed} bytes" in str(info.value)
    assert sorted(os.listdir(cm.dir)) == ["new.safetensors", "old.safetensors"]  # no temp left, nothing replaced
    assert cm.latest_good().name == "new" and cm.load()["step"] == 2
    # the exact figure: what a successful save of the same thing writes
    done = cm.save("third", model=model)
    assert needed == done.stat().st_size


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    cm, new = _two_checkpoints(tmp_path)
    model, _, _ = _setup()
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: type("U", (), {"free": 10})())
    with pytest.raises(CheckpointWriteError, match=r"no space left.*free: 10 bytes") as info:
        cm.save("third", model=model)
    assert info.value.free_bytes == 10 and info.value.needed_bytes > 10
    assert sorted(os.listdir(cm.dir)) == ["new.safetensors", "old.safetensors"]


@pytest.mark.parametrize("target,calls_allowed", [("open", 0), ("rename", 0), ("fsync", 0), ("fsync", 1)])
def test_read_only_folder_keeps_previous(tmp_path, monkeypatch, target, calls_allowed):
    cm, new = _two_checkpoints(tmp_path)
    model, _, _ = _setup()
    real, calls = getattr(os, target), [0]

    def refuse(*a, **k):
        calls[0] += 1
        if calls_allowed and calls[0] != calls_allowed + 1:
            return real(*a, **k)
        raise OSError(errno.EROFS, "Read-only file system") if target in ("rename", "fsync") else \
            PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(os, target, refuse)
    with pytest.raises(CheckpointWriteError, match="read-only or not writable.*needs") as info:
        cm.save("new", model=model, step=99)  # even replacing the same name
    monkeypatch.undo()
    assert sorted(os.listdir(cm.dir)) == ["new.safetensors", "old.safetensors"]  # no temp left
    if calls_allowed:  # the file's fsync passed, the folder's failed: the new one is in place, and said so
        assert "in place but the folder could not be synced" in str(info.value) and cm.load("new")["step"] == 99
    else:
        assert "untouched" in str(info.value) and cm.load("new")["step"] == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_model_round_trip_and_cpu_fallback(tmp_path):
    model, opt, sched = _setup()
    model.cuda()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randn(4, 3, device="cuda")
    model(x).sum().backward()
    opt.step()
    cm = CheckpointManager(tmp_path)
    cm.save("gpu", model=model, optimizer=opt, step=1)
    expected = torch.rand(3, device="cuda").tolist()
    on_gpu = cm.load("gpu", map_location="cuda")
    assert on_gpu["model"]["0.weight"].is_cuda and len(on_gpu["rng"]["cuda"]) >= 1
    fresh, _, _ = _setup(seed=5)
    fresh.cuda()
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.01)
    restore(on_gpu, model=fresh, optimizer=fresh_opt)
    assert torch.rand(3, device="cuda").tolist() == expected  # CUDA generator restored
    assert torch.equal(fresh_opt.state[fresh[0].weight]["exp_avg"],
                       opt.state[model[0].weight]["exp_avg"])
    on_cpu = cm.load("gpu", map_location="cpu")
    cpu_model, _, _ = _setup(seed=6)
    restore(on_cpu, model=cpu_model, rng=False)
    assert torch.equal(cpu_model[0].weight, model[0].weight.cpu())


def test_map_location_must_be_a_device(tmp_path):
    _, new = _two_checkpoints(tmp_path)
    with pytest.raises(CheckpointError, match="map_location: expected a device .* got dict"):
        load_checkpoint(new, map_location={"cuda:0": "cpu"})
    assert load_checkpoint(new, map_location=torch.device("cpu"))["step"] == 2


def test_a_damaged_header_of_any_shape_is_skipped_when_listing(tmp_path):
    import struct

    cm, new = _two_checkpoints(tmp_path)
    for header in (b'[1, 2]', b'{"__metadata__": [1]}', b'[' * 100_000 + b']' * 100_000, b'{"__metadata__": {}}'):
        header += b" " * (-len(header) % 8)
        new.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
        assert [i.name for i in cm.list()] == ["old"]
        with pytest.raises(CheckpointError, match="corrupt|checksum mismatch"):
            load_checkpoint(new)
        assert CheckpointManager(tmp_path).load()["step"] == 1
