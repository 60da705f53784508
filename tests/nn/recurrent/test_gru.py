"""The lecture's GRU, and where it meets torch.nn.GRU."""

import pytest
import torch
from torch.autograd import gradcheck

from deepnets.errors import ConfigError
from deepnets.nn.recurrent.base import copy_from_torch
from deepnets.nn.recurrent.gru import GRU, gru_cell

D64 = torch.float64


def test_cell_is_the_slide_written_out():
    g = torch.Generator().manual_seed(0)
    N, I, H = 3, 4, 5
    x, z = torch.randn(N, I, generator=g, dtype=D64), torch.randn(N, H, generator=g, dtype=D64)
    Wx = {k: torch.randn(H, I, generator=g, dtype=D64) for k in "roz"}
    Wz = {k: torch.randn(H, H, generator=g, dtype=D64) for k in "roz"}
    b = {k: torch.randn(H, generator=g, dtype=D64) for k in "roz"}
    xc, zc = x.t(), z.t()                                   # the lecture's column vectors
    r = torch.sigmoid(Wx["r"] @ xc + Wz["r"] @ zc + b["r"][:, None])
    o = torch.sigmoid(Wx["o"] @ xc + Wz["o"] @ zc + b["o"][:, None])
    z_new = (1 - o) * zc + o * torch.tanh(Wx["z"] @ xc + Wz["z"] @ (r * zc) + b["z"][:, None])
    cat = lambda d: torch.cat([d[k] for k in "roz"])
    torch.testing.assert_close(gru_cell(x, z, cat(Wx), cat(Wz), cat(b)), z_new.t())


@pytest.mark.parametrize("reset_after", [False, True])
def test_gradcheck(reset_after):
    gru = GRU(3, 4, num_layers=2, reset_after=reset_after).double()
    x = torch.randn(5, 2, 3, dtype=D64, requires_grad=True)
    z0 = torch.randn(2, 2, 4, dtype=D64, requires_grad=True)
    assert gradcheck(lambda x, z: gru(x, z)[0], (x, z0))
    assert gradcheck(lambda w: torch.func.functional_call(gru, {"weight_z_l0": w}, (x,))[0],
                     (gru.weight_z_l0.detach().clone().requires_grad_(),))


@pytest.mark.parametrize("batch_first", [False, True])
def test_reset_after_equals_torch_gru_both_ways(batch_first):
    torch.manual_seed(0)
    theirs = torch.nn.GRU(3, 5, num_layers=2, batch_first=batch_first).double()
    ours = GRU.from_torch(theirs).double()
    back = ours.to_torch().double()
    x = torch.randn(4, 6, 3, dtype=D64)
    h0 = torch.randn(2, 4 if batch_first else 6, 5, dtype=D64)
    y_ref, h_ref = theirs(x, h0)
    for model in (ours, back):
        y, h = model(x, h0)
        torch.testing.assert_close(y, y_ref)
        torch.testing.assert_close(h, h_ref)


def test_lecture_form_meets_torch_only_where_the_forms_coincide():
    # W (r * z) = r * (W z) for every r exactly when W is diagonal (and b_hn = 0).
    torch.manual_seed(1)
    H = 4
    theirs = torch.nn.GRU(3, H).double()
    with torch.no_grad():
        theirs.bias_hh_l0[2 * H:] = 0.0
        theirs.weight_hh_l0[2 * H:] = torch.diag(torch.randn(H, dtype=D64))
    ours = GRU(3, H).double()                                # reset before the matmul
    sign = torch.cat([torch.ones(H), -torch.ones(H), torch.ones(H)]).double()
    copy_from_torch(ours, theirs, sign)                      # o = 1 - u: negate the u rows
    x = torch.randn(7, 2, 3, dtype=D64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    with torch.no_grad():                                    # a full W_hn: the forms part ways
        theirs.weight_hh_l0[2 * H:] = torch.randn(H, H, dtype=D64)
    copy_from_torch(ours, theirs, sign)
    assert (ours(x)[0] - theirs(x)[0]).abs().max() > 1e-3


def test_to_torch_refuses_the_lecture_form():
    with pytest.raises(ConfigError, match="reset_after"):
        GRU(2, 3).to_torch()
    assert GRU(2, 3, reset_after=True, bias=False).bias_zn_l0 is None
