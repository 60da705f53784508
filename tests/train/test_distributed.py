"""Data-parallel training with torchrun on the CPU (2 gloo processes on loopback)."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import deepnets
from deepnets.train.distributed import ShardedBatches

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is needed")


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 5, generator=g)
    return x, (x[:, :2].sum(1) > 0).long()


SCRIPT = textwrap.dedent('''
    import sys, torch, deepnets
    from deepnets.train.distributed import init_from_env
    sys.path.insert(0, {here!r})
    from test_distributed import _data
    rank, size = init_from_env(timeout=60)
    net = deepnets.MLP([5, 8, 2], activation="tanh", output="softmax", seed=0)
    deepnets.fit(net, _data(), loss="cross_entropy", optimizer="sgd", lr=0.5, epochs=2, batch_size=8, seed=4)
    if rank == 0:
        torch.save(net.state_dict(), {out!r})
    from deepnets.train.distributed import shutdown
    shutdown()
''')


def test_two_gloo_ranks_equal_one_process_with_the_doubled_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    script = tmp_path / "ddp_case.py"
    script.write_text(SCRIPT.format(here=os.path.dirname(__file__), out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script)],
                       capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    ddp = torch.load(out, weights_only=True)
    # one process, batch 16 = 2 x 8, the same seed: 10 steps an epoch, 20 steps in all
    net = deepnets.MLP([5, 8, 2], activation="tanh", output="softmax", seed=0)
    deepnets.fit(net, _data(), loss="cross_entropy", optimizer="sgd", lr=0.5, epochs=2, batch_size=16, seed=4)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-5, atol=1e-6)
    start = deepnets.MLP([5, 8, 2], activation="tanh", output="softmax", seed=0).state_dict()
    assert not torch.allclose(start["layers.0.weight"], ddp["layers.0.weight"])  # it did train


def test_shards_cover_each_epoch_and_pad_uneven_data():
    x = torch.arange(11).float().unsqueeze(1)
    g = [torch.Generator().manual_seed(3) for _ in range(3)]
    shards = [ShardedBatches(x, x, batch_size=2, rank=r, world_size=3, generator=g[r]) for r in range(3)]
    orders = [s.new_order() for s in shards]
    assert all(torch.equal(orders[0], o) for o in orders)  # the same permutation on every rank
    seen = [torch.cat([xb for xb, _ in s.iterate(o)]).flatten().tolist() for s, o in zip(shards, orders)]
    assert [len(v) for v in seen] == [4, 4, 4] and len(shards[0]) == 2  # every rank steps twice
    assert sorted(set(sum(seen, []))) == list(range(11))  # one sample repeats to pad 11 to 12


def _torchrun(tmp_path, name, *extra, restarts=0):
    args = ["--set", "data.name=parity", "--set", "data.params={n_bits=7}", "--set", "data.split=[1.0, 0.0, 0.0]",
            "--set", "model.hidden=[16]", "--set", "train.epochs=30", "--set", "train.batch_size=8",
            "--set", "train.checkpoint.every_epochs=1", "--set", f"run.name={name}", "--out", str(tmp_path),
            "--no-progress"]
    # --standalone: the rendezvous store binds a free port itself (no pick-then-bind race with
    # other processes on a busy machine)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--max-restarts", str(restarts), "-m", "deepnets", "train", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_a_rank_killed_once_restarts_from_the_checkpoint_and_finishes_like_an_uninterrupted_run(tmp_path):
    import signal
    import time

    from safetensors.torch import load_file

    full = _torchrun(tmp_path, "full")
    out, err = full.communicate(timeout=300)
    assert full.returncode == 0, err[-3000:]
    proc = _torchrun(tmp_path, "cut", restarts=1)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.time() + 200
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 5):
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2, workers
    os.kill(int(workers[1]), signal.SIGKILL)  # one rank dies, once
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    a, b = load_file(tmp_path / "full" / "weights.safetensors"), load_file(tmp_path / "cut" / "weights.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
