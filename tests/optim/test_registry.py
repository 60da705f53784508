import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.optim import OPTIMIZERS, Quickprop, build_optimizer


def test_build_by_name_with_keyword_arguments():
    w = torch.zeros(3, requires_grad=True)
    opt = build_optimizer("quickprop", [w], lr=0.2, mu=1.5)
    assert isinstance(opt, Quickprop)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["mu"] == 1.5
    assert OPTIMIZERS["adam"] is torch.optim.Adam


def test_mistakes_are_config_errors_that_name_the_problem():
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(ConfigError, match="unknown optimizer 'rprop'"):
        build_optimizer("rprop", [w])
    with pytest.raises(ConfigError, match="optimizer 'delta_bar_delta'.*'kapa'"):
        build_optimizer("delta_bar_delta", [w], kapa=0.1)
    with pytest.raises(ConfigError, match="Invalid learning rate: -0.1"):
        build_optimizer("conjugate_gradient", [w], lr=-0.1)
