"""ONNX export checked against ONNX Runtime: every network family the lecture builds, exported at
one batch size and run at others (the batch axis is free), max |torch − ORT| <= 1e-5 in float32."""

import json

import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime", reason="ONNX Runtime is not installed (pip install 'deepnets[onnx]')")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install 'deepnets[onnx]')")

from deepnets import MLP  # noqa: E402
from deepnets.errors import ConfigError, DataError  # noqa: E402
from deepnets.export import max_abs_difference, metadata_of, onnx_session, run_onnx, to_onnx  # noqa: E402
from deepnets.prune import compact_mlp, magnitude_prune  # noqa: E402
from deepnets.zoo import Transformer, lenet5_modern, resnet18_cifar, sequence_classifier  # noqa: E402

TOL = 1e-5


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _check(model, example, *batches):
    """Export at ``example``'s batch, run ORT at each of ``batches`` (fresh inputs), compare."""
    session = onnx_session(to_onnx(model, example))
    for n, inputs in batches:
        assert n != example.shape[0]  # another batch size than the export's
        assert max_abs_difference(model, session, *inputs) <= TOL
    return session


def test_mlp_with_lecun_tanh_and_softmax_matches_onnx_runtime_at_any_batch():
    net = MLP([5, 7, 6, 3], activation="lecun_tanh", output="softmax", init="lecun_uniform", seed=0)
    x = torch.randn(4, 5, generator=_gen(1))
    session = onnx_session(to_onnx(net, x))
    for n in (1, 9, 33):
        xb = torch.randn(n, 5, generator=_gen(n))
        (y,) = run_onnx(session, xb)
        assert y.shape == (n, 3)
        assert max_abs_difference(net, session, xb) <= TOL
    assert net.training  # the caller's training flag is put back


# ResNet-18's export costs ~3 s of CPU: it runs with the slow tests (-m slow), LeNet-5 in every run
@pytest.mark.parametrize("build, shape", [
    pytest.param(lambda: lenet5_modern(10, 1), (1, 32, 32), id="lenet5_modern"),
    pytest.param(lambda: resnet18_cifar(5), (3, 16, 16), id="resnet18_cifar", marks=pytest.mark.slow)])
def test_zoo_cnns_match_onnx_runtime(build, shape):
    torch.manual_seed(0)
    model = build()
    _check(model, torch.randn(2, *shape, generator=_gen(0)),
           (3, (torch.randn(3, *shape, generator=_gen(3)),)))


@pytest.mark.parametrize("kind, options", [("elman", {}), ("lstm", {"peepholes": True}), ("gru", {})])
def test_recurrent_classifiers_match_onnx_runtime(kind, options):
    torch.manual_seed(0)
    model = sequence_classifier(kind, 5, 4, 2, hidden_size=6, **options)
    if kind == "lstm":
        assert model.forward_core.peephole_l0 is not None  # peephole weights, in the graph
    _check(model, torch.randn(2, 2, 5, generator=_gen(0)),
           (7, (torch.randn(7, 2, 5, generator=_gen(7)),)), (1, (torch.randn(1, 2, 5, generator=_gen(1)),)))


def test_transformer_with_two_token_inputs_matches_onnx_runtime():
    model = Transformer(11, 13, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32,
                        generator=_gen(0))
    src, tgt = torch.randint(1, 11, (2, 6), generator=_gen(1)), torch.randint(1, 13, (2, 5), generator=_gen(2))
    session = onnx_session(to_onnx(model, (src, tgt), input_names=["src", "tgt_in"]))
    src = torch.randint(0, 11, (4, 6), generator=_gen(3))  # some padding (id 0) in the source
    tgt = torch.randint(1, 13, (4, 5), generator=_gen(4))
    assert max_abs_difference(model, session, src, tgt) <= TOL


def test_pruned_and_compacted_net_matches_onnx_runtime_with_fewer_units():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 10), nn.Tanh(), nn.Linear(10, 3))
    with torch.no_grad():
        net[0].weight[[2, 5]] = 0.0  # two hidden units hear nothing: constants, folded
    magnitude_prune(net, 0.3)
    small = compact_mlp(net)
    assert small[0].out_features < 10
    x = torch.randn(6, 6, generator=_gen(6))
    session = _check(small, torch.randn(2, 6, generator=_gen(2)), (6, (x,)))
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(run_onnx(session, x)[0]), net(x), atol=TOL)


def test_metadata_props_are_stored_with_non_strings_as_json(tmp_path):
    net = MLP([2, 3, 1], seed=0)
    path = tmp_path / "m.onnx"
    to_onnx(net, torch.zeros(1, 2), path, metadata={"classes": [0, 1], "note": "xor"})
    meta = metadata_of(str(path))
    assert json.loads(meta["classes"]) == [0, 1] and meta["note"] == "xor"
    # a batch of 1 in the example still leaves the batch axis free
    assert max_abs_difference(net, onnx_session(str(path)), torch.randn(5, 2, generator=_gen(0))) <= TOL


def test_bad_examples_and_names_are_refused():
    net = MLP([2, 3, 1], seed=0)
    with pytest.raises(DataError, match="example input"):
        to_onnx(net, [[0.0, 1.0]])
    with pytest.raises(ConfigError, match="input_names names 2 inputs"):
        to_onnx(net, torch.zeros(2, 2), input_names=["a", "b"])
