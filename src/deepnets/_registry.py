"""Helpers every part of deepnets shares: name lookup with "did you mean", argument checks, and
switching a module to eval mode for a block.

>>> lookup("tanh", {"tanh": 1, "relu": 2}, what="activation")
1
>>> lookup("tahn", {"tanh": 1, "relu": 2}, what="activation")
Traceback (most recent call last):
...
deepnets.errors.ConfigError: unknown activation 'tahn': expected one of ['relu', 'tanh']; did you mean 'tanh'?
"""

from __future__ import annotations

import contextlib
import difflib
import math
from typing import Iterable, Mapping

from .errors import ConfigError


def suggest(name, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the nearest of ``choices``, or ``""`` when none is near."""
    near = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return f"; did you mean {near[0]!r}?" if near else ""


def unknown(name, choices: Iterable[str], *, what: str, error=ConfigError) -> Exception:
    """The error for an unknown ``what`` called ``name``: lists the choices and suggests the nearest."""
    choices = list(choices)
    shown = repr(name) if len(repr(name)) <= 80 else f"{str(name)[:60]!r}... ({len(str(name))} characters)"
    return error(f"unknown {what} {shown}: expected one of {sorted(choices)}{suggest(name, choices)}")


def lookup(name, table: Mapping, *, what: str, error=ConfigError):
    """``table[name]``, or an ``error`` that names ``what`` was asked for and suggests the nearest key."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise unknown(name, table, what=what, error=error) from None


def check_choice(name: str, value, choices: Iterable, *, error=ConfigError):
    """``value`` if it is one of ``choices``, else an error naming the argument and the choices."""
    choices = list(choices)
    if value not in choices:
        raise error(f"{name} must be one of {choices}, got {value!r}{suggest(value, map(str, choices))}")
    return value


def check_positive_int(name: str, value, *, allow_none: bool = False, allow_zero: bool = False,
                       error=ConfigError):
    """``value`` if it is an int > 0 (>= 0 with ``allow_zero``; None with ``allow_none``), else an error."""
    if value is None and allow_none:
        return value
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a non-negative integer" if allow_zero else "a positive integer"
        raise error(f"{name} must be {kind}{' or None' if allow_none else ''}, got {value!r}")
    return value


def check_number(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, error=ConfigError) -> float:
    """``float(value)`` if it is a finite number within [low, high] (``low_open``: > low), else an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise error(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise error(f"{name} must be <= {high}, got {value!r}")
    return float(value)


@contextlib.contextmanager
def eval_mode(module):
    """Put ``module`` in eval mode for the block and restore its training flag after, even on error.

    >>> import torch
    >>> m = torch.nn.Dropout()
    >>> with eval_mode(m):
    ...     m.training
    False
    >>> m.training
    True
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
