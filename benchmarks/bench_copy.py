"""Train recurrent cores on the copy-memory task: cross-entropy against the memoryless baseline.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_copy.py --T 50 --cores lstm gru elman

The network sees ``--length`` symbols from {1..K}, T blanks ending in a delimiter, and must then
write the symbols back (Hochreiter & Schmidhuber 1997; the form of Arjovsky, Shah & Bengio 2016).
Each core is a many-to-many :class:`~deepnets.zoo.recurrent_net.RecurrentNet` over one-hot tokens,
trained by Adam on fresh batches with gradient-norm clipping (memory_bench.train, shared with
bench_adding.py); it is tested on 2000 held-out sequences for the per-step cross-entropy (the
memoryless strategy scores length log K / (T + 2 length)) and for the accuracy on the recalled
symbols (chance 1/K). Training stops at ``--steps`` or once the test cross-entropy falls below
``--target``. Writes benchmarks/results/copy_T{T}.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memory_bench import RESULTS, common_arguments, copy_task, run_all, write


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(ap, T=50, target=0.002, every=100)
    ap.add_argument("--length", type=int, default=10, help="symbols to remember")
    ap.add_argument("--symbols", type=int, default=8, help="alphabet size K")
    args = ap.parse_args(argv)
    task = copy_task(args.length, args.symbols)
    results = run_all(task, args)
    base = task.baseline(args.T)
    print(f"copy memory, T={args.T}, {args.length} of {args.symbols} symbols, baseline "
          f"cross-entropy {base:.4f}, chance recall {1 / args.symbols:.3f} ({args.machine})")
    for r in results:
        print(f"  {r['core']:18s} cross-entropy {r['test_ce']:.5f}, recalled "
              f"{r['test_recall_accuracy']:.3f} after {r['steps']} steps ({r['seconds']:.0f} s)")
    write(results, Path(args.out or RESULTS / f"copy_T{args.T}.json"), threads=args.threads,
          machine=args.machine, extra={"length": args.length, "symbols": args.symbols,
                                       "baseline_ce": base, "chance_recall": 1 / args.symbols})
    return results


if __name__ == "__main__":
    main()
