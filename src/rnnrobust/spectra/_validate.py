"""Input checks shared by the public functions: every problem is reported as a ValueError."""

from __future__ import annotations

import numbers

import numpy as np


def as_matrix(A, name: str = "A") -> np.ndarray:
    """Return ``A`` as a finite square float64 or complex128 array, or raise ValueError."""
    if isinstance(A, np.ndarray):
        arr = A
    else:
        try:
            arr = np.asarray(A)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array, could not convert it: {exc}") from None
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"{name} must be numeric (int, float or complex), got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D square matrix, got ndim={arr.ndim} (shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    arr = arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return arr


def as_points(z, name: str = "z") -> np.ndarray:
    """Return complex points as a finite complex128 array (any shape, 0-d allowed)."""
    try:
        arr = np.asarray(z)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, could not convert it: {exc}") from None
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"{name} must be numeric (int, float or complex), got dtype {arr.dtype}")
    arr = arr.astype(np.complex128)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return arr


def as_axis(v, name: str) -> np.ndarray:
    """Return a 1-D, non-empty, finite, real float64 grid axis."""
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D real array, could not convert it: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a 1-D real array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got ndim={arr.ndim}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return arr


def positive_float(v, name: str, *, allow_zero: bool = False) -> float:
    """Return ``v`` as a finite float that is > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {v!r}")
    f = float(v)
    if not np.isfinite(f) or f < 0 or (f == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {v!r}")
    return f


def tolerance(v, name: str = "tol") -> float:
    """Return a relative tolerance in (0, 1)."""
    f = positive_float(v, name)
    if f >= 1:
        raise ValueError(f"{name} must be < 1, got {v!r}")
    return f


def eps_list(eps_levels, name: str = "eps_levels") -> list[float]:
    """Return a non-empty list of positive finite eps levels (a scalar is accepted)."""
    if isinstance(eps_levels, numbers.Real) and not isinstance(eps_levels, bool):
        eps_levels = [eps_levels]
    try:
        vals = list(eps_levels)
    except TypeError:
        raise ValueError(f"{name} must be a positive number or a sequence of them, got {eps_levels!r}") from None
    if not vals:
        raise ValueError(f"{name} is empty")
    return [positive_float(np.asarray(e).item() if isinstance(e, np.generic) else e, name) for e in vals]
