"""The shared lookup with suggestions, the argument checks and eval_mode."""

import pytest
import torch

from deepnets._registry import check_choice, check_number, check_positive_int, eval_mode, lookup, suggest
from deepnets.errors import ConfigError, DataError


def test_lookup_suggests_the_nearest_name_and_lists_the_choices():
    assert lookup("adam", {"adam": 1, "sgd": 2}, what="optimizer") == 1
    with pytest.raises(ConfigError, match=r"unknown optimizer 'adma': expected one of \['adam', 'sgd'\]; "
                                          r"did you mean 'adam'\?"):
        lookup("adma", {"adam": 1, "sgd": 2}, what="optimizer")
    with pytest.raises(DataError, match="unknown column 'zz'"):  # no near name: no suggestion
        lookup("zz", {"alpha": 1}, what="column", error=DataError)
    assert suggest("zzzz", ["alpha"]) == ""


@pytest.mark.parametrize("value, kwargs, ok", [
    (3, {}, True), (0, {}, False), (0, {"allow_zero": True}, True), (-1, {"allow_zero": True}, False),
    (None, {}, False), (None, {"allow_none": True}, True), (True, {}, False), (2.0, {}, False)])
def test_check_positive_int(value, kwargs, ok):
    if ok:
        assert check_positive_int("n", value, **kwargs) == value
    else:
        with pytest.raises(ConfigError, match="n must be a"):
            check_positive_int("n", value, **kwargs)


def test_check_number_and_check_choice():
    assert check_number("sigma2", 0, low=0.0) == 0.0
    for bad in (-0.1, float("nan"), "1", True):
        with pytest.raises(ConfigError, match="sigma2 must be"):
            check_number("sigma2", bad, low=0.0)
    with pytest.raises(ConfigError, match="must be > 0"):
        check_number("lr", 0.0, low=0.0, low_open=True)
    with pytest.raises(ConfigError, match="must be <= 1"):
        check_number("p", 1.5, high=1.0)
    assert check_choice("mode", "min", ("min", "max")) == "min"
    with pytest.raises(ConfigError, match=r"mode must be one of \['min', 'max'\], got 'mn'; did you mean 'min'\?"):
        check_choice("mode", "mn", ("min", "max"))


def test_eval_mode_restores_the_flag_even_on_error():
    m = torch.nn.Sequential(torch.nn.Dropout()).train()
    with pytest.raises(RuntimeError):
        with eval_mode(m):
            assert not m.training and not m[0].training
            raise RuntimeError("boom")
    assert m.training and m[0].training
    m.eval()
    with eval_mode(m):
        pass
    assert not m.training  # a module in eval mode stays there
