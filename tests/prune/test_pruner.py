import pytest
import torch
from torch import nn

from deepnets.errors import ConfigError
from deepnets.prune import get_masks, magnitude_prune, obd_prune, obs_prune
from twins import mlp_and_twin


def _linear_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 5, generator=g, dtype=torch.float64)
    net = nn.Linear(5, 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.randn(1, 5, generator=g, dtype=torch.float64))
    z = x @ net.weight.detach().T + 0.1 * torch.randn(40, 1, generator=g, dtype=torch.float64)
    with torch.no_grad():  # start at the least-squares optimum, where OBS's quadratic is exact
        net.weight.copy_(torch.linalg.lstsq(x, z).solution.T)
    return net, x, z


@pytest.mark.parametrize("curvature,alpha,tol", [("full", 1e-12, 1e-8), ("woodbury", 1e-8, 1e-6)])
def test_obs_on_a_linear_lms_model_matches_least_squares_refit(curvature, alpha, tol):
    net, x, z = _linear_problem()
    res = obs_prune(net, x, z, sparsity=0.6, alpha=alpha, curvature=curvature)
    assert res.stopped_by == "sparsity" and res.n_remaining == 2
    keep = get_masks(net)["weight"][0]
    refit = torch.linalg.lstsq(x[:, keep], z).solution.squeeze(1)  # independent answer
    assert torch.allclose(net.weight[0, keep], refit, atol=tol)
    assert torch.all(net.weight[0, ~keep] == 0)
    # on a quadratic the saliencies add up to the measured error increase
    assert abs(sum(res.saliency) - (res.error[-1] - res.error_start)) < tol


def test_exact_hessian_curvature_agrees_with_outer_product_on_a_linear_model():
    a, x, z = _linear_problem(1)
    b, _, _ = _linear_problem(1)
    ra = obs_prune(a, x, z, sparsity=0.6, alpha=1e-12)
    rb = obs_prune(b, x, z, sparsity=0.6, curvature="hessian", alpha=1e-12)
    assert ra.removed == rb.removed
    assert torch.allclose(a.weight, b.weight, atol=1e-8)


def test_identity_curvature_is_one_shot_magnitude_pruning():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    b = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    b.load_state_dict(a.state_dict())
    x, z = torch.randn(10, 3), torch.randn(10, 2)
    names = ["0.weight", "2.weight"]
    seen = []
    res = obs_prune(a, x, z, curvature="identity", names=names, sparsity=0.5,
                    callback=lambda m, r: seen.append(len(r.removed)))
    assert seen == list(range(1, len(res.removed) + 1)) and len(res.removed) == 10
    magnitude_prune(b, 0.5, names=names)
    for n in names:
        assert torch.equal(get_masks(a)[n], get_masks(b)[n])
    assert torch.equal(a[0].weight, b[0].weight)


def test_error_budget_stops_before_it_is_exceeded():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    x = torch.randn(200, 3, dtype=torch.float64)
    z = torch.sin(x.sum(1, keepdim=True))
    opt = torch.optim.LBFGS(net.parameters(), max_iter=200)
    opt.step(lambda: (opt.zero_grad(), (l := 0.5 * ((net(x) - z) ** 2).sum()).backward(), l)[-1])
    for prune in (obs_prune, obd_prune):
        m = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1)).double()
        m.load_state_dict(net.state_dict())
        res = prune(m, x, z, max_error_increase=0.5)
        assert res.stopped_by == "error budget" and len(res.removed) > 0
        E = float(0.5 * ((m(x) - z) ** 2).sum().detach())
        assert E - res.error_start <= 0.5 and abs(E - res.error[-1]) < 1e-12


def test_user_mistakes():
    net, x, z = _linear_problem()
    with pytest.raises(ConfigError, match="stopping rule"):
        obs_prune(net, x, z)
    with pytest.raises(ConfigError, match="curvature"):
        obs_prune(net, x, z, sparsity=0.5, curvature="kfac")
    with pytest.raises(ConfigError, match="sparsity"):
        magnitude_prune(net, 1.5)


XOR_X = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64)
XOR_Z = torch.tensor([[0.0], [1], [1], [0]], dtype=torch.float64)


def _fit(net, steps):
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * ((net(XOR_X) - XOR_Z) ** 2).sum()).backward()
        opt.step()


def test_obs_prunes_xor_2_2_1_and_keeps_the_truth_table():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).double()
    _fit(net, 300)
    truth = lambda m: bool(torch.equal((m(XOR_X) > 0.5).double(), XOR_Z))
    assert truth(net)
    res = obs_prune(net, XOR_X, XOR_Z, keep=truth, tries=9, recompute_every=1,
                    between_rounds=lambda m: _fit(m, 200))
    assert truth(net) and res.n_total == 9
    masks = get_masks(net)
    assert sum(int(m.sum()) for m in masks.values()) == res.n_remaining
    for name, m in masks.items():
        assert torch.all(net.get_parameter(name.replace(name.rsplit(".", 1)[1],
                         f"parametrizations.{name.rsplit('.', 1)[1]}.original"))[~m] == 0)
    # measured on this seed: 6 of 9 weights remain; see the report
    assert res.n_remaining <= 7


def _twins(n_out, seed=0):
    return mlp_and_twin(3, 4, n_out, seed=seed)


@pytest.mark.parametrize("n_out", [3, 1])
@pytest.mark.parametrize("curvature", ["full", "diagonal", "hessian"])
def test_cross_entropy_means_the_same_for_an_mlp_and_its_sequential_twin(n_out, curvature):
    """"cross_entropy" on the MLP's probabilities is taken through its logits (no second softmax):
    the saliencies, the removal order and the errors equal those of the twin that outputs logits."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(30, 3, generator=g, dtype=torch.float64)
    z = torch.randint(0, max(n_out, 2), (30,), generator=g)
    net, seq = _twins(n_out)
    with torch.no_grad():  # E is torch's cross-entropy of the twin's logits, summed: not of a second softmax
        a = seq(x)
        E0 = (nn.functional.cross_entropy(a, z, reduction="sum") if n_out > 1 else
              nn.functional.binary_cross_entropy_with_logits(a[:, 0], z.double(), reduction="sum"))
    r_net = obs_prune(net, x, z, loss="cross_entropy", curvature=curvature, sparsity=0.5, alpha=1e-2)
    r_seq = obs_prune(seq, x, z, loss="cross_entropy", curvature=curvature, sparsity=0.5, alpha=1e-2)
    order = lambda r: [(r.names.index(n), i) for n, i in r.removed]
    assert order(r_net) == order(r_seq) and len(r_net.removed) > 5
    torch.testing.assert_close(torch.tensor(r_net.saliency), torch.tensor(r_seq.saliency), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.tensor(r_net.error), torch.tensor(r_seq.error), rtol=1e-10, atol=1e-10)
    assert r_net.error_start == pytest.approx(float(E0), rel=1e-12)


def test_a_probability_output_without_logits_is_asked_about():
    net = nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=1)).double()
    x, z = torch.randn(10, 3, dtype=torch.float64), torch.randint(0, 2, (10,))
    with pytest.raises(ConfigError, match="ends in Softmax"):
        obs_prune(net, x, z, loss="cross_entropy", sparsity=0.5)
    assert get_masks(net) == {}  # asked before anything was masked
    with pytest.raises(ConfigError, match="unknown likelihood 'hinge'"):
        obs_prune(net, x, z, loss="hinge", sparsity=0.5)
