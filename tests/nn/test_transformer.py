"""The Transformer's layers equal torch's pre-norm (norm_first) layers with the same weights."""

import torch

from deepnets.nn.attention import causal_mask, padding_mask
from deepnets.nn.transformer import DecoderLayer, EncoderLayer

D64 = torch.float64


def _copy_mha(ours, theirs):
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)


def _copy_ff_norms(ours, theirs, norms):
    with torch.no_grad():
        theirs.linear1.load_state_dict(ours.ff[0].state_dict())
        theirs.linear2.load_state_dict(ours.ff[3].state_dict())
        for a, b in norms:
            b.load_state_dict(a.state_dict())


def test_layers_equal_torch_norm_first_layers_with_the_same_weights():
    torch.manual_seed(0)
    d, h, f = 16, 4, 24
    src = torch.randint(4, 14, (3, 6), generator=torch.Generator().manual_seed(1))
    src[1, 4:] = 0                                           # <pad>
    src[2, 2:] = 0
    x = torch.randn(3, 6, d, dtype=D64)
    y = torch.randn(3, 5, d, dtype=D64)
    enc = EncoderLayer(d, h, f, 0.0).double()
    t_enc = torch.nn.TransformerEncoderLayer(d, h, f, dropout=0.0, batch_first=True, norm_first=True).double()
    _copy_mha(enc.attn, t_enc.self_attn)
    _copy_ff_norms(enc, t_enc, [(enc.norm1, t_enc.norm1), (enc.norm2, t_enc.norm2)])
    keep = src != 0
    ours = enc(x, padding_mask(src))
    theirs = t_enc(x, src_key_padding_mask=~keep)            # training mode: torch's math path
    torch.testing.assert_close(ours[keep], theirs[keep])

    dec = DecoderLayer(d, h, f, 0.0).double()
    t_dec = torch.nn.TransformerDecoderLayer(d, h, f, dropout=0.0, batch_first=True, norm_first=True).double()
    _copy_mha(dec.self_attn, t_dec.self_attn)
    _copy_mha(dec.cross_attn, t_dec.multihead_attn)
    _copy_ff_norms(dec, t_dec, [(dec.norm1, t_dec.norm1), (dec.norm2, t_dec.norm2), (dec.norm3, t_dec.norm3)])
    ours, _ = dec(y, dec.cross_attn.project_kv(x), padding_mask(src), self_mask=causal_mask(5))
    theirs = t_dec(y, x, tgt_mask=~causal_mask(5), memory_key_padding_mask=~keep)
    torch.testing.assert_close(ours, theirs)
