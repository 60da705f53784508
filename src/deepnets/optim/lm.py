"""Levenberg-Marquardt training of a small network on the LMS error.

With the residuals e = z − ẑ(w) of the batch (m = N·C entries) and their Jacobian
J = ∂ẑ/∂w (m, P), the LMS error E(w) = ½ Σ e² has gradient −Jᵀe and Gauss-Newton Hessian JᵀJ.
One step solves

    (JᵀJ + μ I) Δ = Jᵀ e

and tries w + Δ: if E falls, the step is kept and μ ← μ·μ_dec (towards Gauss-Newton);
otherwise the weights are restored, μ ← μ·μ_inc (towards a short gradient step, Δ ≈ Jᵀe/μ) and
Δ is solved again, until E falls or μ passes μ_max (then the weights stay where they were: no
step of any length along these directions lowers E). This is Marquardt (1963), "An algorithm for
least-squares estimation of nonlinear parameters", as Hagan & Menhaj (1994), "Training
feedforward networks with the Marquardt algorithm" (IEEE Trans. Neural Networks 5(6):989-993),
ran it for MLPs -- the ``trainlm`` of MATLAB's toolbox, whose defaults μ = 1e-3, μ_dec = 0.1,
μ_inc = 10, μ_max = 1e10 are used here. The linear system is P × P: this is a method for small
nets (a few thousand weights at most).

Closure contract (as the extended Kalman filters'): ``step(closure)`` calls ``closure()`` and
gets ``(outputs, targets)`` -- the outputs still attached to the autograd graph (no
``backward``) and the desired outputs of the same size; J comes from the same Jacobian code as
the EKF's (:mod:`deepnets.optim._measure`). The closure is called again, without gradients, for
every trial step. ``step`` returns ½ Σ e² / N before the step.

>>> import torch
>>> net = torch.nn.Linear(2, 1)
>>> x, z = torch.randn(8, 2), torch.randn(8, 1)
>>> opt = LevenbergMarquardt(net.parameters())
>>> first = opt.step(lambda: (net(x), z))
>>> bool(opt.step(lambda: (net(x), z)) <= first)
True
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..errors import ConfigError
from ._measure import measure, measurement_jacobian

__all__ = ["LevenbergMarquardt"]


def _positive(name: str, value, *, above_one: bool = False, below_one: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if ok and above_one:
        ok = value > 1
    if ok and below_one:
        ok = value < 1
    if not ok:
        want = "> 1" if above_one else "in (0, 1)" if below_one else "> 0"
        raise ConfigError(f"Invalid {name}: {value!r} (expected a finite number {want})")
    return float(value)


class LevenbergMarquardt(Optimizer):
    """Levenberg-Marquardt on the LMS error: (JᵀJ + μI) Δ = Jᵀe, μ adapted per step.

    Args:
        params: the weights (one parameter group: the system couples them all).
        mu: the initial damping μ (default 1e-3).
        mu_dec: μ is multiplied by this after a step that lowered E (default 0.1).
        mu_inc: μ is multiplied by this after a trial that did not (default 10).
        mu_max: once μ passes this, no step is taken (default 1e10).
        chunk: samples whose Jacobian is built at a time while JᵀJ and Jᵀe are summed
            (default 256; the result does not depend on it).

    See the module docstring for the closure contract and the references.
    """

    closure_returns = "outputs_targets"
    #: the update is defined for the LMS error only; ``fit`` refuses any other loss
    lms_only = True

    def __init__(self, params: Iterable, *, mu: float = 1e-3, mu_dec: float = 0.1, mu_inc: float = 10.0,
                 mu_max: float = 1e10, chunk: int = 256):
        defaults = dict(mu=_positive("mu", mu), mu_dec=_positive("mu_dec", mu_dec, below_one=True),
                        mu_inc=_positive("mu_inc", mu_inc, above_one=True), mu_max=_positive("mu_max", mu_max))
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ConfigError(f"Invalid chunk: {chunk!r} (expected a number of samples >= 1)")
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ConfigError(f"LevenbergMarquardt takes one parameter group (the system couples every "
                              f"weight), got {len(self.param_groups)}")
        self.chunk = chunk

    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _set(self, w: Tensor) -> None:
        offset = 0
        for p in self._params():
            p.copy_(w[offset:offset + p.numel()].view_as(p))
            offset += p.numel()

    @staticmethod
    def _error(got) -> float:
        outputs, targets = got
        e = targets.reshape(-1).to(outputs.dtype) - outputs.reshape(-1)
        return float(0.5 * (e * e).sum())

    @torch.no_grad()
    def step(self, closure: Callable[[], tuple[Tensor, Tensor]] | None = None) -> Tensor:  # type: ignore[override]
        """One Levenberg-Marquardt step on the batch the closure measures; returns ½ Σ e² / N
        before it."""
        params, group = self._params(), self.param_groups[0]
        state = self.state[params[0]]
        mu = float(state.get("mu", group["mu"]))
        with torch.enable_grad():
            outputs, targets = measure(closure, "LevenbergMarquardt")
            N = outputs.shape[0]
            e_all = targets.reshape(N, -1).to(outputs.dtype) - outputs.detach().reshape(N, -1)  # (N, C)
            n = sum(p.numel() for p in params)
            JtJ = torch.zeros(n, n, dtype=torch.float64, device=outputs.device)  # Gauss-Newton Hessian
            Jte = torch.zeros(n, dtype=torch.float64, device=outputs.device)  # −∇E
            for a in range(0, N, self.chunk):
                J = measurement_jacobian(outputs, params, a, a + self.chunk).double()  # (m_c, P)
                JtJ.addmm_(J.T, J)
                Jte.addmv_(J.T, e_all[a:a + self.chunk].reshape(-1).double())
        E = 0.5 * float((e_all.double() ** 2).sum())
        w0 = torch.cat([p.detach().reshape(-1) for p in params])  # (P,)
        eye = torch.eye(n, dtype=torch.float64, device=outputs.device)
        while mu <= group["mu_max"]:
            L, info = torch.linalg.cholesky_ex(JtJ + mu * eye)
            if info.item() == 0:
                delta = torch.cholesky_solve(Jte.unsqueeze(1), L)[:, 0]  # (P,)
                self._set(w0 + delta.to(w0.dtype))
                if self._error(closure()) < E:
                    mu *= group["mu_dec"]
                    break
            mu *= group["mu_inc"]
            self._set(w0)  # the trial raised E (or μ was too small to factor): back, and damp more
        state["mu"] = mu
        state["step"] = state.get("step", 0) + 1
        return torch.tensor(E / N, dtype=outputs.dtype)
