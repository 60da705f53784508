"""``fit``: one small training loop; everything optional is a callback.

The loop is the lecture's algorithm: shuffle, then for each batch a forward pass, a backward pass
and an update (:mod:`deepnets.train.step` chooses how, once), then the epoch's logs. Online
training is ``batch_size=1``, minibatch the default, full batch ``batch_size=None``. What it trains
on is the batch contract of :mod:`deepnets.train.batches`; everything before the first step is
:mod:`deepnets.train.setup`; checkpoints, resume, early stopping, clipping, schedules and the
progress bar are callbacks (:mod:`deepnets.train.callbacks`), called in Keras's order.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import torch
from torch import Tensor

from ..errors import CheckpointError, DataError, TrainingDiverged, TrainingInterrupted
from .batches import BatchSource, TensorBatches, sample_count
from .callbacks import Callback, CallbackList, History
from .callbacks.base import unpack_series
from .distributed import all_gather_rows, all_max, all_mean, world
from .metrics import evaluate
from .setup import PRECISIONS, FewExamplesWarning, seeded, setup, warn_few_examples

__all__ = ["fit", "evaluate", "Loop", "TensorBatches", "FewExamplesWarning", "PRECISIONS"]


class Loop:
    """The running state callbacks see (``self.loop``) and a checkpoint saves: model, optimizer,
    loss, history, the position (epoch, batch inside it, optimizer steps, the epoch's order, the
    running sums), ``stop_training`` (a callback ended the run: saved, so a resumed run ends
    there too) and ``interrupted`` (the signal that asked to stop: not saved). A signal handler
    sets ``signal``; the loop takes it into ``interrupted`` after a step and after an epoch's end
    (:meth:`poll_interrupt`), under torchrun on every rank at once."""

    def __init__(self, *, model, optimizer, loss, batches, step, callbacks: CallbackList, history: History,
                 generator: torch.Generator, validate=None, n_examples: int | None = None,
                 epochs: int | None = None):
        self.model, self.optimizer, self.loss, self.history = model, optimizer, loss, history
        self.batches, self.step_fn, self.callbacks, self.generator = batches, step, callbacks, generator
        self.validate, self.n_examples = validate, n_examples
        self.resumable = isinstance(batches, BatchSource)
        self.named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in self.named_params]
        self.epoch = 0          # the epoch running (0-based)
        self.position = 0       # batches done in this epoch
        self.step = 0           # optimizer steps done in all
        self.order = None       # this epoch's sample order (None: not shuffled, or not a batch source)
        self.epoch_total = None  # Σ E_b · N_b over this epoch's batches so far
        self.epoch_count = 0
        self.stop_training = False
        self.interrupted: int | None = None
        self.signal: int | None = None  # set by a signal handler (GracefulStop) at any moment
        self.world_size = world()[1]
        self.epochs = epochs    # the epochs fit runs (a checkpointer knows its last save)
        callbacks.set_loop(self)

    def poll_interrupt(self) -> bool:
        """Take a signal received since the last poll into ``interrupted``; True when training is
        to stop for one. Under torchrun the ranks agree (a signal to any rank stops every rank
        after the same step), so that all of them save and stop together."""
        if self.interrupted is None:
            got = self.signal or 0
            if self.world_size > 1:
                got = all_max(got, device=next((p.device for p in self.params), None))
            self.interrupted = got or None
        return self.interrupted is not None

    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly where it is (plain data and tensors)."""
        return {
            "epoch": self.epoch, "position": self.position, "step": self.step,
            "order": self.order, "generator": self.generator.get_state(),
            # every rank's running sum (rank r's in row r): each rank resumes its own
            "epoch_total": None if self.epoch_total is None else all_gather_rows(
                self.epoch_total.detach().reshape(1)).cpu(),
            "epoch_count": self.epoch_count,
            "history": self.history.packed(),  # tensors, appended to as the run goes (not re-packed a save)
            "callbacks": self.callbacks.state_dict(), "stop_training": bool(self.stop_training),
        }

    def load_state_dict(self, state: dict) -> None:
        """Put back a :meth:`state_dict`, the callbacks' states included (after ``on_train_begin``)."""
        self.epoch, self.position, self.step = int(state["epoch"]), int(state["position"]), int(state["step"])
        self.order = state["order"]
        if state["generator"] is not None:
            self.generator.set_state(state["generator"])
        device = next((p.device for p in self.params), None)
        total = state["epoch_total"]
        if total is not None:  # one row per rank (one row: a run in one process)
            rank, size = world()
            if total.numel() != size:
                raise CheckpointError(f"the checkpoint holds the running sums of {total.numel()} processes, "
                                      f"this run has {size}: resume with as many processes as it was saved from")
            total = total[rank].reshape(()).to(device)
        self.epoch_total = total
        self.epoch_count = int(state["epoch_count"])
        self.history.epoch = unpack_series(state["history"]["epoch"])
        self.history.history = {k: unpack_series(v) for k, v in state["history"]["logs"].items()}
        self.callbacks.load_state_dict(state.get("callbacks", {}))
        self.stop_training = bool(state.get("stop_training", False))  # (absent from older checkpoints)

    def new_epoch(self) -> None:
        """Start an epoch at its first batch: the running sums cleared, a fresh order drawn."""
        self.position, self.epoch_total, self.epoch_count = 0, None, 0
        self.order = self.batches.new_order(self.generator) if self.resumable else None

    def epoch_batches(self):
        """The epoch's batches from ``position`` on (an iterable skips those done; a source replays its order)."""
        if self.resumable:
            return self.batches.iterate(self.order, self.position)
        return itertools.islice(iter(self.batches), self.position, None)

    def record(self, E: Tensor, n: int) -> None:
        """Count one step: Σ_b E_b N_b accumulated in place (one op, no sync), position and step."""
        if self.epoch_total is None:
            self.epoch_total = E * n
        else:
            self.epoch_total.add_(E, alpha=n)
        self.epoch_count += n
        self.position += 1
        self.step += 1

    def epoch_logs(self) -> dict:
        """``loss`` (the epoch's sample-weighted mean, over every rank) and ``val_*``."""
        if self.epoch_count == 0:
            raise DataError("the training data yielded no batches")
        mean = self.epoch_total / self.epoch_count
        logs = {"loss": float(all_mean(mean) if world()[1] > 1 else mean)}
        for k, v in (self.validate() if self.validate is not None else {}).items():
            logs["val_" + k] = v
        return logs

    def abort(self, err: BaseException) -> None:
        """Training failed with ``err``: a divergence gets the history so far; every callback with
        ``on_train_abort()`` puts back what it changed outside the run (GracefulStop: the signal
        handlers), since ``on_train_end`` is not called then."""
        if isinstance(err, TrainingDiverged):
            err.history, self.history.stop_reason = self.history, str(err)
        for c in self.callbacks:
            if hasattr(c, "on_train_abort"):
                c.on_train_abort()

    def finish(self, logs: dict) -> None:
        """End the run: a signal that came in the last epoch's end hooks counts (a run that ended
        at an epoch's end), the callbacks' ``on_train_end``, then :meth:`close`."""
        if self.position == 0:
            self.poll_interrupt()
        self.callbacks.on_train_end(logs)
        self.close()

    def close(self) -> None:
        """Untie the loop from its callbacks and step (each refers back to it): the run's buffers
        and optimizer go when the last callback does, and no garbage-collector pass is left owed."""
        self.callbacks = self.step_fn = self.batches = None

    def warn_few_examples(self) -> None:
        """:class:`FewExamplesWarning` when a run starts (not when resumed) with N < 10·N_W and
        nothing watches for overfitting (``n_examples`` is None then: see ``overfitting_watched``)."""
        if self.step == 0 and self.n_examples is not None and world()[0] == 0:
            warn_few_examples(self.n_examples, sum(p.numel() for p in self.params), stacklevel=4)


def fit(model: torch.nn.Module, data, *, loss="lms", optimizer="adam", lr: float | None = None, epochs: int = 100,
        batch_size: int | None = 32, shuffle: bool = True, validation=None, metrics: Sequence = (),
        callbacks: Iterable[Callback] = (), seed: int = 0, guard: bool = True, layer_lr=None,
        optimizer_options: dict | None = None, input_noise: float = 0.0, penalty=None, device=None,
        precision: str = "fp32", channels_last: bool = False, compile: bool = False) -> History:
    """Train ``model`` on ``data`` and return its :class:`~deepnets.train.callbacks.History`.

    Each step minimises the batch cost E(W) = (1/N_b) Σ_n E_n (+ ``penalty(model, x)``) through
    ``optimizer.step(closure)``, with gradients by the co-state recursion ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ
    for deepnets MLPs and by autograd otherwise (:mod:`deepnets.train.step`). The epoch's ``loss``
    is the sample-weighted mean of the E_b. To resume, pass ``Checkpointer(run, resume=True)``.

    Args:
        model: any ``torch.nn.Module``.
        data: ``(x, y)`` (or any tuple of same-length tensors), a resumable batch source, or any
            iterable of batches such as a DataLoader (:mod:`deepnets.train.batches`).
        loss: ``"lms"`` (default), ``"lp"``, ``"cross_entropy"``, a :class:`~deepnets.losses.Loss`
            or ``f(pred, target)``, on ``model(batch[0])`` and ``batch[1]``; or a
            :class:`~deepnets.train.batches.BatchLoss`, called ``loss(model, batch)``.
        optimizer: a name (default ``"adam"``), a ``torch.optim.Optimizer``, or ``f(param_groups, lr)``.
        lr: learning rate η. Default None: the optimizer's own.
        epochs: passes over the data. Default 100.
        batch_size: for tensor data: 1 = online, None = full batch. Default 32.
        shuffle: for tensor data: a fresh order every epoch. Default True.
        validation: ``(x, y)``, evaluated after each epoch into ``val_loss`` and ``val_<metric>``
            (with a batch loss: any data form, ``val_loss`` alone). Default None.
        metrics: names (``"accuracy"``, ``"rmse"``, ``"mse"``) or ``f(pred, target)``. Default none.
        callbacks: :class:`~deepnets.train.callbacks.Callback` objects, called in the order given,
            checkpointers last. Default none.
        seed: seeds the order and the noise (a private generator) and torch's global RNG (inside
            ``torch.random.fork_rng``: the caller's RNG state is kept). Default 0.
        guard: stop at the first non-finite loss or gradient (:class:`NonFiniteGuard`). Default True.
        layer_lr: per-layer rates: a list (one per ``model.layers``) or prefix -> rate. Default None.
        optimizer_options: more keyword arguments of the optimizer (momentum, ...). Default None.
        input_noise: variance σ² of Gaussian noise added to each input batch ``batch[0]``. Default 0.
        penalty: ``penalty(model, x) -> P`` added to E (:mod:`deepnets.regularizers`). Default None.
        device: move the model and tensor data there first. Default None: where they are.
        precision: ``"fp32"`` (default) or ``"bf16"`` (forward pass and cost under autocast).
        channels_last: 4-D activations and conv weights in channels-last format. Default False.
        compile: the forward pass through ``torch.compile``. Default False.

    Raises:
        TrainingDiverged: a non-finite loss or gradient (``err.history`` holds the logs so far).
        TrainingInterrupted: a :class:`GracefulStop` caught SIGTERM or SIGINT.

    Warns:
        FewExamplesWarning: when a run on tensors starts (not resumed) with N < 10·N_W examples and
            no validation data, penalty, weight decay, input noise or dropout watches for overfitting.

    >>> from deepnets import MLP
    >>> from deepnets.data import xor
    >>> net = MLP([2, 4, 1], activation="tanh", output="logistic", seed=0)
    >>> h = fit(net, (xor().x, xor().y), loss="cross_entropy", lr=0.05, epochs=300, batch_size=None,
    ...         validation=(xor().x, xor().y), metrics=["accuracy"])
    >>> h.history["val_accuracy"][-1]
    1.0
    """
    with seeded(seed):
        loop = Loop(**setup(model, data, seed=seed, loss=loss, optimizer=optimizer, lr=lr, layer_lr=layer_lr,
                            optimizer_options=optimizer_options, batch_size=batch_size, shuffle=shuffle,
                            validation=validation, metrics=metrics, callbacks=callbacks, guard=guard,
                            input_noise=input_noise, penalty=penalty, epochs=epochs, device=device,
                            precision=precision, channels_last=channels_last, compile=compile), epochs=epochs)
        cb, step, logs = loop.callbacks, loop.step_fn, {}
        cb.on_train_begin(logs)  # a Checkpointer(resume=...) puts the run back here
        loop.warn_few_examples()
        batch_begin, batch_end = cb.active("on_batch_begin"), cb.active("on_batch_end")  # hot: skipped if unused
        record, single = loop.record, loop.world_size == 1  # (a signal is polled for when one came, or under torchrun)
        try:  # (a run a callback had ended before its checkpoint takes no more epochs)
            for epoch in range(loop.epoch, loop.epoch if loop.stop_training else epochs):
                loop.epoch = epoch
                if loop.position == 0:  # a fresh epoch (a resumed one goes on from its position)
                    cb.on_epoch_begin(epoch, logs)
                    loop.new_epoch()
                for b, batch in enumerate(loop.epoch_batches(), loop.position):
                    n = sample_count(batch)
                    if batch_begin is not None:
                        batch_begin(b, {"size": n})
                    E = step(batch, b)
                    record(E, n)
                    if batch_end is not None:
                        batch_end(b, {"loss": E, "size": n})
                    if (not single or loop.signal is not None) and loop.poll_interrupt() or loop.stop_training:
                        break
                if loop.interrupted is not None and not loop.stop_training:
                    break  # mid-epoch: no epoch-end logs; a checkpoint callback saves the position
                logs = loop.epoch_logs()  # (an epoch a callback ended ends as it would uninterrupted)
                loop.epoch, loop.position = epoch + 1, 0  # the next epoch starts at its first batch
                cb.on_epoch_end(epoch, logs)
                if loop.poll_interrupt() or loop.stop_training:
                    break
        except BaseException as err:
            loop.abort(err)  # the logs on a divergence; callbacks put back what they changed (signal handlers)
            raise
        loop.finish(logs)  # on_train_end (a signal in the last epoch's end hooks counts)
    if loop.interrupted is not None:
        raise TrainingInterrupted(loop.interrupted, loop.history, step=loop.step,
                                  epoch=loop.epoch + (1 if loop.position else 0))  # the epoch of the last step
    return loop.history
