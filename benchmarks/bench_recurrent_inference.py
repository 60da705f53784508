"""Recurrent inference and training: deepnets' LSTM and GRU against torch.nn.LSTM / nn.GRU.

Rows, each timed as CPU time per call (``time.process_time``, fairer than wall time on a
shared, loaded machine), all contenders interleaved round by round (A B C A B C ...), medians
with their min-max and the ratio to torch's module of the same kind:

- forward under ``torch.no_grad()`` (inference: no backward buffers are needed),
- forward + backward of the outputs' sum (training);

and, beside the inference rows, the peephole loop's matrix products alone (the input projection
of every step, then one recurrent ``addmm`` a step): the floor of any loop built on torch's
matrix product, which ``nn.LSTM``'s fused oneDNN kernel undercuts.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_recurrent_inference.py [--rounds 15]

Default shape: L=100 steps, N=64, H_in=32, H=128 (``benchmarks/bench_lstm.py``'s), 1 thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from deepnets.nn.recurrent import GRU, LSTM


def contenders(T: int, B: int, I: int, H: int) -> dict:
    """kind -> {name: a closure running one call}; the first name of each kind is torch's."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, I, generator=g)
    lstm_t, gru_t = torch.nn.LSTM(I, H), torch.nn.GRU(I, H)
    lstm_p = LSTM(I, H, peepholes=True, generator=g)
    lstm_np = LSTM.from_torch(lstm_t)
    gru_after, gru_lecture = GRU.from_torch(gru_t), GRU(I, H, generator=g)

    def infer(module):
        def call():
            with torch.no_grad():
                module(x)
        return call

    W_x, W_z, b, _ = (t.detach() for t in lstm_p.layer_weights(0))
    S, z = torch.empty(T, 4 * H, B), torch.zeros(H, B)

    def matmuls():  # the peephole loop's matrix products alone: W_x x_t + b for all t, then W_z z_{t-1}
        torch.baddbmm(b.unsqueeze(1), W_x.expand(T, 4 * H, I), x.transpose(1, 2), out=S)
        for t in range(T):
            S[t].addmm_(W_z, z)

    def train(module):
        def call():
            module(x)[0].sum().backward()
        return call

    return {
        "LSTM forward, no_grad": {"torch.nn.LSTM": infer(lstm_t), "deepnets LSTM (peepholes)": infer(lstm_p),
                                  "deepnets LSTM (no peepholes)": infer(lstm_np),
                                  "its matmuls alone (floor)": matmuls},
        "LSTM forward + backward": {"torch.nn.LSTM": train(lstm_t), "deepnets LSTM (peepholes)": train(lstm_p),
                                    "deepnets LSTM (no peepholes)": train(lstm_np)},
        "GRU forward, no_grad": {"torch.nn.GRU": infer(gru_t), "deepnets GRU (reset after, torch's)": infer(gru_after),
                                 "deepnets GRU (lecture's)": infer(gru_lecture)},
        "GRU forward + backward": {"torch.nn.GRU": train(gru_t), "deepnets GRU (reset after, torch's)": train(gru_after),
                                   "deepnets GRU (lecture's)": train(gru_lecture)},
    }


def cpu_ms(fn) -> float:
    t = time.process_time()
    fn()
    return (time.process_time() - t) * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--I", type=int, default=32)
    ap.add_argument("--H", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} cores, T={args.T} B={args.B} "
          f"I={args.I} H={args.H}; CPU ms per call, median [min-max] of {args.rounds} interleaved rounds")
    for kind, runs in contenders(args.T, args.B, args.I, args.H).items():
        for fn in runs.values():
            fn(), fn()  # warm
        samples = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, fn in runs.items():
                samples[k].append(cpu_ms(fn))
        med = {k: statistics.median(v) for k, v in samples.items()}
        base = next(iter(runs))
        print(f"\n{kind}  (load {os.getloadavg()[0]:.1f})")
        for k, v in med.items():
            print(f"  {k:<38} {v:8.2f} ms  [{min(samples[k]):.2f}-{max(samples[k]):.2f}]  x{v / med[base]:.2f}")


if __name__ == "__main__":
    main()
