"""sigma_min(zI - A) at many points: multi-shift inverse Lanczos on the complex Schur factor.

For every shift z the smallest singular value of T - zI is 1/sqrt(lambda_max) of the Hermitian
positive definite operator M_z = (T - zI)^-1 (T - zI)^-*, and lambda_max is found by Lanczos.  One
Lanczos step needs one forward substitution with (T - zI)^* and one back substitution with T - zI.
The strictly triangular part of T does not depend on z, so the substitutions of *all* shifts are done
together: the Lanczos vectors of a chunk of shifts are the columns of an (n, m) array X, T is split
recursively into halves, the coupling block between two halves updates all m columns with one GEMM
(zgemm, in place), and only leaves of a few rows run row by row, each row operation vectorised over the
shifts.  Each shift stops when its top Ritz value changes by less than ``tol`` (relative); shifts that
run out of steps or overflow are recomputed by a dense SVD.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import zgemm

from ._schur import Prepared
from ._svd import repair_with_svd, svd_sigma_min

_LEAF = 8
_MAXIT = 60
_SVD_MAX_N = 32
_CHUNK_BYTES = 4 * 2**20


class _Plan:
    """Recursive block structure of T, with the coupling blocks stored as ready-to-use GEMM operands."""

    def __init__(self, T: np.ndarray, leaf: int = _LEAF):
        self.n = T.shape[0]
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


def _top_ritz(alphas: np.ndarray, betas: np.ndarray, k: int) -> np.ndarray:
    """Largest eigenvalue of each tridiagonal H (diag alphas[:k], off-diag betas[:k-1]), batched."""
    m = alphas.shape[1]
    if k == 1:
        return alphas[0].copy()
    H = np.zeros((m, k, k))
    idx = np.arange(k)
    H[:, idx, idx] = alphas[:k].T
    H[:, idx[:-1], idx[1:]] = betas[: k - 1].T
    return np.linalg.eigvalsh(H, UPLO="U")[:, -1]


def _floored_inverse_diag(d: np.ndarray, z: np.ndarray, floor: float) -> np.ndarray:
    # Within u ||A||_F of an eigenvalue t_ii - z is rounding noise (the Schur form is exact only for a
    # matrix that close to A), so lifting it to that floor moves sigma_min by no more than the backward
    # error, and the solves never divide by 0 or overflow there (which would cost a dense SVD fallback).
    D = d[:, None] - z[None, :]
    absD = np.abs(D)
    small = absD < floor
    if np.any(small):
        # keep the phase, lift the modulus to the floor (phase 1 where t_ii - z is exactly 0)
        phase = np.where(absD[small] > 0, D[small] / np.where(absD[small] > 0, absD[small], 1.0), 1.0)
        D[small] = floor * phase
    return 1.0 / D


def _lanczos_chunk(plan: _Plan, d: np.ndarray, z: np.ndarray, floor: float, tol: float, maxit: int, stats):
    """sigma_min(T - zI) for one chunk of shifts; NaN where Lanczos did not converge or overflowed."""
    n, m = plan.n, z.size
    out = np.full(m, np.nan)
    Dinv = _floored_inverse_diag(d, z, floor)
    Dinv_c = Dinv.conj()
    # A generic complex start vector has a component along the top eigenvector of every M_z; a structured
    # one such as e_1 can be orthogonal to it, or nearly so, and converge to a larger singular value.  The
    # fixed seed keeps results reproducible, and the torch back end uses the same vector.
    rng = np.random.default_rng(12345)
    q0 = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    q0 /= np.linalg.norm(q0)
    Q = np.repeat(q0[:, None], m, axis=1)
    Qprev = np.zeros_like(Q)
    alphas = np.zeros((maxit, m))
    betas = np.zeros((maxit, m))
    theta_old = np.zeros(m)
    idx = np.arange(m)
    live = np.ones(m, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(maxit):
            W = Q.copy()
            plan.solve_lower(W, Dinv_c)
            plan.solve_upper(W, Dinv)
            alpha = np.einsum("ij,ij->j", Q.conj(), W).real
            W -= alpha * Q
            if k > 0:
                W -= betas[k - 1] * Qprev
            beta = np.sqrt(np.einsum("ij,ij->j", W.real, W.real) + np.einsum("ij,ij->j", W.imag, W.imag))
            broken = ~(np.isfinite(alpha) & np.isfinite(beta))
            alphas[k] = np.where(broken, 0.0, alpha)
            betas[k] = np.where(broken, 0.0, beta)
            theta = _top_ritz(alphas, betas, k + 1)
            bad = broken | ~(np.isfinite(theta) & (theta > 0))
            conv = ~bad & (k > 0) & (np.abs(theta - theta_old) <= tol * theta)
            # breakdown: the Krylov space is invariant, so the Ritz values are exact
            conv |= ~bad & (beta <= 1e-14 * theta)
            done = live & (conv | bad)
            if np.any(done):
                ok = done & conv
                out[idx[ok]] = 1.0 / np.sqrt(theta[ok])
                stats["iterations"] += (k + 1) * int(np.count_nonzero(done))
                live &= ~done
            if not np.any(live):
                break
            theta_old = theta
            Qprev = Q
            Q = W / np.where(beta > 0, beta, 1.0)
            n_live = int(np.count_nonzero(live))
            # Converged columns still ride through every solve until they are dropped, and dropping them
            # copies the whole per-shift state.  Compacting once a fifth is done caps the wasted solve work
            # at 20% and, as each compaction shrinks the chunk by a fifth or more, all copies together at
            # five copies of the chunk's state.
            if n_live <= 0.8 * live.size:
                keep = live
                Q, Qprev = Q[:, keep], Qprev[:, keep]
                Dinv, Dinv_c = Dinv[:, keep], Dinv_c[:, keep]
                alphas, betas = alphas[:, keep], betas[:, keep]
                theta_old, idx = theta_old[keep], idx[keep]
                live = np.ones(n_live, dtype=bool)
        stats["iterations"] += maxit * int(np.count_nonzero(live))
    return out


def sigma_min_points(prep: Prepared, z: np.ndarray, *, tol: float, method: str = "auto", info=None):
    """sigma_min(zI - A) for a 1-D complex array of distinct-enough points (no symmetry handling)."""
    T = prep.T
    n = T.shape[0]
    m = z.size
    stats = {"iterations": 0, "fallback": 0, "lanczos_points": 0}
    if m == 0:
        res = np.empty(0)
    elif not np.any(np.triu(T, 1)):
        # T is diagonal (A normal with an exactly diagonal Schur factor, e.g. n = 1 or A = 0)
        res = np.min(np.abs(np.diag(T)[:, None] - z[None, :]), axis=0)
        method = "diagonal"
    elif method == "svd" or (method == "auto" and n <= _SVD_MAX_N):
        res = svd_sigma_min(T, z)
        method = "svd"
    else:
        method = "lanczos"
        plan = prep.cache.get("plan")
        if plan is None:
            plan = prep.cache["plan"] = _Plan(T)
        d = np.diag(T).copy()
        floor = prep.floor
        chunk = max(256, min(8192, _CHUNK_BYTES // (16 * n)))
        res = np.empty(m)
        for s in range(0, m, chunk):
            res[s : s + chunk] = _lanczos_chunk(plan, d, z[s : s + chunk], floor, tol, _MAXIT, stats)
        stats["lanczos_points"] = m
        repair_with_svd(res, T, z, stats)
    if info is not None:
        info.update(
            method=method,
            points=int(m),
            fallback_svd=stats["fallback"],
            mean_iterations=(stats["iterations"] / stats["lanczos_points"]) if stats["lanczos_points"] else 0.0,
        )
    return res


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
