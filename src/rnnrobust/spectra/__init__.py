"""Spectra, pseudospectra and robustness scalars of square matrices (numpy in, numpy out).

Every function takes a real or complex square matrix (converted to float64 / complex128; bad input
raises ValueError) or the :class:`Prepared` object returned by :func:`prepare`, which holds the complex
Schur form so that it is computed once per matrix.

Definitions (A is n x n, ||.|| the spectral norm, sigma_min the smallest singular value):

* Complex Schur form A = Z T Z*, Z unitary, T upper triangular with the eigenvalues on its diagonal.
* Henrici departure from normality dep(A) = ||N||_F, N the strictly upper triangular part of T
  (= sqrt(||A||_F^2 - sum |lambda_i|^2) in exact arithmetic, but computed from N, which does not cancel);
  relative version dep(A) / ||A||_F (0 for A = 0).  It is the same for A and A^T.
* eps-pseudospectrum Lambda_eps(A) = {z : sigma_min(zI - A) <= eps}.
* pseudospectral radius rho_eps = max |z| and abscissa alpha_eps = max Re z over Lambda_eps(A).
* distance to instability: discrete d = min_{|z|=1} sigma_min(zI - A); continuous
  d = min_{w real} sigma_min(iwI - A).
* Kreiss constant (discrete time) K(A) = sup_{|z|>1} (|z| - 1) ||(zI - A)^-1|| (>= 1, inf if rho(A) > 1),
  with K(A) <= max_k ||A^k|| <= e n K(A).

Algorithm for sigma_min on many points (``sigma_min``, ``sigma_min_grid``): the complex Schur factor T is
computed once; sigma_min(zI - A) = sigma_min(T - zI).  For n <= 32 a batched dense SVD is used.  Otherwise
inverse Lanczos runs on (T - zI)^-1 (T - zI)^-* for all points together: the two triangular solves per step
share the z-independent off-diagonal part of T (recursive blocking, one in-place GEMM per coupling block
across all shifts), each shift stops when its top Ritz value changes by less than ``tol`` (relative), and
shifts that do not converge in 60 steps or overflow are recomputed by dense SVD.  |t_ii - z| is floored at
u ||A||_F, so z exactly on an eigenvalue gives a finite value of the order of the rounding error.  For real A
the conjugate half of a symmetric grid is mirrored.  The optional torch back end (``device="cuda"``, or
``"cpu"``) runs the same algorithm in complex128; torch is imported only then.

Scalars: a grid stage samples the relevant curve or region with the batched evaluator and keeps only
verified points, so it is one-sided (rho_eps, alpha_eps and K from below, the distance to instability from
above).  Refinement (the default) adds 1-D Brent / Nelder-Mead searches with dense SVDs and global
level-set tests with Hamiltonian matrices and symplectic pencils (criss-cross: Burke, Lewis & Overton 2003;
Mengi & Overton 2005; Boyd-Balakrishnan for the distance to instability).  The Kreiss constant stays a
(refined) lower bound; certified values need Mitchell's algorithms (SIAM J. Matrix Anal. Appl. 2020, 2021).
"""

from __future__ import annotations

import math

import numpy as np

from . import _scalars
from ._blas import single_threaded
from ._grid import evaluate
from ._scalars import TransientGrowth
from ._schur import Prepared, eigenvector_condition_of, henrici_from_T, prepare
from ._validate import as_axis, as_points, eps_list, positive_float, tolerance

__all__ = [
    "Prepared",
    "TransientGrowth",
    "distance_to_instability",
    "eigenvalues",
    "eigenvector_condition",
    "henrici",
    "kreiss_constant",
    "prepare",
    "pseudospectral_abscissa",
    "pseudospectral_radius",
    "robustness_summary",
    "schur",
    "sigma_min",
    "sigma_min_grid",
    "spectral_norm",
    "spectral_radius",
    "transient_growth",
]

_METHODS = ("auto", "lanczos", "svd")
DEFAULT_EPS = (1e-3, 1e-2, 1e-1)


@single_threaded
def eigenvalues(A) -> np.ndarray:
    """Eigenvalues of A (complex128), sorted by decreasing modulus, then by angle."""
    p = prepare(A)
    lam = np.linalg.eigvals(p.A).astype(np.complex128)
    order = np.lexsort((np.angle(lam), -np.abs(lam)))
    return lam[order]


@single_threaded
def spectral_radius(A) -> float:
    """rho(A) = max |lambda_i|."""
    return float(np.abs(eigenvalues(A)).max())


@single_threaded
def spectral_norm(A) -> float:
    """||A||_2 = sigma_max(A)."""
    return prepare(A).norm2


@single_threaded
def schur(A) -> tuple[np.ndarray, np.ndarray]:
    """Complex Schur form: (T, Z) with A = Z T Z*, Z unitary, T upper triangular (complex128)."""
    p = prepare(A)
    return p.T.copy(), p.Z.copy()


@single_threaded
def henrici(A, relative: bool = False) -> float:
    """Henrici departure from normality ||triu(T, 1)||_F of the complex Schur factor T.

    With ``relative=True`` it is divided by ||A||_F (0 for A = 0).  Not computed from the real Schur form
    nor from sqrt(||A||_F^2 - sum |lambda|^2), which cancels catastrophically for nearly normal A.
    """
    p = prepare(A)
    dep = henrici_from_T(p.T)
    if relative:
        return dep / p.normF if p.normF > 0 else 0.0
    return dep


@single_threaded
def eigenvector_condition(A) -> float:
    """kappa(V) = ||V||_2 ||V^-1||_2 of the eigenvector matrix V with unit-norm columns.

    1 for normal matrices with distinct eigenvalues; inf when the computed V is singular to working
    precision (sigma_min(V) <= n u sigma_max(V)), e.g. for a Jordan block.  A defective matrix given in a
    rotated basis is diagonalisable after rounding and then gets a huge finite value (>= ~1e8).
    """
    return eigenvector_condition_of(prepare(A).A)


def _check_method(method, device):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if device is not None and not isinstance(device, str) and type(device).__name__ != "device":
        raise ValueError(f"device must be None or a torch device string such as 'cuda', got {device!r}")


@single_threaded
def sigma_min(A, z, *, tol: float = 1e-10, method: str = "auto", device=None, info: dict | None = None):
    """sigma_min(zI - A) at each complex point of ``z`` (any shape; the result has the same shape).

    ``tol`` is the relative change of the top Ritz value at which inverse Lanczos stops (1e-10 gives about
    1e-11 relative accuracy; 1e-5 is enough for plots).  ``method``: "auto" (SVD for n <= 32, else Lanczos),
    "lanczos" or "svd".  ``device=None`` uses numpy; a torch device string ("cuda", "cpu", ...) uses the torch
    back end.  A dict passed as ``info`` receives the method used, the number of SVD fallbacks and the mean
    number of Lanczos steps.  For real A the value at z and at conj(z) is computed once.
    """
    p = prepare(A)
    zz = as_points(z, "z")
    tol = tolerance(tol)
    _check_method(method, device)
    vals = evaluate(p, zz.ravel(), tol=tol, method=method, device=device, info=info)
    out = vals.reshape(zz.shape)
    return float(out) if out.ndim == 0 else out


@single_threaded
def sigma_min_grid(A, x, y, *, tol: float = 1e-10, method: str = "auto", device=None, info: dict | None = None):
    """sigma_min(zI - A) on the grid z = x[j] + i y[i]; returns an array of shape (len(y), len(x)).

    Same options as :func:`sigma_min`.  For real A, rows whose y is the negative of another row's y (to
    within 1e-14 ||A||_F / sqrt(n)) are copied from that row instead of being computed (conjugate symmetry).
    Contours of the eps-pseudospectra: ``plt.contour(x, y, np.log10(S), levels=np.log10(eps_list))``.
    """
    p = prepare(A)
    xs = as_axis(x, "x")
    ys = as_axis(y, "y")
    tol = tolerance(tol)
    _check_method(method, device)
    source = np.arange(ys.size)
    if p.is_real:
        mtol = 1e-14 * p.normF / math.sqrt(p.n)
        nonneg = np.flatnonzero(ys >= 0)
        order = nonneg[np.argsort(ys[nonneg])]
        sorted_y = ys[order]
        for i in np.flatnonzero(ys < 0):
            target = -ys[i]
            k = int(np.searchsorted(sorted_y, target))
            for c in (k - 1, k):
                if 0 <= c < sorted_y.size and abs(sorted_y[c] - target) <= mtol:
                    source[i] = order[c]
                    break
    rows = np.unique(source)
    pts = (xs[None, :] + 1j * ys[rows, None]).ravel()
    vals = evaluate(p, pts, tol=tol, method=method, device=device, info=info).reshape(rows.size, xs.size)
    out = np.empty((ys.size, xs.size))
    pos = np.searchsorted(rows, source)
    out[:] = vals[pos]
    if info is not None:
        info["grid_points"] = int(ys.size * xs.size)
        info["mirrored_rows"] = int(ys.size - rows.size)
    return out


@single_threaded
def pseudospectral_radius(A, eps: float, *, refine: bool = True) -> float:
    """eps-pseudospectral radius rho_eps(A) = max{|z| : sigma_min(zI - A) <= eps}.

    Always rho_eps >= rho(A) + eps (equality for normal A).  With ``refine=True`` (default) a criss-cross
    iteration (radial Hamiltonian searches and circular symplectic-pencil searches, polished by dense-SVD
    root finding) gives the value to about 1e-12 relative.  With ``refine=False`` only a polar grid with
    bisection along each ray is used: the result is a *lower bound* (every reported point is verified to lie
    in the pseudospectrum), typically within 1e-2 relative.
    """
    p = prepare(A)
    e = positive_float(eps, "eps")
    return _scalars.pseudospectral_radius(p, e, refine=bool(refine))


@single_threaded
def pseudospectral_abscissa(A, eps: float, *, refine: bool = True) -> float:
    """eps-pseudospectral abscissa alpha_eps(A) = max{Re z : sigma_min(zI - A) <= eps}.

    Always alpha_eps >= alpha(A) + eps.  ``refine=True`` (default): criss-cross iteration (horizontal and
    vertical Hamiltonian searches, polished by dense-SVD root finding).  ``refine=False``: horizontal lines
    with bisection only, a *lower bound*.
    """
    p = prepare(A)
    e = positive_float(eps, "eps")
    return _scalars.pseudospectral_abscissa(p, e, refine=bool(refine))


@single_threaded
def distance_to_instability(A, kind: str = "discrete", *, refine: bool = True) -> float:
    """Distance to instability.

    ``kind="discrete"``: d = min_{|z|=1} sigma_min(zI - A); ``kind="continuous"``: d = min over real w of
    sigma_min(iwI - A).  For a stable A (rho(A) < 1, resp. alpha(A) < 0) this is the norm of the smallest
    perturbation E with A + E unstable; for an unstable A it is the distance to the nearest matrix with an
    eigenvalue on the unit circle (imaginary axis), not 0.  ``refine=True`` (default): 4096 samples plus the
    eigenvalue angles, Brent around the best local minima, then level-set tests (symplectic pencil /
    Hamiltonian) until no point below the current value is left.  ``refine=False``: the sampled minimum only,
    an *upper bound*.
    """
    p = prepare(A)
    if kind not in ("discrete", "continuous"):
        raise ValueError(f"kind must be 'discrete' or 'continuous', got {kind!r}")
    return _scalars.distance_to_instability(p, kind, refine=bool(refine))


@single_threaded
def kreiss_constant(A, *, refine: bool = True) -> float:
    """Discrete-time Kreiss constant K(A) = sup_{|z|>1} (|z| - 1) ||(zI - A)^-1||_2, as a lower bound.

    The supremum is inf when rho(A) > 1 (returned as inf for rho(A) > 1 + 1e-12) and is >= 1 always (its
    limit for |z| -> inf).  The value returned is the maximum of (|z| - 1)/sigma_min(zI - A) over a polar
    grid z = (1 + t) e^{i theta} (t log-spaced, t >= 1e-7) and, with ``refine=True``, Nelder-Mead in
    (log t, theta) from the best grid points: always a lower bound of K(A) (up to rounding: points with
    sigma_min < 1e-8 (||A|| + 1), where rounding could inflate the ratio, are not used), exact at the local
    maxima found.  Kreiss matrix theorem: K(A) <= max_k ||A^k|| <= e n K(A).
    """
    p = prepare(A)
    return _scalars.kreiss_constant(p, refine=bool(refine))


@single_threaded
def transient_growth(A, kmax: int | None = None) -> TransientGrowth:
    """||A^k||_2 for k = 0..K by repeated products; returns ``TransientGrowth(norms, peak, peak_k)``.

    ``kmax`` given: K = kmax.  ``kmax=None``: stops once ||A^k|| has fallen below 1e-3 of the peak after the
    peak (or is 0), at the latest at k = 500.  Stops early if the norm exceeds 1e250.  ``peak`` is the
    maximum of ``norms`` (k = 0, with ||A^0|| = 1, included) and ``peak_k`` the first k where it occurs, to
    within 1e-12 relative (so rounding noise on a plateau, e.g. an orthogonal A, leaves it at 0).
    """
    p = prepare(A)
    if kmax is not None:
        if isinstance(kmax, bool) or not isinstance(kmax, (int, np.integer)) or kmax < 0:
            raise ValueError(f"kmax must be a non-negative integer or None, got {kmax!r}")
        kmax = int(kmax)
    return _scalars.transient_growth(p, kmax)


@single_threaded
def robustness_summary(A, eps_levels=DEFAULT_EPS, *, refine: bool = True, kmax: int | None = None) -> dict:
    """All scalars of one matrix as a dict of plain python floats / ints / lists (json.dumps-able).

    Keys: n, eigenvalues ([re, im] pairs, decreasing modulus), spectral_radius, spectral_abscissa,
    spectral_norm, henrici, henrici_relative, eigenvector_condition, distance_to_instability (discrete),
    pseudospectral_radius ({str(eps): rho_eps}), kreiss_lower_bound, transient_peak, transient_peak_k.
    Infinite values (eigenvector_condition of a defective matrix, Kreiss constant for rho > 1) are float
    ``inf`` (json writes them as Infinity).
    """
    p = prepare(A)
    levels = eps_list(eps_levels)
    lam = eigenvalues(p)
    tg = transient_growth(p, kmax)
    return {
        "n": int(p.n),
        "eigenvalues": [[float(v.real), float(v.imag)] for v in lam],
        "spectral_radius": float(np.abs(lam).max()),
        "spectral_abscissa": float(lam.real.max()),
        "spectral_norm": float(p.norm2),
        "henrici": henrici(p),
        "henrici_relative": henrici(p, relative=True),
        "eigenvector_condition": eigenvector_condition(p),
        "distance_to_instability": distance_to_instability(p, "discrete", refine=refine),
        "pseudospectral_radius": {repr(e): pseudospectral_radius(p, e, refine=refine) for e in levels},
        "kreiss_lower_bound": kreiss_constant(p, refine=refine),
        "transient_peak": float(tg.peak),
        "transient_peak_k": int(tg.peak_k),
    }
