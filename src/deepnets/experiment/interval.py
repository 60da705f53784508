"""``deepnets predict RUN FILE --interval LEVEL``: the Laplace predictive of a trained run.

Regression: the Gaussian predictive N(ẑ(x), Σ_z(x)), Σ_z = diag(1/β) + ∇fᵀ A⁻¹ ∇f, and its
central interval ẑ ± Φ⁻¹((1 + LEVEL)/2)·σ per target. Classification: the probit / mean-field
moderated class probabilities (MacKay 1992), which need no level. The posterior precision
A = H + diag(α) is the outer-product Hessian on the run's training split at its trained weights;
α (one per ARD group: each input's outgoing weights, each layer's biases, ...) and β (per
output) come from MacKay's evidence re-estimation at those weights
(:func:`deepnets.bayes.evidence_ard` with ``train=False``: the weights are not moved), with the
full A, for up to :data:`FULL_MAX_WEIGHTS` weights; beyond, the Kronecker-factored A with one
α per layer, α_l = n_l/‖w_l‖² (the evidence's fixed point with every weight well determined,
γ = n), and β_i = N/Σ_n (z_i − ẑ_i)² per output.

Reference: MacKay 1992, "A practical Bayesian framework for backprop networks" and "The
evidence framework applied to classification networks".
"""

from __future__ import annotations

import torch

from ..bayes import Laplace, evidence_ard
from ..data.files import read_csv_table
from ..data.limits import override
from ..errors import ConfigError
from .folder import load_run
from .inspect import _run_data as run_data
from .inspect import _units as target_units

#: the largest number of weights whose posterior precision is built as a dense matrix
FULL_MAX_WEIGHTS = 3000
#: the outputs the moderated class probabilities read logits from
PROBABILITY_OUTPUTS = ("logits", "softmax", "logistic")


def laplace_for_run(path, *, rounds: int = 5):
    """``(laplace, summary, scaler, info)``: the fitted Laplace approximation of the run in ``path``
    (float64) and ``info = {"approx", "alpha", "beta", "hyper", "units"}`` (how α and β were set;
    β in the units the net learnt, ``units`` the regression's :class:`~deepnets.experiment.targets.TargetUnits`) (α per weight for full, per layer for kron)."""
    exp, summary, model, scaler = load_run(path)
    if "forecast" in summary:
        raise ConfigError("--interval is for tabular runs; a series run's forecasts have no interval here")
    regression = summary["task"] == "regression"
    if not regression and summary["output"] not in PROBABILITY_OUTPUTS:
        raise ConfigError(f"moderated class probabilities need a softmax, logistic or logits output; this run's "
                          f"output is {summary['output']!r} (trained as regression on coded targets)")
    _, parts, _, _ = run_data(path, exp, summary)
    units = target_units(summary, parts)  # regression: the net learnt standardised targets
    x = scaler(parts.train[0]).double()
    y = units.encode(parts.train)[1].double() if regression else parts.train[1]
    likelihood = "lms" if regression else "cross_entropy"
    model = model.double()
    P = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if P <= FULL_MAX_WEIGHTS:
        ev = evidence_ard(model, x, y, likelihood=likelihood, train=False, outer=rounds)
        beta = ev.beta if regression else None
        la, alpha = Laplace(model, likelihood, approx="full", alpha=ev.weight_alpha, beta=1.0 if beta is None else beta), \
            ev.weight_alpha
    else:  # the evidence's dense A is out of reach: α_l = n_l/‖w_l‖² per layer, β = N·C/Σ residual²
        layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        alpha = torch.stack([(m.weight.numel() + m.bias.numel())
                             / (m.weight.detach().square().sum() + m.bias.detach().square().sum()) for m in layers])
        beta = None
        if regression:
            with torch.no_grad():
                beta = y.numel() / (model(x) - y).square().sum(0) * (1.0 / y.shape[1])
        la = Laplace(model, likelihood, approx="kron", alpha=alpha, beta=1.0 if beta is None else beta)
    la.fit(x)
    how = "by the evidence" if P <= FULL_MAX_WEIGHTS else "alpha = n/|w|^2 per layer, beta from the residuals"
    return la, summary, scaler, {"approx": la.approx, "alpha": alpha, "beta": beta, "hyper": how, "units": units}


def predict_interval(path, csv_path, level: float) -> tuple[list[str], list[list], dict]:
    """``(header, rows, info)`` for the rows of a CSV with the run's feature columns: per target
    ``NAME, NAME_low, NAME_high, NAME_sd`` (regression), or ``prediction`` and the moderated
    probability of each class (classification). ``info`` as :func:`laplace_for_run` gives it."""
    if not 0 < level < 1:
        raise ConfigError(f"--interval is a probability such as 0.95, in (0, 1), got {level}")
    la, summary, scaler, info = laplace_for_run(path)
    with override(**load_run(path)[0].data.limits):  # the run's [data.limits] hold for the new file too
        _, table = read_csv_table(csv_path, columns=summary["feature_names"], min_rows=1)
    x = scaler(torch.from_numpy(table).float()).double()
    if summary["task"] != "regression":
        p = la.predict_proba(x)  # (N, K)
        labels = summary.get("classes") or list(range(p.shape[1]))
        header = ["prediction"] + [f"p_{label}" for label in labels]
        return header, [[labels[int(r.argmax())], *(round(float(v), 6) for v in r)] for r in p], info
    mean, cov = la.predict(x)
    sd = cov.diagonal(dim1=1, dim2=2).sqrt()  # (N, C)
    units = info["units"]
    if units.scaler is not None:  # back to the target's units: ŷ = z·s + ȳ, sd_y = sd_z·s
        s, m = units.scaler.std.double(), units.scaler.mean.double()
        mean, sd = mean * s + m, sd * s
    z = float(torch.special.ndtri(torch.tensor((1 + level) / 2, dtype=torch.float64)))
    header = [f"{t}{s}" for t in summary["target_names"] for s in ("", "_low", "_high", "_sd")]
    rows = [[round(float(v), 6) for m, s in zip(mr, sr) for v in (m, m - z * s, m + z * s, s)]
            for mr, sr in zip(mean, sd)]
    return header, rows, info


__all__ = ["predict_interval", "laplace_for_run", "FULL_MAX_WEIGHTS"]
