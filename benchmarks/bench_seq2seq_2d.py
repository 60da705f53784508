"""Train the 2-D convolutional seq2seq network on numbers -> English words; exact match and BLEU.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_seq2seq_2d.py --minutes 5

Trained by :func:`deepnets.fit`: teacher forcing with cross-entropy over the target tokens
(``<pad>`` ignored, a :class:`~deepnets.train.seq2seq.TeacherForcedLoss`), Adam with a cosine
decay of the learning rate to a tenth over ``--epochs`` (an ``LRScheduler`` stepped every batch),
gradient-norm clipping at 1 (``ClipGradNorm``); the batch order comes from fit's generator
seeded with ``--seed``. Training runs for ``--epochs`` (``--minutes`` of wall clock only as a
safety cap); then the held-out test pairs (disjoint numbers) are decoded greedily and by beam
search (K = 4) through ``Pervasive2d.step`` and scored by exact match (whole word sequence
right) and corpus BLEU-4 (Papineni et al. 2002). Writes benchmarks/results/seq2seq_2d.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from deepnets import fit
from deepnets.data.number_words import numbers_to_words
from deepnets.seq import PAD, beam_search, corpus_bleu, greedy_decode
from deepnets.train import Callback, ClipGradNorm, LRScheduler, TensorBatches, TeacherForcedLoss
from deepnets.zoo.seq2seq_2d import SOURCE_POOLS, Pervasive2d

DECODERS = {
    "greedy": lambda net, src, max_len: greedy_decode(
        net.step, net.init_state(src), batch_size=src.shape[0], max_len=max_len)[0],
    "beam4": lambda net, src, max_len: beam_search(
        net.step, net.init_state(src), batch_size=src.shape[0], beam_size=4, max_len=max_len)[0],
}


def trim(src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the columns that are <pad> in every row of a batch."""
    S = int((src != PAD).sum(1).max())
    T = int((tgt != PAD).sum(1).max())
    return src[:, :S], tgt[:, :T]


@torch.no_grad()
def evaluate(net: Pervasive2d, data, split: str, *, chunk: int = 500) -> dict:
    net.eval()
    src, tgt = data.tensors(split)
    refs = [t for _, t in data.pairs[split]]
    max_len = tgt.shape[1] + 2
    out = {}
    for name, decode in DECODERS.items():
        t0 = time.perf_counter()
        hyps = []
        for i in range(0, src.shape[0], chunk):
            s = src[i:i + chunk]
            s = s[:, :int((s != PAD).sum(1).max())]
            hyps += [data.tgt_vocab.decode(row) for row in decode(net, s, max_len)]
        out[name] = {"exact_match": sum(h == r for h, r in zip(hyps, refs)) / len(refs),
                     "bleu": 100 * corpus_bleu(hyps, [[r] for r in refs]),
                     "seconds": time.perf_counter() - t0,
                     "examples": [" ".join(h) for h in hyps[:3]],
                     "errors": [{"source": "".join(x), "reference": " ".join(r), "output": " ".join(h)}
                                for (x, _), r, h in zip(data.pairs[split], refs, hyps) if h != r][:10]}
    nll, tokens = 0.0, 0
    for i in range(0, src.shape[0], chunk):
        s, y = trim(src[i:i + chunk], tgt[i:i + chunk])
        logits = net(s, y[:, :-1])                                    # (B, T, V)
        nll += F.cross_entropy(logits.transpose(1, 2), y[:, 1:], ignore_index=PAD, reduction="sum").item()
        tokens += int((y[:, 1:] != PAD).sum())
    out["test_loss"] = nll / tokens
    return out


class Curve(Callback):
    """One row per epoch (steps so far, the epoch's training loss, seconds); stops training once
    the wall-clock budget is spent (the epoch then ends early, its row covering what ran)."""

    def __init__(self, budget_seconds: float):
        self.budget, self.rows = budget_seconds, []

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()

    def on_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.t0 > self.budget:
            self.loop.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.t0
        self.rows.append({"epoch": epoch + 1, "steps": self.loop.step, "train_loss": logs["loss"], "seconds": seconds})
        logging.info("epoch %d: train loss %.4f (%.0f s)", epoch + 1, logs["loss"], seconds)


def train(args) -> dict:
    torch.manual_seed(args.seed)
    data = numbers_to_words(args.train, args.test, max_value=args.max_value, seed=args.seed)
    src, tgt = data.tensors("train")
    net = Pervasive2d(len(data.src_vocab), len(data.tgt_vocab), embed=args.embed, growth=args.growth,
                      blocks=tuple(args.blocks), kernel_size=args.kernel, pool=args.pool,
                      dropout=args.dropout, generator=torch.Generator().manual_seed(args.seed))
    batches = TensorBatches(src, tgt, batch_size=args.batch)                # (src, tgt) rows shuffled alike
    total_steps = args.epochs * len(batches)
    cosine = LRScheduler(lambda opt: torch.optim.lr_scheduler.LambdaLR(   # lr down to lr / 10
        opt, lambda k: 0.1 + 0.45 * (1 + math.cos(math.pi * min(k, total_steps) / total_steps))), interval="batch")
    curve = Curve(args.minutes * 60.0)
    t0 = time.perf_counter()
    fit(net, batches, loss=TeacherForcedLoss(), optimizer=torch.optim.Adam(net.parameters(), lr=args.lr),
        epochs=args.epochs, seed=args.seed, callbacks=[cosine, ClipGradNorm(1.0), curve])
    curve, step = curve.rows, curve.rows[-1]["steps"]
    train_seconds = time.perf_counter() - t0
    result = evaluate(net, data, "test")
    logging.info("test: greedy EM %.3f BLEU %.1f | beam4 EM %.3f BLEU %.1f", result["greedy"]["exact_match"],
                 result["greedy"]["bleu"], result["beam4"]["exact_match"], result["beam4"]["bleu"])
    return {"model": "pervasive_2d_cnn", "task": "numbers_to_words", "n_train": args.train,
            "n_test": args.test, "max_value": args.max_value, "seed": args.seed,
            "config": {"embed": args.embed, "growth": args.growth, "bottleneck": 4, "blocks": args.blocks,
                       "kernel_size": args.kernel, "pool": args.pool, "dropout": args.dropout,
                       "batch": args.batch, "lr": args.lr},
            "parameters": sum(p.numel() for p in net.parameters()),
            "receptive_field_target_source": list(net.receptive_field),
            "train_seconds": train_seconds, "epochs": len(curve), "steps": step, "curve": curve, **result}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=20_000)
    ap.add_argument("--test", type=int, default=2_000)
    ap.add_argument("--max-value", type=int, default=999_999, help="largest number (10^12 - 1 at most)")
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--growth", type=int, default=16)
    ap.add_argument("--blocks", type=int, nargs="+", default=[4, 4])
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--pool", default="max", choices=sorted(SOURCE_POOLS))
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=15.0, help="wall-clock cap on training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default="2-core shared CPU")
    ap.add_argument("--out", default="benchmarks/results/seq2seq_2d.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    result = {**train(args), "machine": args.machine, "threads": args.threads}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1))
    return result


if __name__ == "__main__":
    main()
