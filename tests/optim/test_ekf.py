import pytest
import torch
from torch import nn

from deepnets.curvature import per_sample_jacobian
from deepnets.errors import ConfigError, DataError
from deepnets.optim.ekf import EKF, DecoupledEKF


def _linear(seed=0, out=1):
    torch.manual_seed(seed)
    return nn.Linear(3, out).double()


def test_one_step_is_the_hand_computed_kalman_update():
    net = _linear()
    x = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    z = torch.tensor([[0.7]], dtype=torch.float64)
    p0, q, r = 10.0, 0.01, 0.5
    w = torch.cat([net.weight.detach().reshape(-1), net.bias.detach()])  # (4,)
    h = torch.cat([x[0], torch.ones(1, dtype=torch.float64)])  # ∂ẑ/∂w of a linear unit
    P = p0 * torch.eye(4, dtype=torch.float64)
    e = z[0, 0] - h @ w
    K = P @ h / (r + h @ P @ h)  # Kalman gain
    w_new = w + K * e
    P_new = P - torch.outer(K, h @ P) + q * torch.eye(4, dtype=torch.float64)
    opt = EKF(net.parameters(), p0=p0, q=q, r=r)
    loss = opt.step(lambda: (net(x), z))
    assert torch.allclose(loss, 0.5 * e ** 2)
    assert torch.allclose(torch.cat([net.weight.reshape(-1), net.bias]), w_new, atol=1e-12)
    P_opt = opt.covariances()[0][0]
    assert torch.allclose(P_opt, P_new, atol=1e-12)


@pytest.mark.parametrize("batch", [1, 5, 20])
def test_ekf_on_a_linear_model_is_exact_recursive_least_squares(batch):
    # with q = 0 the filter's mean after all data is the Bayesian linear-regression posterior
    net = _linear(1)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    z = torch.randn(20, 1, generator=g, dtype=torch.float64)
    p0, r = 5.0, 0.3
    A = torch.cat([x, torch.ones(20, 1, dtype=torch.float64)], 1)  # (N, 4)
    w0 = torch.cat([net.weight.detach().reshape(-1), net.bias.detach()])
    post = torch.linalg.solve(A.T @ A / r + torch.eye(4, dtype=torch.float64) / p0,
                              A.T @ z[:, 0] / r + w0 / p0)
    opt = EKF(net.parameters(), p0=p0, q=0.0, r=r)
    for i in range(0, 20, batch):
        opt.step(lambda: (net(x[i:i + batch]), z[i:i + batch]))
    assert torch.allclose(torch.cat([net.weight.reshape(-1), net.bias]), post, atol=1e-10)


def test_decoupled_equals_global_when_outputs_use_disjoint_weights():
    a, b = _linear(3, out=2), _linear(3, out=2)
    x = torch.randn(6, 3, dtype=torch.float64)
    z = torch.randn(6, 2, dtype=torch.float64)
    ga, gb = EKF(a.parameters()), DecoupledEKF(b.parameters(), decoupling="neuron")
    for _ in range(3):
        ga.step(lambda: (a(x), z))
        gb.step(lambda: (b(x), z))
    assert torch.allclose(a.weight, b.weight, atol=1e-10)
    assert torch.allclose(a.bias, b.bias, atol=1e-10)


def test_decoupled_step_on_a_net_matches_the_block_formula():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).double()
    x = torch.randn(3, 2, dtype=torch.float64)
    z = torch.rand(3, 1, dtype=torch.float64)
    p0, q, r = 50.0, 1e-3, 2.0
    J, layout = per_sample_jacobian(net, x)  # (3, 1, 9), the torch.func route
    H = J.reshape(3, 9)
    e = (z - net(x)).detach().reshape(-1)
    w = layout.flatten(dict(net.named_parameters())).detach()
    blocks = layout.blocks("neuron")  # 3 neurons: 2 hidden + 1 output
    S = r * torch.eye(3, dtype=torch.float64)
    for b in blocks:
        S = S + p0 * H[:, b] @ H[:, b].T
    w_new = w.clone()
    for b in blocks:
        w_new[b] += p0 * H[:, b].T @ torch.linalg.solve(S, e)
    opt = DecoupledEKF(net.parameters(), p0=p0, q=q, r=r)
    opt.step(lambda: (net(x), z))
    assert torch.allclose(layout.flatten(dict(net.named_parameters())), w_new, atol=1e-10)


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(5)
    make = lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    a = make()
    x = torch.randn(8, 2, dtype=torch.float64)
    z = torch.randn(8, 1, dtype=torch.float64)
    oa = DecoupledEKF(a.parameters(), decoupling="layer")
    for _ in range(2):
        oa.step(lambda: (a(x), z))
    b = make()
    b.load_state_dict(a.state_dict())
    ob = DecoupledEKF(b.parameters(), decoupling="layer")
    ob.load_state_dict(oa.state_dict())
    for _ in range(2):
        oa.step(lambda: (a(x), z))
        ob.step(lambda: (b(x), z))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_closure_and_settings_are_checked():
    net = _linear()
    x = torch.randn(4, 3, dtype=torch.float64)
    opt = EKF(net.parameters())
    with pytest.raises(ConfigError, match="outputs, targets"):
        opt.step(lambda: net(x).sum())
    with pytest.raises(DataError, match="do not match"):
        opt.step(lambda: (net(x), torch.zeros(3, 1)))
    with pytest.raises(ConfigError, match="decoupling"):
        EKF(net.parameters(), decoupling="row")
    with pytest.raises(ConfigError, match="measurement noise"):
        EKF(net.parameters(), r=0.0)


XOR_X = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]])
XOR_Z = torch.tensor([[0.0], [1], [1], [0]])


def _xor_net(seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-1.2, 1.2)  # the lecture's ±2.4/fan_in
    return net


def _epochs_to_solve(net, step, max_epochs):
    for epoch in range(1, max_epochs + 1):
        step()
        with torch.no_grad():
            if (net(XOR_X) - XOR_Z).abs().max() < 0.2:
                return epoch
    return max_epochs + 1


def test_ekf_learns_xor_in_far_fewer_epochs_than_sgd():
    ekf, sgd = [], []
    for seed in range(3):
        net = _xor_net(seed)
        opt = EKF(net.parameters(), p0=100.0, q=1e-2, r=1.0)
        ekf.append(_epochs_to_solve(net, lambda: opt.step(lambda: (net(XOR_X), XOR_Z)), 300))
        net = _xor_net(seed)
        opt = torch.optim.SGD(net.parameters(), lr=2.0)

        def sgd_step():
            opt.zero_grad()
            (0.5 * ((net(XOR_X) - XOR_Z) ** 2).sum()).backward()
            opt.step()
        sgd.append(_epochs_to_solve(net, sgd_step, 20000))
    # measured: EKF 47, 27, 18 epochs; SGD (lr 2) 386, 595, 441 epochs
    assert max(ekf) <= 300
    assert sorted(ekf)[1] * 10 < sorted(sgd)[1]


def test_add_param_group_restarts_the_covariances():
    torch.manual_seed(6)
    net = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)).double()
    x = torch.randn(4, 2, dtype=torch.float64)
    z = torch.randn(4, 1, dtype=torch.float64)
    opt = EKF(net[2].parameters(), p0=10.0)
    opt.step(lambda: (net(x), z))
    before = net[0].weight.detach().clone()
    opt.add_param_group({"params": net[0].parameters(), "p0": 1.0})
    opt.step(lambda: (net(x), z))
    assert opt.state[net[2].weight]["P"][0].shape == (1, 9, 9)
    assert not torch.equal(before, net[0].weight)


def _old_ekf_update(H, P, e, R, Q):
    """The update as it stood before it was made in place (explicit inverse, P rebuilt)."""
    HP = [torch.bmm(h, p) for h, p in zip(H, P)]
    S = R.clone()
    for h, hp in zip(H, HP):
        S = S + torch.einsum("bmk,bnk->mn", hp, h)
    A = torch.linalg.inv(S)
    A = 0.5 * (A + A.T)
    dw, P_new = [], []
    for hp, p, q in zip(HP, P, Q):
        K = torch.einsum("bmk,mn->bkn", hp, A)
        dw.append(torch.einsum("bkm,m->bk", K, e))
        p = p - torch.bmm(K, hp) + torch.diag_embed(q)
        P_new.append(0.5 * (p + p.transpose(1, 2)))
    return dw, P_new


def _old_ekf_run(net, batches, p0, q, r, decoupling):
    """Weights after the old update over ``batches`` (whole batch at once), from the same start."""
    from deepnets.curvature import ParamLayout, output_jacobian
    params = list(net.parameters())
    layout = ParamLayout.from_tensors(params)
    by_size = {}
    for b in layout.blocks(decoupling):
        by_size.setdefault(len(b), []).append(b)
    stacks = [torch.stack(bs) for bs in by_size.values()]
    P = [p0 * torch.eye(s.shape[1], dtype=torch.float64).repeat(s.shape[0], 1, 1) for s in stacks]
    for x, z in batches:
        out = net(x)
        H = output_jacobian(out, params).reshape(-1, sum(p.numel() for p in params))
        e = (z - out).detach().reshape(-1)
        dw, P = _old_ekf_update([H[:, s].permute(1, 0, 2) for s in stacks], P, e,
                                r * torch.eye(e.numel(), dtype=torch.float64),
                                [torch.full(s.shape, q, dtype=torch.float64) for s in stacks])
        delta = torch.zeros(H.shape[1], dtype=torch.float64)
        for s, d in zip(stacks, dw):
            delta[s.reshape(-1)] = d.reshape(-1)
        with torch.no_grad():
            offset = 0
            for p in params:
                p.add_(delta[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
    return torch.cat([p.detach().reshape(-1) for p in params]), P


@pytest.mark.parametrize("decoupling,chunk,band", [("global", None, None), ("global", 3, None), ("neuron", 1, None),
                                                   ("layer", 4, None), ("global", 3, 5), ("layer", None, 4)])
def test_in_place_update_equals_the_old_formula_over_many_steps(decoupling, chunk, band, monkeypatch):
    """In place, one Cholesky, chunks of samples (global filter; a decoupled one ignores chunk),
    the downdate deferred to the next update's pass, P kept whole or (``band``) as its upper
    triangle in bands of rows, diagonal blocks symmetrised every 16 steps: the same filter as the
    old explicit-inverse update rebuilt every step, to 1e-10 in float64 over 20 steps."""
    if band is not None:
        from deepnets.optim import ekf as ekf_module, kalman_update
        monkeypatch.setattr(kalman_update, "band_rows", lambda k, itemsize=8: band)
        monkeypatch.setattr(ekf_module, "band_rows", lambda k, itemsize=8: band)
    torch.manual_seed(7)
    make = lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    a = make()
    b = make()
    b.load_state_dict(a.state_dict())
    g = torch.Generator().manual_seed(8)
    batches = [(torch.randn(7, 3, generator=g, dtype=torch.float64),
                torch.randn(7, 2, generator=g, dtype=torch.float64)) for _ in range(20)]
    w_old, P_old = _old_ekf_run(a, batches, 3.0, 1e-3, 0.5, decoupling)
    opt = EKF(b.parameters(), p0=3.0, q=1e-3, r=0.5, decoupling=decoupling, chunk=chunk)
    for x, z in batches:
        opt.step(lambda: (b(x), z))
    w_new = torch.cat([p.detach().reshape(-1) for p in b.parameters()])
    assert torch.allclose(w_new, w_old, rtol=0, atol=1e-10)
    P_new = opt.covariances()
    assert all(torch.allclose(pn, po, rtol=0, atol=1e-10) for pn, po in zip(P_new, P_old))


def test_symmetrise_in_place_by_bands():
    from deepnets.optim.ekf import symmetrise_
    A = torch.randn(2, 11, 11, dtype=torch.float64)
    want = 0.5 * (A + A.transpose(1, 2))
    assert torch.equal(symmetrise_(A, block=4), want)


def test_a_bad_chunk_is_refused():
    with pytest.raises(ConfigError, match="chunk"):
        EKF(_linear().parameters(), chunk=0)


def _update_problem(B, k, m, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(B, 6, k, generator=g, dtype=torch.float64)
    P = torch.eye(k, dtype=torch.float64).repeat(B, 1, 1) + X.transpose(1, 2) @ X / 6
    Hs = [torch.randn(B, m, k, generator=g, dtype=torch.float64) for _ in range(3)]
    es = [torch.randn(m, generator=g, dtype=torch.float64) for _ in range(3)]
    return P, Hs, es, torch.full((B, k), 1e-3, dtype=torch.float64)


@pytest.mark.parametrize("B,k,band", [(1, 23, 5), (3, 10, 4), (2, 9, 100)])
def test_banded_deferred_update_equals_the_old_formula(B, k, band):
    from deepnets.optim.kalman_update import covariance, ekf_update
    P, Hs, es, q = _update_problem(B, k, 4)
    P_old, P_new, U = P.clone(), P.clone(), None
    for H, e in zip(Hs, es):
        dw_old, (P_old,) = _old_ekf_update([H], [P_old], e, 0.7 * torch.eye(4, dtype=torch.float64), [q])
        dw, U = ekf_update([H], [P_new], e, 0.7, [q], U, band=band)
        assert torch.allclose(dw[0], dw_old[0], rtol=0, atol=1e-12)
    assert torch.allclose(covariance(P_new, U[0], band=band), P_old, rtol=0, atol=1e-12)


def test_a_banded_update_writes_only_the_upper_triangle_and_defers_its_downdate():
    """The two savings, seen in the buffer: the blocks of a banded P below its diagonal blocks
    are neither read nor written, and an update leaves its own downdate for the next pass."""
    from deepnets.optim.kalman_update import ekf_update
    P, (H, H2, _), (e, e2, _), q = _update_problem(1, 12, 3)
    idx = torch.arange(12) // 4  # the band of each row / column
    below = idx[:, None] > idx[None, :]
    P[0][below] = float("nan")  # garbage there must not reach the result
    before = P.clone()
    dw, U = ekf_update([H], [P], e, 1.0, None, None, band=4)
    assert torch.isfinite(dw[0]).all()
    assert torch.equal(P.nan_to_num(7.0), before.nan_to_num(7.0))  # the downdate is deferred
    ekf_update([H2], [P], e2, 1.0, None, U, band=4)
    assert P[0][below].isnan().all()
    want = before[0] - U[0][0] @ U[0][0].T
    assert torch.allclose(P[0][~below], want[~below], rtol=0, atol=1e-12)
