"""Many-to-one sentiment classification on generated reviews against bag-of-words baselines.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/sentiment.py --cells lstm gru

The corpus is :func:`deepnets.data.sentiment.sentiment_reviews` (negation, "but", "although",
neutral distractors). Baselines: scikit-learn logistic regression on word counts (bag of words)
and on word + bigram counts (which sees "not good" but still not clause order), the inverse
regularisation C picked on the validation split. Each recurrent classifier
(:class:`~deepnets.zoo.text_classifier.TextClassifier`, read-out at each sentence's last real
token) is trained through ``fit`` by Adam with gradient clipping (``ClipGradNorm``), each
minibatch trimmed to its longest sentence (a batch loss over ``(ids, lengths, labels)``); the
epoch with the best validation accuracy (``EarlyStopping`` restores it) is the one reported on
the test split. An ablation reads the state at the padded width L_max
instead (after the padding tokens), the read-out a plain many-to-one head gives. Writes benchmarks/results/sentiment.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from deepnets import fit
from deepnets.data.sentiment import sentiment_reviews
from deepnets.train import BatchLoss, Callback, ClipGradNorm, EarlyStopping, ProgressBar, batch_loss
from deepnets.zoo.text_classifier import TextClassifier

RESULTS = Path(__file__).parent / "results" / "sentiment.json"


def bag_of_words(data, ngram_max: int) -> dict:
    """Logistic regression on n-gram counts (1..ngram_max); C chosen on validation accuracy."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(ngram_range=(1, ngram_max), token_pattern=r"[^ ]+")
    x_tr = vec.fit_transform(data.texts("train"))
    x_va, x_te = vec.transform(data.texts("valid")), vec.transform(data.texts("test"))
    y_tr, y_va, y_te = (data.splits[s][1].numpy() for s in ("train", "valid", "test"))
    best = None
    for C in (0.01, 0.1, 1.0, 10.0, 100.0):
        clf = LogisticRegression(C=C, max_iter=5000).fit(x_tr, y_tr)
        acc = clf.score(x_va, y_va)
        if best is None or acc > best[0]:
            best = (acc, C, clf)
    acc_va, C, clf = best
    return {"model": f"bag of {'words' if ngram_max == 1 else f'1..{ngram_max}-grams'} + logistic regression",
            "C": C, "features": x_tr.shape[1], "valid_acc": acc_va, "test_acc": clf.score(x_te, y_te),
            "train_acc": clf.score(x_tr, y_tr)}


def read_at(lengths, ids, readout: str):
    """The lengths the model reads at: each row's own, or the padded width for the ablation."""
    return lengths if readout == "last_real" else torch.full_like(lengths, ids.shape[1])


def accuracy(model, ids, lengths, labels, readout="last_real") -> float:
    model.eval()
    with torch.no_grad():
        acc = (model(ids, read_at(lengths, ids, readout)).argmax(1) == labels).double().mean().item()
    model.train()
    return acc


def padded_cross_entropy(readout: str) -> BatchLoss:
    """The batch loss of ``(ids, lengths, labels)``: cross-entropy of the class scores, the batch's
    padding columns beyond its longest sentence trimmed first."""
    @batch_loss
    def loss(model, batch):
        ids, lengths, labels = batch                          # (B, L_max), (B,), (B,)
        x = ids[:, :int(lengths.max())]                       # (B, L_b)
        return F.cross_entropy(model(x, read_at(lengths, x, readout)), labels)
    return loss


class ValidAccuracy(Callback):
    """After each epoch: the validation accuracy (``val_accuracy``) and the seconds since training
    began (``seconds``) into the epoch's logs."""

    def __init__(self, valid, readout: str):
        self.valid, self.readout = valid, readout

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["val_accuracy"] = accuracy(self.loop.model, *self.valid, self.readout)
        logs["seconds"] = time.perf_counter() - self.t0


def train_rnn(data, cell: str, *, hidden: int, embed: int, epochs: int, batch: int, lr: float,
              seed: int, readout: str = "last_real") -> dict:
    g = torch.Generator().manual_seed(seed)
    model = TextClassifier(len(data.vocab), 2, embed_size=embed, hidden_size=hidden,
                               cell=cell, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ids, lengths, labels = data.tensors("train")
    valid, test = data.tensors("valid"), data.tensors("test")
    best = EarlyStopping("val_accuracy", mode="max", patience=epochs)  # never stops: keeps the best epoch
    t0 = time.perf_counter()
    hist = fit(model, (ids, lengths, labels), loss=padded_cross_entropy(readout), optimizer=opt, epochs=epochs,
               batch_size=batch, seed=seed,
               callbacks=[ClipGradNorm(1.0), ValidAccuracy(valid, readout), best, ProgressBar(epochs)])
    curve = [{"epoch": e + 1, "valid_acc": va, "seconds": t}
             for e, va, t in zip(hist.epoch, hist.history["val_accuracy"], hist.history["seconds"])]
    where = "the last real token" if readout == "last_real" else "the last padded step (ablation)"
    return {"model": f"{cell} (embed {embed}, hidden {hidden}) read at {where}",
            "cell": cell, "readout": readout, "best_epoch": best.best_epoch + 1, "valid_acc": best.best,
            "test_acc": accuracy(model, *test, readout),
            "train_acc": accuracy(model, ids, lengths, labels, readout),
            "seconds": time.perf_counter() - t0, "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", nargs="+", default=["lstm", "gru"])
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-valid", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--ablate", nargs="*", default=["lstm"],
                    help="cells also trained reading z at the padded width L_max instead")
    ap.add_argument("--p-negation", type=float, default=0.3,
                    help="probability that an opinion clause is negated (0.5: words carry no label)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    data = sentiment_reviews(args.n_train, args.n_valid, args.n_test, p_negation=args.p_negation,
                             seed=args.seed)
    y_te = data.splits["test"][1]
    results = [bag_of_words(data, 1), bag_of_words(data, 2)]
    for cell in args.cells:
        results.append(train_rnn(data, cell, hidden=args.hidden, embed=args.embed,
                                 epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed))
    for cell in args.ablate:
        results.append(train_rnn(data, cell, hidden=args.hidden, embed=args.embed,
                                 epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed,
                                 readout="last_padded"))
    report = {"machine": "2-core shared CPU", "torch": torch.__version__,
              "python": platform.python_version(), "threads": 1,
              "corpus": {"n_train": args.n_train, "n_valid": args.n_valid, "n_test": args.n_test,
                         "p_negation": args.p_negation, "seed": args.seed, "vocab": len(data.vocab),
                         "test_positive_rate": y_te.double().mean().item(),
                         "majority_test_acc": max(y_te.double().mean().item(),
                                                  1 - y_te.double().mean().item())},
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for r in results:
        print(f"{r['model']:70s} valid {r['valid_acc']:.4f} test {r['test_acc']:.4f}")


if __name__ == "__main__":
    main()
