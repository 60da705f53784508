"""``fit``: one small training loop; everything optional is a callback.

The loop is the lecture's algorithm: shuffle, then for each batch a forward pass, a backward pass
(the co-state recursion for deepnets MLPs, autograd for any other module) and an update. Online
training is ``batch_size=1``, minibatch the default, full batch ``batch_size=None``. Every
optimizer is driven through ``optimizer.step(closure)``, so line-search and second-order
methods that re-evaluate the loss work unchanged.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Iterable, Sequence

import torch
from torch import Tensor

from ..backprop import costate_backward
from .._registry import eval_mode
from ..errors import ConfigError, DataError, TrainingDiverged, TrainingInterrupted
from ..losses import code_targets, get_loss
from ..nn.mlp import supports_costate
from .batches import TensorBatches
from .callbacks import Callback, CallbackList, History, NonFiniteGuard
from .metrics import get_metric
from .fused_step import fused_adam_step
from .optimizers import make_optimizer


#: the rule of thumb: at least this many training examples per weight
EXAMPLES_PER_WEIGHT = 10


class FewExamplesWarning(UserWarning):
    """The training set has fewer than 10 examples per weight (N < 10·N_W): expect overfitting."""


def warn_few_examples(n_examples: int, n_weights: int) -> bool:
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
    warnings.warn(msg, FewExamplesWarning, stacklevel=3)
    return True


#: precision name -> autocast dtype (None: no autocast)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


class Loop:
    """The state callbacks see: model, optimizer, loss, epoch, the history, and ``stop_training``."""

    def __init__(self, model, optimizer, loss, history, *, scheduler=None, generator=None):
        self.model, self.optimizer, self.loss, self.history = model, optimizer, loss, history
        self.scheduler, self.generator = scheduler, generator
        self.named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in self.named_params]
        self.epoch = 0          # the epoch running (0-based)
        self.position = 0       # batches done in this epoch
        self.step = 0           # optimizer steps done in all
        self.order = None       # this epoch's sample order (None: not shuffled, or not tensor data)
        self.epoch_total = None  # Σ E_b · N_b over this epoch's batches so far
        self.epoch_count = 0
        self.stop_training = False
        self.interrupted: int | None = None  # the signal that asked training to stop, if any
        self.callbacks: list = []

    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly where it is (plain data and tensors)."""
        return {
            "epoch": self.epoch, "position": self.position, "step": self.step,
            "order": self.order, "generator": None if self.generator is None else self.generator.get_state(),
            "epoch_total": None if self.epoch_total is None else self.epoch_total.detach().cpu().reshape(1),
            "epoch_count": self.epoch_count,
            "history": {"epoch": list(self.history.epoch), "logs": dict(self.history.history)},
            "callbacks": {type(c).__name__: c.state_dict() for c in self.callbacks if hasattr(c, "state_dict")},
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position, self.step = int(state["epoch"]), int(state["position"]), int(state["step"])
        self.order = state["order"]
        if self.generator is not None and state["generator"] is not None:
            self.generator.set_state(state["generator"])
        self.epoch_total = None if state["epoch_total"] is None else state["epoch_total"].reshape(())
        self.epoch_count = int(state["epoch_count"])
        self.history.epoch = list(state["history"]["epoch"])
        self.history.history = {k: list(v) for k, v in state["history"]["logs"].items()}

    def load_callback_states(self, state: dict) -> None:
        """Give each callback with ``load_state_dict`` its saved state (after ``on_train_begin``)."""
        saved = state.get("callbacks", {})
        for c in self.callbacks:
            if hasattr(c, "load_state_dict") and type(c).__name__ in saved:
                c.load_state_dict(saved[type(c).__name__])


def _as_pair(data, what: str):
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise DataError(f"{what}: {x.shape[0]} inputs but {y.shape[0]} targets")
        if x.shape[0] == 0:
            raise DataError(f"{what} is empty")
        return x, y
    return None


@torch.no_grad()
def _n_outputs(model, x: Tensor) -> int:
    sizes = getattr(model, "sizes", None)
    if sizes:
        return sizes[-1]
    with eval_mode(model):
        return model(x[:2]).shape[1]


@torch.no_grad()
def _measure(model, xb: Tensor, yb: Tensor):
    """The closure of a Kalman-filter optimizer: the outputs and targets, which it differentiates itself."""
    def measure():
        out = model(xb)
        return out, (yb if yb.is_floating_point() else code_targets(yb, out.shape[1]))
    return measure


def evaluate(model, x: Tensor, y: Tensor, *, loss="lms", metrics: Sequence = (), batch_size: int = 8192,
             threshold: float | None = None) -> dict[str, float]:
    """The loss and metrics of ``model`` on ``(x, y)``, in eval mode, in chunks of ``batch_size``."""
    loss_fn = get_loss(loss, model=model)
    with eval_mode(model), torch.no_grad():  # no graph: evaluation only reads the outputs
        preds = torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])
    out = {"loss": float(loss_fn(preds, y))}
    for m in metrics:
        fn = get_metric(m)
        name = m if isinstance(m, str) else getattr(m, "__name__", "metric")
        out[name] = fn(preds, y, threshold) if threshold is not None else fn(preds, y)
    return out


def fit(model: torch.nn.Module, train, *, validation=None, loss="lms", optimizer="adam",
        lr: float | None = None, epochs: int = 100, batch_size: int | None = 32, shuffle: bool = True,
        layer_lr=None, optimizer_options: dict | None = None, input_noise: float = 0.0, penalty=None,
        metrics: Sequence = (), callbacks: Iterable[Callback] = (), guard: bool = True, seed: int = 0,
        scheduler=None, resume: dict | None = None, device=None, precision: str = "fp32",
        channels_last: bool = False, compile: bool = False) -> History:
    """Train ``model`` and return its :class:`~deepnets.train.callbacks.History`.

    Each step minimises the batch cost E(W) = (1/N_b) Σ_n E_n (+ ``penalty(model, x)``) by
    ``optimizer.step(closure)``; for deepnets MLPs the closure's gradients come from the co-state
    recursion ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ without an autograd graph.

    Args:
        model: any ``torch.nn.Module`` mapping a batch of inputs to outputs.
        train: ``(x, y)`` tensors, or any iterable of ``(x, y)`` batches (e.g. a DataLoader,
            which then controls batching and shuffling).
        validation: ``(x, y)`` evaluated after every epoch into ``val_loss`` and ``val_<metric>``.
        loss: ``"lms"`` (default), ``"lp"``, ``"cross_entropy"``, a :class:`~deepnets.losses.Loss`,
            or any callable ``(pred, target) -> scalar``.
        optimizer: a name (``"adam"`` default, ``"sgd"``, ``"adagrad"``, ``"rmsprop"``,
            ``"lbfgs"``), a ``torch.optim.Optimizer`` instance, or ``f(param_groups, lr)``.
        lr: learning rate η (default: the optimizer's usual one).
        epochs: passes over the training data. Default 100.
        batch_size: 1 = online (the lecture's incremental algorithm), None = full batch. Default 32.
        shuffle: reshuffle every epoch. Default True.
        layer_lr: per-layer learning rates: a list (one per ``model.layers``) or prefix -> rate.
        optimizer_options: extra keyword arguments of the optimizer (momentum, weight_decay, ...).
        input_noise: variance σ² of Gaussian noise added to every training input batch (the
            lecture's "training with noise"; e.g. 0.1 for standardised data). Default 0.
        penalty: a callable ``penalty(model, x) -> scalar`` added to E: a regularizer from
            :mod:`deepnets.regularizers` (weight decay, weight elimination, curvature-driven
            smoothing, which needs the batch ``x``).
        metrics: names (``"accuracy"``, ``"rmse"``, ``"mse"``) or callables for the validation set.
        callbacks: :class:`~deepnets.train.callbacks.Callback` objects, called in the order given.
        guard: stop at the first non-finite loss or gradient (:class:`NonFiniteGuard`). Default True.
        seed: seeds the shuffling and the input noise (a private ``torch.Generator``) and torch's
            global RNG for dropout (inside ``torch.random.fork_rng``: the caller's RNG state is kept).
        scheduler: an LR scheduler, or a factory ``f(optimizer) -> scheduler``; stepped once per
            epoch, after the epoch's batches.
        resume: a checkpoint from :class:`~deepnets.train.checkpoint.CheckpointManager` (``load``
            or ``latest_good``): weights, optimizer, scheduler, every RNG, and the position inside
            the epoch are restored, and training continues exactly as if never interrupted
            (bit for bit on the CPU, with ``(x, y)`` tensor data).
        device: move the model and tensor data there first (default: leave them where they are).
        precision: ``"fp32"`` (default) or ``"bf16"``: the forward pass and the cost under
            ``torch.autocast`` in bfloat16 (weights, gradients and the optimizer stay float32).
        channels_last: keep 4-D activations and conv weights in channels-last memory format
            (faster convolutions on recent GPUs and oneDNN).
        compile: run the forward pass through ``torch.compile`` (compilation takes seconds to
            minutes; worth it for long runs of large models).

    Warns:
        FewExamplesWarning: once, at the start, when ``(x, y)`` training tensors hold fewer than
            10·N_W examples for N_W trainable weights (also logged); not on ``resume``.

    Raises:
        TrainingDiverged: on a non-finite loss or gradient (``err.history`` holds the logs so far).

    >>> from deepnets import MLP
    >>> from deepnets.data import xor
    >>> d = xor()
    >>> net = MLP([2, 4, 1], activation="tanh", output="logistic", seed=0)
    >>> h = fit(net, (d.x, d.y), loss="cross_entropy", optimizer="adam", lr=0.05, epochs=300,
    ...         batch_size=None, validation=(d.x, d.y), metrics=["accuracy"])
    >>> h.history["val_accuracy"][-1]
    1.0
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"epochs must be a non-negative integer, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    if input_noise < 0:
        raise ConfigError(f"input_noise is a variance and must be >= 0, got {input_noise}")
    # the run's own random streams: shuffling and noise from a private generator, dropout and other
    # global-RNG draws from torch's RNG seeded here, inside fork_rng so the caller's state is untouched
    cuda = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        loss_fn = get_loss(loss, model=model)
        generator = torch.Generator().manual_seed(seed)
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        if device is not None:
            model.to(device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        from .distributed import ShardedBatches, all_mean, world

        rank, world_size = world()
        if world_size > 1 and not isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = torch.nn.parallel.DistributedDataParallel(model)  # averages gradients over ranks
        pair = _as_pair(train, "training data")
        labels_checked = False
        if pair is not None:
            x, y = pair
            if resume is None and rank == 0:
                warn_few_examples(x.shape[0], sum(p.numel() for p in model.parameters() if p.requires_grad))
            if not y.is_floating_point() and hasattr(loss_fn, "code"):
                if getattr(loss_fn, "takes_labels", True):
                    code_targets(y, _n_outputs(model, x))  # check the label range once, not every step
                    labels_checked = True
                else:
                    y = loss_fn.code(y, _n_outputs(model, x))  # code class labels once, not every step
            if device is not None:
                x, y = x.to(device), y.to(device)
            if world_size > 1:
                batches = ShardedBatches(x, y, batch_size, rank=rank, world_size=world_size, shuffle=shuffle,
                                         generator=generator)
            else:
                batches = TensorBatches(x, y, batch_size, shuffle=shuffle, generator=generator)
        else:
            batches = train
        val = _as_pair(validation, "validation data") if validation is not None else None
        if validation is not None and val is None:
            raise ConfigError("validation must be a pair of tensors (x, y)")
        if val is not None and device is not None:
            val = (val[0].to(device), val[1].to(device))
        optimizer = make_optimizer(optimizer, model, lr=lr, layer_lr=layer_lr, **(optimizer_options or {}))
        if scheduler is not None and not hasattr(scheduler, "step"):
            scheduler = scheduler(optimizer)
        history = History()
        # checkpoints are taken after every other callback has seen the step (the history included)
        from .checkpointing import Checkpointer

        user = list(callbacks)
        savers = [c for c in user if isinstance(c, Checkpointer)]
        cbs = [c for c in user if not isinstance(c, Checkpointer)] + ([NonFiniteGuard()] if guard else []) + [history] + savers
        cb = CallbackList(cbs)
        loop = Loop(model, optimizer, loss_fn, history, scheduler=scheduler, generator=generator)
        loop.callbacks = cbs
        cb.set_loop(loop)
        if resume is not None:
            from .checkpoint import restore

            restore(resume, model=model, optimizer=optimizer, scheduler=scheduler, rng=True)
            if "loop" not in (resume.get("extra") or {}):
                raise ConfigError(f"{resume.get('path', 'checkpoint')}: holds no training-loop state to resume from")
            loop.load_state_dict(resume["extra"]["loop"])
        tensor_data = isinstance(batches, TensorBatches)
        amp = PRECISIONS[precision]
        dev_type = next((p.device.type for p in model.parameters()), "cpu")
        forward = torch.compile(model) if compile else model
        fast = supports_costate(model) and amp is None and not compile
        kalman = getattr(optimizer, "closure_returns", None) == "outputs_targets"
        threshold = 0.0 if getattr(loss_fn, "coding", None) == "pm1" else None
        noise_std = math.sqrt(input_noise)
        after_backward = cb.on_after_backward if cb.on_after_backward.fns else None
        batch_begin = cb.on_batch_begin if cb.on_batch_begin.fns else None  # the batch hooks are hot:
        batch_end = cb.on_batch_end if cb.on_batch_end.fns else None        # skip them when unused
        opt_params = [p for g in optimizer.param_groups for p in g["params"]]
        lean_step = None if kalman else fused_adam_step(optimizer)  # Adam's kernel without its wrapper
        mlp_params = model.flat_params() if fast else None  # the same Parameter objects all run long

        logs: dict = {}
        model.train()
        cb.on_train_begin(logs)
        if resume is not None:
            loop.load_callback_states(resume["extra"]["loop"])
        resumed = resume is not None and loop.position > 0
        try:
            for epoch in range(loop.epoch, epochs):
                loop.epoch = epoch
                if resumed:  # continue the interrupted epoch: same order, same place, same running sums
                    resumed, start = False, loop.position
                    # a DataLoader cannot replay its order: skip the batches already done (exact
                    # resume mid-epoch needs (x, y) tensors, whose order the checkpoint keeps)
                    epoch_batches = (batches.iterate(loop.order, start) if tensor_data
                                     else itertools.islice(iter(batches), start, None))
                else:
                    start, loop.position, loop.epoch_total, loop.epoch_count = 0, 0, None, 0
                    cb.on_epoch_begin(epoch, logs)
                    if tensor_data:
                        loop.order = batches.new_order()
                        epoch_batches = batches.iterate(loop.order)
                    else:
                        epoch_batches = iter(batches)
                for b, (xb, yb) in enumerate(epoch_batches, start):
                    if batch_begin is not None:
                        batch_begin(b, {"size": xb.shape[0]})
                    if channels_last and xb.dim() == 4:
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    if noise_std:
                        xb = xb + noise_std * torch.randn(xb.shape, generator=generator).to(xb.device, xb.dtype)

                    def closure(xb=xb, yb=yb, b=b):
                        if fast:  # the recursion writes every gradient afresh: nothing to zero
                            E = costate_backward(model, xb, yb, loss_fn, validate=not labels_checked,
                                                 params=mlp_params, overwrite=True)
                        else:
                            for p in opt_params:  # zero_grad(set_to_none=True) without its profiler overhead
                                p.grad = None
                            with torch.autocast(dev_type, dtype=amp or torch.float32, enabled=amp is not None):
                                E = loss_fn(forward(xb), yb)
                            E.backward()
                        if penalty is not None:
                            with torch.enable_grad():
                                P = penalty(model, xb)
                                P.backward()
                            E = E.detach() + P.detach()
                        if after_backward is not None:
                            after_backward(b, E)
                        return E

                    if lean_step is not None:
                        if fast:  # the recursion needs no autograd graph
                            E = closure()
                        else:
                            with torch.enable_grad():  # as optimizer.step(closure) would
                                E = closure()
                        lean_step()
                    else:
                        E = optimizer.step(_measure(model, xb, yb) if kalman else closure)
                    E, n = E.detach(), xb.shape[0]
                    if loop.epoch_total is None:  # Σ_b E_b N_b, accumulated in place (one op a step)
                        loop.epoch_total = E * n
                    else:
                        loop.epoch_total.add_(E, alpha=n)
                    loop.epoch_count += n
                    loop.position, loop.step = b + 1, loop.step + 1
                    if batch_end is not None:
                        batch_end(b, {"loss": E, "size": n})
                    if loop.stop_training:
                        break
                if loop.interrupted is not None:
                    break  # mid-epoch: no epoch-end logs; a checkpoint callback saves the position
                if loop.epoch_count == 0:
                    raise DataError("the training data yielded no batches")
                mean = loop.epoch_total / loop.epoch_count
                logs = {"loss": float(all_mean(mean) if world_size > 1 else mean)}
                if val is not None:
                    for k, v in evaluate(model, *val, loss=loss_fn, metrics=metrics, threshold=threshold).items():
                        logs["val_" + k] = v
                if scheduler is not None:
                    scheduler.step()
                loop.epoch, loop.position = epoch + 1, 0  # the next epoch starts at its first batch
                cb.on_epoch_end(epoch, logs)
                if loop.stop_training:
                    break
        except TrainingDiverged as err:
            err.history = history
            history.stop_reason = str(err)
            raise
        cb.on_train_end(logs)
        if loop.interrupted is not None:
            raise TrainingInterrupted(loop.interrupted, history)
        return history
