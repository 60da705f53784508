"""Cheaper saves, round three (#19): what a save keeps between saves (the grouping of its tensors by
dtype, each header entry's text, the places of nested values formatted only when refused) changes
no byte of the file; checked against a fresh snapshot and against ``json.dumps`` of the header."""

import json
import os
import random
import struct

import numpy as np
import pytest
import torch

from deepnets import MLP
from deepnets.errors import CheckpointError
from deepnets.train import checkpoint_format as cf
from deepnets.train.checkpoint import CheckpointManager
from deepnets.train.checkpoint_snapshot import SnapshotTaker, snapshot


def _reference_header(entries, metadata):
    """The header as one ``json.dumps`` of the dict writes it (the format's definition)."""
    head = {"__metadata__": {cf.DIGEST_KEY: cf.ZERO_DIGEST.decode(), **metadata}}
    for name, dtype, shape, start, end in entries:
        head[name] = {"dtype": cf.SAFETENSORS_DTYPES[dtype], "shape": shape, "data_offsets": [start, end]}
    raw = json.dumps(head, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def test_the_header_written_piece_by_piece_is_the_json_of_the_header_dict():
    meta = {"state": json.dumps({"q": 'a "quoted" \u2603 \\ value'}), "weights": '["w\\u00e9"]', "step": ""}
    layouts = [
        [("model/w\u00e9\"x", torch.float32, [3, 4], 0, 48), ("s0", torch.int64, [], 48, 56),
         ("s1", torch.uint8, [0], 56, 56)],
        [("model/w\u00e9\"x", torch.float32, [3, 4], 0, 48), ("s0", torch.int64, [], 48, 56),
         ("s1", torch.uint8, [0], 56, 56)],                     # the same again: every entry's text kept
        [("model/w\u00e9\"x", torch.float32, [4, 3], 8, 56),   # the same name, another shape and place
         ("s0", torch.float64, [2], 0, 16), ("s1", torch.uint8, [5], 56, 61)],
        [],
    ]
    for entries in layouts:
        assert cf.header_bytes(entries, meta) == _reference_header(entries, meta)


def _state(net, opt, history, callbacks):
    g = torch.Generator().manual_seed(len(history))
    return {"loop": {"epoch": len(history), "order": torch.randperm(7, generator=g), "generator": g.get_state(),
                     "history": {"epoch": torch.arange(len(history)), "logs": {"loss": torch.tensor(history)}},
                     "callbacks": callbacks}, "world_size": 1}


def test_a_taker_saving_again_and_again_writes_the_bytes_a_fresh_snapshot_writes():
    torch.manual_seed(0)
    net = MLP([3, 4, 2], seed=0)
    params = list(net.parameters())
    opt = torch.optim.Adam(params[:-1], lr=1e-2)  # the last joins in a group of its own later
    take, x, history, callbacks = SnapshotTaker(), torch.randn(8, 3), [], {}

    def train():
        opt.zero_grad()
        net(x).square().sum().backward()
        opt.step()
        history.append(float(len(history)) / 3)
    changes = [train,                                                   # the first state
               train,                                                   # values move, the history grows
               lambda: random.random(),                                 # Python's RNG moves
               lambda: np.random.standard_normal(),                     # NumPy's draws a pair, keeps one
               lambda: np.random.standard_normal(),                     # ... and gives the kept one
               lambda: torch.rand(3),                                   # torch's moves
               lambda: callbacks.update(EarlyStopping={"best": 0.5, "wait": 1}),
               lambda: callbacks.update(EarlyStopping={"best": 0.25, "wait": 0, "extra": [1, (2, 3)]}),
               lambda: callbacks.update(Mixed={"t": torch.ones(2, dtype=torch.float64)}),  # a new dtype group
               lambda: callbacks.update(Mixed={"t": torch.ones(2, dtype=torch.int32)}),  # as many, other dtypes
               lambda: callbacks.pop("Mixed"),                          # and gone again
               lambda: opt.param_groups[0].update(lr=5e-3, betas=(0.8, 0.99)),
               lambda: opt.add_param_group({"params": params[-1:], "lr": 0.1}),
               train]
    for change in changes:
        change()
        extra = _state(net, opt, history, callbacks)
        got = take(model=net, optimizer=opt, step=len(history), epoch=len(history), extra=extra)
        fresh = snapshot(model=net, optimizer=opt, step=len(history), epoch=len(history), extra=extra)
        assert bytes(got.encode(3)) == bytes(fresh.encode(3))


def test_a_nested_value_that_is_not_plain_data_is_still_named_by_its_place():
    net = MLP([3, 4, 2], seed=0)
    with pytest.raises(CheckpointError, match=r"extra\['loop'\]\['callbacks'\]\['X'\]\[1\]\['k'\].*object"):
        snapshot(model=net, extra={"loop": {"callbacks": {"X": [0, {"k": object()}]}}})
    with pytest.raises(CheckpointError, match=r"extra\['a'\]\['b'\]: expected str or int keys, got float"):
        snapshot(model=net, extra={"a": {"b": {1.5: 0}}})
    bad = torch.ones(3)
    bad[1] = float("nan")
    with pytest.raises(CheckpointError, match=r"extra\['a'\]\['b'\]\[0\]"):
        snapshot(model=net, extra={"a": {"b": [bad]}})


def test_a_manager_lists_its_folder_once_while_it_alone_writes_there(tmp_path, monkeypatch):
    net = MLP([3, 4, 2], seed=0)
    manager = CheckpointManager(tmp_path, keep=2)
    listed, real = [], os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: (listed.append(path), real(path))[1])
    for step in range(1, 6):
        manager.save(step, model=net)
    monkeypatch.undo()
    assert len(listed) == 1  # its first write; then it knows what it wrote and pruned
    assert [(i.name, i.sequence) for i in manager.list()] == [("step-000000004", 4), ("step-000000005", 5)]
    CheckpointManager(tmp_path, keep=5).save(9, model=net)  # another manager of this process writes there
    manager.save(6, model=net)  # so this one lists again: numbers after it, and prunes it in turn
    assert [(i.name, i.sequence) for i in CheckpointManager(tmp_path).list()] == [("step-000000009", 6),
                                                                                  ("step-000000006", 7)]
