"""Weigend, Huberman & Rumelhart's rule for the penalty weight lambda, as a penalty and a callback.

``fit(penalty=AdaptiveLambda(WeightElimination(gamma=...)))`` trains with the wrapped penalty and
changes its lambda after every epoch; in a TOML file, ``[train.penalty]`` with ``adaptive = true``.
:mod:`deepnets.regularizers` exports it.
"""

from __future__ import annotations

import torch

from ._registry import check_number
from .errors import ConfigError
from .train.callbacks.base import Callback

__all__ = ["AdaptiveLambda", "PUBLISHED"]

#: Weigend et al.'s settings: the additive step, the multiplicative cut, the weight of the past in A_n
PUBLISHED = {"delta_lambda": 1e-6, "cut": 0.9, "average": 0.9}


class AdaptiveLambda(Callback):
    """Weigend et al.'s schedule for the penalty weight lambda, applied after every epoch.

    The error it watches, E_n, is the **training error of epoch n without the penalty**: the
    epoch's sample-weighted mean data cost (``fit``'s ``loss`` log less the mean of the penalty
    over the epoch's batches), so that a larger lambda does not count as a worse fit. With E_{n-1}
    that of the epoch before, the running average A_n = a A_{n-1} + (1 - a) E_n (A_1 = E_1) and a
    desired error D:

        E_n < E_{n-1}  or  E_n < D               ->  lambda += delta_lambda     (increment)
        E_n >= E_{n-1}, E_n < A_n, E_n >= D      ->  lambda -= delta_lambda     (decrement)
        E_n >= E_{n-1}, E_n >= A_n, E_n >= D     ->  lambda *= cut              (cut)

    and lambda never falls below 0; nothing changes after the first epoch (there is no E_0).
    The penalty grows while training still goes well and is cut back hard when the error rises
    above its average. ``fit`` logs the lambda used in the next epoch as ``lambda``.

    Scaling the settings to the loss: only D is in the loss's units. Weigend et al. sum squared
    errors over the training set (no ½, no 1/N); deepnets' ``lms`` is ½ Σ_i (z_i − ẑ_i)² averaged
    over the samples, so their lambda, delta_lambda and D are divided by 2N here for the same
    run. Set D to the error one would accept, e.g. ½ C σ² for ``lms`` with C outputs and noise
    variance σ² per output (in the units the net learns, standardised targets in an experiment);
    D = 0 lets only the trend of the error count. For ``cross_entropy`` (the mean negative
    log-likelihood per example, in nats) D is a mean cross-entropy, e.g. −log(0.9) ≈ 0.1 for a fit
    that gives every example's right class probability 0.9. delta_lambda is in lambda's units: a small
    fraction of the lambda one expects, so that some hundred epochs of increments can reach it.
    The default 1e-6 is Weigend et al.'s number in their units; for a mean loss over N training
    examples the step of their run is 1e-6 / (2N) (lms) or 1e-6 / N (cross-entropy, no ½), and
    ``benchmarks/bench_lambda_choice.py`` shows what the default gives on four problems.

    Args:
        penalty: a penalty with one float ``gamma`` (:class:`~deepnets.regularizers.Penalty`
            with a float gamma, or :class:`~deepnets.regularizers.CurvatureSmoothing`); its
            ``gamma`` is lambda, changed in place; every ``fit`` starts again from its value here.
        target_error: D, the desired error (default 0.0).
        delta_lambda: the additive step (default 1e-6, Weigend et al.'s).
        cut: the multiplicative cut (default 0.9, Weigend et al.'s).
        average: a, the weight of the past in A_n (default 0.9, Weigend et al.'s).

    References: Weigend, Huberman & Rumelhart (1990), "Predicting the future: a connectionist
    approach", Int. J. Neural Systems 1(3):193-209; Weigend, Rumelhart & Huberman (1991),
    "Generalization by weight-elimination with application to forecasting", NIPS 3, pp. 875-882.
    """

    def __init__(self, penalty, *, target_error: float = 0.0, delta_lambda: float = PUBLISHED["delta_lambda"],
                 cut: float = PUBLISHED["cut"], average: float = PUBLISHED["average"]):
        if isinstance(penalty, AdaptiveLambda) or not isinstance(getattr(penalty, "gamma", None), float):
            raise ConfigError(f"adaptive lambda needs a penalty with one float gamma, "
                              f"got gamma={getattr(penalty, 'gamma', None)!r}")
        self.target_error = check_number("target_error (D)", target_error, low=0.0)
        self.delta_lambda = check_number("delta_lambda", delta_lambda, low=0.0)
        self.cut = check_number("cut", cut, low=0.0, low_open=True)
        if self.cut >= 1:
            raise ConfigError(f"cut must lie in (0, 1), got {cut!r}")
        self.average = check_number("average", average, low=0.0)
        if self.average >= 1:
            raise ConfigError(f"average must lie in [0, 1), got {average!r}")
        self.penalty = penalty
        self.initial = penalty.gamma
        self.mean_error: float | None = None  # A_n
        self.previous: float | None = None    # E_{n-1}
        self._reset_epoch()

    @property
    def lam(self) -> float:
        return self.penalty.gamma

    def update(self, train_error_now: float, train_error_before: float) -> float:
        """Apply the rule to E_n = ``train_error_now`` and E_{n-1} = ``train_error_before``;
        returns the new lambda."""
        E, E_prev = float(train_error_now), float(train_error_before)
        A = E if self.mean_error is None else self.average * self.mean_error + (1 - self.average) * E
        self.mean_error = A
        lam = self.penalty.gamma
        if E < E_prev or E < self.target_error:
            lam = lam + self.delta_lambda
        elif E < A:
            lam = lam - self.delta_lambda
        else:
            lam = lam * self.cut
        self.penalty.gamma = max(lam, 0.0)
        return self.penalty.gamma

    # -- as a penalty: the wrapped one ---------------------------------------------------------

    def __call__(self, model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
        """The wrapped penalty at the current lambda."""
        return self.penalty(model, x)

    def bind(self, model: torch.nn.Module) -> "_KeptValues":
        """The wrapped penalty's ``bind(model)`` (or autograd where it has none); each value it
        gives is kept for the epoch's mean penalty (which :meth:`on_epoch_end` takes off the
        logged loss). Where the wrapped bound penalty gives ``gradients`` (closed form, for the
        co-state step's GEMMs), so does this one."""
        return _KeptValues(self, model)

    # -- as a callback ---------------------------------------------------------------------------

    def _reset_epoch(self) -> None:
        self._last, self._total, self._count = None, None, 0

    def on_train_begin(self, logs=None):
        self.penalty.gamma, self.mean_error, self.previous = self.initial, None, None
        self._reset_epoch()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_epoch()

    def on_batch_end(self, batch, logs=None):
        n = int((logs or {}).get("size", 1))
        if self._last is None:
            return
        P = self._last.detach().reshape(()).double()
        if self._total is None:
            self._total = P * n
        else:
            if self._total.device != P.device:  # resumed: the saved sum comes back on the CPU
                self._total = self._total.to(P.device)
            self._total.add_(P, alpha=n)
        self._count += n
        self._last = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "loss" not in logs:
            return
        mean_penalty = float(self._total) / self._count if self._count else 0.0
        E = float(logs["loss"]) - mean_penalty
        if self.previous is None:
            self.mean_error = E
        else:
            self.update(E, self.previous)
        self.previous = E
        logs["lambda"] = self.penalty.gamma

    def state_dict(self) -> dict:
        return {"gamma": self.penalty.gamma, "mean_error": self.mean_error, "previous": self.previous,
                "total": None if self._total is None else self._total.detach().cpu().clone(),
                "count": self._count}

    def load_state_dict(self, state: dict) -> None:
        self.penalty.gamma = float(state["gamma"])
        self.mean_error, self.previous = state["mean_error"], state["previous"]
        self._total, self._count, self._last = state["total"], int(state["count"]), None


class _KeptValues:
    """An :class:`AdaptiveLambda`'s penalty bound to a model: the wrapped one's bound form, each
    value it gives kept in ``owner._last``."""

    def __init__(self, owner: AdaptiveLambda, model: torch.nn.Module):
        self.owner, self.model = owner, model
        self.inner = owner.penalty.bind(model) if hasattr(owner.penalty, "bind") else None
        if hasattr(self.inner, "gradients"):
            self.targets, self.gradients = self.inner.targets, self._gradients

    def __call__(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if self.inner is not None:
            P = self.inner(x)
        else:  # a penalty without a closed form: by autograd
            with torch.enable_grad():
                P = self.owner.penalty(self.model, x)
                P.backward()
            P = P.detach()
        self.owner._last = P
        return P

    def _gradients(self, x: torch.Tensor | None = None):
        grads, v, scale = self.inner.gradients(x)
        self.owner._last = v * scale
        return grads, v, scale

    def note(self, P: torch.Tensor) -> None:
        """Keep P where a step computed it itself (the whole-step kernel adds the penalty in its
        one call: :mod:`deepnets.train.costate_whole`)."""
        self.owner._last = P

    def added(self) -> torch.Tensor | None:
        """The wrapped penalty's fused call that adds its gradients to the step's ``.grad``
        (:meth:`~deepnets.penalty_gradients.FlatPenalty.added`), its P kept as every value is."""
        P = self.inner.added()
        if P is not None:
            self.owner._last = P
        return P

    def __getattr__(self, name: str):
        """The rest of the wrapped bound penalty (``write_into``, ``adds``, ...), so that a step
        takes the same fast paths with the adaptive rule as without it."""
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)
