"""Warm-started sweeps: each grid point starts inverse Lanczos from its neighbours' singular vectors.

The points of a grid, grouped in columns of equal real part, are swept column by column; the columns of a
few segments of the sweep run together, so that each kernel call still holds about ``_BATCH`` shifts.  A
point starts from its neighbour's right singular vector in the previous column, extrapolated from the
two columns before that when they exist (quadratically: 3 v1 - 3 v2 + v3, phases aligned), plus
``_MIX`` times the generic cold start vector.  Started that close, Lanczos needs about a third fewer steps;
warm-started points stop at ``tol / 10``, which keeps their accuracy at that of cold starts.

The risk of a warm start is a point where the smallest singular value changes branch between neighbours
(for a normal matrix: the nearest eigenvalue changes): the start vector then has almost no component
along the new branch, and Lanczos can settle on the old one, a value too large.  Any matrix has
sigma_min(zI - A) <= min_i |z - lambda_i|, with equality for normal matrices, so a value above that
distance (beyond rounding) is certainly wrong; those points are recomputed from a cold start.  For a
non-normal matrix the branches of sigma_min do not cross but pass each other with a gap of the order of
the departure from normality, which a warm start follows; tests and the benchmark check the sweep against
dense SVDs on normal, nearly normal, random, Grcar and trained-like matrices.
"""

from __future__ import annotations

import numpy as np

from ._lanczos import Plan, eigenvalue_distance, lanczos_chunk, lanczos_pooled, restart, start_vector

_MIN_POINTS = 2048
_MIN_COLUMNS = 6
_MIN_COLUMN_SIZE = 8
_BATCH = 1024
# The cold vector keeps a component along every branch in a warm start, for the wrong-branch check below; each
# extra factor of ten in it costs Lanczos about one more step to purge.  Measured (200 x 200 grids, tol 1e-10, mean
# steps per point, 1e-3 -> 1e-5 -> 0): randn n = 128 6.18 -> 5.48 -> 5.47, Grcar 5.77 -> 5.54 -> 5.52, trained-like
# 8.80 -> 7.24 -> 7.18, randn n = 256 7.00 -> 6.45 -> 6.43, errors unchanged; on an orthogonal matrix smaller
# mixes send more points to the cold recomputation (1,004 -> 4,416 -> 6,886 of 40,000), so 1e-5 (benchmarks.md).
_MIX = 1e-5
_WARM_TOL = 0.1
_DISTANCE_SLACK = 1e-9


def grid_columns(z: np.ndarray) -> list[np.ndarray] | None:
    """Indices of the points sharing a real part, columns by increasing real part, each by increasing
    imaginary part; None when there are too few points, columns or points per column for a sweep to pay."""
    if z.size < _MIN_POINTS:
        return None
    order = np.lexsort((z.imag, z.real))
    columns = np.split(order, np.flatnonzero(np.diff(z.real[order]) != 0) + 1)
    if len(columns) < _MIN_COLUMNS or np.median([c.size for c in columns]) < _MIN_COLUMN_SIZE:
        return None
    return columns


def _nearest(points: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """For each point, the index of the nearest of ``previous`` (sorted by imaginary part) in imaginary part."""
    k = np.clip(np.searchsorted(previous.imag, points.imag), 1, max(previous.size - 1, 1))
    lower = np.maximum(k - 1, 0)
    upper = np.minimum(k, previous.size - 1)
    return np.where(np.abs(previous[lower] - points) <= np.abs(previous[upper] - points), lower, upper)


def _aligned(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """v with each column's phase turned to match ref's column (singular vectors have a free phase)."""
    dots = np.einsum("ij,ij->j", v.conj(), ref)
    size = np.abs(dots)
    return v * np.where(size > 0, dots / np.where(size > 0, size, 1.0), 1.0)


def _warm_start(history: list[tuple[np.ndarray, np.ndarray]], points: np.ndarray, q0: np.ndarray) -> np.ndarray:
    """Start vectors for ``points`` from the last (up to three) swept columns of their segment.

    The history holds complex64 Ritz vectors (start vectors need no more), and so does the result."""
    chain, at = [], points
    for pts, vecs in reversed(history):
        near = _nearest(at, pts)
        same_rows = near.size == pts.size and np.array_equal(near, np.arange(near.size))
        chain.append(vecs if same_rows else vecs[:, near])
        at = pts[near]
    v1 = chain[0]
    if len(chain) == 3:
        v = 3 * v1 - 3 * _aligned(chain[1], v1) + _aligned(chain[2], v1)
    elif len(chain) == 2:
        v = 2 * v1 - _aligned(chain[1], v1)
    else:
        v = v1
    norm = np.linalg.norm(v, axis=0)
    usable = np.isfinite(norm) & (norm > 0)
    v = np.where(usable, v / np.where(usable, norm, 1.0), q0[:, None])
    v += _MIX * q0[:, None]
    return v


def sweep(plan: Plan, z, floor, tol, maxit, stats, columns: list[np.ndarray], vectors=None) -> np.ndarray:
    """sigma_min(T - zI) at the points z, grouped in ``columns`` (see :func:`grid_columns`), by warm starts.

    ``vectors``, an (n, len(z)) complex64 array, receives each point's right singular vector if given.
    """
    cold = start_vector(plan.n)
    q0 = cold.astype(np.complex64)
    size = float(np.median([c.size for c in columns]))
    segments = int(max(1, min(len(columns) // 4, round(_BATCH / size))))
    bounds = np.linspace(0, len(columns), segments + 1).astype(int)
    histories: list[list] = [[] for _ in range(segments)]
    out = np.full(z.size, np.nan)
    pool = []  # the stragglers of every step, restarted together at the end
    for step in range(int(np.max(np.diff(bounds)))):
        active = [s for s in range(segments) if bounds[s] + step < bounds[s + 1]]
        cols = [columns[bounds[s] + step] for s in active]
        starts, tols = [], []
        for s, col in zip(active, cols, strict=True):
            if histories[s]:
                starts.append(_warm_start(histories[s], z[col], q0))
                stats["warm_started"] += col.size
                tols.append(np.full(col.size, tol * _WARM_TOL))
            else:
                starts.append(np.repeat(cold[:, None], col.size, axis=1))
                tols.append(np.full(col.size, tol))
        idx = np.concatenate(cols)
        tols = np.concatenate(tols)
        vals, vecs, late = lanczos_chunk(
            plan, z[idx], floor, tols, maxit, stats, start=np.hstack(starts), straggle=max(64, idx.size // 8)
        )
        out[idx] = vals
        if vectors is not None:
            vectors[:, idx] = vecs
        pool.append((idx[late], tols[late], vecs[:, late]))
        offset = 0
        for s, col in zip(active, cols, strict=True):
            histories[s] = [*histories[s][-2:], (z[col], vecs[:, offset : offset + col.size])]
            offset += col.size
    late = np.concatenate([p[0] for p in pool])
    late_vals, late_vecs = restart(
        plan, z[late], floor, np.concatenate([p[1] for p in pool]), maxit, stats, np.hstack([p[2] for p in pool])
    )
    out[late] = late_vals
    if vectors is not None:
        vectors[:, late] = late_vecs
    _recompute_wrong_branches(plan, z, floor, tol, maxit, stats, out, vectors)
    return out


def started(
    plan: Plan, z, floor, tol, maxit, stats, starts: np.ndarray, vectors: np.ndarray, mix: float | None = None
) -> np.ndarray:
    """sigma_min(T - zI) at the points z, each started from its column of ``starts`` (a neighbour's singular
    vector), plus ``mix`` (default ``_MIX``) times the cold start vector; ``vectors`` receives the points' own
    singular vectors.  Same safeguards as :func:`sweep`."""
    mix = _MIX if mix is None else mix
    q0 = start_vector(plan.n).astype(np.complex64)
    norm = np.linalg.norm(starts, axis=0)
    usable = np.isfinite(norm) & (norm > 0)
    start = np.where(usable, starts / np.where(usable, norm, 1.0), q0[:, None]) + mix * q0[:, None]
    out = lanczos_pooled(plan, z, floor, tol * _WARM_TOL, maxit, stats, starts=start, vectors=vectors)
    stats["warm_started"] += z.size
    _recompute_wrong_branches(plan, z, floor, tol, maxit, stats, out, vectors)
    return out


def _recompute_wrong_branches(plan: Plan, z, floor, tol, maxit, stats, out, vectors) -> None:
    """Recompute from a cold start, in place, every value above the distance to the nearest eigenvalue."""
    dist = eigenvalue_distance(plan.eigenvalues, z)
    wrong = np.flatnonzero(out > dist * (1 + _DISTANCE_SLACK) + 4 * floor)
    if wrong.size == 0:
        return
    stats["recomputed"] += int(wrong.size)
    fresh = None if vectors is None else np.zeros((plan.n, wrong.size), dtype=np.complex64)
    out[wrong] = lanczos_pooled(plan, z[wrong], floor, tol, maxit, stats, vectors=fresh)
    if vectors is not None:
        vectors[:, wrong] = fresh
