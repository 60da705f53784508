"""Adversarial training from an experiment: ``[train.adversarial]`` switched on by being present."""

import json

import pytest
import torch

from deepnets.cli import main
from deepnets.config import experiment_from_dict


@pytest.fixture
def weak_features_csv(tmp_path):
    """Two classes: x0 = ±(1 + u) separates them with margin 1; x1..x9 = ±0.3 + N(0, 0.3²) each weakly."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (300,), generator=g)
    s = (2 * y - 1).float()
    x = torch.cat([(s * (1 + 0.3 * torch.rand(300, generator=g))).unsqueeze(1),
                   s[:, None] * 0.3 + 0.3 * torch.randn(300, 9, generator=g)], 1)
    path = tmp_path / "weak.csv"
    rows = [",".join(f"{v:.5f}" for v in row) + f",{label}" for row, label in zip(x.tolist(), y.tolist())]
    path.write_text(",".join(f"x{j}" for j in range(10)) + ",label\n" + "\n".join(rows) + "\n")
    return path


def _train(tmp_path, csv, name, *more):
    return main(["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=csv",
                 "--set", f'data.params={{path="{csv}", target="label"}}', "--set", "data.scale=none",
                 "--set", "model.hidden=[8]", "--set", "train.epochs=20",
                 "--set", "train.batch_size=50", "--set", "train.optimizer.lr=0.02", "--set", "run.plots=false",
                 "--set", f"run.name={name}", *more])


def test_the_table_switches_adversarial_training_on():
    exp = experiment_from_dict({"train": {"adversarial": {"epsilon": 0.2, "attack": "pgd"}}})
    a = exp.train.adversarial
    assert (a.attack, a.epsilon, a.steps, a.alpha, a.weight, a.clip) == ("pgd", 0.2, 10, 0.0, 0.5, True)
    assert experiment_from_dict({}).train.adversarial is None


def test_an_adversarially_trained_run_resists_the_attack_a_plain_run_falls_to(tmp_path, weak_features_csv):
    attack = ["--set", "train.adversarial.epsilon=0.5", "--set", "train.adversarial.clip=false"]
    assert _train(tmp_path, weak_features_csv, "adv", *attack) == 0
    summary = json.loads((tmp_path / "adv" / "summary.json").read_text())["adversarial"]
    assert summary["attack"] == "fgsm" and summary["epsilon"] == 0.5
    assert summary["test_accuracy"] > 0.95 and summary["test_attacked_accuracy"] > 0.9
    last = json.loads((tmp_path / "adv" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "val_loss" in last and "val_accuracy" not in last  # the validation log holds the adversarial cost
    # weight 0 trains on the clean inputs alone: the same net then falls to the same attack
    assert _train(tmp_path, weak_features_csv, "plain", *attack, "--set", "train.adversarial.weight=0") == 0
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())["adversarial"]
    assert plain["test_accuracy"] > 0.95 and plain["test_attacked_accuracy"] < 0.5


@pytest.mark.parametrize("setting, message", [
    (["--set", "train.adversarial.epsilon=0"], "train.adversarial: adversarial training needs epsilon > 0"),
    (["--set", "train.adversarial.attack=pdg"], "train.adversarial: unknown attack 'pdg'"),
    (["--set", "train.adversarial.weight=2"], "train.adversarial: the attacked inputs' weight"),
    (["--set", "train.adversarial.epsilon=0.1", "--set", "train.optimizer.name=lm", "--set", "train.loss.name=lms"],
     "cannot train on the adversarial cost"),
    (["--set", "train.adversarial.epsilon=0.1", "--set", "train.early_stopping.monitor=val_accuracy"],
     "expected train.early_stopping.monitor = 'val_loss'"),
])
def test_mistakes_leave_no_run_folder(tmp_path, weak_features_csv, capsys, setting, message):
    assert _train(tmp_path, weak_features_csv, "bad", *setting) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()
