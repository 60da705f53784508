import torch

from deepnets.prune import DiagonalInverse, FullInverse, obs_step


def _spd(P, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, P, generator=g, dtype=torch.float64)
    return A @ A.T + 0.5 * torch.eye(P, dtype=torch.float64)


def _constrained_min(Q, w0, zero):
    """argmin ½ (w − w0)^T Q (w − w0) with w[zero] = 0, by solving the free block directly."""
    P = len(w0)
    free = [i for i in range(P) if i not in zero]
    w = torch.zeros_like(w0)
    d = -w0.clone()  # Δw; fixed part Δw_zero = −w0_zero
    dz = d[list(zero)]
    Qfz = Q[free][:, list(zero)]
    d_free = torch.linalg.solve(Q[free][:, free], -Qfz @ dz)
    w[free] = w0[free] + d_free
    return w


def test_obs_step_is_the_constrained_minimum_and_saliency_is_the_increase():
    P = 6
    Q = _spd(P)
    w0 = torch.randn(P, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    E = lambda w: 0.5 * (w - w0) @ Q @ (w - w0)
    # brute force: the exact increase of removing each weight alone
    increases = [float(E(_constrained_min(Q, w0, [q]))) for q in range(P)]
    w = w0.clone()
    alive = torch.ones(P, dtype=torch.bool)
    q, L = obs_step(w, FullInverse(torch.linalg.inv(Q)), alive)
    assert q == min(range(P), key=increases.__getitem__)
    assert abs(L - increases[q]) < 1e-10
    assert torch.allclose(w, _constrained_min(Q, w0, [q]), atol=1e-10)
    assert w[q] == 0 and not alive[q]


def test_repeated_obs_steps_keep_earlier_zeros_and_stay_optimal():
    P = 7
    Q = _spd(P, seed=2)
    w0 = torch.randn(P, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    w = w0.clone()
    alive = torch.ones(P, dtype=torch.bool)
    curv = FullInverse(torch.linalg.inv(Q))
    removed = [obs_step(w, curv, alive)[0] for _ in range(3)]
    # the downdated inverse makes later steps exact in the subspace of the removed weights
    assert torch.allclose(w, _constrained_min(Q, w0, removed), atol=1e-10)
    assert torch.all(w[removed] == 0)
    # the downdate is the inverse of Q restricted to the weights left
    left = [i for i in range(P) if i not in removed]
    assert torch.allclose(curv.Q_inv[left][:, left], torch.linalg.inv(Q[left][:, left]), atol=1e-10)


def test_diagonal_curvature_is_obd_and_identity_is_magnitude():
    w = torch.tensor([0.5, -0.2, 1.0, 0.3], dtype=torch.float64)
    h = torch.tensor([1.0, 30.0, 0.01, 2.0], dtype=torch.float64)
    alive = torch.ones(4, dtype=torch.bool)
    w1 = w.clone()
    q, L = obs_step(w1, DiagonalInverse(1 / h), alive)
    obd = h * w * w / 2  # LeCun's saliency
    assert q == int(torch.argmin(obd)) == 2 and abs(L - float(obd[2])) < 1e-12
    assert torch.equal(w1, torch.tensor([0.5, -0.2, 0.0, 0.3], dtype=torch.float64))
    order = []
    w2, alive2, curv = w.clone(), torch.ones(4, dtype=torch.bool), DiagonalInverse(torch.ones(4))
    for _ in range(3):
        order.append(obs_step(w2, curv, alive2)[0])
    assert order == torch.argsort(w.abs())[:3].tolist()


def test_prunable_restricts_the_choice_but_not_the_move():
    Q = _spd(3, seed=5)
    w = torch.tensor([0.01, 1.0, 2.0], dtype=torch.float64)
    alive = torch.ones(3, dtype=torch.bool)
    prunable = torch.tensor([False, True, True])
    w0 = w.clone()
    q, _ = obs_step(w, FullInverse(torch.linalg.inv(Q)), alive, prunable=prunable)
    assert q in (1, 2) and w[0] != w0[0]
