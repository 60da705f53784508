"""The Kronecker-factored Laplace after pruning: the masked weights are excluded. Checked against
a closed form (one linear layer with the LMS likelihood, where G ⊗ A is the exact Gauss-Newton
matrix) and against the unpruned Kronecker precision restricted to the kept weights."""

import torch

from deepnets.bayes import Laplace
from deepnets.curvature import per_sample_jacobian
from deepnets.prune import apply_masks, get_masks, obs_prune


def test_one_linear_layer_matches_the_closed_form_restricted_to_the_kept_weights():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2).double()
    x, x_new = torch.randn(30, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    wmask = torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.bool)
    bmask = torch.tensor([1, 0], dtype=torch.bool)
    apply_masks(net, {"weight": wmask, "bias": bmask})
    beta, alpha = 2.0, 0.5
    cov = Laplace(net, "lms", approx="kron", alpha=alpha, beta=beta).fit(x).functional_covariance(x_new)[1]
    aug, aug_new = torch.cat([x, torch.ones(30, 1, dtype=x.dtype)], 1), torch.cat([x_new, torch.ones(5, 1)], 1)
    keep = torch.cat([wmask, bmask[:, None]], 1)  # (2, 4): each output row has its own kept inputs
    expected = torch.zeros(5, 2, 2, dtype=torch.float64)
    for c in range(2):  # H_c = β Σ ã_k ã_kᵀ + α I over row c's kept inputs; var_c(x) = ã_kᵀ H_c⁻¹ ã_k
        k = keep[c]
        H = beta * aug[:, k].T @ aug[:, k] + alpha * torch.eye(int(k.sum()), dtype=x.dtype)
        expected[:, c, c] = torch.einsum("ni,ij,nj->n", aug_new[:, k], torch.linalg.inv(H), aug_new[:, k])
    torch.testing.assert_close(cov, expected)
    full = Laplace(net, "lms", approx="full", alpha=alpha, beta=beta).fit(x).functional_covariance(x_new)[1]
    torch.testing.assert_close(cov, full)  # here kron is exact, so it equals the full Laplace


def test_an_obs_pruned_mlp_equals_the_kronecker_precision_restricted_to_the_kept_weights():
    torch.manual_seed(1)
    x = torch.randn(40, 3, dtype=torch.float64)
    z = torch.tanh(x @ torch.randn(3, 1, dtype=torch.float64))
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    plain = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    obs_prune(net, x, z, sparsity=0.4)  # weights and biases, by the full OBS
    masks = get_masks(net)
    assert any(not m.all() for m in masks.values())
    with torch.no_grad():  # the same net with W ∘ mask as plain parameters
        for name, p in plain.named_parameters():
            module, attr = net[int(name.split(".")[0])], name.split(".")[1]
            p.copy_(getattr(module, attr))
    x_new = torch.randn(6, 3, dtype=torch.float64)
    la = Laplace(net, "lms", approx="kron", alpha=0.3, beta=1.5).fit(x)
    cov = la.functional_covariance(x_new)[1]
    S = Laplace(plain, "lms", approx="kron", alpha=0.3, beta=1.5).fit(x).posterior.weight_covariance()
    kept = torch.cat([masks.get(n, torch.ones_like(p, dtype=torch.bool)).reshape(-1)
                      for n, p in plain.named_parameters()])
    H_kept = torch.linalg.inv(S)[kept][:, kept]  # the unpruned block-diagonal precision, kept rows and columns
    J, _ = per_sample_jacobian(plain, x_new)
    J = J[..., kept]
    torch.testing.assert_close(cov, J @ torch.linalg.solve(H_kept, J.transpose(1, 2)))
    samples = la.posterior.sample(4, torch.Generator().manual_seed(0))
    assert samples.shape == (4, kept.numel()) and bool((samples[:, ~kept] == 0).all())
