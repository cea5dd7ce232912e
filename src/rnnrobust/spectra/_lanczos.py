"""The multi-shift inverse Lanczos kernel: sigma_min(T - zI) for a chunk of shifts z at once.

For every shift z the smallest singular value of T - zI is 1/sqrt(lambda_max) of the Hermitian
positive definite operator M_z = (T - zI)^-1 (T - zI)^-*, and lambda_max is found by Lanczos.  One
Lanczos step needs one forward substitution with (T - zI)^* and one back substitution with T - zI.
The strictly triangular part of T does not depend on z, so the substitutions of *all* shifts are done
together: the Lanczos vectors of a chunk of shifts are the columns of an (n, m) array X, T is split
recursively into halves down to leaves of two rows, the coupling block between two halves updates all m
columns with one GEMM (zgemm, in place), and only the leaves run row by row, each row operation vectorised
over the shifts.  Each shift stops when its top Ritz value changes by less than its ``tol`` (relative).

A chunk starts from the fixed generic vector of :func:`start_vector` (a cold start) or from given start
vectors (a warm start, see ``_sweep``), and can return each shift's top Ritz vector, the right singular
vector of T - zI for sigma_min, to start a neighbouring point from.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import zgemm
from scipy.spatial import cKDTree

from ._ritz import top_ritz

_LEAF = 2
# Ritz vectors are combinations of the Lanczos vectors, so those are kept (in complex64: the Ritz vectors
# only start other points) for the first _KEEP_STEPS steps; a shift that runs longer gets the combination
# of those, a good start vector still.  They take up to _KEEP_STEPS * 8 * n * m bytes, about 50 MB for a
# chunk of chunk_size(n) shifts, allocated step by step (most shifts stop after 5 to 8 steps).
_KEEP_STEPS = 24
_STRAGGLE_AFTER = 8


class Plan:
    """Recursive block structure of T, with the coupling blocks stored as ready-to-use GEMM operands."""

    def __init__(self, T: np.ndarray, leaf: int = _LEAF):
        self.n = T.shape[0]
        self.eigenvalues = np.diag(T).copy()
        self.back: list[tuple] = []
        self.fwd: list[tuple] = []
        self._build_back(T, 0, self.n, leaf)
        self._build_fwd(T, 0, self.n, leaf)

    def _build_back(self, T, lo, hi, leaf):
        if hi - lo <= leaf:
            cols = [(i, np.ascontiguousarray(T[lo:i, i])) for i in range(hi - 1, lo - 1, -1)]
            self.back.append((lo, hi, None, cols))
            return
        mid = (lo + hi) // 2
        self._build_back(T, mid, hi, leaf)
        # rows lo:mid  -=  T[lo:mid, mid:hi] @ X[mid:hi], done transposed: X[lo:mid].T -= X[mid:hi].T @ B
        self.back.append((lo, mid, hi, np.asfortranarray(T[lo:mid, mid:hi].T)))
        self._build_back(T, lo, mid, leaf)

    def _build_fwd(self, T, lo, hi, leaf):
        if hi - lo <= leaf:
            # rows of L = T^H below the diagonal: L[i+1:hi, i] = conj(T[i, i+1:hi])
            cols = [(i, np.ascontiguousarray(T[i, i + 1 : hi].conj())) for i in range(lo, hi)]
            self.fwd.append((lo, hi, None, cols))
            return
        mid = (lo + hi) // 2
        self._build_fwd(T, lo, mid, leaf)
        # rows mid:hi -= L[mid:hi, lo:mid] @ X[lo:mid];  L[mid:hi, lo:mid] = T[lo:mid, mid:hi]^H
        self.fwd.append((mid, hi, lo, np.asfortranarray(T[lo:mid, mid:hi].conj())))
        self._build_fwd(T, mid, hi, leaf)

    def inverse_diagonal(self, z: np.ndarray, floor: float) -> np.ndarray:
        """(n, m): 1/(t_ii - z_j), floored (:func:`floored_inverse_diag`); the solves take it and its conjugate."""
        return floored_inverse_diag(self.eigenvalues, z, floor)

    def solve_upper(self, X: np.ndarray, Dinv: np.ndarray) -> None:
        """In place: column j of X becomes (T - z_j I)^-1 X[:, j]; Dinv[i, j] = 1/(t_ii - z_j)."""
        for lo, hi, third, data in self.back:
            if third is None:
                for i, col in data:
                    xi = X[i]
                    xi *= Dinv[i]
                    if i > lo:
                        X[lo:i] -= col[:, None] * xi
            else:
                zgemm(-1.0, X[hi:third].T, data, 1.0, X[lo:hi].T, overwrite_c=1)

    def solve_lower(self, X: np.ndarray, Dinv_c: np.ndarray) -> None:
        """In place: column j of X becomes (T - z_j I)^-* X[:, j]; Dinv_c = conj(Dinv)."""
        for lo, hi, third, data in self.fwd:
            if third is None:
                for i, row in data:
                    xi = X[i]
                    xi *= Dinv_c[i]
                    if i + 1 < hi:
                        X[i + 1 : hi] -= row[:, None] * xi
            else:
                zgemm(-1.0, X[third:lo].T, data, 1.0, X[lo:hi].T, overwrite_c=1)


def lift_modulus(D: np.ndarray, floor: float) -> np.ndarray:
    """In place: every entry of D of modulus below ``floor`` gets modulus ``floor``, its phase kept (phase 1 where
    it is exactly 0); returns the mask of those entries."""
    absD = np.abs(D)
    small = absD < floor
    if np.any(small):
        phase = np.where(absD[small] > 0, D[small] / np.where(absD[small] > 0, absD[small], 1.0), 1.0)
        D[small] = floor * phase
    return small


def floored_inverse_diag(d: np.ndarray, z: np.ndarray, floor: float) -> np.ndarray:
    # Within u ||A||_F of an eigenvalue t_ii - z is rounding noise (the Schur form is exact only for a
    # matrix that close to A), so lifting it to that floor moves sigma_min by no more than the backward
    # error, and the solves never divide by 0 or overflow there (which would cost a dense SVD fallback).
    D = d[:, None] - z[None, :]
    lift_modulus(D, floor)
    return 1.0 / D


def start_vector(n: int) -> np.ndarray:
    # A generic complex start vector has a component along the top eigenvector of every M_z; a structured
    # one such as e_1 can be orthogonal to it, or nearly so, and converge to a larger singular value.  The
    # fixed seed keeps results reproducible, and the torch back end uses the same vector.
    rng = np.random.default_rng(12345)
    q0 = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    return q0 / np.linalg.norm(q0)


def _real_dots(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Re(x_j^* y_j) for every column j of two C-contiguous complex (n, m) arrays, without a conjugate copy."""
    # Viewed as float64 (n, 2m) arrays, columns 2j and 2j + 1 hold the real and imaginary parts of column j.
    s = np.einsum("ij,ij->j", X.view(np.float64), Y.view(np.float64))
    return s.reshape(-1, 2).sum(axis=1)


def _tridiagonal_top_vectors(alphas: np.ndarray, betas: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Unit eigenvectors (k, m) of tridiag(betas, alphas, betas) for their top eigenvalues theta (k, m inputs).

    One step of inverse iteration from the vector of ones, with a shift just above theta: T - shift I is then
    negative definite, so the Thomas algorithm needs no pivoting, and the top eigenvector is amplified by
    the gap over 1e-8 theta.  Accurate far beyond what a start vector needs.
    """
    k = alphas.shape[0]
    shift = theta * (1 + 1e-8) + 1e-300
    upper = np.zeros_like(alphas)
    rhs = np.empty_like(alphas)
    pivot = alphas[0] - shift
    rhs[0] = 1.0 / pivot
    for j in range(1, k):
        upper[j - 1] = betas[j - 1] / pivot
        pivot = alphas[j] - shift - betas[j - 1] * upper[j - 1]
        rhs[j] = (1.0 - betas[j - 1] * rhs[j - 1]) / pivot
    s = np.empty_like(alphas)
    s[k - 1] = rhs[k - 1]
    for j in range(k - 2, -1, -1):
        s[j] = rhs[j] - upper[j] * s[j + 1]
    return s / np.linalg.norm(s, axis=0)


def lanczos_chunk(plan: Plan, z, floor, tol, maxit, stats, start=None, ritz: bool = False, straggle: int = 0):
    """sigma_min(T - zI) for one chunk of shifts; NaN where Lanczos did not converge or overflowed.

    ``plan`` holds the blocked solves: a :class:`Plan` of the complex Schur factor, or a ``_quasi.RealPlan`` of
    the real one (same interface: ``n``, ``eigenvalues``, ``inverse_diagonal``, ``solve_upper``, ``solve_lower``).
    ``tol`` is a number or one value per shift; ``start`` None (every shift from :func:`start_vector`) or an
    (n, m) array of start vectors.  With ``ritz`` it returns (values, Ritz vectors), else the values.

    With ``straggle`` > 0 it returns (values, Ritz vectors, unfinished): once at least ``_STRAGGLE_AFTER``
    steps are done and fewer than ``straggle`` shifts are still running, it stops and hands those back
    (value NaN, index in ``unfinished``, vector their current top Ritz vector), to be restarted together
    with the stragglers of other chunks (:func:`lanczos_pooled`).  A chunk's last few shifts would otherwise
    run alone for many steps, each step paying the full per-call cost of the blocked solves.
    """
    n, m = plan.n, z.size
    out = np.full(m, np.nan)
    Dinv = plan.inverse_diagonal(z, floor)
    Dinv_c = Dinv.conj()
    if start is None:
        Q = np.repeat(start_vector(n)[:, None], m, axis=1)
    else:
        Q = np.array(start, dtype=np.complex128, order="C")
        Q *= 1.0 / np.sqrt(_real_dots(Q, Q))
    tol = np.broadcast_to(np.asarray(tol, dtype=float), (m,)).copy()
    # Q, Qprev and W rotate through three buffers, and tmp takes the products of the recurrence: the
    # vector work per step is a few passes over memory, with no temporaries of the chunk's size.
    Qprev, W, tmp = np.zeros_like(Q), np.empty_like(Q), np.empty_like(Q)
    alphas = np.zeros((maxit, m))
    betas = np.zeros((maxit, m))
    theta_old = np.zeros(m)
    idx = np.arange(m)
    live = np.ones(m, dtype=bool)
    # For Ritz vectors: the kept Lanczos vectors at their chunk columns and, per shift, the coefficients of
    # its top Ritz vector (zero past its last step), combined once at the end.
    keep = min(maxit, _KEEP_STEPS) if (ritz or straggle) else 0
    unfinished = np.empty(0, dtype=int)
    basis: list[tuple[np.ndarray, np.ndarray]] = []  # (chunk columns, their Lanczos vectors) per step
    coef = np.zeros((keep, m), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(maxit):
            if k < keep:
                basis.append((idx, Q.astype(np.complex64)))
            np.copyto(W, Q)
            plan.solve_lower(W, Dinv_c)
            plan.solve_upper(W, Dinv)
            alpha = _real_dots(Q, W)
            W -= np.multiply(Q, alpha, out=tmp)
            if k > 0:
                W -= np.multiply(Qprev, betas[k - 1], out=tmp)
            beta = np.sqrt(_real_dots(W, W))
            broken = ~(np.isfinite(alpha) & np.isfinite(beta))
            alphas[k] = np.where(broken, 0.0, alpha)
            betas[k] = np.where(broken, 0.0, beta)
            theta = top_ritz(np, alphas, betas, k + 1, theta_old)
            bad = broken | ~(np.isfinite(theta) & (theta > 0))
            conv = ~bad & (k > 0) & (np.abs(theta - theta_old) <= tol * theta)
            # breakdown: the Krylov space is invariant, so the Ritz values are exact
            conv |= ~bad & (beta <= 1e-14 * theta)
            done = live & (conv | bad)
            if np.any(done):
                ok = done & conv
                out[idx[ok]] = 1.0 / np.sqrt(theta[ok])
                if keep and np.any(ok):
                    s = _tridiagonal_top_vectors(alphas[: k + 1, ok], betas[: k + 1, ok], theta[ok])
                    coef[: k + 1, idx[ok]] = s[:keep]
                stats["iterations"] += (k + 1) * int(np.count_nonzero(done))
                live &= ~done
            if not np.any(live):
                break
            if straggle and k + 1 >= _STRAGGLE_AFTER and np.count_nonzero(live) < straggle:
                s = _tridiagonal_top_vectors(alphas[: k + 1, live], betas[: k + 1, live], theta[live])
                coef[: k + 1, idx[live]] = s[:keep]
                unfinished = idx[live]
                stats["iterations"] += (k + 1) * unfinished.size
                live[:] = False
                break
            theta_old = theta
            Qprev, Q, W = Q, W, Qprev
            # times the reciprocal: dividing a complex array by a real one divides as complex numbers, about
            # four times the cost of this multiplication (0.8 against 0.2 us per shift at n = 128)
            Q *= 1.0 / np.where(beta > 0, beta, 1.0)
            n_live = int(np.count_nonzero(live))
            # Converged columns still ride through every solve until they are dropped, and dropping them
            # copies the whole per-shift state.  Compacting once a fifth is done caps the wasted solve work
            # at 20% and, as each compaction shrinks the chunk by a fifth or more, all copies together at
            # five copies of the chunk's state.
            if n_live <= 0.8 * live.size:
                rows = np.flatnonzero(live)
                # take() keeps the rows C-contiguous, as the solves and _real_dots need
                Q, Qprev = Q.take(rows, axis=1), Qprev.take(rows, axis=1)
                W, tmp = np.empty_like(Q), np.empty_like(Q)
                Dinv, Dinv_c = Dinv[:, rows], Dinv_c[:, rows]
                alphas, betas = alphas[:, rows], betas[:, rows]
                theta_old, idx, tol = theta_old[rows], idx[rows], tol[rows]
                live = np.ones(n_live, dtype=bool)
        stats["iterations"] += maxit * int(np.count_nonzero(live))
    if not keep:
        return out
    vectors = np.zeros((n, m), dtype=np.complex64)
    for (cols, q), c in zip(basis, coef, strict=False):
        if cols.size == m:
            vectors += q * c
        else:
            vectors[:, cols] += q * c[cols]
    return (out, vectors, unfinished) if straggle else (out, vectors)


def eigenvalue_distance(d: np.ndarray, z: np.ndarray) -> np.ndarray:
    """min_i |z - t_ii| for every point: an upper bound of sigma_min(zI - A), equal to it for normal A."""
    if z.size == 0 or d.size == 0:
        return np.full(z.size, np.inf)
    # a k-d tree of the eigenvalues in the plane: 5.8 against 17.5 ms for all pairs (n = 128, 20,000 points)
    tree = cKDTree(np.column_stack((d.real, d.imag)))
    return tree.query(np.column_stack((z.real, z.imag)))[0]


def chunk_size(n: int) -> int:
    """Shifts per chunk: a few (n, m) complex arrays of about 4 MiB each."""
    return max(256, min(8192, 4 * 2**20 // (16 * n)))


def lanczos_pooled(plan: Plan, z, floor, tol, maxit, stats, starts=None, vectors=None) -> np.ndarray:
    """sigma_min(T - zI) at any number of shifts, in chunks, the stragglers of all chunks restarted together.

    ``tol`` a number or one per shift; ``starts`` None (cold) or (n, m) start vectors; ``vectors``, if given,
    an (n, m) complex64 array that receives the singular vectors.
    """
    m = z.size
    tol = np.broadcast_to(np.asarray(tol, dtype=float), (m,))
    out = np.empty(m)
    vecs = np.zeros((plan.n, m), dtype=np.complex64) if vectors is None else vectors
    pool = []
    step = chunk_size(plan.n)
    for s in range(0, m, step):
        part = np.arange(s, min(s + step, m))
        start = None if starts is None else starts[:, part]
        out[part], vecs[:, part], late = lanczos_chunk(
            plan, z[part], floor, tol[part], maxit, stats, start=start, straggle=max(64, part.size // 8)
        )
        pool.append(part[late])
    late = np.concatenate(pool)
    out[late], vecs[:, late] = restart(plan, z[late], floor, tol[late], maxit, stats, vecs[:, late])
    return out


def restart(plan: Plan, z, floor, tol, maxit, stats, ritz_vectors) -> tuple[np.ndarray, np.ndarray]:
    """Finish stragglers together, each from its own top Ritz vector (an explicit restart, as in restarted
    Lanczos) with up to ``maxit`` further steps; returns their values and singular vectors."""
    out = np.empty(z.size)
    vecs = np.zeros((plan.n, z.size), dtype=np.complex64)
    step = chunk_size(plan.n)
    for s in range(0, z.size, step):
        part = slice(s, s + step)
        out[part], vecs[:, part] = lanczos_chunk(
            plan, z[part], floor, tol[part], maxit, stats, start=ritz_vectors[:, part], ritz=True
        )
    stats["restarted"] = stats.get("restarted", 0) + int(z.size)
    return out, vecs
