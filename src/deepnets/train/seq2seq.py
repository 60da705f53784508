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
clipping (Pascanu, Mikolov & Bengio 2013). :func:`train_seq2seq` is :func:`deepnets.fit` with
that loss as a :class:`TeacherForcedLoss`, the schedule as an ``LRScheduler`` and the clipping as
a ``ClipGradNorm``, so a run gets checkpoints, exact resume, the non-finite guard and the
progress bar as callbacks. Evaluation decodes the test sources greedily or by beam search and
reports the fraction of exact matches and corpus BLEU (Papineni et al. 2002).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import eval_mode
from ..errors import ConfigError, DataError
from ..seq.bleu import corpus_bleu
from ..seq.decode import beam_search, greedy_decode
from ..seq.vocab import BOS, EOS, PAD
from .batches import BatchLoss, TensorBatches
from .callbacks import Callback, ClipGradNorm, History, LRScheduler
from .loop import fit


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


class TeacherForcedLoss(BatchLoss):
    """The teacher-forced token cross-entropy of a batch ``(x, tgt)``, as :func:`deepnets.fit` reads it.

    E = :func:`sequence_loss` (model(x, tgt[:, :-1]), tgt[:, 1:]): the decoder reads the true
    previous tokens. The trailing columns that are ``pad`` in every row are dropped first from
    ``tgt``, and from ``x`` when it holds token ids (an integer tensor; images pass as they are),
    so a batch costs what its longest sequence needs.

    Args:
        label_smoothing: eps of the smoothed targets. Default 0: plain cross-entropy.
        pad: the padding id. Default ``PAD`` (0).

    >>> from deepnets.zoo.seq2seq_lstm import LSTMSeq2Seq
    >>> src, tgt = torch.tensor([[4, 5, 0]]), torch.tensor([[BOS, 6, 7, EOS, PAD]])
    >>> g = torch.Generator().manual_seed(0)
    >>> model = LSTMSeq2Seq(8, 8, embed_size=4, hidden_size=4, dropout=0.0, generator=g)
    >>> E = TeacherForcedLoss()(model, (src, tgt))
    >>> torch.equal(E, sequence_loss(model(src[:, :2], tgt[:, :3]), tgt[:, 1:4]))
    True
    """

    def __init__(self, *, label_smoothing: float = 0.0, pad: int = PAD):
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
        self.label_smoothing, self.pad = label_smoothing, pad

    def __call__(self, model: nn.Module, batch) -> Tensor:
        x, tgt = batch
        if not x.is_floating_point():
            x = trim_padding(x, self.pad)                                  # (N, S') token ids
        t = trim_padding(tgt, self.pad)                                    # (N, T')
        return sequence_loss(model(x, t[:, :-1]), t[:, 1:], pad=self.pad, label_smoothing=self.label_smoothing)


class _ValidationLoss(Callback):
    """``logs["val_loss"]`` after every epoch: :func:`teacher_forced_loss` of held-out pairs."""

    def __init__(self, src: Tensor, tgt: Tensor):
        self.src, self.tgt = src, tgt

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_loss"] = teacher_forced_loss(self.loop.model, self.src, self.tgt)


def _lr_schedule(config: Seq2SeqTrainConfig, steps_per_epoch: int) -> LRScheduler:
    """The run's learning-rate schedule, stepped after every update:
    η_k = lr · LR_SCHEDULES[schedule](k, K, warmup_steps) after k of K = epochs · steps_per_epoch."""
    factor, total, warmup = LR_SCHEDULES[config.schedule], config.epochs * steps_per_epoch, config.warmup_steps
    return LRScheduler(lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda k: factor(k, total, warmup)),
                       interval="batch")


def train_seq2seq(model: nn.Module, src: Tensor, tgt: Tensor, config: Seq2SeqTrainConfig | None = None, *,
                  validation: tuple[Tensor, Tensor] | None = None, callbacks: Iterable[Callback] = ()) -> History:
    """Train ``model`` by teacher forcing on (src (N, S), tgt (N, T + 2) = <bos> y <eos>) pairs.

    :func:`deepnets.fit` on ``TensorBatches(src, tgt)`` (a fresh order each epoch from the seeded
    run generator) with the :class:`TeacherForcedLoss`, minimised by Adam (torch's default
    implementation) with η_k = lr · LR_SCHEDULES[schedule](k, K, warmup_steps) after k of K
    updates (an ``LRScheduler`` stepped every batch) and the gradient clipped to
    ``clip_norm`` (a ``ClipGradNorm``); dropout draws from torch's global RNG seeded with
    ``config.seed``, which is left as it was. To resume an interrupted run, pass
    ``Checkpointer(run_dir, resume=True)`` (with ``GracefulStop`` for SIGTERM) in ``callbacks``.

    Args:
        model: a module with the interface of this module's docstring (only ``forward`` is used).
        src, tgt: padded ids, as :meth:`deepnets.data.number_words.Seq2SeqData.tensors` gives.
        config: :class:`Seq2SeqTrainConfig`. Default its defaults.
        validation: (src, tgt) scored by :func:`teacher_forced_loss` after every epoch into
            ``val_loss``. Default None.
        callbacks: more :class:`~deepnets.train.callbacks.Callback` objects (``Checkpointer``,
            ``GracefulStop``, ``ProgressBar``, ``EarlyStopping``, ...), called after the schedule,
            the clipping and the validation. Default none.

    Returns:
        fit's :class:`~deepnets.train.callbacks.History`: per epoch ``loss`` (the batch losses'
        mean weighted by each batch's pairs) and ``val_loss`` with validation data. The model is
        left in eval mode.

    Raises:
        DataError: src and tgt are not (N, S) and (N, T + 2) ids with targets framed by <bos>.
        TrainingDiverged: a non-finite loss or gradient (the weights are those before that step).
        TrainingInterrupted: a ``GracefulStop`` caught SIGTERM or SIGINT.
    """
    cfg = config or Seq2SeqTrainConfig()
    _check_pairs(src, tgt)
    if validation is not None:
        _check_pairs(*validation)
    # a batch source rather than (src, tgt): fit's examples-per-weight warning counts pairs, not tokens
    batches = TensorBatches(src, tgt, batch_size=cfg.batch_size)
    # torch's default Adam, not fit's fused one, which rounds differently: the published runs stay bit for bit
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    own = [_lr_schedule(cfg, len(batches))]
    own += [ClipGradNorm(cfg.clip_norm)] if cfg.clip_norm is not None else []
    own += [_ValidationLoss(*validation)] if validation is not None else []
    history = fit(model, batches, loss=TeacherForcedLoss(label_smoothing=cfg.label_smoothing), optimizer=optimizer,
                  epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, callbacks=[*own, *callbacks])
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

