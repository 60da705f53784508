"""Fused CPU kernels compiled by Numba, loaded on first use.

A small network's step is dominated by the dispatch of many tiny torch kernels (a few
microseconds each), not by arithmetic. Where one pass over the numbers can replace several of
them, a kernel written as a plain Python loop and compiled by Numba (a core dependency) does the
work in one call of under a microsecond of dispatch. :func:`kernel` wraps such a function: the
first call imports Numba and compiles it (cached on disk where Numba can write its cache, so a
later process loads it in milliseconds); :func:`available` says whether the fused paths may be
used. They are used only on CPU tensors; callers keep the torch path for everything else, and
``DEEPNETS_NO_NUMBA=1`` forces the torch path everywhere (the tests compare the two).

Kernels take NumPy views of tensors (``tensor.numpy()`` shares the memory, no copy).
"""

from __future__ import annotations

import importlib
import os
import warnings
from contextlib import contextmanager
from typing import Callable

_NUMBA = None  # the module once imported; False when it cannot be
_BLAS: list = []  # threadpoolctl's controllers of the BLAS libraries loaded, found at first use (~5 ms)


def available() -> bool:
    """True where Numba imports and ``DEEPNETS_NO_NUMBA`` is not set to a true value."""
    global _NUMBA
    if os.environ.get("DEEPNETS_NO_NUMBA", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if _NUMBA is None:
        try:
            import numba
            _NUMBA = numba
        except Exception:  # pragma: no cover - numba is a core dependency
            _NUMBA = False
    return _NUMBA is not False


class kernel:
    """``kernel(fn, **options)``: ``fn`` compiled by ``numba.njit(**options)`` at its first call.

    Compiled with ``cache=True`` where Numba can write its cache (the package's ``__pycache__``
    or Numba's per-user cache folder), without a cache otherwise. Calling it where
    :func:`available` is False is a programming error (RuntimeError): callers check first.
    """

    def __init__(self, fn: Callable, **options):
        self.fn, self.options, self.compiled = fn, options, None
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    def _compile(self) -> Callable:
        if not available():
            raise RuntimeError(f"{self.__name__}: Numba is not available (or DEEPNETS_NO_NUMBA is set)")
        try:
            return _NUMBA.njit(cache=True, **self.options)(self.fn)
        except Exception:  # pragma: no cover - a read-only install without a per-user cache folder
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _NUMBA.njit(cache=False, **self.options)(self.fn)

    def dispatcher(self) -> Callable:
        """The Numba dispatcher of ``fn`` (made on first use): called directly in a hot loop, it
        saves this wrapper's Python frame; its ``overloads`` hold the compiled signatures."""
        f = self.compiled
        if f is None:
            f = self.compiled = self._compile()
        return f

    def __call__(self, *args):
        return self.dispatcher()(*args)


def blas_set(n: int) -> list:
    """Make the BLAS libraries loaded (SciPy's, which ``np.dot`` inside a kernel calls) use ``n``
    threads; returns ``[(library, its count before), ...]`` for :func:`blas_restore`, the ones
    changed only. (threadpoolctl's ``limit`` does the same in ~18 us a call, more than the rest
    of a small step.)"""
    if not _BLAS:
        from threadpoolctl import ThreadpoolController
        importlib.import_module("scipy.linalg.cython_blas")   # the BLAS Numba's np.dot calls, loaded first
        _BLAS.append(ThreadpoolController().select(user_api="blas").lib_controllers)
    changed = []
    try:
        for lib in _BLAS[0]:
            before = lib.get_num_threads()
            if before != n:
                lib.set_num_threads(n)
                changed.append((lib, before))
    except BaseException:
        blas_restore(changed)
        raise
    return changed


def blas_restore(changed: list) -> None:
    """Give each library :func:`blas_set` changed its own thread count back."""
    for lib, before in changed:
        lib.set_num_threads(before)


@contextmanager
def blas_threads(n: int):
    """Within the block, the BLAS libraries loaded use ``n`` threads; each gets its own count back after."""
    changed = blas_set(n)
    try:
        yield
    finally:
        blas_restore(changed)
