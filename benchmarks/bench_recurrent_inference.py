"""Recurrent inference and training: deepnets' LSTM and GRU against torch.nn.LSTM / nn.GRU.

Rows, each timed as CPU time per call (``time.process_time``, fairer than wall time on a
shared, loaded machine), all contenders interleaved round by round (A B C A B C ...), medians
with their min-max and the ratio to torch's module of the same kind:

- forward under ``torch.no_grad()`` (inference: no backward buffers are needed),
- forward + backward of the outputs' sum (training);

and, beside the inference rows, the peephole LSTM's two inference paths: the fused Numba kernel
(the default on the CPU, :mod:`deepnets.nn.recurrent.lstm_fused`) and the torch loop it replaced
(what ``DEEPNETS_NO_NUMBA=1`` runs, switched per call here), and the fused kernel's matrix
products alone (one ``np.dot`` of [W_z W_x b] (4H, H+H_in+1) by [z; x; 1] a step, in a Numba
loop): the floor of that design; and the design it was chosen over, a ``torch.mm`` and a kernel
call a step. Every contender runs twice before timing (Numba compiles then).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_recurrent_inference.py [--rounds 31] [--out PATH]

Default shape: L=100 steps, N=64, H_in=32, H=128 (``benchmarks/bench_lstm.py``'s), 1 thread.
Writes benchmarks/results/recurrent_inference.json (or PATH): medians, min-max, ratios, load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from _results import write_results
from deepnets import _numba
from deepnets.nn.recurrent import GRU, LSTM
from deepnets.nn.recurrent.lstm_fused import sigmoid_den, tanh_parts


def _products(W, S, A, T):
    """T products W S into A: the fused kernel's GEMMs without its gates."""
    for _ in range(T):
        np.dot(W, S, A)


products = _numba.kernel(_products)


def _gates(A, p, c, S, y, x_next):
    """The fused kernel's pass over the gates for one step, without its product (the same loop)."""
    HN = c.shape[0]
    for k in range(HN):
        c_prev = c[k]
        d_i = sigmoid_den(A[0, k] + p[0, k] * c_prev)
        d_f = sigmoid_den(A[1, k] + p[1, k] * c_prev)
        n_g, d_g = tanh_parts(A[2, k])
        c[k] = c_prev / d_f + n_g / (d_i * d_g)
    for k in range(HN):
        c_t = c[k]
        d_o = sigmoid_den(A[3, k] + p[2, k] * c_t)
        n_c, d_c = tanh_parts(c_t)
        z = n_c / (d_o * d_c)
        S[k] = z
        y[k] = z
    for k in range(x_next.shape[0]):
        S[HN + k] = x_next[k]


gates = _numba.kernel(_gates, error_model="numpy", fastmath={"contract"})


def mm_and_kernel_a_step(x, W_x, W_z, b, p):
    """The design the fused kernel replaced: a ``torch.mm`` (MKL) and a kernel call each step."""
    L, N, I = x.shape
    H = W_z.shape[1]
    W = torch.cat([W_z, W_x, b.unsqueeze(1)], dim=1)
    S = x.new_zeros(H + I + 1, N)
    S[H + I] = 1.0
    S[H:H + I] = x[0].t()
    A, c, Z = x.new_empty(4 * H, N), x.new_zeros(H * N), x.new_empty(L, H * N)
    X = x.transpose(1, 2).reshape(L, I * N)
    P = p.reshape(3, H, 1).expand(3, H, N).reshape(3, H * N)
    A_n, P_n, c_n, S_n, Z_n, X_n = (t.numpy() for t in (A.view(4, H * N), P, c, S.view(-1), Z, X))
    for t in range(L):
        torch.mm(W, S, out=A)
        gates(A_n, P_n, c_n, S_n, Z_n[t], X_n[t + 1] if t + 1 < L else X_n[0, :0])
    return Z


def contenders(T: int, B: int, I: int, H: int) -> dict:
    """kind -> {name: a closure running one call}; the first name of each kind is torch's."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, I, generator=g)
    lstm_t, gru_t = torch.nn.LSTM(I, H), torch.nn.GRU(I, H)
    lstm_p = LSTM(I, H, peepholes=True, generator=g)
    lstm_np = LSTM.from_torch(lstm_t)
    gru_after, gru_lecture = GRU.from_torch(gru_t), GRU(I, H, generator=g)

    def infer(module, numba_off=False):
        def call():
            if numba_off:
                os.environ["DEEPNETS_NO_NUMBA"] = "1"
            try:
                with torch.no_grad():
                    module(x)
            finally:
                if numba_off:
                    del os.environ["DEEPNETS_NO_NUMBA"]
        return call

    W_x, W_z, b, p = (t.detach() for t in lstm_p.layer_weights(0))
    W = torch.cat([W_z, W_x, b.unsqueeze(1)], dim=1).numpy()          # as the fused kernel's
    S, A = torch.randn(H + I + 1, B).numpy(), torch.empty(4 * H, B).numpy()

    def train(module):
        def call():
            module(x)[0].sum().backward()
        return call

    return {
        "LSTM forward, no_grad": {"torch.nn.LSTM": infer(lstm_t), "deepnets LSTM (peepholes)": infer(lstm_p),
                                  "  the torch loop (DEEPNETS_NO_NUMBA=1)": infer(lstm_p, numba_off=True),
                                  "  its matrix products alone (floor)": lambda: products(W, S, A, T),
                                  "  a torch.mm and a kernel call a step": lambda: mm_and_kernel_a_step(x, W_x, W_z, b, p),
                                  "deepnets LSTM (no peepholes)": infer(lstm_np)},
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
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/recurrent_inference.json")
    args = ap.parse_args(argv)
    if not _numba.available():
        raise SystemExit("bench_recurrent_inference: Numba is off (DEEPNETS_NO_NUMBA) or missing; the fused row needs it")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} cores, T={args.T} B={args.B} "
          f"I={args.I} H={args.H}; CPU ms per call, median [min-max] of {args.rounds} interleaved rounds")
    table = {}
    for kind, runs in contenders(args.T, args.B, args.I, args.H).items():
        for fn in runs.values():
            fn(), fn()  # warm (and compile)
        load = [os.getloadavg()[0]]
        samples = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, fn in runs.items():
                samples[k].append(cpu_ms(fn))
        load.append(os.getloadavg()[0])
        med = {k: statistics.median(v) for k, v in samples.items()}
        base = next(iter(runs))
        print(f"\n{kind}  (load {load[0]:.1f}-{load[1]:.1f})")
        table[kind] = {"load_1min": load, "rows": {}}
        for k, v in med.items():
            lo, hi = min(samples[k]), max(samples[k])
            print(f"  {k:<40} {v:8.2f} ms  [{lo:.2f}-{hi:.2f}]  x{v / med[base]:.2f}")
            table[kind]["rows"][k.strip()] = {"median_ms": round(v, 3), "min_ms": round(lo, 3), "max_ms": round(hi, 3),
                                              "ratio": round(v / med[base], 3)}
    write_results(args.out, "bench_recurrent_inference.py", argv, args, unit="CPU ms per call", table=table)


if __name__ == "__main__":
    main()
