"""The captioner: step-by-step decoding agrees with the teacher-forced pass; it can memorise; trained
through fit, a run stopped by SIGTERM resumes bit for bit."""


import pytest
import torch

from deepnets import fit
from deepnets.data.shapes_captions import shapes_captions
from deepnets.errors import ConfigError, DataError, TrainingInterrupted
from deepnets.seq.decode import beam_search, greedy_decode
from deepnets.seq.metrics import caption_scores
from deepnets.seq.vocab import BOS, EOS, PAD
from deepnets.train import TensorBatches, TeacherForcedLoss
from deepnets.train.callbacks import Checkpointer, ClipGradNorm, GracefulStop
from deepnets.train.checkpoint import CheckpointManager
from deepnets.zoo.captioner import Captioner
from signals import KillAt

V = 11


def small(**kw):
    kw = {"image_size": 16, "channels": (4, 8), "feature_size": 16, "embed_size": 8, "hidden_size": 12,
          "generator": torch.Generator().manual_seed(0), **kw}
    return Captioner(V, **kw).eval()


def sequence_logprob(model, images, tokens):
    """log p(y_1..y_L | x) of decoded rows (ending at <eos>, <pad> after) by one teacher-forced pass."""
    inputs = torch.cat([torch.full((tokens.shape[0], 1), BOS), tokens[:, :-1]], 1)
    logp = torch.log_softmax(model(images, inputs), -1).gather(2, tokens[:, :, None])[:, :, 0]   # (N, L)
    return torch.where(tokens == PAD, torch.zeros_like(logp), logp).sum(1)


@pytest.mark.parametrize("kw", [{}, {"feed_features": True}, {"num_layers": 2, "peepholes": False}])
def test_step_logits_equal_teacher_forced_logits(kw):
    model = small(**kw)
    g = torch.Generator().manual_seed(1)
    images, tokens = torch.rand(3, 3, 16, 16, generator=g), torch.randint(3, V, (3, 6), generator=g)
    tokens[:, 0] = BOS
    full = model(images, tokens)                                     # (3, 6, V)
    state, steps = model.start(images), []
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, :t + 1], state)
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    # the state is batch-first: reordering rows of the state reorders the logits
    state = model.start(images)
    perm = torch.tensor([2, 0, 1])
    swapped = model.step(tokens[perm, :1], {k: v[perm] for k, v in state.items()})[0]
    assert torch.allclose(swapped, full[perm, 0], atol=1e-6)


@pytest.mark.parametrize("beam", [1, 3])
def test_decoded_tokens_are_valid_and_scored_by_the_model(beam):
    model = small(feed_features=True)
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    run = greedy_decode if beam == 1 else beam_search
    opts = {} if beam == 1 else {"beam_size": beam}
    tokens, score = run(model.step, model.start(images), batch_size=4, max_len=7, **opts)
    assert tokens.dtype == torch.long and tokens.shape[0] == 4 and tokens.shape[1] <= 7
    assert ((tokens >= 0) & (tokens < V)).all()
    for row in tokens.tolist():                      # after the first <eos> only <pad>
        if EOS in row:
            assert all(t == PAD for t in row[row.index(EOS) + 1:])
        assert BOS not in row
    assert torch.allclose(score, sequence_logprob(model, images, tokens), atol=1e-4)
    assert torch.equal(model.caption(images, max_len=7, beam_size=beam), tokens)


def test_loss_is_the_mean_token_cross_entropy_without_pad():
    model = small()
    images = torch.rand(2, 3, 16, 16)
    caps = torch.tensor([[BOS, 5, 6, 7, EOS], [BOS, 8, EOS, PAD, PAD]])
    p = torch.softmax(model(images, caps[:, :-1]), -1)
    by_hand = -(sum(p[0, t, caps[0, t + 1]].log() for t in range(4)) +
                sum(p[1, t, caps[1, t + 1]].log() for t in range(2))) / 6
    assert torch.allclose(model.loss(images, caps), by_hand, atol=1e-6)


def test_tiny_model_memorises_a_few_captioned_images():
    torch.manual_seed(0)
    d = shapes_captions(6, 0, size=32, seed=5)
    images, caps = d.tensors("train")
    model = Captioner(len(d.vocab), channels=(8, 16, 16), feature_size=32, embed_size=16,
                      hidden_size=48, generator=torch.Generator().manual_seed(3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = model.loss(images, caps)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    for beam in (1, 3):
        out = [d.vocab.decode(r) for r in model.caption(images, max_len=12, beam_size=beam)]
        assert out == d.captions["train"]
    assert caption_scores(out, d.references["train"]) == {"exact_match": 1.0, "bleu": 1.0}


def _fit_captioner(callbacks=()):
    d = shapes_captions(30, 0, seed=5)                       # 4 batches of 8, 8, 8, 6 an epoch
    model = Captioner(len(d.vocab), channels=(4, 8), feature_size=16, embed_size=8, hidden_size=12,
                      generator=torch.Generator().manual_seed(3))
    h = fit(model, TensorBatches(*d.tensors("train"), batch_size=8), loss=TeacherForcedLoss(), lr=3e-3, epochs=3,
            seed=1, callbacks=[ClipGradNorm(1.0), *callbacks])
    return model, h


def test_training_through_fit_resumes_bit_for_bit_after_sigterm(tmp_path):
    torch.set_num_threads(1)
    full, full_h = _fit_captioner()
    with pytest.raises(TrainingInterrupted):
        _fit_captioner([GracefulStop(), KillAt(6), Checkpointer(tmp_path, every_epochs=1)])
    assert CheckpointManager(tmp_path).load()["extra"]["loop"]["position"] == 2    # inside epoch 2
    model, h = _fit_captioner([Checkpointer(tmp_path, every_epochs=1, resume=True)])
    assert h.history == full_h.history and len(h["loss"]) == 3
    for k, v in full.state_dict().items():                   # weights and batch-norm statistics
        assert torch.equal(v, model.state_dict()[k]), k


def test_seeded_init_is_reproducible_and_leaves_the_global_rng():
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    a, b = small(), small()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_errors():
    model = small()
    with pytest.raises(DataError, match=r"\(N, 3, 16, 16\)"):
        model(torch.rand(2, 3, 32, 32), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(DataError, match="tokens of shape"):
        model(torch.rand(2, 3, 16, 16), torch.ones(3, dtype=torch.long))
    with pytest.raises(ConfigError, match="too small"):
        Captioner(V, image_size=4, channels=(4, 4, 4))
    with pytest.raises(ConfigError, match="vocab_size"):
        Captioner(2)
