"""``model.kind = "elm"``: the extreme learning machine of a run, solved in closed form instead of trained.

The ELM (:class:`~deepnets.zoo.elm.ELM`; Huang, Zhu & Siew 2006) has K = ``model.hidden[0]`` random,
fixed units g(w_iᵀx + w_i0) with g = ``model.activation``, and output weights v minimising
½ Σ_n ‖zⁿ − ẑⁿ‖² + λ P(v): ridge (λ by generalised cross-validation unless ``model.options.lam``
gives it), ``penalty = "lasso"`` or ``"elastic_net"`` (``l1_ratio``; λ by 5-fold CV unless given).
Its outputs are linear and its cost the LMS on one-hot class rows (one 0/1 output for two
classes), so the run reports that loss and the argmax accuracy. The solve takes the place of
``fit``'s epochs: the run folder holds one "epoch", the solve, and the λ used
(``summary["elm_lambda"]``); ``deepnets evaluate`` and ``predict`` read it like any other run.

``[train]`` settings that only gradient training has (a penalty, early stopping, restarts, hints,
adversarial or semi-supervised training, input noise, several starts, a device) are refused with
the key that was set, not ignored.
"""

from __future__ import annotations

from ..config import Experiment
from ..config.tables import TrainConfig
from ..errors import ConfigError
from ..train.callbacks.base import History
from ..train.callbacks.loggers import JsonLinesLogger
from ..train.metrics import evaluate
from ..zoo.elm import ELM
from ..zoo.elm_solve import PENALTIES

#: model.options the ELM reads: the builder's ``scale``, the solve's ``penalty``, ``lam``, ``l1_ratio``, ``lambdas``
ELM_OPTIONS = ("scale", "penalty", "lam", "l1_ratio", "lambdas")
#: [train] keys whose non-default value means gradient training
_GRADIENT_ONLY = ("penalty", "early_stopping", "restarts", "hints", "adversarial", "pairs", "input_noise", "starts",
                  "freeze")


def check_elm(exp: Experiment) -> None:
    """ConfigError naming the first setting an ELM run cannot honour."""
    m, default = exp.model, TrainConfig()
    unknown = sorted(set(m.options) - set(ELM_OPTIONS))
    if unknown:
        raise ConfigError(f"model.options for elm: expected keys among {list(ELM_OPTIONS)}, got {unknown[0]!r}")
    if len(m.hidden) != 1 or not isinstance(m.hidden[0], int) or isinstance(m.hidden[0], bool) or m.hidden[0] < 1:
        raise ConfigError(f"model.kind = 'elm' has one hidden layer: model.hidden must be [K] with K a positive "
                          f"integer, got {m.hidden}")
    penalty = m.options.get("penalty", "ridge")
    if penalty not in PENALTIES:
        raise ConfigError(f"model.options.penalty must be one of {list(PENALTIES)}, got {penalty!r}")
    lam = m.options.get("lam")
    if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam > 0):
        raise ConfigError(f"model.options.lam must be a positive number (leave it out to choose λ), got {lam!r}")
    for key in _GRADIENT_ONLY:
        if getattr(exp.train, key) != getattr(default, key):
            raise ConfigError(f"model.kind = 'elm' is solved in closed form, not trained: remove train.{key}")
    if exp.data.labelled_fraction != 1:
        raise ConfigError("model.kind = 'elm' solves on every training label: remove data.labelled_fraction")
    if exp.train.device != default.device:
        raise ConfigError("model.kind = 'elm' is solved on the CPU: remove [train.device]")


def build_elm(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> ELM:
    """The ELM of ``[model]`` (the ``"elm"`` entry of :data:`~.build.MODEL_KINDS`)."""
    check_elm(exp)
    if shape is not None:
        raise ConfigError(f"model.kind = 'elm' reads flat rows; leave out [data.view], got data.view.shape = "
                          f"{exp.data.view.shape}")
    m = exp.model
    return ELM(n_inputs, m.hidden[0], n_outputs, activation=m.activation, scale=m.options.get("scale", 1.0),
               seed=m.seed)


def solve_elm(exp: Experiment, model: ELM, train, validation, loss, metrics, callbacks=()) -> History:
    """Solve ``model``'s output weights on ``train`` as ``model.options`` says; return the history of
    one "epoch": the training loss and metrics after the solve and, with a validation split, theirs.
    Of ``callbacks`` only the metrics logs (:class:`JsonLinesLogger`) see that epoch."""
    x, y = train
    if not y.is_floating_point() and model.output.out_features == 1:
        y = y.double()                      # two classes, one output: fitted to the 0/1 labels
    o = exp.model.options
    model.solve(x, y, lam=o.get("lam"), penalty=o.get("penalty", "ridge"), l1_ratio=o.get("l1_ratio", 0.5),
                lambdas=o.get("lambdas"))
    logs = evaluate(model, *train, loss=loss, metrics=metrics)
    if validation is not None:
        logs.update({f"val_{k}": v for k, v in evaluate(model, *validation, loss=loss, metrics=metrics).items()})
    history = History()
    for c in [history, *(c for c in callbacks if isinstance(c, JsonLinesLogger))]:
        c.on_train_begin({})
        c.on_epoch_end(0, dict(logs))
    return history


def elm_summary(model) -> dict:
    """``{"elm_lambda": λ}`` for a solved ELM (a list, one per output, for LASSO / elastic net); {} otherwise."""
    return {"elm_lambda": model.lam_} if isinstance(model, ELM) else {}
