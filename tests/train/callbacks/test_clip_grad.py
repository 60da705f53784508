"""ClipGradNorm: one SGD step with the gradient rescaled to norm c equals the update by hand,
w ← w − η g·min(1, c/‖g‖), with g from autograd."""

import pytest
import torch

from deepnets import fit
from deepnets.errors import ConfigError
from deepnets.losses import LMS
from deepnets.train.callbacks import ClipGradNorm


@pytest.mark.parametrize("c", [0.05, 1e6])  # clipped; too large to clip
def test_one_clipped_sgd_step_equals_the_hand_update(c):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 3, generator=g), 5 * torch.randn(16, 2, generator=g)
    torch.manual_seed(0)
    model, ref = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ref.load_state_dict(model.state_dict())
    grads = torch.autograd.grad(LMS()(ref(x), y), list(ref.parameters()))
    norm = torch.sqrt(sum((gr ** 2).sum() for gr in grads))
    scale = min(1.0, c / float(norm))
    clip = ClipGradNorm(c)
    fit(model, (x, y), epochs=1, batch_size=None, optimizer="sgd", lr=0.1, callbacks=[clip])
    torch.testing.assert_close(clip.norm, norm)  # the norm before clipping
    for p, q, gr in zip(model.parameters(), ref.parameters(), grads):
        torch.testing.assert_close(p.detach(), q.detach() - 0.1 * scale * gr)


def test_max_norm_must_be_positive():
    with pytest.raises(ConfigError, match="max_norm > 0"):
        ClipGradNorm(0.0)
