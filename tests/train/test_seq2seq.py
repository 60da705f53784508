"""Seq2seq training and evaluation: the loss written out, exact match and BLEU of an oracle,
deterministic training that learns a small task."""

import math

import pytest
import torch
from torch import nn

from deepnets.errors import ConfigError, DataError
from deepnets.seq import EOS, corpus_bleu
from deepnets.zoo.seq2seq_lstm import LSTMSeq2Seq
from deepnets.train.seq2seq import (LR_SCHEDULES, Seq2SeqTrainConfig, evaluate_seq2seq, sequence_loss,
                                    strip_ids, teacher_forced_loss, train_seq2seq, translate, trim_padding)

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
    assert [h["loss"] for h in history] == [h["loss"] for h in history2]
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    other, _ = _train(src, tgt, Seq2SeqTrainConfig(epochs=2, batch_size=32, lr=1e-2, warmup_steps=2, seed=6))
    assert not torch.equal(other.out.weight, model.out.weight)   # the seed does reach the run


def test_training_learns_to_reverse_held_out_sequences():
    torch.set_num_threads(1)
    src, tgt = _reverse_task(600, seed=0)
    test_src, test_tgt = _reverse_task(200, seed=1)
    cfg = Seq2SeqTrainConfig(epochs=9, batch_size=32, lr=1e-2, warmup_steps=20, seed=5)
    model, history = _train(src, tgt, cfg, validation=(test_src, test_tgt))
    assert history[-1]["val_loss"] == pytest.approx(teacher_forced_loss(model, test_src, test_tgt))
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
