"""Which LSTM gates matter most: Greff et al.'s ablations on the adding and copy tasks, several seeds.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_lstm_gates.py           (the README table)
    ... --seeds 0 --cores lstm lstm_no_forget --adding-steps 300 --copy-steps 300   (a short look)

Every variant of :class:`~deepnets.nn.recurrent.lstm.LSTM` (``variant=`` and ``peepholes=``; see
:mod:`deepnets.nn.recurrent.lstm_variants`) trains the same read-out on the same stream of fresh
batches with the same step budget, through memory_bench.train (the loop of bench_adding.py and
bench_copy.py: Adam, gradient-norm clipping at 1, forget-gate bias 1 where there is a forget
gate, tests on 2000 held-out sequences every ``--every`` steps). Runs are interleaved: seed by
seed, task by task, every variant in turn, so a machine's load falls on all of them alike. For
each (task, variant) the table gives the median over seeds of the test metric after the whole
budget (adding 600 steps, copy 800) and of the first tested step at which the target was reached (runs never stop early),
with how many seeds reached it (test MSE 0.01; recall accuracy 0.4). Short sequences keep the run short
(31 minutes of wall time on one thread of a shared 2-core machine under a load of 8-13):
adding T = 50, copy T = 20 with 3 symbols from 4 (the memoryless strategy's cross-entropy is
then 3 log 4 / 26 = 0.160, chance recall 1/4).

Greff et al. (2017) found on speech, handwriting and music that the forget gate and the output
activation are the most critical parts (removing either hurt on all three), while coupling the
input and forget gates (CIFG) or dropping the peepholes did not hurt significantly.
Writes benchmarks/results/lstm_gates.json and lstm_gates.md.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from memory_bench import CORES, MACHINE, RESULTS, adding_task, copy_task, train, write

#: core name -> the row's label (Greff et al.'s abbreviation in brackets)
LABELS = {"lstm": "vanilla (V, with peepholes)", "lstm_no_peepholes": "no peepholes (NP)",
          "lstm_no_forget": "no forget gate (NFG, 1997 LSTM)", "lstm_no_input": "no input gate (NIG)",
          "lstm_no_output": "no output gate (NOG)", "lstm_cifg": "coupled input-forget gate (CIFG)",
          "lstm_no_output_activation": "no output activation (NOAF)"}


def steps_to(curve: list[dict], key: str, target: float, lower_is_better: bool) -> int | None:
    """The first tested step whose ``key`` reached ``target``, or None."""
    for row in curve:
        if (row[key] <= target) if lower_is_better else (row[key] >= target):
            return row["step"]
    return None


def n_weights(core: str, input_size: int, hidden: int) -> int:
    """The recurrent core's weight count (the read-out is the same for every variant)."""
    return sum(p.numel() for p in CORES[core](input_size, hidden, torch.Generator(), 1.0).parameters())


def summarise(results: list[dict], jobs: list[tuple]) -> str:
    """The Markdown table: per task and variant, medians over seeds."""
    lines = []
    for task, T, steps, target, key in jobs:
        rows = [r for r in results if r["task"] == task.name]
        cores = list(dict.fromkeys(r["core"] for r in rows))
        if not cores:
            continue
        metric = "test MSE" if task.name == "adding" else "recall accuracy"
        base = (f"memoryless MSE {task.baseline(T):.3f}" if task.name == "adding" else
                f"memoryless cross-entropy {task.baseline(T):.3f}, chance recall {1 / rows[0]['symbols']:.3f}")
        lines += [f"\n{task.name}, T = {T}, {steps} steps, target {key} {target} ({base})\n",
                  f"| variant | weights | {metric} (median) | steps to target (median) | reached |",
                  "|---|---|---|---|---|"]
        for core in cores:
            mine = [r for r in rows if r["core"] == core]
            value = statistics.median(r["test_mse" if task.name == "adding" else "test_recall_accuracy"] for r in mine)
            hit = [r["steps_to_target"] for r in mine]
            reached = [h for h in hit if h is not None]
            # unreached seeds count as beyond the budget: a median among them is "> budget"
            ordered = sorted(h if h is not None else float("inf") for h in hit)
            med = statistics.median(ordered) if len(reached) * 2 > len(hit) else None
            lines.append(f"| {LABELS.get(core, core)} | {mine[0]['weights']} | {value:.4f} | "
                         f"{'> ' + str(steps) if med is None else f'{med:.0f}'} | {len(reached)}/{len(hit)} |")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", nargs="+", default=list(LABELS), choices=sorted(CORES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--every", type=int, default=100, help="test every this many steps")
    ap.add_argument("--adding-T", type=int, default=50)
    ap.add_argument("--adding-steps", type=int, default=600)
    ap.add_argument("--adding-target", type=float, default=0.01, help="test MSE")
    ap.add_argument("--copy-T", type=int, default=20)
    ap.add_argument("--copy-length", type=int, default=3)
    ap.add_argument("--copy-symbols", type=int, default=4)
    ap.add_argument("--copy-steps", type=int, default=800)
    ap.add_argument("--copy-target", type=float, default=0.4, help="recall accuracy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default=MACHINE)
    ap.add_argument("--out", type=Path, default=RESULTS / "lstm_gates.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    jobs = [(adding_task(), args.adding_T, args.adding_steps, args.adding_target, "test_mse"),
            (copy_task(args.copy_length, args.copy_symbols), args.copy_T, args.copy_steps, args.copy_target,
             "test_recall_accuracy")]
    results = []
    for seed in args.seeds:
        for task, T, steps, target, key in jobs:
            lower = key == "test_mse"
            for core in args.cores:   # never stops early: every variant gets the whole budget
                r = train(core, task, T, hidden=args.hidden, steps=steps, batch=args.batch, lr=args.lr,
                          seed=seed, target=-1.0, every=args.every)
                r["target"], r["steps_to_target"] = target, steps_to(r["curve"], key, target, lower)
                r["solved"] = r["steps_to_target"] is not None
                r["weights"] = n_weights(core, task.input_size, args.hidden)
                r["symbols"] = args.copy_symbols if task.name == "copy" else None
                results.append(r)
                print(f"seed {seed} {task.name:6s} {core:26s} {key} {r[key]:.4f}, "
                      f"target at {r['steps_to_target']} ({r['seconds']:.0f} s)", flush=True)
                write(results, args.out, threads=args.threads, machine=args.machine,
                      extra={"hidden": args.hidden, "lr": args.lr, "batch": args.batch,
                             "copy_length": args.copy_length, "copy_symbols": args.copy_symbols})
    table = summarise(results, jobs)
    print(table)
    args.out.with_suffix(".md").write_text(f"{args.machine}, {args.threads} thread(s), hidden {args.hidden}, "
                                           f"lr {args.lr}, seeds {args.seeds}\n{table}\n")
    return results


if __name__ == "__main__":
    main()
