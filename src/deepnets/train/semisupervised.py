"""Semi-supervised learning of MLPs (the lecture's slide): L labelled examples, U unlabelled ones
with side information S_nm, and the objective

    J(W) = ½ ( Σ_{n∈L} (zⁿ − ẑⁿ)² + λ Σ_{n,m∈U} L(ẑ(xⁿ, W), ẑ(xᵐ, W), S_nm) ),

L the pair loss of :class:`~deepnets.losses.ContrastiveLoss`, "optimised via stochastic gradient by
successively sampling from labelled data, unlabelled data with S_nm = 1 and unlabelled data with
S_nm = 0". Here that is :func:`deepnets.fit` with

- :class:`PairSet`: the similar and dissimilar index pairs into the unlabelled inputs, from the
  user's array of pairs (:meth:`PairSet.from_array`) or from the rule "the k nearest neighbours
  in input space are similar, points far apart in input space are dissimilar"
  (:func:`neighbour_pairs`);
- :class:`SemiSupervisedBatches`: a resumable batch source whose steps cycle labelled batch,
  similar-pair batch, dissimilar-pair batch (the order is drawn from ``fit``'s seeded generator
  and checkpointed by the loop, so a resumed run is the uninterrupted one);
- :class:`SemiSupervisedLoss`: the batch loss; a labelled step costs ½ E_sup (the mean of the
  library's cost, ½‖z − ẑ‖² for ``"lms"``), a pair step ½ λ times the mean pair loss.

The unlabelled part never sees a label: the source is given the labelled (x, z) and the unlabelled
x only. Reference: Weston, Ratle & Collobert 2008, "Deep learning via semi-supervised embedding"
(ICML); Hadsell, Chopra & LeCun 2006 (the contrastive pair loss).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..losses import ContrastiveLoss, get_loss
from .batches import BatchLoss

#: what a step of :class:`SemiSupervisedBatches` holds (its third tensor)
LABELLED, SIMILAR, DISSIMILAR = 0, 1, 2


def _pair_tensor(pairs, n: int, what: str) -> Tensor:
    t = torch.as_tensor(pairs)
    if t.numel() == 0:
        return torch.empty(0, 2, dtype=torch.long)
    if t.dim() != 2 or t.shape[1] != 2 or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise DataError(f"{what} pairs must be an integer array of shape (P, 2), got {t.dtype} of shape {tuple(t.shape)}")
    t = t.long()
    if int(t.min()) < 0 or int(t.max()) >= n:
        raise DataError(f"{what} pairs index the {n} unlabelled examples: expected 0..{n - 1}, got {int(t.min())}..{int(t.max())}")
    return t


class PairSet:
    """Index pairs (n, m) into the U unlabelled inputs: ``similar`` (S_nm = 1) and ``dissimilar``
    (S_nm = 0), each a (P, 2) long tensor. Both must be non-empty."""

    def __init__(self, similar, dissimilar, n_unlabelled: int):
        self.n = int(n_unlabelled)
        self.similar = _pair_tensor(similar, self.n, "similar")
        self.dissimilar = _pair_tensor(dissimilar, self.n, "dissimilar")
        if not len(self.similar) or not len(self.dissimilar):
            raise DataError(f"semi-supervised training needs similar and dissimilar pairs, got "
                            f"{len(self.similar)} similar and {len(self.dissimilar)} dissimilar")

    @classmethod
    def from_array(cls, pairs, s, n_unlabelled: int) -> "PairSet":
        """From a user's (P, 2) array of index pairs and their S_nm (P,) in {0, 1}."""
        s = torch.as_tensor(s)
        p = _pair_tensor(pairs, n_unlabelled, "the")
        if s.shape != p.shape[:1] or not bool(((s == 0) | (s == 1)).all()):
            raise DataError(f"S_nm must be one 0 or 1 per pair ({len(p)}), got shape {tuple(s.shape)} "
                            f"with values {torch.unique(s).tolist()[:5]}")
        return cls(p[s == 1], p[s == 0], n_unlabelled)

    def __repr__(self):
        return f"PairSet({len(self.similar)} similar, {len(self.dissimilar)} dissimilar, U={self.n})"


def neighbour_pairs(x: Tensor, k: int = 5, *, far: float = 0.5, per_point: int | None = None,
                    generator: torch.Generator | None = None) -> PairSet:
    """The rule "neighbours in input space are similar": each unlabelled xⁿ with its ``k`` nearest
    neighbours (Euclidean) is a similar pair; ``per_point`` (default ``k``) dissimilar partners of
    xⁿ are drawn at random among the fraction ``far`` of the points farthest from it.

    Args:
        x: the unlabelled inputs, (U, ...) with U > k.
        k: neighbours per point. Default 5.
        far: the farthest fraction of points a dissimilar partner is drawn from, in (0, 1). Default 0.5.
        per_point: dissimilar pairs per point. Default None: ``k``.
        generator: draws the dissimilar partners. Default None: torch's global RNG.
    """
    flat = x.reshape(x.shape[0], -1).double()
    u = flat.shape[0]
    if not 1 <= k < u:
        raise ConfigError(f"neighbour_pairs needs 1 <= k < U = {u}, got k={k}")
    if not 0 < far < 1:
        raise ConfigError(f"neighbour_pairs' far must be a fraction in (0, 1), got {far}")
    per_point = k if per_point is None else int(per_point)
    d = torch.cdist(flat, flat)
    d.fill_diagonal_(-1.0)  # each point is its own nearest: drop it from its neighbours
    ranked = d.argsort(dim=1)
    rows = torch.arange(u).repeat_interleave(k)
    similar = torch.stack([rows, ranked[:, 1:k + 1].reshape(-1)], 1)
    n_far = max(1, int(far * (u - 1)))
    pick = torch.randint(n_far, (u, per_point), generator=generator)
    partners = ranked[:, u - n_far:].gather(1, pick)
    dissimilar = torch.stack([torch.arange(u).repeat_interleave(per_point), partners.reshape(-1)], 1)
    return PairSet(similar, dissimilar, u)


def _cover(n: int, need: int, g: torch.Generator | None) -> Tensor:
    """Permutations of range(n), fresh ones concatenated until ``need`` indices are there."""
    reps = max(1, math.ceil(need / n))
    return torch.cat([torch.randperm(n, generator=g) for _ in range(reps)])[:need]


class SemiSupervisedBatches:
    """The batch source of semi-supervised training: steps cycle a labelled batch (x_L, z_L),
    a batch of similar pairs (xⁿ, xᵐ) and a batch of dissimilar pairs, each a tuple of three
    tensors whose last is the step's kind (:data:`LABELLED`, :data:`SIMILAR`, :data:`DISSIMILAR`).

    An epoch is ``cycles`` such cycles (default: enough for one pass over the similar pairs);
    each of the three streams runs through fresh permutations of its own examples (wrapping
    around as often as the epoch needs). Use with :class:`SemiSupervisedLoss`.

    Args:
        x_labelled, z_labelled: the L labelled inputs and their targets (labels or vectors).
        x_unlabelled: the U unlabelled inputs (no targets: none are ever taken).
        pairs: a :class:`PairSet` into ``x_unlabelled``.
        batch_size: labelled examples per labelled step. Default 32 (at most L).
        pair_batch_size: pairs per pair step. Default 64.
        cycles: labelled/similar/dissimilar cycles per epoch. Default None: ⌈P_similar / pair_batch_size⌉.
    """

    def __init__(self, x_labelled: Tensor, z_labelled: Tensor, x_unlabelled: Tensor, pairs: PairSet, *,
                 batch_size: int = 32, pair_batch_size: int = 64, cycles: int | None = None):
        if not isinstance(pairs, PairSet):
            raise ConfigError(f"pairs must be a PairSet (PairSet.from_array or neighbour_pairs), got {type(pairs).__name__}")
        if x_labelled.shape[0] != z_labelled.shape[0] or x_labelled.shape[0] == 0:
            raise DataError(f"the labelled inputs and targets need one non-zero length, got {x_labelled.shape[0]} and {z_labelled.shape[0]}")
        if x_unlabelled.shape[0] != pairs.n:
            raise DataError(f"the pairs index {pairs.n} unlabelled examples, got {x_unlabelled.shape[0]} unlabelled inputs")
        if x_unlabelled.shape[1:] != x_labelled.shape[1:]:
            raise DataError(f"labelled and unlabelled inputs need one shape per example, got "
                            f"{tuple(x_labelled.shape[1:])} and {tuple(x_unlabelled.shape[1:])}")
        if batch_size < 1 or pair_batch_size < 1 or (cycles is not None and cycles < 1):
            raise ConfigError(f"batch sizes and cycles must be >= 1, got {batch_size}, {pair_batch_size}, {cycles}")
        self.x_l, self.z_l, self.x_u, self.pairs = x_labelled, z_labelled, x_unlabelled, pairs
        self.batch_size = min(int(batch_size), x_labelled.shape[0])
        self.pair_batch_size = int(pair_batch_size)
        self.cycles = math.ceil(len(pairs.similar) / self.pair_batch_size) if cycles is None else int(cycles)
        self._kinds = [torch.tensor(k) for k in (LABELLED, SIMILAR, DISSIMILAR)]

    def __len__(self) -> int:
        return 3 * self.cycles

    def to(self, device) -> "SemiSupervisedBatches":
        """The examples moved to ``device`` (``fit`` takes a batch source as it is); returns self."""
        self.x_l, self.z_l, self.x_u = (t.to(device) for t in (self.x_l, self.z_l, self.x_u))
        return self

    def new_order(self, generator: torch.Generator | None = None) -> dict:
        """This epoch's order: index streams into the labelled examples and the two pair sets."""
        c, b, pb = self.cycles, self.batch_size, self.pair_batch_size
        return {"labelled": _cover(self.x_l.shape[0], c * b, generator),
                "similar": _cover(len(self.pairs.similar), c * pb, generator),
                "dissimilar": _cover(len(self.pairs.dissimilar), c * pb, generator)}

    def iterate(self, order: dict, start: int = 0):
        """Steps ``start, start + 1, ...``: step s is of kind s mod 3 in cycle s // 3."""
        b, pb = self.batch_size, self.pair_batch_size
        for step in range(start, 3 * self.cycles):
            cycle, kind = divmod(step, 3)
            if kind == LABELLED:
                idx = order["labelled"][cycle * b:(cycle + 1) * b]
                yield self.x_l[idx], self.z_l[idx], self._kinds[kind]
            else:
                name, pairs = ("similar", self.pairs.similar) if kind == SIMILAR else ("dissimilar", self.pairs.dissimilar)
                nm = pairs[order[name][cycle * pb:(cycle + 1) * pb]]
                yield self.x_u[nm[:, 0]], self.x_u[nm[:, 1]], self._kinds[kind]

    def __iter__(self):
        return self.iterate(self.new_order())


class SemiSupervisedLoss(BatchLoss):
    """The batch loss of J(W) on :class:`SemiSupervisedBatches`' steps: ½ E_sup(model(x_L), z_L)
    on a labelled step (``supervised`` a name of the loss vocabulary, default ``"lms"``: ½‖z − ẑ‖²
    averaged), ½ λ · mean L(ẑ(xⁿ), ẑ(xᵐ), S_nm) on a pair step. A plain (x, z) batch (validation
    data) is a labelled step.

    Args:
        lam: λ ≥ 0, the weight of the unlabelled pairs. Default 1.
        margin: M of the dissimilar pairs. Default 1.
        supervised: the labelled examples' cost. Default ``"lms"``.
    """

    def __init__(self, lam: float = 1.0, margin: float = 1.0, supervised="lms"):
        if not float(lam) >= 0:
            raise ConfigError(f"the pair weight λ must be >= 0, got {lam}")
        self.lam, self.pair_loss, self.supervised = float(lam), ContrastiveLoss(margin), supervised
        self._resolved = None

    def __call__(self, model, batch) -> Tensor:
        if len(batch) not in (2, 3):
            raise DataError(f"SemiSupervisedLoss reads SemiSupervisedBatches' steps (x, z or x', kind) or labelled "
                            f"(x, z) batches, got {len(batch)} tensors")
        a, b, kind = batch if len(batch) == 3 else (*batch, LABELLED)  # a plain (x, z): validation data
        kind = int(kind)
        if kind == LABELLED:
            if self._resolved is None:
                self._resolved = get_loss(self.supervised, model=model)
            return 0.5 * self._resolved(model(a), b)
        if kind not in (SIMILAR, DISSIMILAR):
            raise DataError(f"unknown step kind {kind}: expected {LABELLED}, {SIMILAR} or {DISSIMILAR}")
        same = torch.full((a.shape[0],), kind == SIMILAR, dtype=torch.bool, device=a.device)
        z = model(torch.cat([a, b]))  # one forward pass for both ends of the pairs
        return 0.5 * self.lam * self.pair_loss(z[:a.shape[0]], z[a.shape[0]:], same)

    def __repr__(self):
        return f"SemiSupervisedLoss(lam={self.lam}, margin={self.pair_loss.margin}, supervised={self.supervised!r})"
