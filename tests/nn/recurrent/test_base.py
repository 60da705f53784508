"""What the recurrent cores share."""

import torch

from deepnets.nn.recurrent.base import detach_state


def test_detach_state_cuts_the_graph_of_tensors_and_tuples():
    h = torch.ones(2, requires_grad=True) * 2
    out = detach_state((h, (h, h)))
    assert not out[0].requires_grad and not out[1][1].requires_grad
    assert detach_state(None) is None
