"""The batch contract: tuples of same-length tensors batched and shuffled alike, batch sources,
iterables of batches; a BatchLoss called loss(model, batch), its epoch mean weighted by sample
counts; a stateful batch loss (a hidden state carried across batches) resumed bit for bit
mid-epoch."""


import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepnets import fit
from deepnets.errors import ConfigError, DataError, TrainingInterrupted
from deepnets.train import BatchLoss, Callback, TensorBatches, batch_loss
from deepnets.train.callbacks import Checkpointer, GracefulStop
from signals import KillAt

V, T, D = 7, 5, 8  # vocabulary, sequence length, width


def test_tensor_batches_keep_rows_together_and_cover_every_sample_once():
    a = torch.arange(10)
    b = TensorBatches(a, a * 10, a.float() * 100, batch_size=4, generator=torch.Generator().manual_seed(0))
    batches = list(b)
    assert len(b) == 3 and [len(x[0]) for x in batches] == [4, 4, 2]
    assert all(torch.equal(x * 10, y) and torch.equal(x.float() * 100, z) for x, y, z in batches)
    assert sorted(torch.cat([x for x, _, _ in batches]).tolist()) == list(range(10))
    assert torch.cat([x for x, _, _ in batches]).tolist() != list(range(10))  # shuffled
    with pytest.raises(DataError, match="one length"):
        TensorBatches(a, a[:9], batch_size=2)


def test_the_epoch_loss_weights_each_batch_by_its_sample_count():
    w = nn.Linear(1, 1)

    @batch_loss
    def size(model, batch):
        return (model.weight * 0).sum() + len(batch[0])  # E_b = N_b

    h = fit(w, (torch.zeros(10, 1), torch.zeros(10, 1)), loss=size, epochs=1, batch_size=4, optimizer="sgd")
    assert h.history["loss"] == [pytest.approx((4 * 4 + 4 * 4 + 2 * 2) / 10)]


def test_a_batch_loss_reads_a_dataloader_and_validates_on_tensors():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, 3, generator=g)
    y = x.sum(1, keepdim=True)
    seen = []

    @batch_loss
    def mse(model, batch):
        seen.append(type(batch).__name__)
        xb, yb = batch
        return ((model(xb) - yb) ** 2).mean()

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    model = nn.Linear(3, 1)
    h = fit(model, loader, loss=mse, epochs=3, optimizer="sgd", lr=0.1, validation=(x, y), batch_size=5)
    assert h.history["loss"][-1] < h.history["loss"][0] and "list" in seen
    with torch.no_grad():
        assert h.history["val_loss"][-1] == pytest.approx(float(((model(x) - y) ** 2).mean()), rel=1e-5)
    with pytest.raises(ConfigError, match="metrics"):
        fit(model, loader, loss=mse, epochs=1, validation=(x, y), metrics=["rmse"])
    with pytest.raises(ConfigError, match="reads \\(x, y\\), got 3 tensors"):
        fit(model, (x, y, y), epochs=1)
    with pytest.raises(ConfigError, match="one tensor of shape \\(24, 3\\)"):
        fit(model, x, loss=mse, epochs=1)


class Toy(nn.Module):
    """Token ids in, scores out, and a state h carried from batch to batch (a recurrent summary)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.drop, self.out = nn.Embedding(V, D), nn.Dropout(0.2), nn.Linear(D, V)
        self.seen = []

    def forward(self, src, h):                       # src (B, T), h (D,)
        if self.training:
            self.seen.append(int(src.sum()))
        e = torch.tanh(self.emb(src) + h)            # (B, T, D)
        return self.out(self.drop(e)), e.mean((0, 1))  # (B, T, V), (D,)


class CarriedLoss(BatchLoss, Callback):
    """Cross-entropy of the next token, with h carried across batches (detached: truncated BPTT's
    pattern), reset each epoch; as a Callback its h goes into checkpoints."""

    def __init__(self):
        self.h, self.next = torch.zeros(D), None

    def on_epoch_begin(self, epoch, logs=None):
        self.h = torch.zeros(D)

    def __call__(self, model, batch):
        src, tgt = batch
        scores, h = model(src, self.h)
        self.next = h.detach()
        return F.cross_entropy(scores.reshape(-1, V), tgt.reshape(-1))

    def on_batch_end(self, batch, logs=None):
        self.h = self.next

    def state_dict(self):
        return {"h": self.h}

    def load_state_dict(self, state):
        self.h = state["h"].clone()


def _pairs():
    g = torch.Generator().manual_seed(3)
    src = torch.randint(0, V, (40, T), generator=g)
    return src, (src + 1) % V                        # (N, T) each: the next token id


def _train(source, callbacks=()):
    model, loss = Toy(), CarriedLoss()
    data = TensorBatches(*_pairs(), batch_size=6) if source else _pairs()
    h = fit(model, data, loss=loss, epochs=3, batch_size=6, lr=0.02, seed=5, callbacks=list(callbacks))
    return model, loss, h


@pytest.mark.parametrize("source", [False, True])  # (src, tgt) tensors; a TensorBatches source
def test_a_stateful_batch_loss_resumes_bit_for_bit_mid_epoch(tmp_path, source):
    full, full_loss, full_h = _train(source)
    with pytest.raises(TrainingInterrupted):
        _train(source, [GracefulStop(), KillAt(10), Checkpointer(tmp_path, every_epochs=0)])  # epoch 2, batch 3 of 7
    saver = Checkpointer(tmp_path, every_epochs=0, resume=True)
    model, loss, h = _train(source, [saver])
    state = saver.manager.load()["extra"]["loop"]
    assert state["position"] == 3 and not torch.equal(state["callbacks"]["CarriedLoss"]["h"], torch.zeros(D))
    assert model.seen == full.seen[10:]  # the same batches, in the same order, after the kill
    assert h.history == full_h.history and torch.equal(loss.h, full_loss.h)
    for p, q in zip(full.parameters(), model.parameters()):
        assert torch.equal(p, q)
