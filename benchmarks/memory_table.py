"""Gather the adding-problem and copy-memory results into one table of what each core remembers.

    PYTHONPATH=src python benchmarks/memory_table.py

Reads benchmarks/results/adding_T*.json (bench_adding.py) and copy_T*.json (bench_copy.py) and
writes benchmarks/results/memory_table.md and memory_table.json: one row per core and one cell
per task and length, with the final test metric, the steps and the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from memory_bench import RESULTS

CORE_NAMES = {"elman": "Elman RNN", "lstm": "LSTM (peepholes)",
              "lstm_no_peepholes": "LSTM (no peepholes)", "gru": "GRU"}


def _cells(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    task = "adding" if path.name.startswith("adding") else "copy"
    cells = []
    for r in data["results"]:
        cell = {"task": task, "T": r["T"], "core": r["core"], "hidden": r["hidden"], "lr": r["lr"],
                "seed": r["seed"], "steps": r["steps"], "seconds": round(r["seconds"], 1),
                "curriculum": r.get("curriculum"), "machine": data["machine"], "file": path.name}
        if task == "adding":
            mse = r.get("test_mse", r.get("final_test_mse"))    # older files: final_test_mse
            cell.update(test_mse=mse, baseline=data["baseline_mse"], solved=mse < 0.01)
        else:
            cell.update(test_ce=r["test_ce"], test_recall_accuracy=r["test_recall_accuracy"],
                        baseline=data["baseline_ce"], chance_recall=data["chance_recall"],
                        solved=r["test_recall_accuracy"] >= 0.99)
        cells.append(cell)
    return cells


def _text(c: dict) -> str:
    how = f"{c['steps']} steps, {c['seconds']:.0f} s" + (f", seed {c['seed']}" if c["seed"] else "")
    if c["curriculum"]:
        how += ", curriculum " + "→".join(str(t) for t in c["curriculum"])
    if c["task"] == "adding":
        return f"{c['test_mse']:.4f} ({how})"
    return f"{c['test_ce']:.3f} / {100 * c['test_recall_accuracy']:.1f}% ({how})"


def _settings(cells: list[dict]) -> str:
    values = lambda key: "/".join(str(v) for v in sorted({c[key] for c in cells}))  # noqa: E731
    return f"hidden size {values('hidden')}, learning rate {values('lr')}"


def table(cells: list[dict]) -> str:
    """The markdown table: rows are cores, columns are (task, T)."""
    columns = sorted({(c["task"], c["T"]) for c in cells})
    head = []
    for task, T in columns:
        base = next(c["baseline"] for c in cells if (c["task"], c["T"]) == (task, T))
        head.append(f"adding T={T}: test MSE (baseline {base:.3f})" if task == "adding" else
                    f"copy T={T}: test CE (baseline {base:.3f}) / recalled (chance "
                    f"{100 * next(c['chance_recall'] for c in cells if c['task'] == 'copy'):.1f}%)")
    lines = ["| core | " + " | ".join(head) + " |", "|---" * (len(columns) + 1) + "|"]
    for core, name in CORE_NAMES.items():
        row = []
        for col in columns:
            here = [c for c in cells if c["core"] == core and (c["task"], c["T"]) == col]
            row.append("<br>".join(_text(c) for c in here) or "not run")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(RESULTS))
    args = ap.parse_args(argv)
    folder = Path(args.results)
    named = re.compile(r"(adding|copy)_T\d+\.json")
    files = sorted(p for p in folder.glob("*.json") if named.fullmatch(p.name))
    cells = [c for p in files for c in _cells(p)]
    machines = sorted({c["machine"] for c in cells})
    md = (f"# What each recurrent core remembers ({', '.join(machines)}, 1 thread)\n\n"
          "Adding problem: test MSE on 2000 held-out sequences (predicting the constant 1 gives 1/6). "
          "Copy memory: per-step test cross-entropy (nats) against the memoryless strategy, and the "
          "share of the recalled symbols right (chance 1/K). "
          f"Settings: {_settings(cells)}, Adam, gradient-norm clipping at 1 (per cell in "
          "memory_table.json); each run stops at its step budget or once it reaches its target "
          "(adding: MSE < 0.001; copy: CE < 0.002). Seed 0 unless a cell names another. The seconds are wall time on a "
          "machine shared with other jobs: the same work took up to 5x longer under load, so compare "
          "steps, not seconds. \"curriculum\": trained on the shorter lengths first, moving on once the "
          "test MSE there fell below 0.01 (steps and seconds count every stage).\n\n"
          + table(cells))
    (folder / "memory_table.md").write_text(md)
    (folder / "memory_table.json").write_text(json.dumps({"cells": cells}, indent=1))
    print(md)
    return cells


if __name__ == "__main__":
    main()
