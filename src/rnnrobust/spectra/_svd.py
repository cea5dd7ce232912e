"""sigma_min(T - zI) by dense SVD: the reference evaluator, and the repair step of both Lanczos back ends."""

from __future__ import annotations

import numpy as np

from ._schur import Prepared

_SVD_BATCH_BYTES = 32 * 2**20


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


def svd_point(prep: Prepared, z: complex) -> float:
    """sigma_min(zI - A) at one point by a dense SVD of T - zI (exact up to rounding)."""
    T = prep.T
    if T.shape[0] == 1:
        return float(abs(T[0, 0] - z))
    M = T.copy()
    M[np.diag_indices_from(M)] -= z
    return float(np.linalg.svd(M, compute_uv=False)[-1])


def repair_with_svd(res: np.ndarray, T: np.ndarray, z: np.ndarray, stats: dict) -> None:
    """Recompute by dense SVD, in place, every point whose Lanczos value is not finite; count them."""
    failed = ~np.isfinite(res)
    if np.any(failed):
        stats["fallback"] = int(np.count_nonzero(failed))
        res[failed] = svd_sigma_min(T, z[failed])
