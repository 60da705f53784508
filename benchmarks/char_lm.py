"""Train a character-level LSTM language model on the Python Language Reference text (offline).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/char_lm.py --epochs 8

The text is CPython's ``pydoc_data.topics`` (:func:`deepnets.data.text_corpus.char_corpus`),
split 90/5/5 into contiguous pieces. The model (:class:`~deepnets.zoo.char_lm.CharLM`) is trained
through ``fit`` by truncated BPTT over k characters (``SequenceChunks`` + ``CarriedStateLoss``),
the state carried across chunks, the training stream laid out as N parallel rows; Adam with
gradient-norm clipping (``ClipGradNorm``). Reports validation and test bits per character beside
the unigram baselines (the entropy of the training character frequencies, and the cross-entropy
of the validation text under them, add-one smoothed), and samples at two temperatures. Writes
benchmarks/results/char_lm.json. With ``--run DIR`` it checkpoints every epoch and resumes from
DIR (SIGTERM or Ctrl-C saves and stops mid-epoch; the run continues bit for bit).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from deepnets import fit
from deepnets.data.text_corpus import (char_corpus, stream_batches, unigram_cross_entropy,
                                       unigram_entropy)
from deepnets.errors import EXIT_INTERRUPTED, TrainingInterrupted
from deepnets.seq import evaluate_bpc, sample
from deepnets.train import Callback, Checkpointer, ClipGradNorm, GracefulStop, ProgressBar
from deepnets.train.tbptt import CarriedStateLoss, SequenceChunks
from deepnets.zoo.char_lm import CharLM

RESULTS = Path(__file__).parent / "results" / "char_lm.json"


class ValidBPC(Callback):
    """After each epoch: the validation bits per character (``val_bpc``) and the seconds since
    training began (``seconds``, counted on from a resumed run's), into the epoch's logs."""

    def __init__(self, x, y, *, k: int = 1000):
        self.x, self.y, self.k = x, y, k

    def on_train_begin(self, logs=None):
        self.t0, self.before = time.perf_counter(), None

    def on_epoch_end(self, epoch, logs=None):
        if self.before is None:  # the seconds a resumed run had already spent (its history)
            self.before = (self.loop.history.history.get("seconds") or [0.0])[-1]
        logs["val_bpc"] = evaluate_bpc(self.loop.model, self.x, self.y, k=self.k)
        logs["seconds"] = self.before + time.perf_counter() - self.t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cell", default="lstm")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16, help="parallel rows of the training stream")
    ap.add_argument("--k", type=int, default=100, help="truncated-BPTT length")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--max-chars", type=int, default=None)
    ap.add_argument("--prompt", default="The ")
    ap.add_argument("--n-sample", type=int, default=300)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--run", type=Path, default=None, help="checkpoint into (and resume from) this folder")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    corpus = char_corpus(max_chars=args.max_chars)
    V = len(corpus.vocab)
    train, valid, test = (corpus.splits[s] for s in ("train", "valid", "test"))
    g = torch.Generator().manual_seed(args.seed)
    model = CharLM(V, embed_size=args.embed, hidden_size=args.hidden, cell=args.cell, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    x, y = stream_batches(train, args.batch)                  # (N, L) each
    x_va, y_va = stream_batches(valid, 1)                     # one row: the whole valid text in order
    x_te, y_te = stream_batches(test, 1)

    def loss_fn(logits, target):                              # (N, k, V), (N, k)
        return F.cross_entropy(logits.reshape(-1, V), target.reshape(-1))

    saves = [] if args.run is None else [GracefulStop(), Checkpointer(args.run, resume=True)]
    try:
        hist = fit(model, SequenceChunks(x, y, k=args.k), loss=CarriedStateLoss(loss_fn), optimizer=opt,
                   epochs=args.epochs, seed=args.seed,
                   callbacks=[ClipGradNorm(args.clip), ValidBPC(x_va, y_va), ProgressBar(args.epochs), *saves])
    except TrainingInterrupted as err:
        print(f"{err}; run again with --run {args.run} to go on")
        raise SystemExit(EXIT_INTERRUPTED) from None
    logs = hist.history
    curve = [{"epoch": e + 1, "train_bpc": nats / math.log(2.0), "valid_bpc": va, "seconds": s}
             for e, nats, va, s in zip(hist.epoch, logs["loss"], logs["val_bpc"], logs["seconds"])]
    seconds = logs["seconds"][-1]
    samples = {str(T): sample(model, corpus.vocab, args.prompt, args.n_sample, temperature=T,
                              generator=torch.Generator().manual_seed(args.seed))
               for T in args.temperatures}
    report = {
        "machine": "2-core shared CPU", "torch": torch.__version__,
        "python": platform.python_version(), "threads": 1,
        "text": {"source": "CPython pydoc_data.topics (Language Reference), sections in sorted order",
                 "chars": len(corpus.text), "vocab": V,
                 "split_chars": {s: len(ids) for s, ids in corpus.splits.items()}},
        "model": {"cell": args.cell, "embed": args.embed, "hidden": args.hidden,
                  "parameters": sum(p.numel() for p in model.parameters())},
        "training": {"batch_rows": args.batch, "k": args.k, "epochs": args.epochs, "lr": args.lr,
                     "clip": args.clip, "seed": args.seed, "seconds": seconds},
        "unigram_entropy_train_bpc": unigram_entropy(train, V),
        "unigram_cross_entropy_valid_bpc": unigram_cross_entropy(train, valid, V),
        "valid_bpc": curve[-1]["valid_bpc"],
        "test_bpc": evaluate_bpc(model, x_te, y_te, k=1000),
        "curve": curve, "prompt": args.prompt, "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"unigram H(train) {report['unigram_entropy_train_bpc']:.3f} bpc, unigram on valid "
          f"{report['unigram_cross_entropy_valid_bpc']:.3f}, model valid {report['valid_bpc']:.3f}, "
          f"test {report['test_bpc']:.3f} bpc ({seconds:.0f} s)")
    for T, text in samples.items():
        print(f"--- T = {T}\n{args.prompt}{text}")


if __name__ == "__main__":
    main()
