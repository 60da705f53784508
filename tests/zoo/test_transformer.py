"""The Transformer: step decoding equals teacher forcing, padding and future target tokens change
nothing they should not."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.seq import beam_search, greedy_decode
from deepnets.zoo.transformer import Transformer

D64 = torch.float64
V_SRC, V_TGT = 14, 23


def _model(seed=0, **kw):
    kw = {"d_model": 16, "n_heads": 2, "n_encoder_layers": 2, "n_decoder_layers": 2, "d_ff": 24,
          "dropout": 0.0, **kw}
    return Transformer(V_SRC, V_TGT, generator=torch.Generator().manual_seed(seed), **kw).double().eval()


def _batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, V_SRC, (3, 6), generator=g)
    src[1, 4:] = 0                                           # <pad>
    src[2, 2:] = 0
    tgt_in = torch.randint(4, V_TGT, (3, 7), generator=g)
    tgt_in[:, 0] = 1                                         # <bos>
    return src, tgt_in


def test_step_decoding_gives_the_teacher_forced_logits():
    model = _model()
    src, tgt_in = _batch()
    full = model(src, tgt_in)                                # (N, T, V)
    state = model.init_state(src)
    for t in range(1, tgt_in.shape[1] + 1):
        logits, state = model.step(tgt_in[:, :t], state)
        torch.testing.assert_close(logits, full[:, t - 1])


def test_padded_source_positions_change_no_output():
    model = _model()
    src, tgt_in = _batch()
    base = model(src, tgt_in)
    pad = (src == 0)

    def scramble(module, args, out):                         # any value at the padded positions
        return out + 100 * torch.randn_like(out) * pad[..., None]
    handle = model.src_embed.register_forward_hook(scramble)
    try:
        torch.testing.assert_close(model(src, tgt_in), base)
    finally:
        handle.remove()
    for n in range(src.shape[0]):                            # each row alone, without padding
        alone = src[n:n + 1, :int((src[n] != 0).sum())]
        torch.testing.assert_close(model(alone, tgt_in[n:n + 1]), base[n:n + 1])


def test_future_target_tokens_change_no_earlier_logit():
    model = _model()
    src, tgt_in = _batch()
    base = model(src, tgt_in)
    changed = tgt_in.clone()
    changed[:, 4:] = torch.randint(4, V_TGT, (3, 3))
    out = model(src, changed)
    torch.testing.assert_close(out[:, :4], base[:, :4])
    assert not torch.allclose(out[:, 4:], base[:, 4:])


def _recomputing_step(model):
    """A step without any cache: the teacher-forced pass over the whole prefix, last position."""
    def step(prefix, src):
        return model(src, prefix)[:, -1], src
    return step


def test_greedy_and_beam_search_with_the_cache_equal_recomputing_every_prefix():
    model = _model(seed=3)
    src, _ = _batch()
    cached = greedy_decode(model.step, model.init_state(src), batch_size=3, max_len=6)
    plain = greedy_decode(_recomputing_step(model), src, batch_size=3, max_len=6)
    torch.testing.assert_close(cached, plain)
    cached = beam_search(model.step, model.init_state(src), batch_size=3, beam_size=3, max_len=6,
                         return_all=True)
    plain = beam_search(_recomputing_step(model), src, batch_size=3, beam_size=3, max_len=6, return_all=True)
    torch.testing.assert_close(cached, plain)


def test_dropout_is_active_in_training_only():
    model = _model(dropout=0.3).train()
    src, tgt_in = _batch()
    assert not torch.equal(model(src, tgt_in), model(src, tgt_in))
    model.eval()
    torch.testing.assert_close(model(src, tgt_in), model(src, tgt_in))


def test_errors():
    with pytest.raises(ConfigError):
        Transformer(10, 10, d_model=10, n_heads=3)
    with pytest.raises(ConfigError):
        Transformer(0, 10)
    model = _model()
    src, tgt_in = _batch()
    with pytest.raises(DataError):
        model(src, tgt_in[:2])
    with pytest.raises(DataError):
        model.step(tgt_in[:, :3], model.init_state(src))    # the state has seen no position yet
