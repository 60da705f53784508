"""FGSM and PGD against IBM's Adversarial Robustness Toolbox (ART) on a nonlinear net: the same points."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from deepnets.adversarial import fgsm, pgd

art = pytest.importorskip("art", reason="the Adversarial Robustness Toolbox is not installed (the test extra has it)")


@pytest.fixture
def net_and_data():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    with torch.no_grad():
        net[0].weight.mul_(8)  # saturating tanh units: the gradient's sign turns within the ball
    x = torch.rand(50, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(50) % 3
    from art.estimators.classification import PyTorchClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = PyTorchClassifier(net, loss=nn.CrossEntropyLoss(), input_shape=(8,), nb_classes=3,
                                clip_values=(0.0, 1.0), device_type="cpu")
    return net, x, y, clf


def test_fgsm_equals_the_toolbox_fast_gradient_method(net_and_data):
    from art.attacks.evasion import FastGradientMethod
    net, x, y, clf = net_and_data
    theirs = FastGradientMethod(clf, norm=np.inf, eps=0.1).generate(x.numpy(), y=y.numpy())
    ours = fgsm(net, x, y, 0.1, clip=(0.0, 1.0))
    np.testing.assert_array_equal(ours.numpy(), theirs)
    assert float((ours - x).abs().max()) == pytest.approx(0.1)


def test_pgd_from_the_clean_point_equals_the_toolbox_pgd(net_and_data):
    # no random start (ART's comes from NumPy's generator): the same 12 steps of 0.05, projected and clipped
    from art.attacks.evasion import ProjectedGradientDescent
    net, x, y, clf = net_and_data
    theirs = ProjectedGradientDescent(clf, norm=np.inf, eps=0.3, eps_step=0.05, max_iter=12, num_random_init=0,
                                      verbose=False).generate(x.numpy(), y=y.numpy())
    ours = pgd(net, x, y, 0.3, steps=12, alpha=0.05, clip=(0.0, 1.0), random_start=False)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-6)  # float32 sums in another order: 1 ulp
    assert not np.array_equal(theirs, fgsm(net, x, y, 0.3, clip=(0.0, 1.0)).numpy())  # not one FGSM step
