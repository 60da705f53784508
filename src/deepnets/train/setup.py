"""Everything :func:`deepnets.fit` does before its first step, each part once: the checks, the
run's random streams, the device, precision, channels-last, compile and DDP set-up, the loss, the
batches, the validation, the optimizer, the callbacks in their order, and the step.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch
from torch import Tensor

from .._registry import check_choice, check_number, check_positive_int, eval_mode
from ..errors import ConfigError, DataError
from ..losses import code_targets, get_loss
from ..nn.dropout import Dropout as LectureDropout
from .batches import BatchLoss, BatchSource, TensorBatches, sample_count
from .callbacks import Callback, CallbackList, Checkpointer, History, NonFiniteGuard
from .distributed import ShardedBatches, world
from .dtypes import check_input_dtype
from .metrics import evaluate
from .optimizers import make_optimizer
from .step import input_transform, make_step

#: precision name -> autocast dtype (None: no autocast)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
#: the rule of thumb: at least this many training examples per weight
EXAMPLES_PER_WEIGHT = 10


class FewExamplesWarning(UserWarning):
    """The training set has fewer than 10 examples per weight (N < 10·N_W): expect overfitting."""


def warn_few_examples(n_examples: int, n_weights: int, *, stacklevel: int = 3) -> bool:
    """Warn (a :class:`FewExamplesWarning`) when N < 10·N_W; return whether it warned.

    The lecture's rule of thumb asks for about ten training examples per free weight N_W before
    the training error says much about the error on new data (Baum & Haussler 1989 give N ≈ N_W/ε
    for an error rate ε = 0.1).
    """
    if n_examples >= EXAMPLES_PER_WEIGHT * n_weights:
        return False
    msg = (f"the training set has {n_examples} examples for {n_weights} weights, fewer than "
           f"{EXAMPLES_PER_WEIGHT} x {n_weights} = {EXAMPLES_PER_WEIGHT * n_weights}: expect overfitting "
           f"(use fewer hidden units, regularization, or early stopping)")
    warnings.warn(msg, FewExamplesWarning, stacklevel=stacklevel)
    return True


def overfitting_watched(model, *, validation, penalty, input_noise, optimizer_options) -> str | None:
    """What already guards a run against overfitting, in the lecture's list of remedies (a
    validation split that shows it, a penalty or weight decay, training with noise, dropout), or
    None. :func:`~deepnets.train.loop.fit` gives the N < 10·N_W warning only to a run with none:
    the rule of thumb is a worst-case bound (the digits MLP reaches 98% test accuracy with 1168
    examples for 7510 weights while its validation split watches it)."""
    if validation is not None:
        return "a validation split"
    if penalty is not None:
        return "a penalty"
    if input_noise:
        return "input noise"
    if (optimizer_options or {}).get("weight_decay"):
        return "weight decay"
    if any(_drops(m) for m in model.modules()):
        return "dropout"
    return None


def _drops(module) -> bool:
    """Whether ``module`` is a dropout that drops: torch's (``p`` the drop probability) or the
    lecture's :class:`~deepnets.nn.dropout.Dropout` (``p`` the keep probability)."""
    if isinstance(module, torch.nn.modules.dropout._DropoutNd):
        return module.p > 0
    return isinstance(module, LectureDropout) and module.p < 1


@contextlib.contextmanager
def seeded(seed: int):
    """torch's global RNG seeded with ``seed`` for the block, the caller's state put back after."""
    cuda = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def make_loss(loss, model):
    """The cost ``fit`` minimises: a :class:`~deepnets.train.batches.BatchLoss` as it is, anything
    else (a name, a :class:`~deepnets.losses.Loss`, a callable ``(pred, target)``) by ``get_loss``,
    resolved for what ``model`` outputs (logits or a deepnets MLP's probabilities) before any
    DDP or compile wrapper hides it."""
    return loss if isinstance(loss, BatchLoss) else get_loss(loss, model=model)


def check_options(*, epochs, batch_size, input_noise, precision) -> None:
    """Raise :class:`~deepnets.errors.ConfigError` naming the first option out of range."""
    check_positive_int("epochs", epochs, allow_zero=True)
    check_positive_int("batch_size", batch_size, allow_none=True)  # None: full batch
    check_number("input_noise (a variance)", input_noise, low=0.0)
    check_choice("precision", precision, PRECISIONS)


def prepare_model(model: torch.nn.Module, *, device=None, channels_last: bool = False, compile: bool = False):
    """``(model, forward)``: ``model`` moved to ``device``, its 4-D weights channels-last, wrapped in
    DistributedDataParallel under torchrun (averaging gradients over the ranks); ``forward`` is
    ``torch.compile(model)`` with ``compile`` (compilation takes seconds to minutes), else model.
    The model is left in training mode."""
    if device is not None:
        model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if world()[1] > 1 and not isinstance(model, torch.nn.parallel.DistributedDataParallel):
        model = torch.nn.parallel.DistributedDataParallel(model)
    model.train()
    return model, (torch.compile(model) if compile else model)


@torch.no_grad()
def _n_outputs(model, x: Tensor) -> int:
    sizes = getattr(model, "sizes", None)
    if sizes:
        return sizes[-1]
    with eval_mode(model):
        return model(x[:2]).shape[1]


def _tensors(data) -> tuple | None:
    """``data`` as a tuple of tensors when it is one (or a list of them), else None."""
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, Tensor) for t in data):
        return tuple(data)
    return None


def _pair(tensors: tuple, loss, what: str) -> tuple:
    if len(tensors) != 2:
        raise ConfigError(f"{what}: a loss (pred, target) reads (x, y), got {len(tensors)} tensors "
                          f"(a BatchLoss reads batches of any form)")
    x, y = tensors
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{what}: {x.shape[0]} inputs but {y.shape[0]} targets")
    if x.shape[0] == 0:
        raise DataError(f"{what} is empty")
    return x, y


def make_batches(data, model, loss, *, batch_size, shuffle: bool, device=None, generator=None):
    """``(batches, n_examples, labels_checked)``: tensor data batched by a
    :class:`~deepnets.train.batches.TensorBatches` (this rank's share under torchrun), moved to
    ``device``, class labels checked once (or coded once, for losses that take coded targets); a
    batch source or an iterable of batches as it is (``n_examples`` None)."""
    if isinstance(data, Tensor):
        raise ConfigError(f"data is one tensor of shape {tuple(data.shape)}: give a tuple, (x, y) or (x,)")
    tensors = _tensors(data)
    if tensors is None:
        if not (isinstance(data, BatchSource) or hasattr(data, "__iter__")):
            raise ConfigError(f"data must be tensors (x, y), a batch source or an iterable of batches, "
                              f"got {type(data).__name__}")
        return data, None, False
    checked = False
    if not isinstance(loss, BatchLoss):
        x, y = _pair(tensors, loss, "training data")
        check_input_dtype(model, x, "training inputs")
        if device is not None:
            x, y = x.to(device), y.to(device)
        if not y.is_floating_point() and hasattr(loss, "code"):
            if getattr(loss, "takes_labels", True):
                code_targets(y, _n_outputs(model, x))  # check the label range once, not every step
                checked = True
            else:
                y = loss.code(y, _n_outputs(model, x))  # code class labels once, not every step
        tensors = (x, y)
    elif device is not None:
        tensors = tuple(t.to(device) for t in tensors)
    rank, size = world()
    if size > 1:
        batches = ShardedBatches(*tensors, batch_size=batch_size, rank=rank, world_size=size, shuffle=shuffle,
                                 generator=generator)
    else:
        batches = TensorBatches(*tensors, batch_size=batch_size, shuffle=shuffle, generator=generator)
    return batches, tensors[0].shape[0], checked


def make_validation(validation, model, loss, *, metrics=(), device=None, batch_size=None):
    """``validate() -> {name: value}`` evaluated after every epoch (the loop prefixes ``val_``), or None.

    With a loss ``(pred, target)``: ``validation`` is ``(x, y)``, giving the loss and ``metrics``
    (:func:`~deepnets.train.metrics.evaluate`). With a batch loss: tensors (batched by
    ``batch_size``) or any iterable of batches, giving the sample-weighted mean loss alone.
    """
    if validation is None:
        return None
    if isinstance(validation, Tensor):
        raise ConfigError(f"validation is one tensor of shape {tuple(validation.shape)}: give a tuple, (x, y) or (x,)")
    tensors = _tensors(validation)
    if not isinstance(loss, BatchLoss):
        if tensors is None or len(tensors) != 2:
            raise ConfigError("validation must be a pair of tensors (x, y)")
        x, y = _pair(tensors, loss, "validation data")
        check_input_dtype(model, x, "validation inputs")
        if device is not None:
            x, y = x.to(device), y.to(device)
        return lambda: evaluate(model, x, y, loss=loss, metrics=metrics)
    if metrics:
        raise ConfigError("metrics compare model(x) with y: with a batch loss, compute them in a callback")
    if tensors is not None:
        tensors = tuple(t.to(device) for t in tensors) if device is not None else tensors
        validation = TensorBatches(*tensors, batch_size=batch_size, shuffle=False)

    @torch.no_grad()
    def validate():
        total, count = 0.0, 0
        with eval_mode(model):
            for batch in validation:
                n = sample_count(batch)
                total, count = total + float(loss(model, batch)) * n, count + n
        if count == 0:
            raise DataError("the validation data yielded no batches")
        return {"loss": total / count}

    return validate


def arrange_callbacks(callbacks, loss, *, guard: bool, history: History, penalty=None) -> CallbackList:
    """The callbacks in the order they are called: a batch loss and a penalty that are callbacks
    first (their states go into checkpoints; :class:`~deepnets.adaptive_lambda.AdaptiveLambda`
    is one), the user's, the non-finite guard, the history, then the checkpointers (a save sees
    every other callback's work on the step)."""
    user = list(callbacks)
    for part in (penalty, loss):
        if isinstance(part, Callback) and not any(c is part for c in user):
            user.insert(0, part)
    bad = [c for c in user if not isinstance(c, Callback)]
    if bad:
        raise ConfigError(f"callbacks must be Callback objects, got {type(bad[0]).__name__}")
    savers = [c for c in user if isinstance(c, Checkpointer)]
    rest = [c for c in user if not isinstance(c, Checkpointer)]
    return CallbackList(rest + ([NonFiniteGuard()] if guard else []) + [history] + savers)


def setup(model, data, *, seed: int, loss, optimizer, lr, layer_lr, optimizer_options, batch_size, shuffle,
          validation, metrics, callbacks, guard, input_noise, penalty, epochs, device, precision,
          channels_last, compile) -> dict:
    """The parts of a run, as :class:`~deepnets.train.loop.Loop` takes them (``fit``'s arguments)."""
    check_options(epochs=epochs, batch_size=batch_size, input_noise=input_noise, precision=precision)
    loss = make_loss(loss, model)
    generator = torch.Generator().manual_seed(seed)  # the order and the noise: the run's own stream
    model, forward = prepare_model(model, device=device, channels_last=channels_last, compile=compile)
    batches, n_examples, checked = make_batches(data, model, loss, batch_size=batch_size, shuffle=shuffle,
                                                device=device, generator=generator)
    validate = make_validation(validation, model, loss, metrics=metrics, device=device, batch_size=batch_size)
    optimizer = make_optimizer(optimizer, model, lr=lr, layer_lr=layer_lr, **(optimizer_options or {}))
    history = History()
    cbs = arrange_callbacks(callbacks, loss, guard=guard, history=history, penalty=penalty)
    transform = input_transform(noise_std=math.sqrt(input_noise), channels_last=channels_last, generator=generator)
    step = make_step(model, optimizer, loss, forward=forward, penalty=penalty, amp=PRECISIONS[precision],
                     compile=compile, after_backward=cbs.active("on_after_backward"), transform=transform,
                     validate=not checked)
    watched = overfitting_watched(model, validation=validation, penalty=penalty, input_noise=input_noise,
                                  optimizer_options=optimizer_options)
    return dict(model=model, optimizer=optimizer, loss=loss, batches=batches, step=step, callbacks=cbs,
                history=history, generator=generator, validate=validate,
                n_examples=None if watched else n_examples)  # n_examples: for the few-examples warning alone
