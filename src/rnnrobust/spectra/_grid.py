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

_LEAF = 8
_MAXIT = 60
_SVD_MAX_N = 32
_SVD_BATCH_BYTES = 32 * 2**20
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
            if n_live <= 0.8 * live.size:
                keep = live
                Q, Qprev = Q[:, keep], Qprev[:, keep]
                Dinv, Dinv_c = Dinv[:, keep], Dinv_c[:, keep]
                alphas, betas = alphas[:, keep], betas[:, keep]
                theta_old, idx = theta_old[keep], idx[keep]
                live = np.ones(n_live, dtype=bool)
        stats["iterations"] += maxit * int(np.count_nonzero(live))
    return out


def repair_with_svd(res: np.ndarray, T: np.ndarray, z: np.ndarray, stats: dict) -> None:
    """Recompute by dense SVD, in place, every point whose Lanczos value is not finite; count them."""
    failed = ~np.isfinite(res)
    if np.any(failed):
        stats["fallback"] = int(np.count_nonzero(failed))
        res[failed] = svd_sigma_min(T, z[failed])


def svd_sigma_min(T: np.ndarray, z: np.ndarray) -> np.ndarray:
    """sigma_min(T - zI) by batched dense SVD (values only), in memory-bounded batches."""
    n = T.shape[0]
    out = np.empty(z.size)
    if n == 1:
        return np.abs(T[0, 0] - z)
    batch = max(1, _SVD_BATCH_BYTES // (16 * n * n))
    eye = np.eye(n, dtype=np.complex128)
    for s in range(0, z.size, batch):
        zz = z[s : s + batch]
        M = T[None, :, :] - zz[:, None, None] * eye
        out[s : s + batch] = np.linalg.svd(M, compute_uv=False)[:, -1]
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


def evaluate(prep: Prepared, z: np.ndarray, *, tol: float = 1e-10, method: str = "auto", device=None, info=None):
    """sigma_min(zI - A) for a 1-D complex array; real A evaluates each conjugate pair once."""
    z = np.asarray(z, dtype=np.complex128).ravel()
    if prep.is_real:
        z = np.where(z.imag < 0, z.conj(), z)
    uz, inverse = np.unique(z, return_inverse=True)
    if device is not None:
        from ._torch import sigma_min_points_torch

        vals = sigma_min_points_torch(prep, uz, tol=tol, device=device, info=info)
    else:
        vals = sigma_min_points(prep, uz, tol=tol, method=method, info=info)
    if info is not None:
        info["points"] = int(z.size)
        info["distinct_points"] = int(uz.size)
    return vals[inverse.ravel()]


def svd_point(prep: Prepared, z: complex) -> float:
    """sigma_min(zI - A) at one point by a dense SVD of T - zI (exact up to rounding)."""
    T = prep.T
    if T.shape[0] == 1:
        return float(abs(T[0, 0] - z))
    M = T.copy()
    M[np.diag_indices_from(M)] -= z
    return float(np.linalg.svd(M, compute_uv=False)[-1])
