import torch
from torch import nn

from deepnets.curvature import (assemble_blocks, block_curvature, diagonal_curvature,
                                gauss_newton, gauss_newton_factors, per_sample_jacobian)


def test_diagonal_and_blocks_are_the_parts_of_the_full_matrix():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2)).double()
    x = torch.randn(8, 2, dtype=torch.float64)
    J, layout = per_sample_jacobian(net, x)
    X = gauss_newton_factors(J)
    Q = gauss_newton(J)
    assert torch.allclose(diagonal_curvature(X, alpha=0.5), torch.diag(Q) + 0.5)
    for kind in ("layer", "neuron"):
        idx = layout.blocks(kind)
        blocks = block_curvature(X, idx)
        for B, b in zip(blocks, idx):
            assert torch.allclose(B, Q[b][:, b])
        full = assemble_blocks(blocks, idx, layout.numel)
        mask = torch.zeros_like(Q, dtype=torch.bool)
        for b in idx:
            mask[b.unsqueeze(1), b.unsqueeze(0)] = True
        assert torch.allclose(full, torch.where(mask, Q, torch.zeros_like(Q)))
