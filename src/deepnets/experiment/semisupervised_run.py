"""``data.labelled_fraction`` and ``[train.pairs]`` in a run: fewer labels, and semi-supervised training.

With ``data.labelled_fraction`` = f < 1 only a (stratified, ``data.seed``) share f of the training
part keeps its labels. Without ``[train.pairs]`` the net trains on that share alone (the
supervised-only baseline); with it, the rest enters unlabelled through the lecture's pair loss
(:mod:`deepnets.train.semisupervised`): J(W) = ½(Σ_L E + λ Σ_U L(pair)), pairs by the rule
"the k nearest neighbours in input space are similar, the farthest ones dissimilar". The run's
summary gains ``"labelled"`` and ``"unlabelled"`` (counts); its train metrics are on the whole
training part, labels that training never saw included.
"""

from __future__ import annotations

import torch

from ..config import Experiment
from ..errors import ConfigError
from ..train.semisupervised import SemiSupervisedBatches, SemiSupervisedLoss, neighbour_pairs
from .checks import check_batch_cost

RULES = ("neighbours",)


def labelled_split(n: int, y, fraction: float, *, stratify: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(labelled, unlabelled)`` indices into ``n`` examples: a share ``fraction`` keeps its label,
    per class (round(f n_c), at least one) when ``stratify`` and ``y`` holds class labels."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"data.labelled_fraction must be in (0, 1], got {fraction}")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g)
    if stratify and not y.is_floating_point():
        groups = [order[y[order] == c] for c in torch.unique(y)]
        keep = torch.cat([grp[:max(1, round(fraction * len(grp)))] for grp in groups])
    else:
        keep = order[:max(1, round(fraction * n))]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[keep] = True
    return mask.nonzero().flatten(), (~mask).nonzero().flatten()


def semisupervised_training(exp: Experiment, loss, train) -> tuple[object, object, dict]:
    """``(data, loss, counts)`` for ``fit``: the labelled share of ``train`` = (x, z) and ``loss``,
    or, with ``[train.pairs]``, a :class:`SemiSupervisedBatches` and its :class:`SemiSupervisedLoss`."""
    t, p = exp.train, exp.train.pairs
    for other in ("hints", "adversarial"):
        if getattr(t, other) is not None:
            raise ConfigError(f"data.labelled_fraction < 1 and [train.pairs] cannot be combined with "
                              f"[train.{other}]: drop one of them")
    x, y = train
    lab, unl = labelled_split(len(x), y, exp.data.labelled_fraction, stratify=exp.data.stratify, seed=exp.data.seed)
    counts = {"labelled": len(lab), "unlabelled": len(unl)}
    if p is None:
        return (x[lab], y[lab]), loss, counts
    if not len(unl):
        raise ConfigError(f"[train.pairs] trains on unlabelled examples: set data.labelled_fraction < 1, "
                          f"got {exp.data.labelled_fraction} ({len(lab)} of {len(x)} labelled)")
    if p.rule not in RULES:
        raise ConfigError(f"train.pairs.rule must be one of {list(RULES)}, got {p.rule!r}")
    check_batch_cost(exp, "pairs", "the pair loss", "½ E on the validation part")
    try:
        pairs = neighbour_pairs(x[unl], k=p.k, far=p.far, generator=torch.Generator().manual_seed(t.seed))
        batch = t.batch_size if t.batch_size > 0 else len(lab)
        source = SemiSupervisedBatches(x[lab], y[lab], x[unl], pairs, batch_size=batch, pair_batch_size=p.batch_size)
        if t.device.name:  # fit takes a batch source as it is: its examples go to the run's device here
            source.to(t.device.name)
        return source, SemiSupervisedLoss(lam=p.lam, margin=p.margin, supervised=loss), counts
    except ConfigError as e:
        raise ConfigError(f"train.pairs: {e}") from None
