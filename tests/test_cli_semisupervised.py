"""Semi-supervised training from an experiment: ``data.labelled_fraction`` and ``[train.pairs]``."""

import json

import pytest
import torch

from deepnets.cli import main
from deepnets.config import experiment_from_dict
from deepnets.experiment.semisupervised_run import labelled_split


def test_the_labelled_share_is_stratified_disjoint_and_seeded():
    y = torch.arange(230) % 7  # classes of 33 or 32 examples
    lab, unl = labelled_split(230, y, 0.1, stratify=True, seed=3)
    assert sorted(torch.cat([lab, unl]).tolist()) == list(range(230))
    want = [max(1, round(0.1 * int((y == c).sum()))) for c in range(7)]
    assert torch.bincount(y[lab], minlength=7).tolist() == want
    assert torch.equal(lab, labelled_split(230, y, 0.1, stratify=True, seed=3)[0])
    assert not torch.equal(lab, labelled_split(230, y, 0.1, stratify=True, seed=4)[0])
    assert len(labelled_split(230, y.double(), 0.1, stratify=True, seed=3)[0]) == 23  # regression: one draw


def test_the_table_switches_pair_training_on():
    exp = experiment_from_dict({"data": {"labelled_fraction": 0.05}, "train": {"pairs": {"k": 3}}})
    p = exp.train.pairs
    assert (exp.data.labelled_fraction, p.rule, p.k, p.far, p.lam, p.margin, p.batch_size) == \
        (0.05, "neighbours", 3, 0.5, 1.0, 1.0, 128)
    assert experiment_from_dict({}).train.pairs is None and experiment_from_dict({}).data.labelled_fraction == 1.0


def _train(tmp_path, name, *more):
    return main(["train", "examples/digits_semisupervised.toml", "--out", str(tmp_path), "--no-progress",
                 "--set", "run.plots=false", "--set", f"run.name={name}", "--set", "train.epochs=3", *more])


def test_the_pairs_lift_the_net_above_its_labels_alone(tmp_path):
    assert _train(tmp_path, "semi") == 0
    semi = json.loads((tmp_path / "semi" / "summary.json").read_text())
    assert (semi["labelled"], semi["unlabelled"]) == (60, 1108)  # 5% of each class of the 1168 training digits
    last = json.loads((tmp_path / "semi" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "val_loss" in last and "val_accuracy" not in last  # the validation log holds ½ E on the labelled val part
    # the same net, optimiser and labelled steps (⌈5540 pairs / 128⌉ = 44 cycles x 3 epochs; 2 batches an epoch) on the labels alone
    assert _train(tmp_path, "sup", "--set", "train.pairs=false", "--set", "train.epochs=66") == 0
    sup = json.loads((tmp_path / "sup" / "summary.json").read_text())
    assert sup["labelled"] == 60
    acc = lambda s: s["metrics"]["test"]["accuracy"]  # noqa: E731
    assert acc(semi) > acc(sup) + 0.05  # here 0.855 against 0.759, (acc(semi), acc(sup))


@pytest.mark.parametrize("setting, message", [
    (["--set", "data.labelled_fraction=1.0"], "[train.pairs] trains on unlabelled examples: set data.labelled_fraction < 1"),
    (["--set", "data.labelled_fraction=0"], "data.labelled_fraction must be in (0, 1], got 0"),
    (["--set", "train.pairs.rule=knn"], "train.pairs.rule must be one of ['neighbours'], got 'knn'"),
    (["--set", "train.pairs.k=0"], "train.pairs: neighbour_pairs needs 1 <= k < U"),
    (["--set", "train.pairs.margin=-1"], "train.pairs: the contrastive margin M must be a finite number > 0"),
    (["--set", "train.adversarial.epsilon=0.1"], "cannot be combined with [train.adversarial]"),
])
def test_mistakes_are_one_line_errors_and_leave_no_run(tmp_path, capsys, setting, message):
    assert _train(tmp_path, "bad", *setting) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_tune_refuses_a_semisupervised_experiment_it_would_train_on_every_label(tmp_path, capsys):
    path = tmp_path / "e.toml"
    path.write_text('[data]\nlabelled_fraction = 0.1\n[train.pairs]\n'
                    '[tune.space]\n"train.optimizer.lr" = {low = 0.01, high = 0.1}\n')
    assert main(["tune", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "a tune trial trains on every training label" in err and "got 0.1 and a [train.pairs]" in err, err
    assert not (tmp_path / "out").exists()
