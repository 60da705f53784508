"""Seq2seq models side by side on numbers in digits -> English words: exact match, BLEU, time.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_seq2seq.py
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_seq2seq.py --models transformer --epochs 4

Each entry of :data:`MODELS` is trained by :func:`deepnets.train.seq2seq.train_seq2seq` (that is,
by :func:`deepnets.fit`, with a progress bar on stderr) on the same pairs of
:func:`deepnets.data.number_words.numbers_to_words` (default 20,000 train, 1,000 valid, 2,000
test, numbers 0..999,999) and decoded on the test split greedily and by beam search
(K = 4); the table reports exact-match accuracy, corpus BLEU-4 (x 100) and wall times. Results
are merged by model name into benchmarks/results/seq2seq.json and the table is rewritten to
benchmarks/results/seq2seq.md, so one model can be rerun or added without redoing the others
(a run with other data settings starts the files afresh).

Adding a model is one entry: ``MODELS["name"] = ModelSpec(build, train)``, where
``build(src_vocab_size, tgt_vocab_size, generator) -> module`` gives a module with

    forward(src (N, S), tgt_in (N, T)) -> logits (N, T, V_tgt)
    init_state(src (N, S)) -> state                   (tensors, batch first)
    step(prefix (B, t), state) -> (logits (B, V_tgt), state)

(the interface of :mod:`deepnets.train.seq2seq`), and ``train`` is its Seq2SeqTrainConfig.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from deepnets.data.number_words import numbers_to_words
from deepnets.train.callbacks import ProgressBar
from deepnets.train.seq2seq import Seq2SeqTrainConfig, evaluate_seq2seq, strip_ids, train_seq2seq, translate
from deepnets.zoo.seq2seq_2d import Pervasive2d
from deepnets.zoo.seq2seq_lstm import LSTMSeq2Seq
from deepnets.zoo.transformer import Transformer

RESULTS = Path(__file__).parent / "results"


@dataclass
class ModelSpec:
    build: Callable[[int, int, torch.Generator], nn.Module]   # (V_src, V_tgt, generator) -> model
    train: Seq2SeqTrainConfig                                  # how to train it
    note: str = ""                                             # one line for the table


MODELS: dict[str, ModelSpec] = {
    "lstm_attention": ModelSpec(
        lambda vs, vt, g: LSTMSeq2Seq(vs, vt, embed_size=32, hidden_size=128, dropout=0.1, generator=g),
        Seq2SeqTrainConfig(epochs=10, batch_size=128, lr=3e-3, warmup_steps=100),
        "BiLSTM 2x64 encoder, LSTM 128 decoder, Luong general attention"),
    "transformer": ModelSpec(
        lambda vs, vt, g: Transformer(vs, vt, d_model=64, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
                                      d_ff=256, dropout=0.0, generator=g),
        Seq2SeqTrainConfig(epochs=10, batch_size=128, lr=2e-3, warmup_steps=200),
        "pre-norm, d=64, h=4, 2+2 layers, d_ff=256"),
    "pervasive_2d": ModelSpec(
        lambda vs, vt, g: Pervasive2d(vs, vt, embed=32, growth=16, blocks=(4, 4), kernel_size=3, pool="max",
                                      generator=g),
        Seq2SeqTrainConfig(epochs=3, batch_size=64, lr=3e-3, warmup_steps=0),
        "2-D CNN (Pervasive Attention): DenseNet 4+4 layers, g=16, k=3, max pool over the source"),
}

DECODERS = {"greedy": 1, "beam4": 4}


def run_model(name: str, spec: ModelSpec, data, *, seed: int, epochs: int | None) -> dict:
    torch.manual_seed(seed)
    model = spec.build(len(data.src_vocab), len(data.tgt_vocab), torch.Generator().manual_seed(seed))
    cfg = spec.train if epochs is None else dataclasses.replace(spec.train, epochs=epochs)
    cfg = dataclasses.replace(cfg, seed=seed)
    src, tgt = data.tensors("train")
    test_src, test_tgt = data.tensors("test")
    t0 = time.perf_counter()
    h = train_seq2seq(model, src, tgt, cfg, validation=data.tensors("valid"),
                      callbacks=[ProgressBar(cfg.epochs, samples_per_epoch=src.shape[0])])
    train_s = time.perf_counter() - t0
    history = [{"epoch": e + 1, **{k: v[i] for k, v in h.history.items()}} for i, e in enumerate(h.epoch)]
    out = {"model": name, "note": spec.note, "parameters": sum(p.numel() for p in model.parameters()),
           "config": dataclasses.asdict(cfg), "train_seconds": train_s, "history": history}
    for label, beam in DECODERS.items():
        t0 = time.perf_counter()
        out[label] = evaluate_seq2seq(model, test_src, test_tgt, beam_size=beam)
        out[label]["seconds"] = time.perf_counter() - t0
        logging.info("%s %s: exact %.4f BLEU %.2f (%.1f s)", name, label, out[label]["exact_match"],
                     100 * out[label]["bleu"], out[label]["seconds"])
    hyp = translate(model, test_src[:200])
    wrong = [(" ".join(data.src_vocab.decode(s)), " ".join(data.tgt_vocab.decode(h)),
              " ".join(data.tgt_vocab.decode(strip_ids(t))))
             for s, h, t in zip(test_src[:200], hyp, test_tgt[:200]) if h != strip_ids(t)]
    out["greedy_errors_in_first_200"] = [{"source": s, "output": h, "reference": r} for s, h, r in wrong[:5]]
    return out


def table(results: dict) -> str:
    lines = ["| model | parameters | train time | exact (greedy) | BLEU (greedy) | exact (beam 4) | "
             "BLEU (beam 4) | decode time greedy / beam |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results["models"].items():
        g, b = r["greedy"], r["beam4"]
        lines.append(f"| {name} ({r['note']}) | {r['parameters']:,} | {r['train_seconds']:.0f} s "
                     f"({r['config']['epochs']} epochs) | {100 * g['exact_match']:.2f}% | {100 * g['bleu']:.2f} | "
                     f"{100 * b['exact_match']:.2f}% | {100 * b['bleu']:.2f} | "
                     f"{g['seconds']:.1f} s / {b['seconds']:.1f} s |")
    s = results["settings"]
    return (f"Numbers in digits -> English words, {s['n_train']:,} train / {s['n_test']:,} test pairs "
            f"(0..{s['max_value']:,}), seed {s['seed']}; {s['machine']}, {s['threads']} thread(s), "
            f"torch {s['torch']}.\n\n" + "\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--n-train", type=int, default=20_000)
    ap.add_argument("--n-valid", type=int, default=1_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    ap.add_argument("--max-value", type=int, default=999_999)
    ap.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default="2-core shared CPU")
    ap.add_argument("--out", type=Path, default=RESULTS / "seq2seq.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    settings = {"n_train": args.n_train, "n_valid": args.n_valid, "n_test": args.n_test,
                "max_value": args.max_value, "seed": args.seed, "threads": args.threads,
                "machine": f"{args.machine} ({platform.processor() or platform.machine()})",
                "torch": torch.__version__}
    data = numbers_to_words(args.n_train, args.n_test, n_valid=args.n_valid, max_value=args.max_value,
                            seed=args.seed)
    results = {"settings": settings, "models": {}}
    if args.out.exists():
        old = json.loads(args.out.read_text())
        same = {k: v for k, v in old.get("settings", {}).items() if k not in ("machine", "torch")} == \
               {k: v for k, v in settings.items() if k not in ("machine", "torch")}
        if same:
            results["models"] = old["models"]
    for name in args.models:
        results["models"][name] = run_model(name, MODELS[name], data, seed=args.seed, epochs=args.epochs)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        args.out.with_suffix(".md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
