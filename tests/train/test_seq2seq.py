"""Seq2seq training and evaluation: the loss written out, exact match and BLEU of an oracle,
training through fit equal to the algorithm written out as a plain torch loop, deterministic,
resumed bit for bit after a SIGTERM mid-epoch, guarded against non-finite losses, learning a
small task."""

import io
import math

import pytest
import torch
from torch import nn

from deepnets.data.number_words import numbers_to_words
from deepnets.errors import ConfigError, DataError, TrainingDiverged, TrainingInterrupted
from deepnets.seq import EOS, corpus_bleu
from deepnets.train import Callback
from deepnets.train.callbacks import Checkpointer, GracefulStop, ProgressBar
from deepnets.train.checkpoint import CheckpointManager
from deepnets.zoo.seq2seq_lstm import LSTMSeq2Seq
from deepnets.zoo.transformer import Transformer
from deepnets.train.seq2seq import (LR_SCHEDULES, Seq2SeqTrainConfig, TeacherForcedLoss, evaluate_seq2seq,
                                    sequence_loss, strip_ids, teacher_forced_loss, train_seq2seq, translate,
                                    trim_padding)
from signals import KillAt

D64 = torch.float64


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_sequence_loss_is_the_mean_over_real_tokens_written_out(eps):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, generator=g, dtype=D64)
    tgt = torch.tensor([[4, 5, 2, 0], [5, 2, 0, 0]])
    terms = []
    for n in range(2):
        for t in range(4):
            if tgt[n, t] == 0:
                continue
            logp = torch.log_softmax(logits[n, t], 0)
            terms.append(-(1 - eps) * logp[tgt[n, t]] - eps * logp.mean())   # smoothed targets
    torch.testing.assert_close(sequence_loss(logits, tgt, label_smoothing=eps), torch.stack(terms).mean())
    with pytest.raises(DataError):
        sequence_loss(logits, tgt[:, :3])


def test_trim_padding_and_strip_ids():
    x = torch.tensor([[4, 5, 0, 0], [6, 0, 0, 0]])
    assert trim_padding(x).tolist() == [[4, 5], [6, 0]]
    assert trim_padding(torch.zeros(2, 3, dtype=torch.long)).shape == (2, 1)
    assert strip_ids([1, 4, 0, 5, 2, 6]) == [4, 5]
    assert strip_ids(torch.tensor([4, 4])) == [4, 4]


def test_schedules():
    for name, f in LR_SCHEDULES.items():
        assert f(0, 100, 10) == pytest.approx(0.1) and f(9, 100, 10) == pytest.approx(1.0), name
    assert LR_SCHEDULES["cosine"](55, 100, 10) == pytest.approx(0.5)
    assert LR_SCHEDULES["cosine"](100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    assert LR_SCHEDULES["constant"](100, 100, 10) == 1.0


class Copier(nn.Module):
    """An oracle: emits the source ids (as target ids) and then <eos>."""

    def init_state(self, src):
        return src

    def step(self, prefix, src):
        t = prefix.shape[1] - 1
        nxt = src[:, t] if t < src.shape[1] else torch.zeros(src.shape[0], dtype=torch.long)
        nxt = torch.where(nxt == 0, torch.full_like(nxt, EOS), nxt)
        return 10.0 * nn.functional.one_hot(nxt, 12).float(), src


def _framed(rows, width):
    out = torch.zeros(len(rows), width, dtype=torch.long)
    for n, r in enumerate(rows):
        out[n, :len(r) + 2] = torch.tensor([1, *r, 2])
    return out


@pytest.mark.parametrize("beam", [1, 3])
def test_exact_match_and_bleu_of_an_oracle_against_partly_changed_references(beam):
    rows = [[4, 5, 6, 7, 8], [5, 6, 7, 8, 9, 10], [9, 8, 7, 6, 5], [4, 4, 5, 5, 6, 6]]
    src = torch.zeros(4, 6, dtype=torch.long)
    for n, r in enumerate(rows):
        src[n, :len(r)] = torch.tensor(r)
    assert translate(Copier(), src, beam_size=beam) == rows
    perfect = evaluate_seq2seq(Copier(), src, _framed(rows, 9), beam_size=beam)
    assert perfect["exact_match"] == 1.0 and perfect["bleu"] == pytest.approx(1.0)
    refs = [rows[0], [5, 6, 7, 11, 9, 10], rows[2], [4, 4, 5, 5, 6, 6, 7]]
    result = evaluate_seq2seq(Copier(), src, _framed(refs, 9), beam_size=beam)
    assert result["exact_match"] == 0.5
    assert result["bleu"] == pytest.approx(corpus_bleu(rows, [[r] for r in refs]))
    assert 0.0 < result["bleu"] < 1.0


def _reverse_task(n, seed):
    """Sequences of 2..5 symbols 4..8 -> the same reversed (ids shared by both sides)."""
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randint(4, 9, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]
    src = torch.zeros(n, 5, dtype=torch.long)
    for i, r in enumerate(rows):
        src[i, :len(r)] = torch.tensor(r)
    return src, _framed([r[::-1] for r in rows], 7)


def _train(src, tgt, cfg, validation=None):
    model = LSTMSeq2Seq(9, 9, embed_size=8, hidden_size=32, dropout=0.1, generator=torch.Generator().manual_seed(0))
    before = torch.random.get_rng_state()
    history = train_seq2seq(model, src, tgt, cfg, validation=validation)
    assert torch.equal(torch.random.get_rng_state(), before)     # the global RNG is left alone
    return model, history


def test_training_is_deterministic_and_leaves_the_global_rng_alone():
    torch.set_num_threads(1)
    src, tgt = _reverse_task(128, seed=0)
    cfg = Seq2SeqTrainConfig(epochs=2, batch_size=32, lr=1e-2, warmup_steps=2, seed=5)
    model, history = _train(src, tgt, cfg)
    torch.manual_seed(123)                                   # a different global state changes nothing
    again, history2 = _train(src, tgt, cfg)
    assert history["loss"] == history2["loss"] and len(history["loss"]) == 2
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    other, _ = _train(src, tgt, Seq2SeqTrainConfig(epochs=2, batch_size=32, lr=1e-2, warmup_steps=2, seed=6))
    assert not torch.equal(other.out.weight, model.out.weight)   # the seed does reach the run


def test_training_is_the_algorithm_written_out_as_a_plain_torch_loop():
    """Shuffle by a generator seeded with ``seed``, dropout from the global RNG seeded alike; per
    batch: trim the padding, the token cross-entropy, backward, clip, Adam, the schedule's step."""
    torch.set_num_threads(1)
    src, tgt = _reverse_task(100, seed=0)                    # batches of 32, 32, 32, 4
    cfg = Seq2SeqTrainConfig(epochs=2, batch_size=32, lr=1e-2, warmup_steps=3, clip_norm=0.5,
                             label_smoothing=0.1, weight_decay=1e-4, seed=5)
    model, history = _train(src, tgt, cfg)
    ref = LSTMSeq2Seq(9, 9, embed_size=8, hidden_size=32, dropout=0.1, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(ref.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    K = cfg.epochs * math.ceil(100 / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: LR_SCHEDULES["cosine"](k, K, cfg.warmup_steps))
    losses = []
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        g = torch.Generator().manual_seed(cfg.seed)
        for _ in range(cfg.epochs):
            total = 0.0
            for idx in torch.randperm(100, generator=g).split(cfg.batch_size):
                s, t = trim_padding(src[idx]), trim_padding(tgt[idx])
                E = sequence_loss(ref(s, t[:, :-1]), t[:, 1:], label_smoothing=cfg.label_smoothing)
                opt.zero_grad()
                E.backward()
                nn.utils.clip_grad_norm_(ref.parameters(), cfg.clip_norm)
                opt.step()
                sched.step()
                total += float(E.detach()) * len(idx)
            losses.append(total / 100)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(p, q)
    assert history["loss"] == pytest.approx(losses, rel=1e-6) and not model.training


def test_teacher_forced_loss_trims_ids_and_reads_images_as_they_are():
    src, tgt = _reverse_task(6, seed=2)
    model = LSTMSeq2Seq(9, 9, embed_size=4, hidden_size=8, dropout=0.0, generator=torch.Generator().manual_seed(0))
    wide_src = torch.cat([src, torch.zeros(6, 3, dtype=torch.long)], 1)     # more all-pad columns
    wide_tgt = torch.cat([tgt, torch.zeros(6, 2, dtype=torch.long)], 1)
    E = TeacherForcedLoss()(model, (wide_src, wide_tgt))
    assert torch.equal(E, TeacherForcedLoss()(model, (src, tgt)))
    torch.testing.assert_close(E, sequence_loss(model(src, tgt[:, :-1]), tgt[:, 1:]))

    class Reader(nn.Module):                                 # reads an image, checks it is untouched
        def forward(self, x, tgt_in):
            assert x.shape == (6, 3, 2, 2)
            return torch.zeros(*tgt_in.shape, 9) + x.mean()
    assert torch.isclose(TeacherForcedLoss()(Reader(), (torch.rand(6, 3, 2, 2), wide_tgt)), torch.tensor(math.log(9)))
    with pytest.raises(ConfigError):
        TeacherForcedLoss(label_smoothing=-0.1)


# -- resume: a tiny seq2seq model on numbers -> words, stopped by a real SIGTERM mid-epoch ----------

RESUME_CFG = Seq2SeqTrainConfig(epochs=3, batch_size=16, lr=5e-3, warmup_steps=4, label_smoothing=0.1, seed=2)
MODELS = {
    "lstm": lambda vs, vt: LSTMSeq2Seq(vs, vt, embed_size=8, hidden_size=16, dropout=0.2,
                                       generator=torch.Generator().manual_seed(1)),
    "transformer": lambda vs, vt: Transformer(vs, vt, d_model=16, n_heads=2, n_encoder_layers=1,
                                              n_decoder_layers=1, d_ff=32, dropout=0.2,
                                              generator=torch.Generator().manual_seed(1)),
}


class Final(Callback):
    """Keeps the optimizer's state as training ends."""

    def on_train_end(self, logs=None):
        self.optimizer = self.loop.optimizer.state_dict()


def _numbers_run(kind, callbacks=()):
    data = numbers_to_words(58, 1, n_valid=10, max_value=9999, seed=4)   # 4 batches an epoch, the last short
    model, final = MODELS[kind](len(data.src_vocab), len(data.tgt_vocab)), Final()
    history = train_seq2seq(model, *data.tensors("train"), RESUME_CFG, validation=data.tensors("valid"),
                            callbacks=[*callbacks, final])
    return model, final.optimizer, history


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("kill_step", [6, 8])  # epoch 2, batch 2 of 4; the last batch of epoch 2
def test_a_run_stopped_by_sigterm_resumes_bit_for_bit(tmp_path, kind, kill_step):
    torch.set_num_threads(1)
    full, full_opt, full_h = _numbers_run(kind)
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        _numbers_run(kind, [GracefulStop(), KillAt(kill_step), Checkpointer(tmp_path, every_epochs=1)])
    ckpt = CheckpointManager(tmp_path).load()
    assert ckpt["step"] == kill_step and ckpt["extra"]["loop"]["position"] == kill_step - 4   # inside epoch 2
    saver = Checkpointer(tmp_path, every_epochs=1, resume=True)
    model, opt, h = _numbers_run(kind, [saver])
    assert saver.resumed_from == ckpt["path"]
    assert h.history == full_h.history and len(h["loss"]) == 3 and "val_loss" in h.history
    for (name, p), q in zip(full.named_parameters(), model.parameters()):
        assert torch.equal(p, q), name
    assert opt["param_groups"] == full_opt["param_groups"]   # the learning rate where the schedule left it
    for i, state in full_opt["state"].items():
        for k, v in state.items():
            assert torch.equal(v, opt["state"][i][k]), (i, k)


def test_progress_bar_and_non_finite_guard_come_with_fit():
    torch.set_num_threads(1)
    out = io.StringIO()
    _numbers_run("lstm", [ProgressBar(RESUME_CFG.epochs, file=out, interval=0.0)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("epoch 3/3  loss") and "val_loss" in lines[-1]

    data = numbers_to_words(58, 1, max_value=9999, seed=4)

    class Blows(nn.Module):                                  # the third batch's logits are NaN
        def __init__(self):
            super().__init__()
            self.net, self.calls = MODELS["lstm"](len(data.src_vocab), len(data.tgt_vocab)), 0

        def forward(self, src, tgt_in):
            self.calls += 1
            logits = self.net(src, tgt_in)
            return logits * float("nan") if self.calls == 3 else logits

    model, seen = Blows(), []

    class Keep(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append({k: v.clone() for k, v in model.state_dict().items()})

    with pytest.raises(TrainingDiverged, match="epoch 1, batch 3"):
        train_seq2seq(model, *data.tensors("train"), RESUME_CFG, callbacks=[Keep()])
    assert all(torch.equal(v, seen[-1][k]) for k, v in model.state_dict().items())   # not updated by the NaN


def test_training_learns_to_reverse_held_out_sequences():
    torch.set_num_threads(1)
    src, tgt = _reverse_task(600, seed=0)
    test_src, test_tgt = _reverse_task(200, seed=1)
    cfg = Seq2SeqTrainConfig(epochs=9, batch_size=32, lr=1e-2, warmup_steps=20, seed=5)
    model, history = _train(src, tgt, cfg, validation=(test_src, test_tgt))
    assert history["val_loss"][-1] == pytest.approx(teacher_forced_loss(model, test_src, test_tgt))
    # chance is 1/5 per symbol, about (1/5)^3.5 of the held-out rows; a learned reversal gets most
    assert evaluate_seq2seq(model, test_src, test_tgt)["exact_match"] > 0.8


def test_config_and_data_errors():
    with pytest.raises(ConfigError):
        Seq2SeqTrainConfig(schedule="noam")
    with pytest.raises(ConfigError):
        Seq2SeqTrainConfig(label_smoothing=1.0)
    with pytest.raises(ConfigError):
        Seq2SeqTrainConfig(epochs=0)
    src, tgt = _reverse_task(4, seed=0)
    model = LSTMSeq2Seq(9, 9, embed_size=4, hidden_size=4)
    with pytest.raises(DataError):
        train_seq2seq(model, src, tgt[:, 1:])                  # not framed by <bos>
    with pytest.raises(DataError):
        train_seq2seq(model, src[:3], tgt)
    assert math.isfinite(teacher_forced_loss(model, src, tgt))
