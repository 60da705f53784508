"""Any deepnets network as an ONNX graph, batch size left free, checked against ONNX Runtime.

The graph is the network's forward pass at inference (eval mode: dropout off, hint units gone);
how it was trained (the co-state backward of an MLP, the hand-written BPTT of the LSTM) does not
enter it. torch's exporter (``torch.onnx.export(..., dynamo=True)``) traces the forward with
``torch.export``; axis 0 of every input is a symbolic batch dimension, so one file serves any N.

The packages are optional: ``pip install 'deepnets[onnx]'`` (onnx, onnxruntime, onnxscript).
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .._registry import eval_mode
from ..atomic import write_atomic
from ..errors import ConfigError, DataError

__all__ = ["to_onnx", "onnx_session", "run_onnx", "max_abs_difference", "metadata_of", "OPSET"]

#: the ONNX operator set the graphs are written in
OPSET = 18
#: how to get the optional packages, named in the error when one is missing
INSTALL = "pip install 'deepnets[onnx]' (onnx, onnxruntime, onnxscript)"


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ConfigError(f"ONNX export needs the package {module!r}, which is not installed: {INSTALL}") from None


def _examples(example) -> tuple[Tensor, ...]:
    """The example inputs as a tuple of tensors with a batch of at least 2 (torch.export fixes an
    axis whose example size is 0 or 1 to that size; a batch of 2 leaves it symbolic)."""
    args = example if isinstance(example, (tuple, list)) else (example,)
    if not args or not all(isinstance(a, Tensor) and a.dim() >= 1 for a in args):
        raise DataError("to_onnx needs an example input: a tensor (N, ...) or a tuple of them, "
                        f"got {type(example).__name__}")
    if len({a.shape[0] for a in args}) != 1 or args[0].shape[0] == 0:
        raise DataError(f"the example inputs must share one batch size N >= 1, "
                        f"got shapes {[tuple(a.shape) for a in args]}")
    if args[0].shape[0] == 1:
        args = tuple(a.expand(2, *a.shape[1:]).contiguous() for a in args)  # (1, ...) -> (2, ...)
    return tuple(args)


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's own notes, none about the user's model: a logged warning per torchvision
    operator it cannot register, a deprecation inside torch's pytree, and a note that inputs
    sharing the batch axis share its name."""
    log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*The axis name: batch will not be used.*")
            yield
    finally:
        log.setLevel(level)


def to_onnx(model: nn.Module, example, path=None, *, input_names: Sequence[str] | None = None,
            output_names: Sequence[str] | None = None, metadata: Mapping[str, object] | None = None,
            opset: int = OPSET):
    """Export ``model``'s inference forward pass as an ONNX ``ModelProto`` with a free batch axis.

    Args:
        model: any ``torch.nn.Module`` (an MLP, a zoo CNN, a recurrent or Transformer network, a
            pruned and compacted net); exported in eval mode, its training flag restored after.
        example: an input tensor (N, ...) or a tuple of them (one per ``forward`` argument, e.g.
            ``(src, tgt_in)`` for the Transformer); only their shapes and dtypes matter. Axis 0
            becomes the symbolic dimension ``batch`` of every input.
        path: also write the model there (atomically). Default None: only return it.
        input_names: the graph's input names. Default ``x`` for one input, ``x0, x1, ...`` else.
        output_names: the graph's output names. Default ``y`` for one output, ``y0, y1, ...`` else.
        metadata: ``metadata_props`` to store in the file (values that are not strings are
            written as JSON): a run's scaler, feature names and class labels travel this way.
        opset: the ONNX operator set. Default :data:`OPSET`.

    Returns:
        the ``onnx.ModelProto``.
    """
    onnx = _require("onnx")
    _require("onnxscript")
    args = _examples(example)
    names = list(input_names) if input_names is not None else (["x"] if len(args) == 1 else
                                                               [f"x{i}" for i in range(len(args))])
    if len(names) != len(args):
        raise ConfigError(f"input_names names {len(names)} inputs, the example has {len(args)}")
    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} for _ in args)
    with eval_mode(model), torch.no_grad(), _quiet_exporter():
        outputs = model(*args)
        n_out = len(outputs) if isinstance(outputs, (tuple, list)) else 1
        outs = list(output_names) if output_names is not None else (["y"] if n_out == 1 else
                                                                    [f"y{i}" for i in range(n_out)])
        if len(outs) != n_out:
            raise ConfigError(f"output_names names {len(outs)} outputs, the model returns {n_out}")
        program = torch.onnx.export(model, args, None, input_names=names, output_names=outs,
                                    dynamic_shapes=dynamic, dynamo=True, opset_version=opset,
                                    verbose=False)
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(proto)
    if path is not None:
        write_atomic(path, proto.SerializeToString())
    return proto


def onnx_session(model):
    """An ONNX Runtime CPU ``InferenceSession`` for a ``ModelProto``, its bytes, or a file path."""
    ort = _require("onnxruntime")
    data = model.SerializeToString() if hasattr(model, "SerializeToString") else model
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no constant-folding notes on stderr
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run_onnx(session, *inputs: Tensor) -> list[np.ndarray]:
    """The session's outputs for ``inputs`` (tensors, in the graph's input order)."""
    names = [i.name for i in session.get_inputs()]
    if len(names) != len(inputs):
        raise DataError(f"the graph takes {len(names)} inputs {names}, got {len(inputs)}")
    return session.run(None, {n: t.detach().cpu().numpy() for n, t in zip(names, inputs)})


def max_abs_difference(model: nn.Module, session, *inputs: Tensor) -> float:
    """max |torch − ONNX Runtime| over every output of ``model(*inputs)`` (eval mode)."""
    with eval_mode(model), torch.no_grad():
        ref = model(*inputs)
    ref = list(ref) if isinstance(ref, (tuple, list)) else [ref]
    got = run_onnx(session, *inputs)
    return max(float(np.abs(r.detach().cpu().numpy() - g).max()) for r, g in zip(ref, got))


def metadata_of(model) -> dict[str, str]:
    """The ``metadata_props`` of a ``ModelProto`` (or of the file at a path) as a dict."""
    if not hasattr(model, "metadata_props"):
        model = _require("onnx").load(model)
    return {p.key: p.value for p in model.metadata_props}
