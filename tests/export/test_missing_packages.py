"""Without the optional ONNX packages an export says which extra installs them (no traceback)."""

import sys

import pytest
import torch

from deepnets import MLP
from deepnets.errors import ConfigError
from deepnets.export import to_onnx


@pytest.mark.parametrize("package", ["onnx", "onnxscript"])
def test_a_missing_package_is_named_with_the_extra_that_installs_it(package, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, package, None)  # import raises ImportError, as when not installed
    out = tmp_path / "m.onnx"
    with pytest.raises(ConfigError, match=rf"package '{package}'.*deepnets\[onnx\]"):
        to_onnx(MLP([2, 3, 1], seed=0), torch.zeros(2, 2), out)
    assert not out.exists()
