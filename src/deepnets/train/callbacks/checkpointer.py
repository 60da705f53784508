"""Checkpoints while training, and resume from them: the run's backup and restore (Keras's
``BackupAndRestore``); the loop itself knows nothing of checkpoints.

A checkpoint holds the whole training state: weights, optimizer state, every RNG, and the loop's
own (epoch, position inside the epoch, the epoch's sample order, the shuffling generator, the
running epoch sums, the history) with every callback's state (``state_dict``), so a run resumed
from it continues bit for bit on the CPU. The files are written by
:class:`~deepnets.train.checkpoint.CheckpointManager` (the store).
"""

from __future__ import annotations

import logging
import time

from ...errors import CheckpointError, ConfigError
from ..checkpoint import CheckpointManager, restore
from ..checkpoint_format import SUFFIX
from ..checkpoint_snapshot import SnapshotTaker
from ..checkpoint_writer import SHARE, BackgroundWriter
from ..distributed import is_main, world
from .base import Callback

log = logging.getLogger(__name__)


def check_world_size(ckpt: dict) -> None:
    """Refuse a checkpoint written by a run on another number of processes than this one: each
    rank's share of the data, the batch per step and the sample order differ then, so the run
    would not continue where it stopped. (A checkpoint that records none was written by one.)

    Raises:
        CheckpointError: naming the checkpoint and both numbers of processes.
    """
    saved, now = int((ckpt.get("extra") or {}).get("world_size", 1)), world()[1]
    if saved != now:
        how = f"torchrun --nproc_per_node {saved}" if saved > 1 else "one process, without torchrun"
        raise CheckpointError(f"{ckpt.get('path', 'checkpoint')}: written by a run on {saved} process(es), resumed "
                              f"by {now}: resume it the way it ran ({how}), or the data shards and batches differ")


class Checkpointer(Callback):
    """Save checkpoints while training; with ``resume``, first put a saved run back.

    Saves every ``every_steps`` optimizer steps and/or every ``every_epochs`` epochs, and once
    more when training is interrupted (:class:`~deepnets.train.callbacks.GracefulStop`). Under
    torchrun, rank 0 alone writes; every rank resumes. :func:`deepnets.fit` calls checkpointers
    after every other callback: a save sees each step complete (the history included), and a
    resume in ``on_train_begin`` comes after every other callback has set itself up, whose saved
    state it then loads.

    Args:
        manager: a :class:`~deepnets.train.checkpoint.CheckpointManager`, or a run folder to make
            one in (``keep`` newest kept).
        every_steps: save after every this many optimizer steps (0: never mid-epoch). Default 0.
        every_epochs: save after every this many epochs (0: never). Default 1.
        keep: checkpoints kept when a folder is given. Default 3.
        config: the resolved config stored with each checkpoint (plain data). Default None.
        resume: ``False`` (train from the start, default); ``True``: from the newest good
            checkpoint of the run, if there is one (else from the start); or a checkpoint that
            :meth:`CheckpointManager.load` returned, from that one.
        background: write checkpoints on a thread of their own while training goes on
            (:class:`~deepnets.train.checkpoint_writer.BackgroundWriter`). The state is copied on
            the training thread at each save (the same file as a save in one go); the header,
            checksum, write, fsync and rename happen on the writer. One write at a time, and when
            the disk is slower than the saves the newest state waiting is written and an older one
            waiting is superseded, or not copied at all while a later save is certain
            (:meth:`save_point`; both counted in ``skipped``). When saves come faster than
            ``share`` (default 0.05, :data:`~deepnets.train.checkpoint_writer.SHARE`) of one
            core allows, the writer rests between checkpoints, so that background saves cost at
            most about that share of the run. What is on disk is whole and exact, at most one
            write and one rest behind, but not every save asked for is written. The run ends after
            its last save is written; a failed write raises at the next save or at the end.
            Default True; ``False``: every save written, in one go on the training thread.
        share: with ``background``, the most of one core its writes take (the writer's rest);
            1: no rest, every save written that the disk keeps up with. Default 0.05. In TOML
            ``train.checkpoint.share``.

    Raises:
        ConfigError: (at the start of training) the checkpoint holds no training-loop state.
        CheckpointError: it does not fit the model or optimizer (nothing is changed then).

    >>> import tempfile, torch, deepnets
    >>> x, y = torch.randn(32, 2), torch.randn(32, 1)
    >>> with tempfile.TemporaryDirectory() as run:
    ...     h = deepnets.fit(torch.nn.Linear(2, 1), (x, y), epochs=2, callbacks=[Checkpointer(run)])
    ...     h = deepnets.fit(torch.nn.Linear(2, 1), (x, y), epochs=3, callbacks=[Checkpointer(run, resume=True)])
    >>> h.epoch  # epochs 0 and 1 came from the checkpoint
    [0, 1, 2]
    """

    def __init__(self, manager, *, every_steps: int = 0, every_epochs: int = 1, keep: int = 3, config=None,
                 resume: bool | dict = False, background: bool = True, share: float = SHARE):
        if every_steps < 0 or every_epochs < 0:
            raise ConfigError(f"checkpoint intervals must be >= 0, got every_steps={every_steps}, "
                              f"every_epochs={every_epochs}")
        if not (isinstance(resume, (bool, dict))):
            raise ConfigError(f"resume must be True, False or a loaded checkpoint (dict), got {type(resume).__name__}")
        self.manager = manager if isinstance(manager, CheckpointManager) else CheckpointManager(manager, keep=keep)
        self.every_steps, self.every_epochs, self.config = int(every_steps), int(every_epochs), config
        self.resume = resume
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise ConfigError(f"share: the most of one core background writes take, a fraction in (0, 1], got {share!r}")
        self.writer = BackgroundWriter(self.manager, share=float(share)) if background else None
        self.snapshot = SnapshotTaker()  # the state's structure resolved once, reused while it holds
        self.last = None          # the folder of the newest checkpoint written
        self.resumed_from = None  # the folder of the checkpoint the run resumed from

    def on_train_begin(self, logs=None):
        ckpt = self.resume
        if ckpt is True:
            ckpt = self.manager.load_latest_good()  # skips corrupt or refused ones to an older good one
            if ckpt is None:
                log.info("no checkpoint in %s: training from the start", self.manager.dir)
        if not ckpt:
            return
        if "loop" not in (ckpt.get("extra") or {}):
            raise ConfigError(f"{ckpt.get('path', 'checkpoint')}: holds no training-loop state to resume from")
        check_world_size(ckpt)
        loop = self.loop
        restore(ckpt, model=loop.model, optimizer=loop.optimizer, rng=True)
        loop.load_state_dict(ckpt["extra"]["loop"])  # the position, the history, every callback's state
        self.resumed_from = ckpt.get("path")

    def save(self):
        """Write a checkpoint now (rank 0 only); return its folder (None on other ranks). Called on
        every rank at once: the loop's state gathers every rank's running sums."""
        loop, cpu = self.loop, time.thread_time()
        state = loop.state_dict()
        if not is_main():
            return None
        snap = self.snapshot(model=loop.model, optimizer=loop.optimizer, step=loop.step, epoch=loop.epoch,
                             position=loop.position, config=self.config,
                             extra={"loop": state, "world_size": world()[1]})  # resumed only by as many ranks
        snap.cost = time.thread_time() - cpu
        if self.writer is None:
            self.last = self.manager.write(loop.step, snap)
            return self.last
        self.writer.submit(loop.step, snap)
        return self.manager.dir / (self.manager._check_name(loop.step) + SUFFIX)

    @property
    def skipped(self) -> int:
        """Saves a newer one replaced before they were written (background writing only)."""
        return 0 if self.writer is None else self.writer.skipped

    def flush(self):
        """Wait until every save is written (background writing); raise what a write raised."""
        if self.writer is not None:
            try:
                self.writer.flush()
            finally:
                self.last = self.writer.last

    def on_train_abort(self):
        """Training failed: let a background write finish (its error only logged: the run's own
        error is the one to report)."""
        try:
            self.flush()
        except Exception as exc:
            log.warning("the last checkpoint write failed too: %s", exc)

    def on_batch_end(self, batch, logs=None):
        if self.every_steps and self.loop.step % self.every_steps == 0 and self.loop.interrupted is None:
            # the end of this epoch saves too when the epoch intervals say so (a stop or a signal
            # still ends the epoch, or saves at the end of training)
            self.save_point(self.every_epochs > 0 and (self.loop.epoch + 1) % self.every_epochs == 0)

    def on_epoch_end(self, epoch, logs=None):
        epochs = getattr(self.loop, "epochs", None)  # the run's last epoch is epochs - 1
        if self.every_epochs and (epoch + 1) % self.every_epochs == 0:
            self.save_point(epochs is not None and not self.loop.stop_training and epoch + self.every_epochs < epochs)
        if epochs is not None and (self.loop.stop_training or epoch + 1 >= epochs):
            self.flush()  # the last write done inside training, while a signal there is still caught

    def save_point(self, later_save: bool):
        """A save the intervals ask for. Writing in the background, while the writer is still busy
        with an earlier save and when a later save point of this run is certain (``later_save``:
        an epoch end the intervals save at, or the save at the end of an interrupted run), the
        state is not copied (counted in ``skipped``): the snapshot would only wait and be
        superseded by the next one, as saves coming faster than the disk writes are now. So a
        run pays for the copies that are written; what is on disk is whole and exact as ever,
        at most one write and one save interval behind. Otherwise (in one process) :meth:`save`.
        Under torchrun every rank saves (the loop's state is gathered from all of them)."""
        if later_save and self.writer is not None and self.writer.busy and self.loop.world_size == 1:
            self.writer.skipped += 1
            return None
        return self.save()

    def on_train_end(self, logs=None):
        path = self.save() if self.loop.interrupted is not None else None
        self.flush()
        self.snapshot = SnapshotTaker()  # (its cache refers to the run's optimizer state)
        if path is not None:
            log.warning("interrupted: checkpoint written to %s", path)
