"""Typed experiment configs: the TOML file maps one-to-one onto these dataclasses.

An experiment file has up to four tables, ``[data]``, ``[model]``, ``[train]`` and ``[run]``;
``--set train.lr=0.01`` overrides one value. An unknown key is an error that names it and
suggests the nearest known key; a value of the wrong type is an error naming the key.

>>> cfg = experiment_from_dict({"model": {"hidden": [8]}, "train": {"epochs": 5}})
>>> cfg.model.hidden, cfg.train.epochs, cfg.data.name
([8], 5, 'digits')
>>> experiment_from_dict({"train": {"epoch": 5}})
Traceback (most recent call last):
...
deepnets.errors.ConfigError: unknown key 'train.epoch'; did you mean 'train.epochs'?
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field

from ._registry import suggest
from .errors import ConfigError


@dataclass
class DataConfig:
    name: str = "digits"             # a registry name (``deepnets datasets``), "csv" or "npz"
    params: dict = field(default_factory=dict)  # the loader's own parameters: path, target, n_bits, ...
    split: list = field(default_factory=lambda: [0.65, 0.10, 0.25])  # train/val/test, the lecture's default (series: by time)
    stratify: bool = True            # keep class proportions in every split
    scale: str = "standard"          # "standard" (zero mean, unit variance), "range", "global_range", or "none"
    scale_range: list = field(default_factory=lambda: [0.15, 0.85])  # for scale = "range" or "global_range"
    seed: int = 0                    # the split's seed
    shape: list = field(default_factory=list)      # after scaling, view each row as (C, L) or (C, H, W); empty: flat
    resize_to: list = field(default_factory=list)  # then resize (bilinear/linear) to (L,) or (H, W); empty: keep
    pad_to: list = field(default_factory=list)     # then zero-pad centrally to (L,) or (H, W); empty: keep
    shift: int = 0                   # training-only augmentation: move each image up to this many pixels at random
    hints: list = field(default_factory=list)  # feature columns taken out of the inputs and learnt as hint outputs (MLPs)
    horizon: int = 10                # series datasets: steps h of the iterated forecast in the report


@dataclass
class ModelConfig:
    kind: str = "mlp"                # "mlp", "xor_step" (hand-set threshold nets), "cnn1d", "elman"/"lstm"/"gru", or a zoo name
    hidden: list = field(default_factory=lambda: [100])  # hidden-layer widths
    activation: str = "tanh"         # hidden units: tanh, logistic, lecun_tanh, relu, leaky_relu, elu, ...
    output: str = "auto"             # linear, logistic, softmax, tanh; auto: softmax/logistic or linear (CNNs: logits)
    init: str = "torch"              # torch, lecun_uniform (+-2.4/fan_in), he_normal, xavier, xavier_bias
    variant: int = 1                 # which hand-set XOR network (kind = "xor_step")
    options: dict = field(default_factory=dict)  # keywords of a cnn1d/zoo builder: channels, kernel_size, batch_norm, keep, ...
    seed: int = 0                    # seed of the initial weights


@dataclass
class TrainConfig:
    loss: str = "auto"               # lms, lp, cross_entropy; auto: cross_entropy or lms by task
    lp_R: float = 1.5                # R of the lp loss
    coding: str = "auto"             # class targets for lms/lp: one_hot, pm1; auto: pm1 for tanh outputs
    optimizer: str = "adam"          # a name from deepnets.optim.OPTIMIZERS: adam, sgd, quickprop, conjugate_gradient, ...
    optimizer_options: dict = field(default_factory=dict)  # its own keyword arguments (kappa, mu, max_iter, ...)
    lr: float = 0.001                # learning rate eta (ignored by optimizers without one, e.g. scaled CG)
    momentum: float = 0.0            # sgd / rmsprop momentum
    weight_decay: float = 0.0        # the optimizer's L2 decay
    layer_lr: list = field(default_factory=list)  # one rate per layer (empty: lr everywhere)
    penalty: str = ""                # a regularizer added to E: weight_decay, weight_elimination, curvature_smoothing
    penalty_options: dict = field(default_factory=dict)  # its keyword arguments (gamma, w0, ...)
    epochs: int = 100
    batch_size: int = 32             # 1 = online; 0 = full batch
    shuffle: bool = True
    input_noise: float = 0.0         # variance of Gaussian noise added to training inputs
    patience: int = 0                # early stopping on `monitor` (0 = off)
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True
    restart_window: int = 0          # restart a start whose loss falls < restart_min_fall in this many epochs (0 = off)
    restart_min_fall: float = 0.01
    restart_target: float = 0.0      # no restart once the loss is at or below this
    max_restarts: int = 10
    starts: int = 1                  # multi-start: train this many nets (model.seed, +1, ...), keep the least val_loss
    hint_weight: float = 1.0         # gamma: E = E_main + gamma E_hint (LMS on standardised hint columns)
    seed: int = 0                    # shuffling and noise
    threads: int = 1                 # torch CPU threads (small nets run best on 1)
    device: str = ""                 # "", "cpu", "cuda", "cuda:1", ...; "" keeps the CPU
    precision: str = "fp32"          # fp32, or bf16 (autocast forward; float32 weights)
    channels_last: bool = False      # channels-last memory format for 4-D activations
    compile: bool = False            # torch.compile the forward pass
    checkpoint_every_steps: int = 0  # save a checkpoint every this many optimizer steps (0: not mid-epoch)
    checkpoint_every_epochs: int = 10  # save a checkpoint every this many epochs (0: only on SIGTERM/SIGINT)
    keep_checkpoints: int = 3        # the newest checkpoints kept in RUN/checkpoints


@dataclass
class RunConfig:
    out: str = "runs"                # parent folder of run folders
    name: str = ""                   # run folder name (default: experiment name + time)
    progress: bool = True            # live progress bar
    plots: bool = True               # learning curve and confusion matrix PNGs
    costates: bool = False           # plot the per-layer norms of the error signals lambda(l), delta(l)


@dataclass
class Experiment:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Experiment)}
_TYPES = {"DataConfig": DataConfig, "ModelConfig": ModelConfig, "TrainConfig": TrainConfig, "RunConfig": RunConfig}


def _section_class(name: str):
    return _TYPES[SECTIONS[name]] if isinstance(SECTIONS[name], str) else SECTIONS[name]


def _unknown(key: str, known: list[str]) -> ConfigError:
    hint = suggest(key, known) or f"; known keys: {', '.join(known)}"
    return ConfigError(f"unknown key {key!r}{hint}")


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
                raise ConfigError(f"{key} must be a finite number, got {value!r}")
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
    raise ConfigError(f"{key} must be {kind.__name__}, got {type(value).__name__} {value!r}")


def experiment_from_dict(d: dict) -> Experiment:
    """Build an :class:`Experiment` from nested dicts (a parsed TOML file), checking every key."""
    if not isinstance(d, dict):
        raise ConfigError(f"an experiment is a table of sections, got {type(d).__name__}")
    exp = Experiment()
    all_keys = [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(_section_class(s))]
    for section, values in d.items():
        if section not in SECTIONS:
            raise _unknown(section, list(SECTIONS))
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys, got {values!r}")
        obj = getattr(exp, section)
        names = [f.name for f in dataclasses.fields(obj)]
        for key, value in values.items():
            if key not in names:
                raise _unknown(f"{section}.{key}", all_keys)
            setattr(obj, key, _coerce(f"{section}.{key}", value, getattr(obj, key)))
    return exp


def experiment_to_dict(exp: Experiment) -> dict:
    return dataclasses.asdict(exp)


def experiment_from_file(path, overrides: typing.Iterable[str] = ()) -> Experiment:
    """Read an experiment TOML (or none: the defaults) and apply ``--set`` overrides."""
    d = load_toml(path) if path else {}
    return experiment_from_dict(apply_overrides(d, overrides))


def parse_override(text: str) -> tuple[list[str], object]:
    """``"train.lr=0.01"`` -> (["train", "lr"], 0.01); the value is read as a TOML value, or as a
    bare string when it is not one (``data.name=xor``)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. train.lr=0.01), got {text!r}")
    key, _, raw = text.partition("=")
    path = key.strip().split(".")
    if len(path) < 2:
        raise ConfigError(f"--set key must be section.key (e.g. train.lr), got {key!r}")
    try:
        value = loads_toml(f"v = {raw.strip()}")["v"]
    except ConfigError:
        value = raw.strip()
    return path, value


def apply_overrides(d: dict, overrides: typing.Iterable[str]) -> dict:
    """Apply ``--set`` overrides to the nested dict ``d`` (in place) and return it."""
    for text in overrides:
        path, value = parse_override(text)
        node = d
        for k in path[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {k!r} is not a table")
        node[path[-1]] = value
    return d


def loads_toml(text: str, source: str = "<string>") -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None


def load_toml(path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the experiment file ({e})") from None
    return loads_toml(text, str(path))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise ConfigError(f"cannot write {v!r} to TOML")


def dumps_toml(d: dict) -> str:
    """Write a two-level dict of sections to TOML (the resolved config of a run)."""
    lines = []
    for section, values in d.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)
