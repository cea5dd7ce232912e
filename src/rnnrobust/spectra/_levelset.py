"""Level-set tests: every point of a line, ray or circle where gamma is a singular value of zI - B.

These are the eigenvalue tests behind Byers' bisection, the Boyd-Balakrishnan / Bruinsma-Steinbuch
algorithm and the criss-cross methods of Burke-Lewis-Overton and Mengi-Overton.

* ``gamma`` is a singular value of i*w*I - B (w real) exactly when i*w is an eigenvalue of the
  Hamiltonian matrix H = [[B, -gamma I], [gamma I, -B^H]].
* ``gamma`` is a singular value of e^{i t} I - B exactly when e^{i t} is an eigenvalue of the pencil
  [[B, -gamma I], [0, I]] - z [[I, 0], [-gamma I, B^H]].

Rounding moves such eigenvalues slightly off the axis (circle), by about sqrt(u) where two crossings
merge, so the tests accept a generous band and the callers check every candidate with an SVD.  The circle's
band is wider (1e-4): the shift-and-invert below and a badly conditioned pencil can push the two ends of a
narrow arc 1e-6 off the circle, and a missed arc stops a criss-cross search early (an arc of 1e-4 rad left
rho_eps 1e-9 low); a spurious candidate costs one SVD.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

_AXIS_TOL = 1e-6
_CIRCLE_TOL = 1e-4


def axis_crossings(B: np.ndarray, gamma: float) -> np.ndarray:
    """Sorted real w such that gamma is (numerically) a singular value of i*w*I - B."""
    n = B.shape[0]
    eye = np.eye(n)
    H = np.block([[B, -gamma * eye], [gamma * eye, -B.conj().T]])
    lam = scipy.linalg.eigvals(H, check_finite=False, overwrite_a=True)
    scale = np.linalg.norm(B, 2) + gamma if n <= 64 else np.linalg.norm(B) + gamma
    keep = np.isfinite(lam) & (np.abs(lam.real) <= _AXIS_TOL * scale)
    return np.sort(lam.imag[keep])


def _pencil_eigenvalues(B: np.ndarray, gamma: float, eigenvalues: np.ndarray | None = None) -> np.ndarray:
    """Eigenvalues z of L - z N, L = [[B, -gamma I], [0, I]], N = [[I, 0], [-gamma I, B^H]].

    A shift-and-invert turns the pencil into a standard eigenproblem, several times faster than QZ:
    (L - cN)^-1 N has eigenvalues mu = 1/(z - c).  The shift c is chosen away from the eigenvalues of B and
    their reflections 1/conj(lambda) (where the pencil's eigenvalues start for small gamma); if L - cN is
    still nearly singular (tiny LU pivot), QZ is used.  For a real B only real shifts are tried, so that
    the whole computation stays in real arithmetic (about twice as fast as complex).
    """
    n = B.shape[0]
    eye = np.eye(n)
    if eigenvalues is not None:
        lam = np.asarray(eigenvalues)
    else:
        lam = np.diag(B) if not np.any(np.tril(B, -1)) else np.linalg.eigvals(B)
    with np.errstate(divide="ignore", invalid="ignore"):
        refl = 1.0 / lam.conj()
    pts = np.concatenate((lam, refl[np.isfinite(refl)]))
    if np.isrealobj(B):
        cands = np.array([0.0, 0.5, -0.5, 0.25, -0.25, 0.75, -0.75, 2.0, -2.0])
    else:
        cands = np.array([0.0, 0.5j, -0.5j, 0.5, -0.5, 0.35 + 0.35j, -0.35 - 0.35j, 2.0, -2.0, 2.0j, -2.0j])
    dist = np.min(np.abs(cands[:, None] - pts[None, :]), axis=1) if pts.size else np.ones(cands.size)
    zero = np.zeros((n, n))
    N = np.block([[eye, zero], [-gamma * eye, B.conj().T]])
    for c in cands[np.argsort(-dist)][:3]:
        K = np.block([[B - c * eye, -gamma * eye], [c * gamma * eye, eye - c * B.conj().T]])
        lu, piv = scipy.linalg.lu_factor(K, check_finite=False)
        d = np.abs(np.diag(lu))
        if d.min() <= 1e-10 * d.max():
            continue
        mu = scipy.linalg.eigvals(scipy.linalg.lu_solve((lu, piv), N, check_finite=False), check_finite=False)
        big = np.abs(mu) > 1e-14 * np.abs(mu).max()
        return c + 1.0 / mu[big]
    L = np.block([[B, -gamma * eye], [zero, eye]])
    return scipy.linalg.eigvals(L, N, check_finite=False, overwrite_a=True)


def circle_crossings(B: np.ndarray, gamma: float, eigenvalues: np.ndarray | None = None) -> np.ndarray:
    """Sorted angles t in [0, 2*pi) such that gamma is (numerically) a singular value of e^{it} I - B.

    ``eigenvalues`` of B, when known, spare an eigenvalue computation (they only place the shift).
    """
    lam = _pencil_eigenvalues(B, gamma, eigenvalues)
    keep = np.isfinite(lam) & (np.abs(np.abs(lam) - 1.0) <= _CIRCLE_TOL)
    return np.sort(np.mod(np.angle(lam[keep]), 2 * np.pi))
