"""The search space of ``[tune.space]``: any config key, a float or int range or a list of choices.

::

    [tune.space]
    "train.optimizer.lr" = {low = 1e-4, high = 1e-1, log = true}   # float, log scale
    "train.epochs" = {low = 10, high = 100, step = 10}                # int (both bounds integers)
    "model.hidden" = {choices = [[16], [32], [64, 64]]}              # categorical
    "model.activation" = {choices = ["tanh", "relu"]}

A range is an int range when both bounds are TOML integers and the key's default is not a float;
otherwise a float range. Choices that are lists or tables are handed to Optuna as their JSON text
(its categorical values must be scalars) and decoded back. Every key is checked against the
experiment's tables with its lowest value and every choice before a trial runs, so a misspelt key
or a value of the wrong type is a one-line :class:`~deepnets.errors.ConfigError`.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass

from ..config import Experiment, experiment_from_dict, experiment_to_dict
from ..config.read import shown
from ..errors import ConfigError

__all__ = ["Param", "parse_space", "suggest", "decoded", "with_params"]

_RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Param:
    """One searched key: ``kind`` "float", "int" or "choice"; a range or the choices."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    encoded: bool = False            # choices handed to Optuna as JSON text


def _default_of(base: dict, key: str):
    node = base
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _number(key: str, what: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"tune.space {key!r}: {what} must be a finite number, got {shown(v)}")
    return v


def _one(key: str, spec, base: dict) -> Param:
    if not isinstance(spec, dict):
        raise ConfigError(f"tune.space {key!r} must be a table {{low, high[, log, step]}} or {{choices = [...]}}, "
                          f"got {shown(spec)}")
    if key.split(".")[0] == "tune":
        raise ConfigError(f"tune.space {key!r}: the search's own settings cannot be searched")
    if "choices" in spec:
        extra = set(spec) - {"choices"}
        if extra:
            raise ConfigError(f"tune.space {key!r}: choices take no {', '.join(sorted(extra))}")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"tune.space {key!r}: choices must be a non-empty list, got {shown(choices)}")
        encoded = any(isinstance(c, (list, dict)) for c in choices)
        if len(set(map(json.dumps, choices))) != len(choices):
            raise ConfigError(f"tune.space {key!r}: choices repeat a value: {shown(choices)}")
        return Param(key, "choice", choices=tuple(choices), encoded=encoded)
    unknown = set(spec) - _RANGE_KEYS
    if unknown:
        raise ConfigError(f"tune.space {key!r}: unknown {', '.join(sorted(unknown))}; a range takes low, high, "
                          f"log, step and a categorical takes choices")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"tune.space {key!r} needs low and high (or choices), got {shown(spec)}")
    low, high = _number(key, "low", spec["low"]), _number(key, "high", spec["high"])
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"tune.space {key!r}: log must be true or false, got {shown(log)}")
    step = spec.get("step")
    if step is not None and (_number(key, "step", step) <= 0 or log):
        raise ConfigError(f"tune.space {key!r}: step must be > 0 and cannot go with log = true, got step {shown(step)}")
    if not low < high:
        raise ConfigError(f"tune.space {key!r}: low must be below high, got low {low!r}, high {high!r}")
    if log and low <= 0:
        raise ConfigError(f"tune.space {key!r}: a log scale needs low > 0, got low {low!r}")
    integral = isinstance(low, int) and isinstance(high, int) and (step is None or isinstance(step, int))
    kind = "int" if integral and not isinstance(_default_of(base, key), float) else "float"
    return Param(key, kind, low=low, high=high, log=log, step=step)


def parse_space(exp: Experiment) -> list[Param]:
    """The :class:`Param` list of ``exp.tune.space``, each key and value checked against the tables."""
    space = exp.tune.space if exp.tune is not None else {}
    if not space:
        raise ConfigError("[tune.space] is empty: name at least one key to search, e.g. "
                          "\"train.optimizer.lr\" = {low = 1e-4, high = 1e-1, log = true}")
    base = experiment_to_dict(exp)
    params = [_one(k, v, base) for k, v in space.items()]
    for p in params:  # every key reaches a table and takes its values
        values = p.choices if p.kind == "choice" else (p.low, p.high)
        for v in values:
            try:
                with_params(exp, {p.key: int(v) if p.kind == "int" else v})
            except ConfigError as e:
                raise ConfigError(f"tune.space {p.key!r} = {shown(v)}: {e}") from None
    return params


def suggest(trial, params: list[Param]) -> dict:
    """``{key: value}`` for one Optuna trial (choices decoded back from their JSON text)."""
    out = {}
    for p in params:
        if p.kind == "choice":
            labels = [json.dumps(c) for c in p.choices] if p.encoded else list(p.choices)
            v = trial.suggest_categorical(p.key, labels)
            out[p.key] = json.loads(v) if p.encoded else v
        elif p.kind == "int":
            out[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
        else:
            out[p.key] = trial.suggest_float(p.key, float(p.low), float(p.high), step=p.step, log=p.log)
    return out


def decoded(params: list[Param], values: dict) -> dict:
    """A trial's stored parameters (choices as Optuna holds them) as config values."""
    kinds = {p.key: p for p in params}
    return {k: json.loads(v) if k in kinds and kinds[k].encoded else v for k, v in values.items()}


def with_params(exp: Experiment, values: dict) -> Experiment:
    """``exp`` with each dotted key of ``values`` set (a switched table named is switched on), and
    no ``[tune]``: the experiment one trial trains."""
    d = experiment_to_dict(exp)
    d.pop("tune", None)
    for key, value in values.items():
        *parents, last = key.split(".")
        node = d
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                if child is not None and not isinstance(child, bool):
                    raise ConfigError(f"{part!r} of {key!r} is not a table")
                child = node[part] = {}
            node = child
        node[last] = copy.deepcopy(value)
    return experiment_from_dict(d)
