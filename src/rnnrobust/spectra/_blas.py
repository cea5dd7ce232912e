"""Run BLAS single-threaded inside the heavy loops, for the calling thread only.

The multi-shift solver issues thousands of small GEMMs; with several OpenBLAS threads on a loaded
machine each one pays the thread hand-off (measured here: up to 20x slower with 2 threads while other jobs
ran).  OpenBLAS >= 0.3.27 has ``openblas_set_num_threads_local``, which changes the thread count of the
calling thread only and returns the old value; it is looked up in the OpenBLAS libraries already loaded
(numpy's and scipy's).  Anywhere this is unavailable (another BLAS, no /proc) nothing is changed.
The environment variable RNNROBUST_BLAS_THREADS sets the count used (default 1; 0 leaves BLAS alone).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os

_SETTERS: list | None = None


def _setters() -> list:
    global _SETTERS
    if _SETTERS is not None:
        return _SETTERS
    found = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln})
        mode = getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_LOCAL
        for path in paths:
            try:
                lib = ctypes.CDLL(path, mode=mode)
                fn = lib.openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            fn.argtypes = [ctypes.c_int]
            fn.restype = ctypes.c_int
            found.append(fn)
    except OSError:
        found = []
    _SETTERS = found
    return found


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """Limit the calling thread's OpenBLAS threads to ``n`` inside the block (no-op where unsupported)."""
    setters = _setters()
    old = [fn(n) for fn in setters]
    try:
        yield
    finally:
        for fn, o in zip(setters, old, strict=True):
            fn(o)


def _configured_threads() -> int:
    try:
        return max(0, int(os.environ.get("RNNROBUST_BLAS_THREADS", "1")))
    except ValueError:
        return 1


def single_threaded(func):
    """Decorator: run ``func`` with RNNROBUST_BLAS_THREADS (default 1) BLAS threads, calling thread only."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        n = _configured_threads()
        if n == 0:
            return func(*args, **kwargs)
        with blas_threads(n):
            return func(*args, **kwargs)

    return wrapper
