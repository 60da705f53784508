"""The LSTM encoder-decoder with Luong attention: the equations written out, step decoding
equals teacher forcing, padding changes nothing."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.seq import beam_search, greedy_decode
from deepnets.zoo.seq2seq_lstm import LSTMSeq2Seq, reverse_padded

D64 = torch.float64
V_SRC, V_TGT = 14, 23


def _model(seed=0, **kw):
    kw = {"embed_size": 6, "hidden_size": 10, "dropout": 0.0, **kw}
    return LSTMSeq2Seq(V_SRC, V_TGT, generator=torch.Generator().manual_seed(seed), **kw).double().eval()


def _batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, V_SRC, (3, 6), generator=g)
    src[1, 4:] = 0
    src[2, 1:] = 0
    tgt_in = torch.randint(4, V_TGT, (3, 7), generator=g)
    tgt_in[:, 0] = 1
    return src, tgt_in


def test_reverse_padded_loops_and_is_an_involution():
    x = torch.arange(12.0).view(2, 6)
    lengths = torch.tensor([4, 6])
    out = reverse_padded(x, lengths)
    assert out.tolist() == [[3.0, 2.0, 1.0, 0.0, 4.0, 5.0], [11.0, 10.0, 9.0, 8.0, 7.0, 6.0]]
    y = torch.randn(2, 6, 3)
    torch.testing.assert_close(reverse_padded(reverse_padded(y, lengths), lengths), y)


def test_forward_equals_luong_general_attention_written_out_one_row_at_a_time():
    model = _model(num_layers=2)
    src, tgt_in = _batch()
    out = model(src, tgt_in)
    with torch.no_grad():
        for n in range(3):
            L = int((src[n] != 0).sum())
            tokens = src[n, :L]
            # encoder: plain torch.nn.LSTM runs, forward and on the reversed row
            fwd = model.enc_fwd.to_torch().double()
            bwd = model.enc_bwd.to_torch().double()
            e = model.src_embed(tokens)[None]                                 # (1, L, E)
            h_f = fwd(e)[0][0]                                                # (L, H/2)
            h_b = bwd(e.flip(1))[0][0].flip(0)
            h = torch.cat([h_f, h_b], 1)                                      # (L, H)
            z0 = torch.tanh(model.init_proj(torch.cat([h_f[-1], h_b[0]])))    # (D*H,)
            z0 = z0.view(2, 1, -1)
            dec = model.decoder.to_torch().double()
            z, _ = dec(model.tgt_embed(tgt_in[n])[None], (z0, torch.zeros_like(z0)))
            z = z[0]                                                          # (T, H)
            for t in range(z.shape[0]):
                score = torch.stack([z[t] @ model.W_a.weight @ h[s] for s in range(L)])
                a = torch.softmax(score, 0)
                ctx = sum(a[s] * h[s] for s in range(L))
                zt = torch.tanh(model.W_c.weight @ torch.cat([ctx, z[t]]) + model.W_c.bias)
                torch.testing.assert_close(out[n, t], model.out.weight @ zt + model.out.bias)


def test_step_decoding_gives_the_teacher_forced_logits():
    model = _model(num_layers=2)
    src, tgt_in = _batch()
    full = model(src, tgt_in)
    state = model.init_state(src)
    for t in range(1, tgt_in.shape[1] + 1):
        logits, state = model.step(tgt_in[:, :t], state)
        torch.testing.assert_close(logits, full[:, t - 1])


def test_padded_source_positions_change_no_output():
    model = _model(peepholes=True)
    src, tgt_in = _batch()
    base = model(src, tgt_in)
    pad = (src == 0)

    def scramble(module, args, out):
        return out + 100 * torch.randn_like(out) * pad[..., None]
    handle = model.src_embed.register_forward_hook(scramble)
    try:
        torch.testing.assert_close(model(src, tgt_in), base)
    finally:
        handle.remove()
    for n in range(3):
        alone = src[n:n + 1, :int((src[n] != 0).sum())]
        torch.testing.assert_close(model(alone, tgt_in[n:n + 1]), base[n:n + 1])


def _log_prob(model, src, tokens):
    """log p(tokens | src) under teacher forcing, up to and including each row's <eos>."""
    N = tokens.shape[0]
    tgt_in = torch.cat([torch.ones(N, 1, dtype=torch.long), tokens[:, :-1]], 1)
    logp = torch.log_softmax(model(src, tgt_in).float(), -1).gather(2, tokens[..., None])[..., 0]
    keep = torch.cat([torch.ones(N, 1, dtype=torch.bool), tokens[:, :-1] != 2], 1).cumprod(1).bool()
    return (logp * keep).sum(1)


def test_greedy_and_beam_scores_are_the_teacher_forced_log_probabilities():
    model = _model(seed=2)
    src, _ = _batch()
    tokens, score = greedy_decode(model.step, model.init_state(src), batch_size=3, max_len=5)
    torch.testing.assert_close(score, _log_prob(model, src, tokens))
    tokens, score = beam_search(model.step, model.init_state(src), batch_size=3, beam_size=4, max_len=5)
    torch.testing.assert_close(score, _log_prob(model, src, tokens))


def test_errors():
    with pytest.raises(ConfigError):
        LSTMSeq2Seq(10, 10, hidden_size=7)
    with pytest.raises(DataError):
        _model()(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 2, dtype=torch.long))
