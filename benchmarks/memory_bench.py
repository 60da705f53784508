"""What the memory benchmarks share: the cores, the two tasks, the batch stream and the test
callback they train with through ``fit``, the JSON file.

bench_adding.py (adding problem) and bench_copy.py (copy-memory task) train a
:class:`~deepnets.zoo.recurrent_net.RecurrentNet` through ``fit`` by Adam on fresh batches (an
endless stream, as in Hochreiter & Schmidhuber 1997; :class:`FreshBatches`) with gradient-norm
clipping at 1 (``ClipGradNorm``), and test every ``every`` steps on 2000 held-out sequences
drawn from another seed (:class:`TestEvery`). A run stops at ``steps`` or once the task's test metric
reaches ``target``. With a curriculum (lengths T_1 < T_2 < ... < T) the net trains on T_1 until
the test metric at T_1 reaches ``advance``, then on T_2, and so on (Bengio et al. 2009,
"Curriculum learning"); the reported metric is always at the final T. With ``--run DIR`` each
core checkpoints into DIR/CORE at every test and resumes from there (SIGTERM or Ctrl-C saves and
stops; the run continues bit for bit).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

from deepnets import fit
from deepnets.data.sequence_tasks import (ADDING_BASELINE_MSE, adding_problem, copy_memory,
                                          copy_memory_accuracy, copy_memory_baseline)
from deepnets.errors import EXIT_INTERRUPTED, TrainingInterrupted
from deepnets.nn.recurrent import GRU, LSTM, ElmanRNN
from deepnets.train import BatchLoss, Callback, Checkpointer, ClipGradNorm, GracefulStop, batch_loss
from deepnets.zoo import RecurrentNet

MACHINE = "2-core shared CPU"
RESULTS = Path(__file__).parent / "results"

#: core name -> builder(input size, hidden size, generator, forget_bias)
CORES: dict[str, Callable] = {
    "lstm": lambda I, H, g, fb: LSTM(I, H, batch_first=True, forget_bias=fb, generator=g),
    "lstm_no_peepholes": lambda I, H, g, fb: LSTM(I, H, batch_first=True, peepholes=False,
                                                  forget_bias=fb, generator=g),
    # the gate ablations of Greff et al. (2017), with peepholes (bench_lstm_gates.py); no forget gate: no forget bias
    **{f"lstm_{v}": (lambda v: lambda I, H, g, fb: LSTM(I, H, batch_first=True, variant=v, generator=g,
                                                        forget_bias=0.0 if v == "no_forget" else fb))(v)
       for v in ("no_forget", "no_input", "no_output", "cifg", "no_output_activation")},
    "gru": lambda I, H, g, fb: GRU(I, H, batch_first=True, generator=g),
    "elman": lambda I, H, g, fb: ElmanRNN(I, H, batch_first=True, generator=g),
}


@dataclass(frozen=True)
class Task:
    """A memory task: how to draw (x, y), the head, the loss, the test metrics and when it is solved."""

    name: str
    input_size: int
    output_size: int
    mode: str                                    # RecurrentNet head
    sample: Callable                             # (n, T, generator) -> (x float, y)
    loss: Callable                               # (y_hat, y) -> scalar
    metrics: Callable                            # (y_hat, y) -> {name: float}
    key: str                                     # the metric compared with the target
    lower_is_better: bool
    baseline: Callable                           # T -> the memoryless strategy's value of `key`

    def reached(self, metrics: dict, target: float) -> bool:
        value = metrics[self.key]
        return value < target if self.lower_is_better else value >= target


def adding_task() -> Task:
    """The adding problem: MSE against the constant predictor's 1/6."""
    return Task("adding", 2, 1, "many_to_one",
                sample=lambda n, T, g: adding_problem(n, T, generator=g),
                loss=lambda y_hat, y: F.mse_loss(y_hat, y),
                metrics=lambda y_hat, y: {"test_mse": F.mse_loss(y_hat, y).item()},
                key="test_mse", lower_is_better=True, baseline=lambda T: ADDING_BASELINE_MSE)


def copy_task(length: int = 10, symbols: int = 8) -> Task:
    """The copy-memory task: one-hot inputs (K + 2 tokens), K + 1 output classes per step;
    per-step cross-entropy against :func:`copy_memory_baseline`, accuracy on the recalled part."""
    def sample(n, T, g):
        x, y = copy_memory(n, T, length=length, symbols=symbols, generator=g)
        return F.one_hot(x, symbols + 2).float(), y            # (n, L, K + 2), (n, L)

    def loss(y_hat, y):
        return F.cross_entropy(y_hat.flatten(0, 1), y.flatten())   # (n L, K + 1) vs (n L,)

    def metrics(y_hat, y):
        return {"test_ce": loss(y_hat, y).item(),
                "test_recall_accuracy": copy_memory_accuracy(y_hat, y, length=length).item()}

    return Task("copy", symbols + 2, symbols + 1, "many_to_many", sample, loss, metrics,
                key="test_ce", lower_is_better=True,
                baseline=lambda T: copy_memory_baseline(T, length=length, symbols=symbols))


def on_outputs(loss: Callable) -> BatchLoss:
    """The batch loss of ``(x, y)`` for a model that returns ``(ŷ, state)``: ``loss(ŷ, y)``."""
    @batch_loss
    def cost(model, batch):
        x, y = batch
        return loss(model(x)[0], y)
    return cost


class FreshBatches(Callback):
    """An endless stream of fresh (x, y) batches of a task, ``per_epoch`` of them an "epoch", at the
    current curriculum length: a resumable batch source for ``fit``.

    The batches come from the run's own generator ``g``; an epoch's order is the generator's state
    at its start (and the length T), so a resumed epoch draws the same batches again. As a
    callback (pass it in ``callbacks`` too) it puts the generator and the curriculum stage into
    checkpoints, so a run resumed at an epoch's end goes on with the next batches.
    """

    def __init__(self, task: Task, lengths: list[int], *, batch: int, per_epoch: int, generator: torch.Generator):
        self.task, self.lengths, self.batch, self.per_epoch, self.g = task, lengths, batch, per_epoch, generator
        self.stage = 0                               # index into lengths

    def new_order(self, generator=None) -> dict:
        return {"rng": self.g.get_state(), "T": self.lengths[self.stage]}

    def iterate(self, order: dict, start: int = 0):
        self.g.set_state(order["rng"])
        for i in range(self.per_epoch):
            batch = self.task.sample(self.batch, order["T"], self.g)   # (x, y), drawn even when skipped
            if i >= start:
                yield batch

    def state_dict(self) -> dict:
        return {"rng": self.g.get_state(), "stage": self.stage}

    def load_state_dict(self, state: dict) -> None:
        self.g.set_state(state["rng"])
        self.stage = int(state["stage"])


class TestEvery(Callback):
    """After each epoch of the stream: the test metrics at the current length into ``curve``; stop
    once the final length reaches ``target``, move to the next length once a shorter one reaches
    ``advance``; stop after ``steps`` updates in all."""

    def __init__(self, task: Task, stream: FreshBatches, tests: dict, *, T: int, steps: int, target: float,
                 advance: float | None, core: str):
        self.task, self.stream, self.tests, self.T, self.steps = task, stream, tests, T, steps
        self.target, self.advance, self.core = target, advance, core
        self.curve: list[dict] = []
        self.last_loss = None                        # the loss of the last batch (before the test)

    def on_train_begin(self, logs=None):
        self.t0, self.before = time.perf_counter(), None

    def on_batch_end(self, batch, logs=None):
        self.last_loss = logs["loss"]
        if self.loop.step >= self.steps:
            self.loop.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.before is None:  # the seconds a resumed run had already spent
            self.before = self.curve[-1]["seconds"] if self.curve else 0.0
        length = self.stream.lengths[self.stream.stage]
        with torch.no_grad():
            m = self.task.metrics(self.loop.model(self.tests[length][0])[0], self.tests[length][1])
        seconds = self.before + time.perf_counter() - self.t0
        self.curve.append({"step": self.loop.step, "T": length, "train_loss": float(self.last_loss), **m,
                           "seconds": seconds})
        logging.info("%s %s T=%d step %d %s (%.0f s)", self.core, self.task.name, length, self.loop.step,
                     " ".join(f"{k} {v:.5f}" for k, v in m.items()), seconds)
        if length == self.T and self.task.reached(m, self.target):
            self.loop.stop_training = True
        elif length < self.T and self.task.reached(m, self.target if self.advance is None else self.advance):
            self.stream.stage += 1

    def state_dict(self) -> dict:
        return {"curve": self.curve, "last_loss": None if self.last_loss is None else float(self.last_loss)}

    def load_state_dict(self, state: dict) -> None:
        self.curve, self.last_loss = [dict(row) for row in state["curve"]], state["last_loss"]


def train(core: str, task: Task, T: int, *, hidden: int, steps: int, batch: int, lr: float,
          seed: int, target: float, every: int, forget_bias: float = 1.0,
          curriculum: tuple[int, ...] = (), advance: float | None = None, run: Path | None = None) -> dict:
    """Train one core on one task through ``fit``; returns the settings, the final test metrics
    and the curve. With ``run``, checkpoint there every evaluation and resume from it."""
    torch.manual_seed(seed)   # the read-out's nn.Linear draws its initial weights from torch's global RNG
    g = torch.Generator().manual_seed(seed)
    net = RecurrentNet(CORES[core](task.input_size, hidden, g, forget_bias), task.output_size,
                       mode=task.mode)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    lengths = [t for t in curriculum if t < T] + [T]
    tests = {t: task.sample(2000, t, torch.Generator().manual_seed(10_000 + seed)) for t in lengths}
    stream = FreshBatches(task, lengths, batch=batch, per_epoch=every, generator=g)  # after the net: g as before
    test = TestEvery(task, stream, tests, T=T, steps=steps, target=target, advance=advance, core=core)
    saves = [] if run is None else [GracefulStop(), Checkpointer(run, resume=True)]
    fit(net, stream, loss=on_outputs(task.loss), optimizer=opt, epochs=math.ceil(steps / every), seed=seed,
        callbacks=[stream, ClipGradNorm(1.0), test, *saves])
    curve = test.curve
    last = curve[-1]
    if last["T"] != T:   # the curriculum never reached T: measure there anyway
        with torch.no_grad():
            last = {**last, "T": T, **task.metrics(net(tests[T][0])[0], tests[T][1])}
    return {"task": task.name, "core": core, "T": T, "hidden": hidden, "batch": batch, "lr": lr,
            "seed": seed, "forget_bias": forget_bias if core.startswith("lstm") else None,
            "curriculum": lengths if len(lengths) > 1 else None,
            "baseline": task.baseline(T), "target": target, "solved": task.reached(last, target),
            **{k: v for k, v in last.items() if k.startswith("test_")},
            "steps": last["step"], "seconds": last["seconds"], "curve": curve}


def write(results: list[dict], out: Path, *, threads: int, machine: str, extra: dict) -> None:
    """Write the results with the machine, torch version and thread count as JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "torch": torch.__version__, "threads": threads,
                               **extra, "results": results}, indent=1))


def common_arguments(ap, *, T: int, target: float, every: int) -> None:
    """The command-line options both benchmarks take."""
    ap.add_argument("--T", type=int, default=T)
    ap.add_argument("--cores", nargs="+", default=["lstm"], choices=sorted(CORES))
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--forget-bias", type=float, default=1.0, help="LSTM b_f at initialisation")
    ap.add_argument("--curriculum", type=int, nargs="*", default=[],
                    help="shorter lengths to train on first, in order")
    ap.add_argument("--advance", type=float, default=None,
                    help="move to the next curriculum length once the test metric reaches this")
    ap.add_argument("--target", type=float, default=target, help="stop once the test metric reaches this")
    ap.add_argument("--every", type=int, default=every, help="evaluate every this many steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default=MACHINE)
    ap.add_argument("--out", default=None)
    ap.add_argument("--run", type=Path, default=None,
                    help="checkpoint into (and resume from) RUN/CORE, one folder per core")


def run_all(task: Task, args) -> list[dict]:
    """Train every core the arguments name, one after the other."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    try:
            return [train(c, task, args.T, hidden=args.hidden, steps=args.steps, batch=args.batch,
                      lr=args.lr, seed=args.seed, target=args.target, every=args.every,
                      forget_bias=args.forget_bias, curriculum=tuple(args.curriculum),
                      advance=args.advance, run=None if args.run is None else args.run / c) for c in args.cores]
    except TrainingInterrupted as err:
        print(f"{err}; run again with the same --run to go on")
        raise SystemExit(EXIT_INTERRUPTED) from None
