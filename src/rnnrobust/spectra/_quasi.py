"""The blocked solves of ``_lanczos`` on the real Schur factor of a real matrix: half the GEMM arithmetic.

A real A has a real Schur form A = Q S Q^T, S quasi-upper triangular (1 x 1 blocks for real eigenvalues,
2 x 2 blocks for complex pairs), and sigma_min(zI - A) = sigma_min(S - zI).  The coupling blocks of S are
real, so the GEMMs that take most of a solve multiply a real block by the complex Lanczos vectors viewed as
real arrays of twice the width: dgemm does half the flops of zgemm (measured at n = 128: 2.0 -> 0.9 us per
shift and solve).  Only the diagonal blocks depend on z; a 2 x 2 block is solved per shift with its inverse.

Recursion splits S at block boundaries, so no 2 x 2 block is cut, down to leaves of at most two rows: one
2 x 2 block, or one or two 1 x 1 blocks handled row by row as in ``_lanczos.Plan``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dgemm

from ._lanczos import floored_inverse_diag, lift_modulus

# Leaves of at most two rows hold either one 2 x 2 block or one or two 1 x 1 blocks, so a 2 x 2 block never
# has rows of its own leaf to update (the row-by-row updates below rely on that).
_LEAF = 2


def _diagonal_blocks(S: np.ndarray) -> list[tuple[int, int]]:
    """(start, size) of the diagonal blocks of a real quasi-upper triangular S."""
    n = S.shape[0]
    blocks, i = [], 0
    while i < n:
        size = 2 if i + 1 < n and S[i + 1, i] != 0 else 1
        blocks.append((i, size))
        i += size
    return blocks


def _lift(z: np.ndarray, mu: np.ndarray, floor: float) -> np.ndarray:
    """Shifts z (k, m) moved to distance ``floor`` from mu (k, 1) where closer, keeping their direction from mu."""
    gap = z - mu
    close = lift_modulus(gap, floor)
    if not np.any(close):
        return z
    out = np.array(z)
    out[close] = (mu + gap)[close]
    return out


class RealPlan:
    """Recursive block structure of the real Schur factor S of a real A, for the solves of ``_lanczos``.

    Same interface as ``_lanczos.Plan``: ``inverse_diagonal(z, floor)`` gives the per-shift data of the
    diagonal blocks (one row per 1 x 1 block, the four entries of the inverse per 2 x 2 block), which the
    solves take with its complex conjugate.
    """

    def __init__(self, A: np.ndarray):
        S, _ = scipy.linalg.schur(A, output="real")
        self.n = S.shape[0]
        self.S = S
        self.blocks = _diagonal_blocks(S)
        self.offset: dict[int, int] = {}
        rows = 0
        for start, size in self.blocks:
            self.offset[start] = rows
            rows += 1 if size == 1 else 4
        self.rows = rows
        singles = [start for start, size in self.blocks if size == 1]
        self._d1 = S[singles, singles].copy()
        self._rows1 = np.array([self.offset[i] for i in singles], dtype=int)
        self._pairs = np.array([start for start, size in self.blocks if size == 2], dtype=int)
        self._rows2 = np.array([self.offset[i] for i in self._pairs], dtype=int)
        self.eigenvalues = np.concatenate([np.linalg.eigvals(S[i : i + s, i : i + s]) for i, s in self.blocks])
        self._bounds = [start for start, _ in self.blocks] + [self.n]
        # back (upper) solves run bottom-up and forward (lower, S^T) solves top-down over the same tree
        self.back: list[tuple] = []
        self.fwd: list[tuple] = []
        self._build_back(0, self.n, self.back)
        self._build_fwd(0, self.n, self.fwd)

    def _split(self, lo: int, hi: int) -> int:
        inner = [b for b in self._bounds if lo < b < hi]
        return min(inner, key=lambda b: abs(b - (lo + hi) / 2))

    def _leaf(self, lo: int, hi: int) -> list[tuple[int, int]]:
        return [(start, size) for start, size in self.blocks if lo <= start < hi]

    # Each step of a solve is either a coupling GEMM, (target rows, source rows, real block B) with
    # X[target] -= B X[source], or a leaf, (None, None, [(block start, size, vector, rows)]) whose blocks are
    # solved in turn, each followed by X[rows] -= vector x_start (the rows of its leaf it couples to).

    def _build_back(self, lo, hi, out):
        if hi - lo <= _LEAF:
            # bottom-up; a block updates the rows above it in its leaf (a 2 x 2 block fills its leaf: none)
            out.append((None, None, [(i, k, self.S[lo:i, i], slice(lo, i)) for i, k in self._leaf(lo, hi)[::-1]]))
            return
        mid = self._split(lo, hi)
        self._build_back(mid, hi, out)
        # rows lo:mid -= S[lo:mid, mid:hi] @ X[mid:hi], done transposed: X[lo:mid].T -= X[mid:hi].T @ B
        out.append((slice(lo, mid), slice(mid, hi), np.asfortranarray(self.S[lo:mid, mid:hi].T)))
        self._build_back(lo, mid, out)

    def _build_fwd(self, lo, hi, out):
        if hi - lo <= _LEAF:
            # top-down; S^T[i+k:hi, i] = S[i, i+k:hi] are the rows below a block in its leaf
            out.append((None, None, [(i, k, self.S[i, i + k : hi], slice(i + k, hi)) for i, k in self._leaf(lo, hi)]))
            return
        mid = self._split(lo, hi)
        self._build_fwd(lo, mid, out)
        # rows mid:hi -= S[lo:mid, mid:hi]^T @ X[lo:mid]
        out.append((slice(mid, hi), slice(lo, mid), np.asfortranarray(self.S[lo:mid, mid:hi])))
        self._build_fwd(mid, hi, out)

    def inverse_diagonal(self, z: np.ndarray, floor: float) -> np.ndarray:
        """(rows, m) complex: 1/(s_ii - z) per 1 x 1 block, (S_kk - zI)^-1 row-major per 2 x 2 block.

        As in ``_lanczos.floored_inverse_diag``, a shift within ``floor`` of a block's eigenvalue is moved to
        that distance for that block (a backward perturbation of S no larger than ``floor``), and the
        determinant is the product of the eigenvalue gaps, accurate where it is small.
        """
        out = np.empty((self.rows, z.size), dtype=np.complex128)
        out[self._rows1] = floored_inverse_diag(self._d1, z, floor)
        if self._pairs.size == 0:
            return out
        a, b, c, d = (self.S[self._pairs + i, self._pairs + j][:, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
        lam1, lam2 = self.eigenvalues[self._pairs][:, None], self.eigenvalues[self._pairs + 1][:, None]
        zz = np.broadcast_to(z[None, :], (self._pairs.size, z.size))
        zz = _lift(_lift(zz, lam1, floor), lam2, floor)
        inv_det = 1.0 / ((lam1 - zz) * (lam2 - zz))
        r = self._rows2
        out[r] = (d - zz) * inv_det
        out[r + 1] = -b * inv_det
        out[r + 2] = -c * inv_det
        out[r + 3] = (a - zz) * inv_det
        return out

    def solve_upper(self, X: np.ndarray, D: np.ndarray) -> None:
        """In place: column j of X becomes (S - z_j I)^-1 X[:, j]; D from :meth:`inverse_diagonal`."""
        self._solve(X, D, self.back, (0, 1, 2, 3))

    def solve_lower(self, X: np.ndarray, Dc: np.ndarray) -> None:
        """In place: column j of X becomes (S - z_j I)^-* X[:, j]; Dc = conj(D)."""
        # (M^-1)^* = conj(M^-1)^T: the off-diagonal entries of each 2 x 2 inverse swap
        self._solve(X, Dc, self.fwd, (0, 2, 1, 3))

    def _solve(self, X: np.ndarray, D: np.ndarray, steps: list[tuple], order: tuple[int, ...]) -> None:
        Xr = X.view(np.float64)  # the real coupling blocks act on real and imaginary parts alike
        k00, k01, k10, k11 = order
        for target, source, data in steps:
            if target is not None:
                dgemm(-1.0, Xr[source].T, data, 1.0, Xr[target].T, overwrite_c=1)
                continue
            for start, size, vec, rows in data:
                r = self.offset[start]
                if size == 1:
                    X[start] *= D[r]
                else:
                    x0, x1 = X[start], X[start + 1]
                    t = D[r + k01] * x1
                    x1 *= D[r + k11]
                    x1 += D[r + k10] * x0
                    x0 *= D[r + k00]
                    x0 += t
                if vec.size:
                    Xr[rows] -= vec[:, None] * Xr[start]
