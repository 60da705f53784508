"""The 2-D convolutional seq2seq network: causal convolution, causality, padding, decoding."""

import pytest
import torch

from deepnets.data.number_words import numbers_to_words
from deepnets.errors import ConfigError, DataError
from deepnets.zoo.seq2seq_2d import (SOURCE_POOLS, CausalConv2d, Pervasive2d, attention_pool, channel_norm,
                                    max_pool)
from deepnets.seq import PAD, beam_search, greedy_decode


def small(pool="max", seed=0, **kw):
    kw = {"embed": 8, "growth": 4, "blocks": (2, 1), **kw}
    g = torch.Generator().manual_seed(seed)
    net = Pervasive2d(13, 17, pool=pool, generator=g, **kw).double().eval()
    with torch.no_grad():       # no zero biases or unit gains that could hide a leak
        for name, p in net.named_parameters():
            if p.dim() == 1:
                p.add_(0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net


def batch(seed=0, N=3, S=5, T=7):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, 13, (N, S), generator=g), torch.randint(4, 17, (N, T), generator=g)


def brute_masked_conv(x, W_full, b):
    """y[n,o,t,s] = b_o + sum_{c,i,j} W[o,c,i,j] x[n,c,t+i-p,s+j-p], future taps (i > p) skipped."""
    N, C, T, S = x.shape
    k = W_full.shape[-1]
    p = k // 2
    y = torch.zeros(N, W_full.shape[0], T, S, dtype=x.dtype)
    for t in range(T):
        for s in range(S):
            acc = b.clone()[None].repeat(N, 1)
            for i in range(k):
                for j in range(k):
                    tt, ss = t + i - p, s + j - p
                    if i > p or not (0 <= tt < T and 0 <= ss < S):
                        continue
                    acc = acc + x[:, :, tt, ss] @ W_full[:, :, i, j].T          # (N, C_out)
            y[:, :, t, s] = acc
    return y


@pytest.mark.parametrize("k", [1, 3, 5])
def test_causal_conv_equals_brute_force_masked_sum(k):
    g = torch.Generator().manual_seed(k)
    conv = CausalConv2d(3, 4, k, generator=g).double()
    torch.nn.init.normal_(conv.bias, generator=g)
    x = torch.randn(2, 3, 6, 5, generator=g, dtype=torch.float64)
    W_full = conv.full_weight()
    assert W_full.shape == (4, 3, k, k) and torch.all(W_full[:, :, k // 2 + 1:] == 0)
    want = brute_masked_conv(x, W_full, conv.bias.detach())
    torch.testing.assert_close(conv(x), want, rtol=1e-12, atol=1e-12)
    # and the same as torch's full k x k convolution with the masked kernel, "same" padding
    torch.testing.assert_close(conv(x), torch.nn.functional.conv2d(x, W_full, conv.bias, padding=k // 2))


def test_causal_conv_jacobian_has_no_future_entries():
    g = torch.Generator().manual_seed(0)
    conv = CausalConv2d(2, 2, 3, generator=g).double()
    x = torch.randn(1, 2, 5, 4, generator=g, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(conv, x)                  # (1,2,5,4, 1,2,5,4)
    reach = J.abs().sum(dim=(0, 1, 4, 5))                             # (T_out, S_out, T_in, S_in)
    for t in range(5):
        assert torch.all(reach[t, :, t + 1:] == 0)                    # nothing from later rows
        assert torch.all(reach[t, :, max(t - 1, 0):t + 1].sum(dim=(0, 2)) > 0)   # own and previous row do


def test_channel_norm_matches_layer_norm_over_channels():
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    w, b = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    want = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), w, b).permute(0, 3, 1, 2)
    torch.testing.assert_close(channel_norm(x, w, b), want)


def test_pools_over_the_real_source_cells_only():
    g = torch.Generator().manual_seed(1)
    H = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)           # (N, C, T, S)
    score = torch.randn(2, 1, 4, 5, generator=g, dtype=torch.float64)
    lengths = [5, 2]
    keep = (torch.arange(5)[None] < torch.tensor(lengths)[:, None])[:, None, None]   # (N, 1, 1, S)
    got_max, got_att = max_pool(H, keep, None), attention_pool(H, keep, score)
    for n, L in enumerate(lengths):
        for t in range(4):
            h = H[n, :, t, :L]                                                # (C, L)
            torch.testing.assert_close(got_max[n, :, t], h.max(dim=1).values)
            rho = torch.exp(score[n, 0, t, :L]) / torch.exp(score[n, 0, t, :L]).sum()
            torch.testing.assert_close(got_att[n, :, t], L ** 0.5 * (h * rho).sum(dim=1))


@pytest.mark.parametrize("pool", sorted(SOURCE_POOLS))
def test_changing_target_t_changes_no_earlier_logit(pool):
    net = small(pool)
    src, tgt = batch()
    base = net(src, tgt)
    for t_changed in range(tgt.shape[1]):
        other = tgt.clone()
        other[:, t_changed] = 4 + (other[:, t_changed] - 4 + 1) % 13      # a different token
        out = net(src, other)
        torch.testing.assert_close(out[:, :t_changed], base[:, :t_changed], rtol=0, atol=0)
        assert (out[:, t_changed] - base[:, t_changed]).abs().max() > 1e-6   # it does reach t itself


@pytest.mark.parametrize("pool", sorted(SOURCE_POOLS))
def test_appended_source_padding_changes_no_logit(pool):
    net = small(pool)
    src, tgt = batch()
    src[0, 3:] = PAD                                                  # rows of different lengths
    base = net(src, tgt)
    padded = torch.cat([src, torch.full((3, 4), PAD)], dim=1)
    torch.testing.assert_close(net(padded, tgt), base, rtol=1e-10, atol=1e-10)
    # each row alone, without the other rows' padding, gives the same logits too
    alone = net(src[:1, :3], tgt[:1])
    torch.testing.assert_close(alone, base[:1], rtol=1e-10, atol=1e-10)
    # but a real source token does matter
    other = src.clone()
    other[1, 2] = 4 + (other[1, 2] - 4 + 1) % 9
    assert (net(other, tgt)[1] - base[1]).abs().max() > 1e-6


def test_padding_invariance_holds_in_training_mode():
    net = small().train()                                            # no batch statistics to leak
    src, tgt = batch()
    padded = torch.cat([src, torch.full((3, 2), PAD)], dim=1)
    torch.testing.assert_close(net(padded, tgt), net(src, tgt), rtol=1e-10, atol=1e-10)


def test_receptive_field_is_exact():
    net = small(blocks=(2, 1))                                       # L = 3 causal 3x3 layers
    assert net.receptive_field == (4, 7)
    src, tgt = batch(N=2, S=9, T=9)
    H = net.grid(src, tgt)                                           # (N, C, T, S)
    reach_t, reach_s = [], []
    for t_in in range(9):                                            # which target inputs reach row 8
        other = tgt.clone()
        other[:, t_in] = 4 + (other[:, t_in] - 4 + 1) % 13
        reach_t.append(bool((net.grid(src, other)[:, :, 8] - H[:, :, 8]).abs().max() > 1e-9))
    for s_in in range(9):                                            # which source inputs reach column 4
        other = src.clone()
        other[:, s_in] = 4 + (other[:, s_in] - 4 + 1) % 9
        reach_s.append(bool((net.grid(other, tgt)[:, :, :, 4] - H[:, :, :, 4]).abs().max() > 1e-9))
    assert reach_t == [t >= 9 - 4 for t in range(9)]                 # rows 5..8: 1 + L
    assert reach_s == [abs(s - 4) <= 3 for s in range(9)]            # columns 1..7: 1 + 2L


@pytest.mark.parametrize("pool", sorted(SOURCE_POOLS))
def test_step_gives_the_teacher_forced_logits(pool):
    net = small(pool, blocks=(1, 2), kernel_size=5)                  # 2 cached rows per layer
    src, tgt = batch(T=9)
    want = net(src, tgt)                                             # (N, T, V)
    state = net.init_state(src)
    for t in range(1, tgt.shape[1] + 1):
        logits, state = net.step(tgt[:, :t], state)
        torch.testing.assert_close(logits, want[:, t - 1], rtol=1e-10, atol=1e-10)


def test_step_refuses_a_prefix_out_of_step_with_its_state():
    net = small()
    src, tgt = batch()
    _, state = net.step(tgt[:, :1], net.init_state(src))
    with pytest.raises(ConfigError, match="one token longer"):
        net.step(tgt[:, :3], state)


def test_greedy_decode_through_step_is_argmax_of_forward():
    net = small()
    src, _ = batch()
    tokens, score = greedy_decode(net.step, net.init_state(src), batch_size=3, max_len=6)
    prefix = torch.cat([torch.ones(3, 1, dtype=torch.long), tokens], dim=1)
    logp = torch.log_softmax(net(src, prefix[:, :-1]), dim=-1)       # (N, L, V)
    assert torch.equal(logp.argmax(-1), tokens)                      # no <eos> among 17 random ids
    torch.testing.assert_close(score, logp.max(-1).values.sum(1).float(), rtol=1e-5, atol=1e-5)


def test_tiny_model_overfits_a_handful_of_pairs():
    torch.manual_seed(0)
    data = numbers_to_words(8, 1, max_value=9999, seed=3)
    src, tgt = data.tensors("train")
    net = Pervasive2d(len(data.src_vocab), len(data.tgt_vocab), embed=16, growth=8, blocks=(3, 3),
                      generator=torch.Generator().manual_seed(0))
    want = [t for _, t in data.pairs["train"]]
    before = greedy_decode(net.step, net.init_state(src), batch_size=8, max_len=12)[0]
    assert [data.tgt_vocab.decode(row) for row in before] != want
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(60):                          # exact already after ~25 steps
        logits = net(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt[:, 1:], ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    for decode in (lambda: greedy_decode(net.step, net.init_state(src), batch_size=8, max_len=12),
                   lambda: beam_search(net.step, net.init_state(src), batch_size=8, beam_size=3, max_len=12)):
        tokens = decode()[0]
        assert [data.tgt_vocab.decode(row) for row in tokens] == want


def test_user_mistakes_raise():
    with pytest.raises(ConfigError, match="pool"):
        Pervasive2d(5, 5, pool="mean")
    with pytest.raises(ConfigError, match="kernel_size"):
        Pervasive2d(5, 5, kernel_size=4)
    with pytest.raises(ConfigError, match="blocks"):
        Pervasive2d(5, 5, blocks=())
    net = small()
    src, tgt = batch()
    with pytest.raises(DataError, match="int64"):
        net(src.float(), tgt)
    with pytest.raises(DataError, match="batch size"):
        net(src[:2], tgt)
    with pytest.raises(DataError, match=r"\[0, 17\)"):
        net(src, tgt + 20)
    src[1] = PAD
    with pytest.raises(DataError, match="not <pad>"):
        net(src, tgt)
