"""Train recurrent cores on the adding problem and report test MSE against the 0.167 baseline.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_adding.py --T 100 --cores lstm gru

Each core is a many-to-one :class:`~deepnets.nn.recurrent.RecurrentNet` trained by Adam on fresh
batches (an endless stream, as in Hochreiter & Schmidhuber 1997) with gradient-norm clipping;
the test set is 2000 held-out sequences from another seed. Training stops at ``--steps`` or once
the test MSE falls below ``--target``. Writes benchmarks/results/adding_T{T}.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from deepnets.data.sequence_tasks import ADDING_BASELINE_MSE, adding_problem
from deepnets.nn.gru import GRU
from deepnets.nn.lstm import LSTM
from deepnets.nn.recurrent import RecurrentNet
from deepnets.nn.rnn import ElmanRNN

CORES = {
    "lstm": lambda H, g: LSTM(2, H, batch_first=True, forget_bias=1.0, generator=g),
    "lstm_no_peepholes": lambda H, g: LSTM(2, H, batch_first=True, peepholes=False,
                                           forget_bias=1.0, generator=g),
    "gru": lambda H, g: GRU(2, H, batch_first=True, generator=g),
    "elman": lambda H, g: ElmanRNN(2, H, batch_first=True, generator=g),
}


def train(core: str, T: int, *, hidden: int, steps: int, batch: int, lr: float, seed: int,
          target: float, every: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    net = RecurrentNet(CORES[core](hidden, g), 1, mode="many_to_one")
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x_test, y_test = adding_problem(2000, T, generator=torch.Generator().manual_seed(10_000 + seed))
    curve, t0 = [], time.perf_counter()
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, T, generator=g)
        loss = torch.nn.functional.mse_loss(net(x)[0], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if step % every == 0 or step == steps:
            with torch.no_grad():
                test = torch.nn.functional.mse_loss(net(x_test)[0], y_test).item()
            curve.append({"step": step, "train_mse": loss.item(), "test_mse": test,
                          "seconds": time.perf_counter() - t0})
            logging.info("%s T=%d step %d test MSE %.5f (%.0f s)", core, T, step, test,
                         time.perf_counter() - t0)
            if test < target:
                break
    return {"core": core, "T": T, "hidden": hidden, "batch": batch, "lr": lr, "seed": seed,
            "final_test_mse": curve[-1]["test_mse"], "steps": curve[-1]["step"],
            "seconds": curve[-1]["seconds"], "curve": curve}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--cores", nargs="+", default=["lstm"], choices=sorted(CORES))
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=0.001, help="stop once test MSE is below")
    ap.add_argument("--every", type=int, default=100, help="evaluate every this many steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default="2-core shared CPU")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    results = [train(c, args.T, hidden=args.hidden, steps=args.steps, batch=args.batch,
                     lr=args.lr, seed=args.seed, target=args.target, every=args.every)
               for c in args.cores]
    print(f"adding problem, T={args.T}, baseline MSE {ADDING_BASELINE_MSE:.4f} ({args.machine})")
    for r in results:
        print(f"  {r['core']:18s} test MSE {r['final_test_mse']:.5f} after {r['steps']} steps "
              f"({r['seconds']:.0f} s)")
    out = Path(args.out or Path(__file__).parent / "results" / f"adding_T{args.T}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": args.machine, "torch": torch.__version__,
                               "threads": args.threads, "baseline_mse": ADDING_BASELINE_MSE,
                               "results": results}, indent=1))
    return results


if __name__ == "__main__":
    main()
