import torch
from torch import nn
from torch.func import functional_call, jacrev

from deepnets.curvature import ParamLayout, output_jacobian, per_sample_jacobian


def _mlp():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


def _full_jacobian(net, x):
    """∂(all N·C outputs)/∂w for the whole batch at once -- the independent answer."""
    layout = ParamLayout.from_module(net)
    w = layout.flatten(dict(net.named_parameters())).detach()
    f = lambda w: functional_call(net, layout.unflatten(w), (x,))
    return jacrev(f)(w)  # (N, C, P)


def test_per_sample_jacobian_matches_whole_batch_jacobian():
    net = _mlp()
    x = torch.randn(7, 3, dtype=torch.float64)
    J, layout = per_sample_jacobian(net, x)
    assert J.shape == (7, 2, layout.numel)
    assert torch.allclose(J, _full_jacobian(net, x), atol=1e-12)


def test_per_sample_jacobian_matches_central_differences():
    net = _mlp()
    x = torch.randn(4, 3, dtype=torch.float64)
    J, layout = per_sample_jacobian(net, x)
    w0 = layout.flatten(dict(net.named_parameters())).detach()
    h = 1e-6
    for p in range(layout.numel):
        e = torch.zeros_like(w0)
        e[p] = h
        fp = functional_call(net, layout.unflatten(w0 + e), (x,))
        fm = functional_call(net, layout.unflatten(w0 - e), (x,))
        assert torch.allclose(J[:, :, p], (fp - fm) / (2 * h), atol=1e-8)


def test_output_jacobian_agrees_and_handles_conv_and_subsets():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)).double()
    x = torch.randn(5, 1, 6, dtype=torch.float64)
    J, layout = per_sample_jacobian(net, x, chunk_size=2)
    J2 = output_jacobian(net(x), list(net.parameters()))
    assert torch.allclose(J, J2, atol=1e-12)
    Jw, lw = per_sample_jacobian(net, x, names=["3.weight"])
    assert torch.allclose(Jw, J[:, :, layout.slice("3.weight")], atol=1e-12)


def test_output_jacobian_falls_back_to_one_pass_per_row(monkeypatch):
    net = _mlp()
    x = torch.randn(3, 3, dtype=torch.float64)
    grad = torch.autograd.grad

    def no_batching(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("no batching rule")
        return grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", no_batching)
    J = output_jacobian(net(x), list(net.parameters()))
    monkeypatch.undo()
    assert torch.allclose(J, per_sample_jacobian(net, x)[0], atol=1e-12)
