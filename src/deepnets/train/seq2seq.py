"""Teacher-forced training and exact-match / BLEU evaluation for sequence-to-sequence models.

Any module with this interface plugs in (:class:`~deepnets.zoo.transformer.Transformer`,
:class:`~deepnets.zoo.seq2seq_lstm.LSTMSeq2Seq`, the 2-D convolutional network):

- ``forward(src (N, S), tgt_in (N, T)) -> logits (N, T, V)``: ``src`` padded with ``<pad>`` = 0,
  ``tgt_in`` = ``<bos> y_1 ... y_{T-1}``; logits[:, t] scores y_{t+1} given y_<=t and x.
- ``init_state(src) -> state``: whatever :meth:`step` needs, tensors with the batch first
  (``deepnets.seq.select_rows`` reorders them for beam search).
- ``step(prefix (B, t), state) -> (logits (B, V), state)``: scores of the token after ``prefix``.

Training minimises the mean token cross-entropy over the target positions that are not
``<pad>`` (teacher forcing: the decoder reads the true previous tokens),

    E = -(1 / #tokens) sum_{n, t: y_nt != pad} log p(y_{n,t} | y_{n,<t}, x_n),

optionally with label smoothing eps (the target distribution is (1 - eps) one-hot + eps/V;
Szegedy et al. 2016), by Adam (Kingma & Ba 2015) with a linear warm-up and gradient-norm
clipping (Pascanu, Mikolov & Bengio 2013). Evaluation decodes the test sources greedily or by
beam search and reports the fraction of exact matches and corpus BLEU (Papineni et al. 2002).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import eval_mode
from ..errors import ConfigError, DataError, TrainingDiverged
from ..seq.bleu import corpus_bleu
from ..seq.decode import beam_search, greedy_decode
from ..seq.vocab import BOS, EOS, PAD

log = logging.getLogger(__name__)


class Seq2SeqModel(Protocol):
    """The interface of the module docstring."""

    def __call__(self, src: Tensor, tgt_in: Tensor) -> Tensor: ...
    def init_state(self, src: Tensor) -> Any: ...
    def step(self, prefix: Tensor, state: Any) -> tuple[Tensor, Any]: ...


def _constant(step: int, total: int, warmup: int) -> float:
    return min(1.0, (step + 1) / warmup) if warmup else 1.0


def _cosine(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


#: learning-rate factor (step, total steps, warm-up steps) -> multiplier of ``lr``
LR_SCHEDULES: dict[str, Callable[[int, int, int], float]] = {
    "constant": _constant,        # linear warm-up, then lr
    "cosine": _cosine,            # linear warm-up, then lr (1 + cos(pi * progress)) / 2 down to 0
}


@dataclass
class Seq2SeqTrainConfig:
    """How :func:`train_seq2seq` trains."""

    epochs: int = 10               # passes over the training pairs
    batch_size: int = 128          # pairs per Adam step
    lr: float = 1e-3               # Adam's step size after warm-up
    warmup_steps: int = 200        # linear warm-up of the learning rate from lr / warmup_steps
    schedule: str = "cosine"       # a key of LR_SCHEDULES
    clip_norm: float | None = 1.0  # rescale the gradient to this 2-norm when longer; None: no clipping
    label_smoothing: float = 0.0   # eps of the smoothed targets; 0: plain cross-entropy
    weight_decay: float = 0.0      # Adam's L2 term
    seed: int = 0                  # shuffling and dropout

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if self.schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}: expected one of {list(LR_SCHEDULES)}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ConfigError(f"clip_norm must be > 0 or None, got {self.clip_norm!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")


def sequence_loss(logits: Tensor, tgt_out: Tensor, *, pad: int = PAD, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy over the target tokens that are not ``pad``: logits (N, T, V), tgt_out (N, T)."""
    if logits.shape[:2] != tgt_out.shape:
        raise DataError(f"logits (N, T, V) and targets (N, T) disagree: {tuple(logits.shape)} vs {tuple(tgt_out.shape)}")
    return F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=pad,
                           label_smoothing=label_smoothing)


def trim_padding(x: Tensor, pad: int = PAD) -> Tensor:
    """Drop the trailing columns of (N, L) ids that are ``pad`` in every row (keeps >= 1 column)."""
    L = int((x != pad).sum(1).max().clamp(min=1))
    return x[:, :L]


def _check_pairs(src: Tensor, tgt: Tensor) -> None:
    if src.dim() != 2 or tgt.dim() != 2 or src.shape[0] != tgt.shape[0]:
        raise DataError(f"expected src (N, S) and tgt (N, T) with the same N, got {tuple(src.shape)} "
                        f"and {tuple(tgt.shape)}")
    if tgt.shape[1] < 2 or bool((tgt[:, 0] != BOS).any()):
        raise DataError("targets must be framed <bos> ... <eos> (Seq2SeqData.tensors gives that)")


@torch.no_grad()
def teacher_forced_loss(model: nn.Module, src: Tensor, tgt: Tensor, *, batch_size: int = 512) -> float:
    """The mean token cross-entropy of ``model`` on framed targets (no smoothing, eval mode)."""
    _check_pairs(src, tgt)
    total = count = 0.0
    with eval_mode(model):
        for i in range(0, src.shape[0], batch_size):
            s, t = trim_padding(src[i:i + batch_size]), trim_padding(tgt[i:i + batch_size])
            n = int((t[:, 1:] != PAD).sum())
            total += sequence_loss(model(s, t[:, :-1]), t[:, 1:]).item() * n
            count += n
    return total / count


def train_seq2seq(model: nn.Module, src: Tensor, tgt: Tensor, config: Seq2SeqTrainConfig | None = None, *,
                  validation: tuple[Tensor, Tensor] | None = None) -> list[dict]:
    """Train ``model`` by teacher forcing on (src (N, S), tgt (N, T + 2) = <bos> y <eos>) pairs.

    Args:
        model: a module with the interface of this module's docstring (only ``forward`` is used).
        src, tgt: padded ids, as :meth:`deepnets.data.number_words.Seq2SeqData.tensors` gives.
        config: :class:`Seq2SeqTrainConfig`. Default its defaults.
        validation: optional (src, tgt) scored by teacher-forced loss after every epoch.

    Returns:
        one dict per epoch: ``epoch``, ``loss`` (mean training loss), ``lr``, ``seconds`` (since
        the start), and ``val_loss`` with validation data. The global RNG is left as it was.
    """
    cfg = config or Seq2SeqTrainConfig()
    _check_pairs(src, tgt)
    if validation is not None:
        _check_pairs(*validation)
    N = src.shape[0]
    steps_per_epoch = math.ceil(N / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    factor = LR_SCHEDULES[cfg.schedule]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: factor(k, total, cfg.warmup_steps))
    history, t0 = [], time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)                          # dropout masks
        g = torch.Generator().manual_seed(cfg.seed)          # batch order
        model.train()
        for epoch in range(cfg.epochs):
            order = torch.randperm(N, generator=g)
            loss_sum = torch.zeros((), device=src.device)
            for b in range(steps_per_epoch):
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                s, t = trim_padding(src[idx]), trim_padding(tgt[idx])
                loss = sequence_loss(model(s, t[:, :-1]), t[:, 1:], label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.clip_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
                opt.step()
                sched.step()
                loss_sum += loss.detach()
            row = {"epoch": epoch + 1, "loss": loss_sum.item() / steps_per_epoch,
                   "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
            if not math.isfinite(row["loss"]):
                raise TrainingDiverged(f"the training loss became {row['loss']} in epoch {epoch + 1}", history)
            if validation is not None:
                row["val_loss"] = teacher_forced_loss(model, *validation)
            history.append(row)
            log.info("epoch %d loss %.4f%s (%.0f s)", row["epoch"], row["loss"],
                     f" val_loss {row['val_loss']:.4f}" if "val_loss" in row else "", row["seconds"])
    model.eval()
    return history


def strip_ids(row: Tensor | list[int]) -> list[int]:
    """The ids of one sequence up to its first ``<eos>``, without ``<bos>`` and ``<pad>``."""
    out = []
    for i in (row.tolist() if isinstance(row, Tensor) else row):
        if i == EOS:
            break
        if i not in (PAD, BOS):
            out.append(i)
    return out


@torch.no_grad()
def translate(model: nn.Module, src: Tensor, *, beam_size: int = 1, max_len: int | None = None,
              length_penalty: float = 0.0, batch_size: int = 500) -> list[list[int]]:
    """Decode every source row: greedy when ``beam_size`` is 1, else beam search; ids without specials.

    Args:
        max_len: the most tokens generated per row (``<eos>`` included). Default 2 S + 10.
        length_penalty: alpha of the beam's final ranking log p / |y|^alpha. Default 0.
    """
    if src.dim() != 2:
        raise DataError(f"expected source ids of shape (N, S), got {tuple(src.shape)}")
    max_len = 2 * src.shape[1] + 10 if max_len is None else max_len
    out: list[list[int]] = []
    with eval_mode(model):
        for i in range(0, src.shape[0], batch_size):
            s = trim_padding(src[i:i + batch_size])
            state = model.init_state(s)
            if beam_size == 1:
                tokens, _ = greedy_decode(model.step, state, batch_size=s.shape[0], max_len=max_len,
                                          device=s.device)
            else:
                tokens, _ = beam_search(model.step, state, batch_size=s.shape[0], beam_size=beam_size,
                                        max_len=max_len, length_penalty=length_penalty, device=s.device)
            out += [strip_ids(row) for row in tokens.cpu()]
    return out


def evaluate_seq2seq(model: nn.Module, src: Tensor, tgt: Tensor, *, beam_size: int = 1,
                     max_len: int | None = None, length_penalty: float = 0.0) -> dict:
    """Exact-match accuracy and corpus BLEU (both in [0, 1]) of decoded ``src`` against ``tgt``.

    A row matches exactly when its decoded tokens equal the reference's up to ``<eos>``. BLEU is
    corpus BLEU-4 with one reference per row, no smoothing (:func:`deepnets.seq.corpus_bleu`).
    """
    _check_pairs(src, tgt)
    hyp = translate(model, src, beam_size=beam_size, max_len=max_len, length_penalty=length_penalty)
    refs = [strip_ids(row) for row in tgt]
    exact = sum(h == r for h, r in zip(hyp, refs)) / len(refs)
    return {"exact_match": exact, "bleu": corpus_bleu(hyp, [[r] for r in refs]), "beam_size": beam_size}

