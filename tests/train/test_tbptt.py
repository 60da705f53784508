"""Truncated BPTT through fit: the state carries over chunks, the graph does not; the same
updates as the hand-written loop; a run interrupted mid-sequence resumes bit for bit, the carried
state included."""


import pytest
import torch
import torch.nn.functional as F

from deepnets import fit
from deepnets.data.text_corpus import stream_batches
from deepnets.errors import ConfigError, DataError, TrainingInterrupted
from deepnets.nn.recurrent import LSTM, detach_state
from deepnets.train.callbacks import Checkpointer, ClipGradNorm, GracefulStop
from deepnets.train.checkpoint import CheckpointManager
from deepnets.train.tbptt import CarriedStateLoss, SequenceChunks, truncated_bptt
from deepnets.zoo.char_lm import CharLM
from deepnets.zoo.recurrent_net import RecurrentNet
from signals import KillAt

D64 = torch.float64


class Recorder(torch.optim.SGD):
    """SGD that keeps a copy of every gradient it is asked to apply."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.seen = []

    def step(self, closure=None):
        loss = closure() if closure is not None else None   # fit hands the gradient over as a closure
        self.seen.append([p.grad.clone() for g in self.param_groups for p in g["params"]])
        super().step()
        return loss


def _net(seed=0):
    torch.manual_seed(seed)
    return RecurrentNet(LSTM(2, 4, batch_first=True), 1).double()


def test_truncated_bptt_carries_the_state_and_cuts_the_graph():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 2, generator=g, dtype=D64)
    y = torch.randn(3, 10, 1, generator=g, dtype=D64)
    mse = torch.nn.functional.mse_loss
    net = _net()
    opt = Recorder(net.parameters(), lr=0.0)                 # lr 0: weights stay, grads recorded
    loss, state = truncated_bptt(net, x, y, mse, opt, k=4)
    assert len(opt.seen) == 3                                # chunks of 4, 4, 2 steps
    y_full, state_full = net(x)
    torch.testing.assert_close(loss, mse(y_full, y).item())  # the same forward, chunked
    torch.testing.assert_close(state[0], state_full[0])
    # The second chunk's gradient is BPTT over that chunk only, from the carried state.
    _, s4 = net(x[:, :4])
    net.zero_grad()
    out, _ = net(x[:, 4:8], detach_state(s4))
    mse(out, y[:, 4:8]).backward()
    for p, seen in zip(net.parameters(), opt.seen[1]):
        torch.testing.assert_close(p.grad, seen)
    # ... and differs from the untruncated gradient through all 8 steps.
    net.zero_grad()
    out, _ = net(x[:, :8])
    mse(out[:, 4:], y[:, 4:8]).backward()
    assert any((p.grad - s).abs().max() > 1e-8 for p, s in zip(net.parameters(), opt.seen[1]))


def test_truncated_bptt_with_k_at_least_L_is_one_full_step_and_clips():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, 2, generator=g, dtype=D64)
    y = torch.randn(2, 6, 1, generator=g, dtype=D64)
    mse = torch.nn.functional.mse_loss
    a, b = _net(3), _net(3)
    truncated_bptt(a, x, y, mse, torch.optim.SGD(a.parameters(), lr=0.1), k=50)
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    mse(b(x)[0], y).backward()
    opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)
    c = _net(3)
    rec = Recorder(c.parameters(), lr=0.0)
    truncated_bptt(c, x, y, mse, rec, k=3, max_norm=1e-3)
    for grads in rec.seen:
        assert torch.linalg.vector_norm(torch.stack([gr.norm() for gr in grads])) <= 1e-3 * (1 + 1e-6)


def test_truncated_bptt_errors():
    net = _net()
    with pytest.raises(DataError, match="share"):
        truncated_bptt(net, torch.zeros(2, 5, 2), torch.zeros(2, 4, 1), None, None, k=2)
    with pytest.raises(ConfigError, match="k"):
        truncated_bptt(net, torch.zeros(2, 5, 2), torch.zeros(2, 5, 1), None, None, k=0)


def test_chunks_come_in_time_order_time_major_and_resume_at_a_chunk():
    x = torch.arange(14).view(2, 7)                          # (N, L) = (2, 7)
    y = torch.arange(28.0).view(2, 7, 2)                     # (N, L, 2)
    chunks = SequenceChunks(x, y, k=3)
    assert len(chunks) == 3 and chunks.new_order(torch.Generator()) is None
    got = list(chunks)
    assert [tuple(c[0].shape) for c in got] == [(3, 2), (3, 2), (1, 2)] and tuple(got[2][1].shape) == (1, 2, 2)
    assert torch.equal(torch.cat([c[0] for c in got]).T, x)  # every step once, in order
    assert torch.equal(got[1][1].transpose(0, 1), y[:, 3:6])
    assert [c[0].tolist() for c in chunks.iterate(None, 2)] == [got[2][0].tolist()]
    with pytest.raises(DataError, match="\\(N, L, ...\\)"):
        SequenceChunks(torch.zeros(5), k=2)
    with pytest.raises(ConfigError, match="k"):
        SequenceChunks(x, x, k=2.5)


def _reference(model, x, y, loss_fn, optimizer, *, k, max_norm, epochs):
    """The loop truncated_bptt was before it went through fit: the independent answer."""
    losses = []
    for _ in range(epochs):
        state, total, length = None, 0.0, x.shape[1]
        for s in range(0, length, k):
            state = detach_state(state)
            y_hat, state = model(x[:, s:s + k], state)
            loss = loss_fn(y_hat, y[:, s:s + k])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            total += loss.item() * min(k, length - s)
        losses.append(total / length)
    return losses, state


def _char_data(seed=3, rows=3, n=70, V=6):
    ids = torch.randint(0, V, (n,), generator=torch.Generator().manual_seed(seed))
    return stream_batches(ids, rows)                         # (3, 23) each


def _lm():
    return CharLM(6, embed_size=4, hidden_size=8, generator=torch.Generator().manual_seed(0))


def _ce(logits, target):                                     # (N, k, V), (N, k)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def test_through_fit_equals_the_hand_written_loop_bit_for_bit():
    x, y = _char_data()
    a, b = _lm(), _lm()
    ref_losses, ref_state = _reference(a, x, y, _ce, torch.optim.Adam(a.parameters(), lr=0.01), k=5,
                                       max_norm=0.5, epochs=3)
    loss = CarriedStateLoss(_ce)
    h = fit(b, SequenceChunks(x, y, k=5), loss=loss, optimizer=torch.optim.Adam(b.parameters(), lr=0.01),
            epochs=3, callbacks=[ClipGradNorm(0.5)])
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert all(torch.equal(s, t) for s, t in zip(ref_state, loss.state))
    # the epoch loss is the mean per step (a short last chunk weighs its 3 steps, not 5)
    assert h.history["loss"] == pytest.approx(ref_losses, rel=1e-6)


def _run(callbacks=()):
    """3 epochs of 5 chunks (k = 5 over L = 23, the last chunk 3 steps), Adam, clipping."""
    x, y = _char_data()
    model, loss = _lm(), CarriedStateLoss(_ce)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    h = fit(model, SequenceChunks(x, y, k=5), loss=loss, optimizer=opt, epochs=3, seed=1,
            callbacks=[ClipGradNorm(0.5), *callbacks])
    return model, opt, loss, h


def _equal(a, b) -> bool:
    """Nested states (dicts, lists, tuples of tensors and numbers) equal bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(u, v) for u, v in zip(a, b))
    return a == b


def test_interrupted_mid_sequence_resumes_bit_for_bit_with_the_carried_state(tmp_path):
    full, full_opt, full_loss, full_h = _run()
    with pytest.raises(TrainingInterrupted):
        _run([GracefulStop(), KillAt(8), Checkpointer(tmp_path, every_epochs=0)])  # epoch 2, chunk 3 of 5
    saved = CheckpointManager(tmp_path).load()["extra"]["loop"]
    assert (saved["epoch"], saved["position"]) == (1, 3)
    carried = saved["callbacks"]["CarriedStateLoss"]["state"]  # (z, c) after chunk 3: not z_0 = None
    assert isinstance(carried, tuple) and len(carried) == 2 and carried[0].abs().sum() > 0
    model, opt, loss, h = _run([Checkpointer(tmp_path, every_epochs=0, resume=True)])
    assert h.history == full_h.history
    assert _equal(model.state_dict(), full.state_dict())
    assert _equal(opt.state_dict(), full_opt.state_dict())
    assert _equal(loss.state, full_loss.state)


def test_without_the_carried_state_the_resumed_run_differs(tmp_path):
    """The resume above depends on the state: started from z_0 instead, chunk 4 sees another past."""
    full, _, _, full_h = _run()
    with pytest.raises(TrainingInterrupted):
        _run([GracefulStop(), KillAt(8), Checkpointer(tmp_path, every_epochs=0)])
    ckpt = CheckpointManager(tmp_path).load()
    ckpt["extra"]["loop"]["callbacks"]["CarriedStateLoss"]["state"] = None
    model, _, _, h = _run([Checkpointer(tmp_path, every_epochs=0, resume=ckpt)])
    assert h.history["loss"][0] == full_h.history["loss"][0]  # the first epoch came from the checkpoint
    assert h.history["loss"][1:] != full_h.history["loss"][1:]
    assert not all(torch.equal(p, q) for p, q in zip(model.parameters(), full.parameters()))


def test_the_carried_state_is_reset_at_each_epoch_and_a_line_search_does_not_advance_it():
    x, y = _char_data()
    seen = []                                                # (epoch, chunk, the state it started from)

    class Spy(CarriedStateLoss):
        def __call__(self, model, batch):
            seen.append((self.loop.epoch, self.loop.position, self.state))
            return super().__call__(model, batch)

    lbfgs = lambda groups, lr: torch.optim.LBFGS(groups, lr=lr, max_iter=1, max_eval=4,  # noqa: E731
                                                  line_search_fn="strong_wolfe")
    fit(_lm(), SequenceChunks(x, y, k=10), loss=Spy(_ce), optimizer=lbfgs, lr=0.5, epochs=2)
    chunks = {(e, c) for e, c, _ in seen}
    assert chunks == {(e, c) for e in (0, 1) for c in (0, 1, 2)} and len(seen) > len(chunks)  # re-evaluated
    for e, c, state in seen:
        assert (state is None) == (c == 0)                   # z_0 at each epoch's start
        first = next(s for e2, c2, s in seen if (e2, c2) == (e, c))
        assert state is first                                # every evaluation of a chunk: one state
