"""sigma_min(zI - A) at many points: multi-shift inverse Lanczos on a Schur factor.

The Schur factor T is computed once (``prepare``); sigma_min(zI - A) = sigma_min(T - zI).  For n <= 32 a
batched dense SVD is used.  Otherwise inverse Lanczos on M_z = (T - zI)^-1 (T - zI)^-* runs for many shifts
at once (``_lanczos``: the triangular solves of all shifts share T's blocking, one GEMM per coupling block;
for a real A on its real quasi-triangular Schur factor instead, whose real GEMMs do half the work, ``_quasi``):

* grid-like point sets (columns of equal real part, as ``sigma_min_grid`` makes) are swept column by column,
  each point warm-started from its neighbours' singular vectors, extrapolated (``_sweep``), which saves
  about a third of the steps; values above the distance to the nearest eigenvalue, the sign of a start on a
  wrong branch, are recomputed cold;
* other point sets start every point from one fixed generic vector (a cold start);
* in both, the few slow shifts of each chunk are pooled and restarted together from their Ritz vectors.

Each shift stops when its top Ritz value changes by less than ``tol`` (relative; warm-started ones at
tol / 10); shifts that run out of steps or overflow are recomputed by a dense SVD.  The ``levels`` mode
(``_contours``) evaluates only the points that contours at given levels need.
"""

from __future__ import annotations

import numpy as np

from ._lanczos import Plan, eigenvalue_distance, lanczos_pooled
from ._quasi import RealPlan
from ._schur import Prepared
from ._svd import repair_with_svd, svd_sigma_min
from ._sweep import grid_columns, started, sweep

_MAXIT = 60
_SVD_MAX_N = 32
# Below this order the per-shift 2 x 2 block solves cost more than the real GEMMs save: a 200 x 200 grid of
# randn(n)/sqrt(n), best of 4, one thread, took 0.50 s real against 0.44 s complex at n = 64, 1.06 against 1.08 s
# at n = 128 and 3.0 against 3.5 s at n = 256 (benchmarks.md).
_REAL_PLAN_MIN_N = 128


def solver_plan(prep: Prepared) -> Plan | RealPlan:
    """The blocked solves for the Lanczos kernel, built once per matrix: on the real Schur factor for a real A
    of order >= ``_REAL_PLAN_MIN_N`` (half the GEMM arithmetic, ``_quasi``), else on the complex one."""
    plan = prep.cache.get("plan")
    if plan is None:
        real = prep.is_real and prep.n >= _REAL_PLAN_MIN_N
        plan = prep.cache["plan"] = RealPlan(prep.A) if real else Plan(prep.T)
    return plan


def _clip_to_eigenvalue_distance(res: np.ndarray, d: np.ndarray, z: np.ndarray) -> None:
    # A Ritz value never exceeds lambda_max, so a Lanczos sigma_min is never below the true one, and neither is
    # the distance to the nearest eigenvalue: the smaller of the two is the better value.  For a normal A the
    # distance is exact, also where two singular values nearly coincide and Lanczos converges slowly.
    np.minimum(res, eigenvalue_distance(d, z), out=res)


def sigma_min_points(prep: Prepared, z: np.ndarray, *, tol: float, method: str = "auto", info=None, warm: bool = True):
    """sigma_min(zI - A) for a 1-D complex array of distinct-enough points (no symmetry handling).

    Grid-like point sets (columns of equal real part) are swept with warm starts (``_sweep``) unless
    ``warm`` is False; other point sets, and all with ``warm=False``, start every point cold.
    """
    T = prep.T
    n = T.shape[0]
    m = z.size
    stats = {"iterations": 0, "fallback": 0, "lanczos_points": 0, "warm_started": 0, "recomputed": 0}
    if m == 0:
        res = np.empty(0)
    elif not np.any(np.triu(T, 1)):
        # T is diagonal (A normal with an exactly diagonal Schur factor, e.g. n = 1 or A = 0)
        res = eigenvalue_distance(np.diag(T), z)
        method = "diagonal"
    elif method == "svd" or (method == "auto" and n <= _SVD_MAX_N):
        res = svd_sigma_min(T, z)
        method = "svd"
    else:
        method = "lanczos"
        plan = solver_plan(prep)
        d = np.diag(T).copy()
        columns = grid_columns(z) if warm else None
        if columns is None:
            res = lanczos_pooled(plan, z, prep.floor, tol, _MAXIT, stats)
        else:
            res = sweep(plan, z, prep.floor, tol, _MAXIT, stats, columns)
        stats["lanczos_points"] = m
        _clip_to_eigenvalue_distance(res, d, z)
        repair_with_svd(res, T, z, stats)
    if info is not None:
        info.update(
            method=method,
            points=int(m),
            fallback_svd=stats["fallback"],
            mean_iterations=(stats["iterations"] / stats["lanczos_points"]) if stats["lanczos_points"] else 0.0,
            warm_started=stats["warm_started"],
            recomputed_cold=stats["recomputed"],
        )
    return res


def sigma_min_with_vectors(prep: Prepared, z: np.ndarray, *, tol: float, starts=None, stats=None, mix=None):
    """sigma_min(zI - A) at distinct points z, with right singular vectors (complex64, (n, m)) in the solver's
    Schur coordinates (:func:`solver_plan`: of T - zI, or of S - zI for the real Schur factor S of a real A).

    ``starts`` (n, m) starts each point from a neighbour's singular vector (plus ``mix`` times the cold start
    vector, ``_sweep._MIX`` unless given); without it, grid-like point sets are swept and others start cold.
    Where Lanczos is not used (n <= 32, diagonal T) the vectors are None.
    """
    T = prep.T
    n = T.shape[0]
    stats = {"iterations": 0, "fallback": 0, "warm_started": 0, "recomputed": 0} if stats is None else stats
    if z.size == 0 or n <= _SVD_MAX_N or not np.any(np.triu(T, 1)):
        return sigma_min_points(prep, z, tol=tol), None
    plan = solver_plan(prep)
    d = np.diag(T).copy()
    vectors = np.zeros((n, z.size), dtype=np.complex64)
    columns = grid_columns(z) if starts is None else None
    if starts is not None:
        res = started(plan, z, prep.floor, tol, _MAXIT, stats, starts, vectors, mix=mix)
    elif columns is not None:
        res = sweep(plan, z, prep.floor, tol, _MAXIT, stats, columns, vectors)
    else:
        res = lanczos_pooled(plan, z, prep.floor, tol, _MAXIT, stats, vectors=vectors)
    _clip_to_eigenvalue_distance(res, d, z)
    repair_with_svd(res, T, z, stats)
    return res, vectors


def sigma_min_at(
    prep: Prepared, z: np.ndarray, *, tol: float = 1e-10, method: str = "auto", device=None, info=None
) -> np.ndarray:
    """sigma_min(zI - A) for a 1-D complex array; real A evaluates each conjugate pair once."""
    z = np.asarray(z, dtype=np.complex128).ravel()
    if prep.is_real:
        z = np.where(z.imag < 0, z.conj(), z)
    uz, inverse = np.unique(z, return_inverse=True)
    if device is not None:
        from ._torch import sigma_min_points_torch

        vals = sigma_min_points_torch(prep, uz, tol=tol, maxit=_MAXIT, device=device, info=info)
    else:
        vals = sigma_min_points(prep, uz, tol=tol, method=method, info=info)
    if info is not None:
        info["points"] = int(z.size)
        info["distinct_points"] = int(uz.size)
    return vals[inverse.ravel()]
