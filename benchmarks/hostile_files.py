"""Time and memory of refusing hostile files (issue #12): the table in the README's "Limits on files".

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/hostile_files.py [--src OTHER/src]

Builds the files of ``tests/faults/test_hostile_files.py`` (each at most 10 MB) and reads them all
in one child process, which reports for each the CPU seconds it spent and its peak resident
memory above the baseline after imports. ``--src`` runs the child on another checkout's sources
(to compare with an earlier version; an old reader may need gigabytes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "faults"))

from test_hostile_files import CHILD, build  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT / "src"), help="the deepnets sources the child imports")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cases = build(Path(tmp))
        codes = {name: f"D = {tmp!r}\n{code}" for name, (code, _, _) in cases.items()}
        env = {**os.environ, "PYTHONPATH": args.src, "OMP_NUM_THREADS": "1"}
        run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(codes)], capture_output=True, text=True,
                             env=env)
    if run.returncode:
        sys.exit(f"the child failed: {run.stderr[-2000:]}")
    results = json.loads(run.stdout)
    print(f"{'file (at most 10 MB)':44s} {'CPU s':>6s} {'+RSS MB':>8s}  outcome")
    for name, r in results.items():
        outcome = "read" if r["error"] is None else f"{r['error'][0]}: {r['error'][1].split(': ', 1)[1][:60]}"
        print(f"{name:44s} {r['cpu_s']:6.2f} {r['rss_mb']:8.0f}  {outcome}")
    return results


if __name__ == "__main__":
    main()
