"""Write a NARMA-10 series and its input to a CSV (columns step, u, y) for examples/series_csv.toml.

    python examples/make_series_csv.py [OUT.csv] [--steps 2000] [--seed 0]
    deepnets train examples/series_csv.toml          # reads narma10.csv beside the TOML (examples/)

The data come from deepnets' own generator (nothing is downloaded), so the CSV stands for a
user's measured series: rows in time order, one column per signal.
"""

import argparse
import os

import torch

from deepnets.data.series import narma10_series


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "narma10.csv"))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    y, u = narma10_series(args.steps, generator=torch.Generator().manual_seed(args.seed))
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("step,u,y\n")
        fh.writelines(f"{t},{float(u[t])!r},{float(y[t])!r}\n" for t in range(args.steps))
    print(f"{args.steps} steps written to {args.out}")


if __name__ == "__main__":
    main()
