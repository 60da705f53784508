"""Semi-supervised learning of MLPs: the pair loss, the pair sampler, the three-way batch source."""

import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from deepnets import MLP
from deepnets.errors import ConfigError, DataError
from deepnets.losses import ContrastiveLoss
from deepnets.train import (CheckpointManager, Checkpointer, PairSet, SemiSupervisedBatches, SemiSupervisedLoss,
                            fit, neighbour_pairs)
from deepnets.train.semisupervised import DISSIMILAR, LABELLED, SIMILAR


def test_pair_loss_and_its_gradient_are_the_lectures_by_hand():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randn(40, 3, generator=g, dtype=torch.float64)
    s = torch.arange(40) % 2 == 0
    margin = 6.0  # about half the dissimilar pairs are inside it, half outside
    a.requires_grad_(True)
    loss = ContrastiveLoss(margin)(a, b, s)
    loss.backward()
    want, want_grad = [], []
    for n in range(40):  # the slide's two cases, one pair at a time
        d = [float(a.detach()[n, i] - b[n, i]) for i in range(3)]
        d2 = sum(v * v for v in d)
        if s[n]:
            want.append(d2)
            want_grad.append([2 * v / 40 for v in d])
        else:
            want.append(max(0.0, margin - d2))
            want_grad.append([-2 * v / 40 if d2 < margin else 0.0 for v in d])
    inside = [not s[n] and want[n] > 0 for n in range(40)]
    assert 5 <= sum(inside) <= 15  # both branches of the hinge are exercised
    assert float(loss.detach()) == pytest.approx(sum(want) / 40, rel=1e-12)
    assert torch.allclose(a.grad, torch.tensor(want_grad, dtype=torch.float64), rtol=1e-12, atol=1e-15)


def test_pair_loss_refuses_what_it_cannot_read():
    with pytest.raises(ConfigError, match="margin"):
        ContrastiveLoss(0.0)
    with pytest.raises(DataError, match="one shape"):
        ContrastiveLoss()(torch.zeros(3, 2), torch.zeros(3, 1), torch.ones(3))
    with pytest.raises(DataError, match="one entry per pair"):
        ContrastiveLoss()(torch.zeros(3, 2), torch.zeros(3, 2), torch.ones(4))


def test_neighbour_rule_is_the_k_nearest_and_dissimilar_partners_are_far():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, generator=g, dtype=torch.float64)
    pairs = neighbour_pairs(x, k=3, far=0.25, per_point=2, generator=g)
    nn = NearestNeighbors(n_neighbors=4).fit(x.numpy())
    _, idx = nn.kneighbors(x.numpy())  # each point's self first, then its 3 nearest
    want = {(n, int(m)) for n in range(60) for m in idx[n, 1:]}
    assert {tuple(p) for p in pairs.similar.tolist()} == want
    assert len(pairs.dissimilar) == 120
    d = torch.cdist(x, x)
    for n, m in pairs.dissimilar.tolist():  # among the farthest quarter of the other 59 points
        assert int((d[n] > d[n, m]).sum()) < int(0.25 * 59)


def _toy(n_l=10, n_u=30):
    x_l = -1.0 - torch.arange(n_l * 2, dtype=torch.float64).reshape(n_l, 2)  # negative: labelled rows
    x_u = 1.0 + torch.arange(n_u * 2, dtype=torch.float64).reshape(n_u, 2)   # positive: unlabelled rows
    y_l = torch.arange(n_l) % 3
    sim = torch.stack([torch.arange(n_u), (torch.arange(n_u) + 1) % n_u], 1)
    dis = torch.stack([torch.arange(n_u), (torch.arange(n_u) + n_u // 2) % n_u], 1)[:12]
    return x_l, y_l, x_u, PairSet(sim, dis, n_u)


def test_steps_cycle_labelled_similar_dissimilar_in_equal_shares_and_never_label_the_unlabelled():
    x_l, y_l, x_u, pairs = _toy()
    src = SemiSupervisedBatches(x_l, y_l, x_u, pairs, batch_size=4, pair_batch_size=5)
    assert src.cycles == 6 and len(src) == 18  # ⌈30 similar pairs / 5⌉
    steps = list(src.iterate(src.new_order(torch.Generator().manual_seed(0))))
    assert [int(k) for *_, k in steps] == [LABELLED, SIMILAR, DISSIMILAR] * 6
    seen_l, seen = torch.zeros(10, dtype=torch.long), {SIMILAR: [], DISSIMILAR: []}
    for a, b, kind in steps:
        if int(kind) == LABELLED:
            assert len(a) == 4 and bool((a < 0).all())
            rows = ((-1.0 - a[:, 0]) / 2).long()  # which labelled example each row is
            assert torch.equal(b, y_l[rows])
            seen_l += torch.bincount(rows, minlength=10)
        else:  # both ends unlabelled rows, and the second tensor is inputs, not labels
            assert len(a) == 5 and bool((a > 0).all()) and bool((b > 0).all()) and b.shape == a.shape
            n, m = ((a[:, 0] - 1) / 2).long(), ((b[:, 0] - 1) / 2).long()
            seen[int(kind)] += list(zip(n.tolist(), m.tolist()))
    assert set(seen_l.tolist()) <= {2, 3}  # 24 labelled draws over 10 examples: each 2 or 3 times
    assert sorted(seen[SIMILAR]) == sorted(map(tuple, pairs.similar.tolist()))  # one pass over them
    dis = {tuple(p) for p in pairs.dissimilar.tolist()}
    assert set(seen[DISSIMILAR]) == dis and len(seen[DISSIMILAR]) == 30


def test_the_loss_of_each_step_is_its_share_of_J():
    x_l, y_l, x_u, pairs = _toy()
    src = SemiSupervisedBatches(x_l, y_l, x_u, pairs, batch_size=4, pair_batch_size=5)
    net = MLP([2, 3, 3], activation="tanh", seed=0).double()
    loss = SemiSupervisedLoss(lam=0.3, margin=2.0)
    for a, b, kind in list(src.iterate(src.new_order(torch.Generator().manual_seed(0))))[:3]:
        got = float(loss(net, (a, b, kind)))
        if int(kind) == LABELLED:
            z = torch.nn.functional.one_hot(b, 3).double()
            want = 0.5 * float((0.5 * ((net(a) - z) ** 2).sum(1)).mean())
        else:
            d2 = ((net(a) - net(b)) ** 2).sum(1)
            want = 0.5 * 0.3 * float((d2 if int(kind) == SIMILAR else (2.0 - d2).clamp(min=0)).mean())
        assert got == pytest.approx(want, rel=1e-12)


def test_bad_pairs_and_sources_are_refused_with_what_came():
    with pytest.raises(DataError, match=r"0\.\.29, got 0\.\.30"):
        PairSet([[0, 30]], [[0, 1]], 30)
    with pytest.raises(DataError, match="shape \\(P, 2\\)"):
        PairSet([[0, 1, 2]], [[0, 1]], 30)
    with pytest.raises(DataError, match="similar and dissimilar"):
        PairSet.from_array([[0, 1], [1, 2]], [1, 1], 30)
    with pytest.raises(DataError, match="one 0 or 1"):
        PairSet.from_array([[0, 1], [1, 2]], [1, 2], 30)
    assert len(PairSet.from_array([[0, 1], [1, 2], [2, 3]], [1, 0, 1], 30).similar) == 2
    x_l, y_l, x_u, pairs = _toy()
    with pytest.raises(DataError, match="index 30 unlabelled examples, got 29"):
        SemiSupervisedBatches(x_l, y_l, x_u[:29], pairs)


def _train(callbacks=(), resume=None):
    x_l, y_l, x_u, pairs = _toy()
    src = SemiSupervisedBatches(x_l / 20, y_l, x_u / 60, pairs, batch_size=4, pair_batch_size=5)
    if resume is not None:
        callbacks = [*callbacks, Checkpointer(resume["path"].parent.parent, every_epochs=0, resume=resume)]
    net = MLP([2, 5, 3], activation="tanh", seed=2).double()
    h = fit(net, src, loss=SemiSupervisedLoss(lam=0.5), optimizer="adam", lr=0.02, epochs=3, seed=3,
            callbacks=list(callbacks))
    return net, h


@pytest.mark.parametrize("kill_step", [8, 25])  # mid-epoch 1 and mid-epoch 2 (18 steps an epoch)
def test_a_resumed_semisupervised_run_is_bit_for_bit_the_uninterrupted_one(tmp_path, kill_step):
    full, full_h = _train()
    _train([Checkpointer(tmp_path / "run", every_steps=kill_step, every_epochs=0, keep=10, background=False)])
    mgr = CheckpointManager(tmp_path / "run")
    ckpt = mgr.load(mgr.list()[0].name)
    assert ckpt["step"] == kill_step
    net, h = _train(resume=ckpt)
    for k, v in full.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k
    assert h.history["loss"] == full_h.history["loss"]


def test_the_source_moves_its_examples_to_a_device():
    x_l, y_l, x_u, pairs = _toy()
    src = SemiSupervisedBatches(x_l, y_l, x_u, pairs, batch_size=4, pair_batch_size=5).to("meta")
    for a, b, _ in src.iterate(src.new_order(torch.Generator().manual_seed(0))):
        assert a.device.type == "meta" and b.device.type == "meta"
