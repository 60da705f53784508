"""LSTM forward + backward: torch.nn.LSTM vs a plain peephole loop vs deepnets' fused LSTM.

All contenders run in one process, interleaved round by round (A B C A B C ...), so that a
shared machine's load hits them alike; each run reports medians and their ratios to
``torch.nn.LSTM`` (which has no peepholes: on the CPU it runs oneDNN's fused LSTM kernel,
``aten::mkldnn_rnn_layer``), and ``--repeats`` runs give the median of those ratios.

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/bench_lstm.py --threads 2 --rounds 30 --repeats 5
    PYTHONPATH=src python benchmarks/bench_lstm.py --device cuda --I 128 --H 512 --out benchmarks/results/lstm_gpu.json

Writes benchmarks/results/lstm_cpu.json (or --out) naming the machine (--machine; on a GPU the
card's name is added). On a GPU ``torch.nn.LSTM`` is cuDNN's kernel and every timing ends with
``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from deepnets.nn.recurrent.lstm import LSTM, lstm_loop


def contenders(T: int, B: int, I: int, H: int, compile_loop: bool, device: str = "cpu") -> dict:
    """name -> a closure running one forward + backward of (T, B, I) -> H on ``device``."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, I, generator=g).to(device)
    ref = torch.nn.LSTM(I, H).to(device)
    ours_p = LSTM(I, H, peepholes=True, generator=g).to(device)
    ours_np = LSTM(I, H, peepholes=False, generator=g).to(device)
    W_x, W_z, b, p = ours_p.layer_weights(0)
    z0 = torch.zeros(B, H, device=device)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def run(module):
        def step():
            y, _ = module(x)
            y.sum().backward()
            sync()
        return step

    def plain(loop):
        def step():
            y, _, _ = loop(x, z0, z0, W_x, W_z, b, p)
            y.sum().backward()
            sync()
        return step

    runs = {"torch.nn.LSTM (no peepholes)": run(ref),
            "plain peephole loop (autograd)": plain(lstm_loop),
            "deepnets LSTM (peepholes)": run(ours_p),
            "deepnets LSTM (no peepholes)": run(ours_np)}
    if compile_loop:
        runs["plain peephole loop, torch.compile"] = plain(torch.compile(lstm_loop))
    return runs


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--I", type=int, default=32)
    ap.add_argument("--H", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1, help="independent runs (load varies)")
    ap.add_argument("--compile", action="store_true", help="add the torch.compile'd plain loop")
    ap.add_argument("--machine", default="2-core shared CPU")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:k]")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "lstm_cpu.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device here")
        args.machine = f"{args.machine}, {torch.cuda.get_device_name(torch.device(args.device))}"
    runs = contenders(args.T, args.B, args.I, args.H, args.compile, args.device)
    first_call = {}
    for name, step in runs.items():
        t0 = time.perf_counter()
        step()                                    # first call: includes compilation where any
        first_call[name] = time.perf_counter() - t0
        for _ in range(args.warmup - 1):
            step()
    base = "torch.nn.LSTM (no peepholes)"
    runs_out = []
    for rep in range(args.repeats):
        samples = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, step in runs.items():       # interleaved: A B C A B C ...
                t0 = time.perf_counter()
                step()
                samples[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        runs_out.append({"median_ms": med, "ratio_to_torch": {k: v / med[base] for k, v in med.items()}})
        print(f"run {rep + 1}/{args.repeats}: " + ", ".join(
            f"{k} {med[k]:.1f} ms (x{med[k] / med[base]:.2f})" for k in runs))
    ratio = {k: statistics.median(r["ratio_to_torch"][k] for r in runs_out) for k in runs}
    result = {
        "benchmark": "LSTM forward + backward (sum of outputs), float32",
        "machine": args.machine, "device": args.device, "platform": platform.platform(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "shape": {"T": args.T, "B": args.B, "I": args.I, "H": args.H},
        "rounds_per_run": args.rounds, "runs": runs_out,
        "median_ratio_to_torch": ratio,
        "first_call_s": first_call,
    }
    print(f"{args.machine}, torch {torch.__version__}, {result['threads']} threads, "
          f"T={args.T} B={args.B} I={args.I} H={args.H}, {args.repeats} runs of "
          f"{args.rounds} interleaved rounds; median over runs of each run's ratio to nn.LSTM:")
    for k in runs:
        print(f"  {k:38s} x{ratio[k]:.2f}   (first call {first_call[k]:.2f} s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
