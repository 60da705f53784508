"""Experiment configs: nested TOML tables onto one dataclass per component, switched components,
--set at any depth, the flat version-1 keys naming their new places, and config.toml round trips."""

import glob
import os

import pytest

from deepnets.config import (KEYS, MOVED, EarlyStoppingConfig, Experiment, OptimizerConfig, apply_overrides,
                             dumps_toml, experiment_from_dict, experiment_from_file, experiment_to_dict, loads_toml,
                             upgrade_flat)
from deepnets.errors import ConfigError

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.toml")))


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_reads_and_its_resolved_toml_reads_back_identically(path):
    exp = experiment_from_file(path)
    text = dumps_toml(experiment_to_dict(exp))
    again = experiment_from_dict(loads_toml(text))
    assert again == exp
    assert dumps_toml(experiment_to_dict(again)) == text


def test_the_defaults_round_trip_and_switched_components_are_left_out():
    d = experiment_to_dict(Experiment())
    assert set(d["train"]) == {"epochs", "batch_size", "shuffle", "seed", "input_noise", "starts", "freeze", "diverge_factor",
                               "loss", "optimizer", "checkpoint", "device"}
    assert "view" not in d["data"]
    text = dumps_toml(d)
    assert "[train.optimizer]" in text and "[train.early_stopping]" not in text
    assert experiment_from_dict(loads_toml(text)) == Experiment()


def test_a_component_is_off_when_absent_and_on_with_its_defaults_when_present():
    assert Experiment().train.early_stopping is None and Experiment().train.restarts is None
    exp = experiment_from_dict({"train": {"early_stopping": {}, "restarts": {"window": 50}}})
    assert exp.train.early_stopping == EarlyStoppingConfig()
    assert exp.train.restarts.window == 50 and exp.train.restarts.max == 10
    # true / false in place of the table
    assert experiment_from_dict({"train": {"penalty": True}}).train.penalty.name == "weight_decay"
    assert experiment_from_dict({"train": {"early_stopping": False}}).train.early_stopping is None
    # a component that is always in use takes its defaults when absent, and cannot be switched off
    assert experiment_from_dict({}).train.optimizer == OptimizerConfig()
    with pytest.raises(ConfigError, match="train.optimizer must be a table, got bool"):
        experiment_from_dict({"train": {"optimizer": False}})


def test_set_reaches_any_depth_and_switches_a_component_on():
    d = loads_toml('[train]\nearly_stopping = false\n[train.optimizer]\nname = "sgd"\n')
    exp = experiment_from_dict(apply_overrides(d, ["train.early_stopping.patience=30",
                                                   "train.optimizer.options.nesterov=true",
                                                   "train.penalty.options={gamma=0.01}"]))
    assert exp.train.early_stopping.patience == 30 and exp.train.early_stopping.monitor == "val_loss"
    assert exp.train.optimizer.name == "sgd" and exp.train.optimizer.options == {"nesterov": True}
    assert exp.train.penalty.name == "weight_decay" and exp.train.penalty.options == {"gamma": 0.01}
    off = experiment_from_dict(apply_overrides(loads_toml("[train.early_stopping]\npatience = 5\n"),
                                               ["train.early_stopping=false"]))
    assert off.train.early_stopping is None


@pytest.mark.parametrize("old,new", sorted(MOVED.items()))
def test_every_flat_key_of_version_1_names_its_new_place(old, new):
    section, key = old.split(".")
    with pytest.raises(ConfigError) as e:
        experiment_from_dict({section: {key: 1}})
    assert str(e.value) == f"{old} is now {new}"
    assert new in KEYS or new == "model.options.variant"  # a keyword of the xor_step builder


@pytest.mark.parametrize("d,message", [
    ({"train": {"epoch": 3}}, "unknown key 'train.epoch'; did you mean 'train.epochs'?"),
    ({"train": {"early_stopping": {"patince": 3}}},
     "unknown key 'train.early_stopping.patince'; did you mean 'train.early_stopping.patience'?"),
    ({"train": {"checkpoint": {"zzz": 1}}},
     "unknown key 'train.checkpoint.zzz'; the keys of [train.checkpoint] are every_steps, every_epochs, keep, background"),
    ({"trian": {}}, "unknown key 'trian'; did you mean 'train'?"),
    ({"train": {"optimizer": {"lr": "fast"}}}, "train.optimizer.lr must be float, got str 'fast'"),
    ({"train": {"early_stopping": 30}}, "train.early_stopping must be a table, or true/false"),
    ({"train": {"restarts": {"max": 1.5}}}, "train.restarts.max must be int"),
    ({"data": {"view": {"shift": True}}}, "data.view.shift must be int"),
])
def test_mistakes_name_the_key(d, message):
    with pytest.raises(ConfigError) as e:
        experiment_from_dict(d)
    assert message in str(e.value)


def test_free_tables_and_awkward_strings_survive_the_round_trip():
    exp = experiment_from_dict({
        "data": {"name": "csv", "params": {"path": 'C:\\data\\"x".csv', "target": "y\tz", "odd key": 1,
                                           "nested": {"a": [1, 2]}}},
        "model": {"options": {}}, "run": {"name": "line\nbreak"}})
    text = dumps_toml(experiment_to_dict(exp))
    assert "[data.params]" in text and "[data.params.nested]" in text and "options = {}" in text
    assert experiment_from_dict(loads_toml(text)) == exp


def test_to_dict_copies_the_values():
    exp = experiment_from_dict({"data": {"params": {"features": ["a"]}}})
    d = experiment_to_dict(exp)
    d["data"]["params"]["features"].append("b")
    assert exp.data.params == {"features": ["a"]}


# the config.toml that version 1 wrote for a run of examples/xor.toml
FLAT_XOR = """
[data]
name = "xor"
params = {  }
split = [1.0, 0.0, 0.0]
stratify = true
scale = "none"
scale_range = [0.15, 0.85]
seed = 0
shape = []
resize_to = []
pad_to = []
shift = 0
hints = []
horizon = 10

[model]
kind = "mlp"
hidden = [2]
activation = "logistic"
output = "logistic"
init = "lecun_uniform"
variant = 1
options = {  }
seed = 0

[train]
loss = "lms"
lp_R = 1.5
coding = "auto"
optimizer = "sgd"
optimizer_options = {  }
lr = 2.0
momentum = 0.9
weight_decay = 0.0
layer_lr = []
penalty = ""
penalty_options = {  }
epochs = 3000
batch_size = 0
shuffle = true
input_noise = 0.0
patience = 0
min_delta = 0.0
monitor = "val_loss"
restore_best = true
restart_window = 300
restart_min_fall = 0.05
restart_target = 0.01
max_restarts = 10
starts = 1
hint_weight = 1.0
seed = 0
threads = 1
device = ""
precision = "fp32"
channels_last = false
compile = false
checkpoint_every_steps = 0
checkpoint_every_epochs = 10
keep_checkpoints = 3

[run]
out = "runs"
name = ""
progress = true
plots = true
costates = false
"""


def test_a_run_folder_of_the_flat_layout_reads_as_the_same_experiment(tmp_path):
    from deepnets.experiment.folder import read_experiment

    want = experiment_from_file(os.path.join(os.path.dirname(__file__), "..", "examples", "xor.toml"))
    want.model.output = "logistic"
    assert experiment_from_dict(upgrade_flat(loads_toml(FLAT_XOR))) == want
    assert want.train.restarts.window == 300 and want.train.early_stopping is None and want.data.view is None
    (tmp_path / "config.toml").write_text(FLAT_XOR)
    old = read_experiment(tmp_path)
    assert old.data.scale_target is False  # a run folder from before data.scale_target trained on raw targets
    old.data.scale_target = True
    assert old == want
    # a nested config passes through unchanged; an experiment file in the flat layout is refused
    d = experiment_to_dict(want)
    assert upgrade_flat(d) is d
    with pytest.raises(ConfigError, match="data.shape is now data.view.shape"):
        experiment_from_dict(loads_toml(FLAT_XOR))
