"""The errors a user can cause, and only those.

Every user mistake (a wrong shape, a NaN in a file, an unknown name, a malformed checkpoint)
raises a subclass of :class:`DeepnetsError` whose message says what was expected and what came.
The command line prints the message on one line and exits with status 2.
"""

from __future__ import annotations


class DeepnetsError(Exception):
    """Base class of every error deepnets raises on purpose."""


class ConfigError(DeepnetsError, ValueError):
    """A configuration value, key or name is invalid (names the key and the value)."""


class DataError(DeepnetsError, ValueError):
    """A data file or array is malformed (names the file, row and column where known)."""


class CheckpointError(DeepnetsError):
    """A checkpoint or weights file cannot be read or does not fit the model (names the file)."""


class TrainingDiverged(DeepnetsError, FloatingPointError):
    """Training met a non-finite loss or gradient; the weights are those before that step.

    ``history`` holds what was logged up to the failure.
    """

    def __init__(self, message: str, history=None):
        super().__init__(message)
        self.history = history


#: the exit status of ``deepnets train`` stopped by SIGTERM after writing a checkpoint
#: (EX_TEMPFAIL: "try again later": ``deepnets train --resume RUN`` continues the run)
EXIT_INTERRUPTED = 75
#: the exit status of a command stopped by SIGINT (Ctrl-C), at any moment: 128 + SIGINT, as a shell reports it
EXIT_CTRL_C = 130


class TrainingInterrupted(DeepnetsError):
    """Training stopped on SIGTERM/SIGINT; a checkpoint was written where a checkpoint callback
    was installed. ``signal`` is the signal number, ``history`` the logs so far, ``epoch`` the
    epoch (1-based) of the last step taken and ``step`` the optimizer steps taken in all (None
    when unknown); ``run`` is the run folder to resume, set by the code that made it."""

    def __init__(self, signal: int, history=None, message: str | None = None, *, epoch: int | None = None,
                 step: int | None = None):
        import signal as _signal

        try:
            name = _signal.Signals(signal).name
        except ValueError:
            name = f"signal {signal}"
        where = "" if epoch is None else f" at epoch {epoch}, step {step}"
        super().__init__(message or f"training interrupted{where} ({name})")
        self.signal, self.history, self.signal_name = signal, history, name
        self.epoch, self.step, self.run = epoch, step, None


class StoppedAfterTraining(DeepnetsError):
    """SIGTERM or SIGINT came after training had ended; the run was finished and written first.
    ``signal`` is the signal number, ``result`` the finished run (a RunResult); the command line
    exits with status 128 + signal."""

    def __init__(self, signum: int, result):
        import signal as _signal

        name = _signal.Signals(signum).name
        super().__init__(f"{name} arrived after training had ended: the run was finished and written to "
                         f"{result.path} before stopping ('deepnets evaluate {result.path}' prints its results)")
        self.signal, self.result = signum, result
