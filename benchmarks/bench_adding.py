"""Train recurrent cores on the adding problem and report test MSE against the 0.167 baseline.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_adding.py --T 100 --cores lstm gru
    ... --T 400 --curriculum 100 200 --advance 0.01      (train on T = 100, then 200, then 400)

Each core is a many-to-one :class:`~deepnets.zoo.recurrent_net.RecurrentNet` trained by Adam on fresh
batches (an endless stream, as in Hochreiter & Schmidhuber 1997) with gradient-norm clipping;
the test set is 2000 held-out sequences from another seed. Training stops at ``--steps`` or once
the test MSE falls below ``--target``. The loop is memory_bench.train, shared with
bench_copy.py. Writes benchmarks/results/adding_T{T}.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepnets.data.sequence_tasks import ADDING_BASELINE_MSE
from memory_bench import RESULTS, adding_task, common_arguments, run_all, write


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(ap, T=100, target=0.001, every=100)
    args = ap.parse_args(argv)
    results = run_all(adding_task(), args)
    print(f"adding problem, T={args.T}, baseline MSE {ADDING_BASELINE_MSE:.4f} ({args.machine})")
    for r in results:
        print(f"  {r['core']:18s} test MSE {r['test_mse']:.5f} after {r['steps']} steps "
              f"({r['seconds']:.0f} s)")
    write(results, Path(args.out or RESULTS / f"adding_T{args.T}.json"), threads=args.threads,
          machine=args.machine, extra={"baseline_mse": ADDING_BASELINE_MSE})
    return results


if __name__ == "__main__":
    main()
