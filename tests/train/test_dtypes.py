"""A float32 model with float64 data (or the reverse) is a one-line DataError naming both dtypes
in fit (training and validation inputs) and evaluate, not torch's error from inside a layer."""

import pytest
import torch

from deepnets import DataError, MLP, evaluate, fit


@pytest.mark.parametrize("model_dtype, data_dtype", [(torch.float32, torch.float64), (torch.float64, torch.float32)])
def test_fit_and_evaluate_name_both_dtypes(model_dtype, data_dtype):
    net = MLP([2, 3, 1], activation="tanh", output="linear", seed=0).to(model_dtype)
    x, y = torch.randn(8, 2, dtype=data_dtype), torch.randn(8, 1, dtype=data_dtype)
    have, want = str(data_dtype)[6:], str(model_dtype)[6:]
    with pytest.raises(DataError, match=f"training inputs are {have} but the model's weights are {want}"):
        fit(net, (x, y), epochs=1)
    ok = (x.to(model_dtype), y.to(model_dtype))
    with pytest.raises(DataError, match=f"validation inputs are {have} but the model's weights are {want}"):
        fit(net, ok, validation=(x, y), epochs=1)
    with pytest.raises(DataError, match=f"inputs are {have} but the model's weights are {want}: convert one"):
        evaluate(net, x, y)
    assert set(evaluate(net, *ok)) == {"loss"}  # matched dtypes evaluate as before


def test_integer_inputs_such_as_token_ids_pass():
    emb = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Flatten(), torch.nn.Linear(6, 1))
    out = evaluate(emb, torch.randint(0, 5, (4, 2)), torch.randn(4, 1))
    assert out["loss"] >= 0
