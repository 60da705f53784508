"""From parsed TOML to an :class:`~deepnets.config.tables.Experiment` and back, checking every
key; ``--set`` overrides; the keys of the flat version-1 layout and how to read a run folder
written in it."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import typing

from ..data.limits import LIMITS, checked, raise_hint
from ..errors import ConfigError
from .tables import KEYS, TABLES, Experiment
from .toml_io import load_toml, loads_toml


#: the keys of the flat version-1 layout -> where they are now
MOVED = {
    "data.shape": "data.view.shape", "data.resize_to": "data.view.resize_to", "data.pad_to": "data.view.pad_to",
    "data.shift": "data.view.shift", "data.hints": "train.hints.columns", "model.variant": "model.options.variant",
    "train.loss": "train.loss.name", "train.coding": "train.loss.coding", "train.lp_R": "train.loss.R",
    "train.optimizer": "train.optimizer.name", "train.optimizer_options": "train.optimizer.options",
    "train.lr": "train.optimizer.lr", "train.momentum": "train.optimizer.momentum",
    "train.weight_decay": "train.optimizer.weight_decay", "train.layer_lr": "train.optimizer.layer_lr",
    "train.penalty": "train.penalty.name", "train.penalty_options": "train.penalty.options",
    "train.monitor": "train.early_stopping.monitor", "train.patience": "train.early_stopping.patience",
    "train.min_delta": "train.early_stopping.min_delta", "train.restore_best": "train.early_stopping.restore_best",
    "train.restart_window": "train.restarts.window", "train.restart_min_fall": "train.restarts.min_fall",
    "train.restart_target": "train.restarts.target", "train.max_restarts": "train.restarts.max",
    "train.hint_weight": "train.hints.weight",
    "train.checkpoint_every_steps": "train.checkpoint.every_steps",
    "train.checkpoint_every_epochs": "train.checkpoint.every_epochs", "train.keep_checkpoints": "train.checkpoint.keep",
    "train.device": "train.device.name", "train.precision": "train.device.precision",
    "train.channels_last": "train.device.channels_last", "train.compile": "train.device.compile",
    "train.threads": "train.device.threads",
}


#: a switched component of the flat layout was on when this key held another value than this one
_FLAT_SWITCHES = {"train.early_stopping": ("train.patience", 0), "train.restarts": ("train.restart_window", 0),
                  "train.penalty": ("train.penalty", ""), "train.hints": ("data.hints", []),
                  "data.view": ("data.shape", [])}


def upgrade_flat(d: dict) -> dict:
    """A config in the flat version-1 layout (the ``config.toml`` of a run folder written before
    the component tables) in the nested layout; a nested config comes back unchanged. A switched
    component is kept only where the flat layout had it on (``patience > 0``, ``restart_window >
    0``, a ``penalty`` name, ``data.hints``, ``data.shape``)."""
    flat = {f"{s}.{k}": v for s, t in d.items() if isinstance(t, dict)
            for k, v in t.items() if f"{s}.{k}" in MOVED and not (f"{s}.{k}" in TABLES and isinstance(v, dict))}
    if not flat:
        return d
    out = copy.deepcopy(d)
    for key in flat:
        section, k = key.split(".")
        del out[section][k]
    off = [table for table, (key, value) in _FLAT_SWITCHES.items() if flat.get(key, value) == value]
    for key, value in flat.items():
        new = MOVED[key]
        if any(new.startswith(table + ".") for table in off):
            continue
        if new == "model.options.variant" and out.get("model", {}).get("kind") != "xor_step":
            continue
        *parents, last = new.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def shown(value, width: int = 60) -> str:
    """``repr(value)``, cut to ``width`` characters (a message names a value, it does not echo it)."""
    if isinstance(value, (str, bytes)) and len(value) > width:
        return f"{value[:width]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= width + 2 else f"{text[:width]}... ({len(text)} characters)"


#: a run folder's name: bytes, leaving room under the file system's 255 for "-2", "-3", ...
RUN_NAME_MAX_BYTES = 200


def check_run_name(name: str) -> str:
    """``name`` if it can be a run folder's name inside ``run.out`` (ConfigError otherwise): no
    path separators, not ``.``/``..``, no NUL, at most 200 bytes of UTF-8."""
    if any(c in name for c in ("/", "\\", "\0")) or name in (".", "..") or (os.altsep and os.altsep in name):
        raise ConfigError(f"run.name must be one folder name inside run.out, got {shown(name)}; "
                          f"put the parent folder in run.out")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > RUN_NAME_MAX_BYTES:
        raise ConfigError(f"run.name is {size} bytes long; a run folder's name may have at most "
                          f"{RUN_NAME_MAX_BYTES} (file systems allow 255, less room for -2, -3, ...)")
    return name


def _coerce(key: str, value, default):
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise ConfigError(f"{key} must be a finite number, got {shown(value)}")
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is list:
        if isinstance(value, list):
            return value
    elif kind is dict:
        if isinstance(value, dict):
            return value
    raise ConfigError(f"{key} must be {kind.__name__}, got {type(value).__name__} {shown(value)}")


def _component(key: str, value, f: dataclasses.Field):
    """The value of a component field from its table, or from true/false for a switched one."""
    cls, switch = f.metadata["table"], f.metadata["switch"]
    if isinstance(value, dict):
        return _from_table(cls, value, key)
    if switch and isinstance(value, bool):
        return cls() if value else None
    if key in MOVED and not isinstance(value, bool):  # the old flat key of the same name (train.loss = "lms")
        raise ConfigError(f"{key} is now {MOVED[key]}")
    what = "a table, or true/false to switch it on/off" if switch else "a table"
    raise ConfigError(f"{key} must be {what}, got {type(value).__name__} {shown(value)}")


def _nearest(path: str, key: str, fields) -> str:
    """"; did you mean ...?" for the nearest key of the same table, else for a key of that name
    anywhere (``train.optimizer.patience``: ``train.early_stopping.patience``), else the table's keys."""
    prefix = f"{path}." if path else ""
    near = difflib.get_close_matches(key, list(fields), n=1)
    if near:
        return f"; did you mean {prefix + near[0]!r}?"
    names = {k.rsplit(".", 1)[-1]: k for k in reversed(KEYS)}  # the first key of each name
    near = difflib.get_close_matches(key, list(names), n=1)
    if near:
        return f"; did you mean {names[near[0]]!r}?"
    return f"; the keys of [{path}] are {', '.join(fields)}" if path else f"; the tables are {', '.join(fields)}"


def _from_table(cls, values, path: str):
    if not isinstance(values, dict):
        raise ConfigError(f"[{path}] must be a table of keys, got {shown(values)}")
    obj = cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        f = fields.get(key)
        if f is None:
            if where in MOVED:
                raise ConfigError(f"{where} is now {MOVED[where]}")
            raise ConfigError(f"unknown key {shown(where)}{_nearest(path, key, fields)}")
        if "table" in f.metadata:
            setattr(obj, key, _component(where, value, f))
        else:
            setattr(obj, key, _coerce(where, value, getattr(obj, key)))
    return obj


def experiment_from_dict(d: dict) -> Experiment:
    """Build an :class:`Experiment` from nested dicts (a parsed TOML file), checking every key."""
    if not isinstance(d, dict):
        raise ConfigError(f"an experiment is a table of sections, got {type(d).__name__}")
    exp = _from_table(Experiment, d, "")
    check_run_name(exp.run.name)
    checked(exp.data.limits)
    return exp


def experiment_to_dict(exp) -> dict:
    """Nested dicts of an experiment (or any of its tables); switched-off components left out."""
    out = {}
    for f in dataclasses.fields(exp):
        v = getattr(exp, f.name)
        if "table" in f.metadata:
            if v is not None:
                out[f.name] = experiment_to_dict(v)
        else:
            out[f.name] = copy.deepcopy(v)
    return out


def experiment_from_file(path, overrides: typing.Iterable[str] = ()) -> Experiment:
    """Read an experiment TOML (or none: the defaults) and apply ``--set`` overrides.

    A relative ``data.params.path`` in the file is relative to the file's folder (the TOML and its
    CSV travel together); one given by ``--set`` is relative to the working directory.
    """
    d = load_toml(path) if path else {}
    params = d.get("data", {}).get("params") if isinstance(d.get("data"), dict) else None
    if isinstance(params, dict) and isinstance(params.get("path"), str) and not os.path.isabs(params["path"]):
        params["path"] = os.path.join(os.path.dirname(os.path.abspath(path)), params["path"])
    return experiment_from_dict(apply_overrides(d, overrides))


def parse_override(text: str) -> tuple[list[str], object]:
    """``"train.optimizer.lr=0.01"`` -> (["train", "optimizer", "lr"], 0.01); the value is read as
    a TOML value, or as a bare string when it is not one (``data.name=xor``)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. train.epochs=50), got {text!r}")
    key, _, raw = text.partition("=")
    if len(raw) > LIMITS.toml_string_chars:
        raise ConfigError(f"--set {shown(key)}: a value of {len(raw)} characters, above the cap of "
                          f"{LIMITS.toml_string_chars} (toml_string_chars; {raise_hint('toml_string_chars')})")
    path = key.strip().split(".")
    switches = [f.name for f in dataclasses.fields(Experiment) if f.metadata.get("switch")]  # [tune], [pretrain]
    if (len(path) < 2 and path[0] not in switches) or not all(path):
        raise ConfigError(f"--set key must be section.key (e.g. train.epochs or train.optimizer.lr) or a switched "
                          f"section ({', '.join(switches)}), got {key!r}")
    try:
        value = loads_toml(f"v = {raw.strip()}")["v"]
    except ConfigError:
        value = raw.strip()
    return path, value


def apply_overrides(d: dict, overrides: typing.Iterable[str]) -> dict:
    """Apply ``--set`` overrides to the nested dict ``d`` (in place) and return it. Setting a key
    inside a component that the file switched on or off with true/false switches it on."""
    for text in overrides:
        path, value = parse_override(text)
        node = d
        for k in path[:-1]:
            if isinstance(node.get(k), bool):  # train.early_stopping = false, then a key of it: on
                node[k] = {}
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {k!r} is not a table")
        node[path[-1]] = value
    return d
