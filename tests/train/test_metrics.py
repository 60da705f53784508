"""NMSE (Weigend's ARV): normalised by the variance of the targets over the evaluated set."""

import numpy as np
import torch

import deepnets

from deepnets.train.metrics import METRICS, mse, nmse


def test_predicting_the_segment_mean_scores_one_and_the_truth_zero():
    z = torch.randn(500, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3 + 7
    assert abs(nmse(z.mean().expand_as(z), z) - 1.0) < 1e-12
    assert nmse(z.clone(), z) == 0.0
    # any other constant scores more than 1: 1 + (c - mean)^2 / var
    c = float(z.mean()) + 2.0
    assert abs(nmse(torch.full_like(z, c), z) - (1 + 4.0 / float(z.var(unbiased=False)))) < 1e-12


def test_equals_mse_over_the_population_variance_and_is_scale_free():
    g = torch.Generator().manual_seed(1)
    z, zhat = torch.randn(300, 1, generator=g), torch.randn(300, 1, generator=g)
    expected = np.mean((zhat.numpy() - z.numpy()) ** 2) / np.var(z.numpy())   # numpy var: ddof = 0
    assert abs(nmse(zhat, z) - expected) < 1e-6
    assert abs(nmse(10 * zhat - 4, 10 * z - 4) - nmse(zhat, z)) < 1e-6
    assert abs(mse(zhat, z) - np.mean((zhat.numpy() - z.numpy()) ** 2)) < 1e-6
    assert METRICS["nmse"] is nmse


def test_a_constant_target_has_no_variance_to_normalise_by():
    assert np.isnan(nmse(torch.zeros(4, 1), torch.ones(4, 1)))


def test_one_logit_is_thresholded_at_zero_by_evaluate():
    # p = σ(a) > 0.5 exactly when a > 0: a logit of -0.2 is class 0 (a threshold of 0.5 on the
    # logit would call a = 0.3 class 0 too)
    from deepnets.train.metrics import evaluate

    model = torch.nn.Identity()
    a = torch.tensor([[-0.2], [0.3], [2.0], [-1.0]])
    y = torch.tensor([0, 1, 1, 0])
    assert evaluate(model, a, y, loss="cross_entropy", metrics=["accuracy"])["accuracy"] == 1.0
    p = torch.sigmoid(a)  # the same decisions on probabilities (a one-output logistic MLP's outputs)
    assert evaluate(model, p, y, loss=deepnets.CrossEntropy(outputs="probabilities"),
                    metrics=["accuracy"])["accuracy"] == 1.0
