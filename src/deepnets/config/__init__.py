"""Typed experiment configs: the TOML file maps one-to-one onto the dataclasses of :mod:`.tables`.

An experiment file has four tables, ``[data]``, ``[model]``, ``[train]`` and ``[run]``, and two
switched ones, ``[tune]`` and ``[pretrain]``; each component of a run is a table of its own below them, with its own dataclass::

    [data]                   name, params, split, stratify, scale, scale_range, scale_target, seed, horizon,
                             labelled_fraction
    [model]                  kind, hidden, activation, output, init, options, seed
    [train]                  epochs, batch_size, shuffle, seed, input_noise, starts, diverge_factor
    [run]                    out, name, progress, plots, costates
  always in use (absent: their defaults)
    [train.loss]             name, coding, R
    [train.optimizer]        name, lr, momentum, weight_decay, layer_lr, options
    [train.checkpoint]       every_steps, every_epochs, keep, background, share
    [train.device]           name, precision, channels_last, compile, threads
  switched on by being present (absent: off)
    [data.view]              shape, resize_to, pad_to, shift
    [train.penalty]          name, options; adaptive, target_error, delta_lambda, cut, average
    [train.early_stopping]   monitor, patience, min_delta, restore_best
    [train.restarts]         window, min_fall, target, max
    [train.hints]            columns, weight
    [train.adversarial]      attack, epsilon, steps, alpha, weight, clip
    [train.pairs]            rule, k, far, lam, margin, batch_size
    [tune]                   space, objectives, heldout, folds, trials, timeout, sampler, pruner, ... (deepnets tune)
    [pretrain]               kind, layers, epochs, lr, batch_size, noise, noise_level, source, path, options

``params`` and the ``options`` tables hold the keywords of the loader, the model kind's builder,
the optimizer or the regularizer, checked by them.

A table that is always in use takes its defaults when absent. A switched component is off when
its table is absent and on, with its defaults filled in, when present (even empty); ``true`` /
``false`` in place of the table switch it on or off (``--set train.early_stopping=false``,
``--set pretrain=false``).
``--set train.early_stopping.patience=30`` overrides one value at any depth (and switches its
component on). An unknown key is an error that names it and suggests the nearest known key; a
key of the flat version-1 layout names its new place (:data:`MOVED`; :func:`upgrade_flat` reads
the ``config.toml`` of a run folder written in that layout); a value of the wrong type is an
error naming the key.

>>> cfg = experiment_from_dict({"model": {"hidden": [8]}, "train": {"epochs": 5, "early_stopping": {}}})
>>> cfg.model.hidden, cfg.train.epochs, cfg.train.early_stopping.patience, cfg.train.restarts
([8], 5, 10, None)
>>> experiment_from_dict({"train": {"early_stopping": {"patince": 5}}})
Traceback (most recent call last):
...
deepnets.errors.ConfigError: unknown key 'train.early_stopping.patince'; did you mean 'train.early_stopping.patience'?
>>> experiment_from_dict({"train": {"patience": 5}})
Traceback (most recent call last):
...
deepnets.errors.ConfigError: train.patience is now train.early_stopping.patience
"""

from .read import (MOVED, apply_overrides, experiment_from_dict, experiment_from_file, experiment_to_dict,
                   parse_override, upgrade_flat)
from .tables import (KEYS, AdversarialConfig, CheckpointConfig, DataConfig, DeviceConfig, EarlyStoppingConfig,
                     Experiment, HintsConfig, LossConfig, ModelConfig, OptimizerConfig, PairsConfig, PenaltyConfig,
                     PretrainConfig, RestartsConfig, RunConfig, TrainConfig, TuneConfig, ViewConfig)
from .toml_io import dumps_toml, load_toml, loads_toml

__all__ = [
    "Experiment", "DataConfig", "ViewConfig", "ModelConfig", "TrainConfig", "LossConfig", "OptimizerConfig",
    "PenaltyConfig", "EarlyStoppingConfig", "RestartsConfig", "HintsConfig", "AdversarialConfig", "PairsConfig",
    "CheckpointConfig", "DeviceConfig", "RunConfig", "TuneConfig", "PretrainConfig", "KEYS", "MOVED",
    "experiment_from_dict", "experiment_to_dict", "experiment_from_file", "parse_override", "apply_overrides",
    "upgrade_flat", "loads_toml", "load_toml", "dumps_toml",
]
