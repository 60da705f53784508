"""Train the CNN + LSTM captioner on generated shape images; report exact match and BLEU.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_captioning.py --steps 600 4000

The data are :func:`~deepnets.data.shapes_captions.shapes_captions` (32 x 32 images of one or
two coloured shapes, captions such as "a red circle above a blue square"); train, validation and
test images come from independent seeded streams. The model is
:class:`~deepnets.zoo.captioner.Captioner` (conv-BN-ReLU encoder, peephole LSTM decoder started
from the image features), trained by :func:`deepnets.fit` on the mean token cross-entropy with
teacher forcing (a :class:`~deepnets.train.seq2seq.TeacherForcedLoss`), Adam with a cosine decay
of the learning rate to 0 over ``--steps`` (an ``LRScheduler`` stepped every batch) and
gradient-norm clipping at 1 (``ClipGradNorm``); the batch order comes from fit's generator
seeded with ``--seed``.
On the held-out test set it reports, for greedy decoding and beam search (K = 3 and 4):

- exact match: the caption equals the canonical one or its converse ("B below A");
- corpus BLEU-4 against both references (Papineni et al. 2002), as a percentage;
- exact match on one-shape and two-shape images separately, and on two-shape images how often
  the subject, the relation and the object of the canonical caption came out right;

beside the same scores of a constant caption (the most frequent training caption).
Writes benchmarks/results/captioning.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections import Counter
from pathlib import Path

import torch

from deepnets import fit
from deepnets.data.shapes_captions import shapes_captions
from deepnets.seq.metrics import caption_scores
from deepnets.train import Callback, ClipGradNorm, LRScheduler, TensorBatches, TeacherForcedLoss
from deepnets.zoo.captioner import Captioner


def evaluate(model: Captioner, data, split: str, *, beam_size: int, length_penalty: float = 0.0,
             batch: int = 500) -> dict:
    """Scores of the model's captions on one split, overall and by number of shapes."""
    model.eval()
    images = data.images[split]
    ids = [model.caption(images[i:i + batch], max_len=12, beam_size=beam_size, length_penalty=length_penalty)
           for i in range(0, len(images), batch)]
    out = [data.vocab.decode(r) for chunk in ids for r in chunk]
    refs = data.references[split]
    scores = caption_scores(out, refs)
    for n_shapes, length in (("one_shape", 3), ("two_shapes", 8)):
        rows = [i for i, r in enumerate(refs) if len(r[0]) == length]
        scores[f"exact_match_{n_shapes}"] = caption_scores([out[i] for i in rows], [refs[i] for i in rows])[
            "exact_match"]
    # two-shape images: which part of the canonical caption was right (subject, relation, object)
    two = [(o, r[0]) for o, r in zip(out, refs) if len(r[0]) == 8]
    for part, cut in (("subject", slice(0, 3)), ("relation", slice(3, -3)), ("object", slice(-3, None))):
        scores[f"{part}_accuracy_two_shapes"] = sum(o[cut] == c[cut] for o, c in two) / max(len(two), 1)
    scores["bleu"] *= 100
    scores["examples"] = [" ".join(c) for c in out[:5]]
    model.train()
    return scores


class Curve(Callback):
    """Every ``every`` steps and at the last: the batch's loss and greedy exact match and BLEU on
    the validation images; stops training after ``steps`` updates (a budget in steps, not epochs)."""

    def __init__(self, data, *, steps: int, every: int):
        self.data, self.steps, self.every, self.rows = data, steps, every, []

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()

    def on_batch_end(self, batch, logs=None):
        step = self.loop.step
        if step % self.every == 0 or step == self.steps:
            loss, seconds = float(logs["loss"]), time.perf_counter() - self.t0
            val = evaluate(self.loop.model, self.data, "valid", beam_size=1)
            self.rows.append({"step": step, "train_loss": loss, "val_exact_match": val["exact_match"],
                              "val_bleu": val["bleu"], "seconds": seconds})
            logging.info("step %d loss %.4f valid exact %.3f BLEU %.1f (%.0f s)", step, loss,
                         val["exact_match"], val["bleu"], seconds)
        if step == self.steps:
            self.loop.stop_training = True


def train(args, steps: int) -> dict:
    torch.manual_seed(args.seed)
    data = shapes_captions(args.n_train, args.n_test, n_valid=args.n_valid, seed=args.seed)
    images, caps = data.tensors("train")
    model = Captioner(len(data.vocab), hidden_size=args.hidden, feed_features=args.feed_features,
                      peepholes=not args.no_peepholes, generator=torch.Generator().manual_seed(args.seed))
    batches = TensorBatches(images, caps, batch_size=args.batch)          # (image, caption) rows shuffled alike
    cosine = LRScheduler(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps), interval="batch")
    curve = Curve(data, steps=steps, every=args.every)
    t0 = time.perf_counter()
    fit(model, batches, loss=TeacherForcedLoss(), optimizer=torch.optim.Adam(model.parameters(), lr=args.lr),
        epochs=math.ceil(steps / len(batches)), seed=args.seed, callbacks=[cosine, ClipGradNorm(1.0), curve])
    curve = curve.rows
    train_seconds = time.perf_counter() - t0
    results = {}
    for name, beam in (("greedy", 1), ("beam3", 3), ("beam4", 4)):
        t = time.perf_counter()
        results[name] = evaluate(model, data, "test", beam_size=beam)
        results[name]["decode_seconds"] = time.perf_counter() - t
        logging.info("test %s: exact %.4f BLEU %.2f", name, results[name]["exact_match"], results[name]["bleu"])
    constant = Counter(" ".join(c) for c in data.captions["train"]).most_common(1)[0][0].split()
    base = caption_scores([constant] * args.n_test, data.references["test"])
    results["constant_caption"] = {"caption": " ".join(constant), "exact_match": base["exact_match"],
                                   "bleu": 100 * base["bleu"]}
    n_params = sum(p.numel() for p in model.parameters())
    return {"task": "shapes_captions 32x32, 1-2 shapes, 6 colours x 3 shapes x 4 relations",
            "n_train": args.n_train, "n_valid": args.n_valid, "n_test": args.n_test,
            "model": {"hidden": args.hidden, "feed_features": args.feed_features,
                      "peepholes": not args.no_peepholes, "parameters": n_params},
            "steps": steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
            "threads": args.threads, "machine": args.machine, "train_seconds": train_seconds,
            "test": results, "curve": curve}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--n-valid", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--feed-features", action="store_true", help="features at every decoder step too")
    ap.add_argument("--no-peepholes", action="store_true")
    ap.add_argument("--steps", type=int, nargs="+", default=[600, 4000],
                    help="training budgets, one run each from the same seed")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=500, help="validate every this many steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default="2-core shared CPU")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "captioning.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    result = {"runs": [train(args, steps) for steps in args.steps]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for run in result["runs"]:
        print(f"steps {run['steps']} ({run['train_seconds']:.0f} s on {run['machine']}, {args.threads} thread)")
        for name, r in run["test"].items():
            print(f"  {name:16s} exact match {r['exact_match']:.3f}  BLEU {r['bleu']:.2f}")
    return result


if __name__ == "__main__":
    main()
