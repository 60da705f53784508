"""Start-up time of the command line: ``deepnets --help``, ``--version`` and each subcommand's
``--help``, beside the bare interpreter (the floor) and ``import torch`` (what every command
cost before the top-level names were loaded lazily), run interleaved (A B C ... A B C ...) in
fresh processes, so a busy neighbour slows all alike; medians and ratios to the floor.

    python benchmarks/bench_cli_startup.py [--repeats 7] [--out benchmarks/results/cli_startup.json]

Warm: the first round is thrown away (it fills the file cache). The target is < 0.3 s a command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
COMMANDS = ["train", "evaluate", "predict", "relevance", "prune", "select", "export", "report", "tour", "datasets",
            "models"]


def jobs() -> dict[str, list[str]]:
    py = [sys.executable]
    table = {"python -c pass (floor)": py + ["-c", "pass"],
             "python -c 'import torch' (before)": py + ["-c", "import torch"],
             "deepnets --help": py + ["-m", "deepnets", "--help"],
             "deepnets --version": py + ["-m", "deepnets", "--version"]}
    table.update({f"deepnets {c} --help": py + ["-m", "deepnets", c, "--help"] for c in COMMANDS})
    return table


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", help="write the medians here as JSON")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.path.abspath(SRC), "OMP_NUM_THREADS": "1"}
    table = jobs()
    times = {name: [] for name in table}
    for round_ in range(args.repeats + 1):
        for name, argv in table.items():
            t = timed(argv, env)
            if round_:  # round 0 warms the file cache
                times[name].append(t)
    floor = statistics.median(times["python -c pass (floor)"])
    rows = []
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'x floor':>8}")
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"command": name, "median_s": round(med, 4), "min_s": round(min(ts), 4)})
        print(f"{name:<36} {med:>9.3f} {min(ts):>7.3f} {med / floor:>8.1f}")
    worst = max(r["median_s"] for r in rows if r["command"].startswith("deepnets"))
    print(f"slowest deepnets command: {worst:.3f} s median ({'under' if worst < 0.3 else 'OVER'} the 0.3 s target)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"python": sys.version.split()[0], "machine": platform.machine(), "repeats": args.repeats,
                       "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
