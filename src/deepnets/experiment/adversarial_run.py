"""``[train.adversarial]`` in a run: the adversarial training cost, and the attacked test accuracy.

The attack's input range (``clip = true``) is the training inputs' range, per feature, after
scaling: attacked inputs stay among values the inputs take. The run's summary gains
``"adversarial"``: the test accuracy, clean and under the training attack (classification).
"""

from __future__ import annotations

from ..adversarial import AdversarialLoss, adversarial_loss, attacked_accuracy
from ..config import Experiment
from ..errors import ConfigError
from .checks import check_batch_cost


def adversarial_cost(exp: Experiment, loss, train) -> AdversarialLoss:
    """E = (1 − w) E(x) + w E(x'), x' the ``[train.adversarial]`` attack (ConfigError naming the key).

    Args:
        exp: the experiment, with ``train.adversarial`` set.
        loss: the run's cost E (resolved for the model).
        train: the scaled training pair ``(x, y)``: its inputs' range bounds the attack.
    """
    a, t = exp.train.adversarial, exp.train
    if t.hints is not None:
        raise ConfigError("[train.adversarial] and [train.hints] cannot be combined: the attack needs the main "
                          "outputs, the hinted net trains on main + hint outputs; drop one of the two tables")
    check_batch_cost(exp, "adversarial", "the adversarial cost", "the adversarial cost")
    clip = (train[0].amin(0), train[0].amax(0)) if a.clip else None
    try:
        return adversarial_loss(loss, attack=a.attack, epsilon=a.epsilon, weight=a.weight, steps=a.steps,
                                alpha=a.alpha or None, clip=clip, seed=t.seed)
    except ConfigError as e:
        raise ConfigError(f"train.adversarial: {e}") from None


def adversarial_summary(cost, model, test) -> dict:
    """``{"adversarial": {...}}``: the attack, and the test accuracy clean and attacked (arg-max of
    C >= 2 outputs); ``{}`` without adversarial training, a test split or class labels."""
    if not isinstance(cost, AdversarialLoss):
        return {}
    out = {"attack": cost.attack, "epsilon": cost.epsilon, "weight": cost.weight}
    if cost.attack == "pgd":
        out.update(steps=cost.steps, alpha=cost.alpha)
    if test is not None and not test[1].is_floating_point():
        options = {"steps": cost.steps, "alpha": cost.alpha} if cost.attack == "pgd" else {}
        x, y = test
        out["test_accuracy"] = attacked_accuracy(model, x, y, 0.0, loss=cost.loss)
        out["test_attacked_accuracy"] = attacked_accuracy(model, x, y, cost.epsilon, attack=cost.attack,
                                                          loss=cost.loss, clip=cost.clip, **options)
    return {"adversarial": out}


__all__ = ["adversarial_cost", "adversarial_summary"]
