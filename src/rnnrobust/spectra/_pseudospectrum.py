"""Public functions of the resolvent (zI - A)^-1: sigma_min on points and grids, and the scalars built on it."""

from __future__ import annotations

import math

import numpy as np

from . import _instability, _kreiss, _scalars
from ._blas import single_threaded
from ._contours import sigma_min_levels
from ._grid import sigma_min_at
from ._schur import prepare
from ._validate import as_axis, as_points, eps_list, positive_float, tolerance

__all__ = [
    "distance_to_instability",
    "kreiss_constant",
    "pseudospectral_abscissa",
    "pseudospectral_radius",
    "real_distance_to_instability",
    "sigma_min",
    "sigma_min_grid",
]

_METHODS = ("auto", "lanczos", "svd")


def _check_method(method, device):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if device is not None and not isinstance(device, str) and type(device).__name__ != "device":
        raise ValueError(f"device must be None or a torch device string such as 'cuda', got {device!r}")


@single_threaded
def sigma_min(A, z, *, tol: float = 1e-10, method: str = "auto", device=None, info: dict | None = None):
    """Smallest singular value sigma_min(zI - A) at each of the points ``z``.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    z : complex or array_like of complex
        Points, any shape.
    tol : float, optional
        Relative change of the top Ritz value at which inverse Lanczos stops, in (0, 1).  The default 1e-10
        gives about 1e-11 relative accuracy; 1e-5 is enough for plots.
    method : {"auto", "lanczos", "svd"}, optional
        "auto" (default) uses a batched dense SVD for n <= 32 and inverse Lanczos otherwise.
    device : str or torch.device, optional
        None (default) computes with numpy; a torch device ("cuda", "cpu", ...) uses the torch back end,
        which needs torch installed.
    info : dict, optional
        Receives the method used, the number of points, the number of SVD fallbacks and the mean number of
        Lanczos steps.

    Returns
    -------
    s : float or ndarray of float64
        A float for a scalar ``z``, otherwise an array of the shape of ``z``.  For real A the value at z and
        at conj(z) is computed once.

    Examples
    --------
    For a normal matrix sigma_min(zI - A) is the distance from z to the nearest eigenvalue:

    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> A = np.diag([1.0, -1.0])
    >>> spectra.sigma_min(A, [0.5, 1j]).round(6).tolist()
    [0.5, 1.414214]
    """
    p = prepare(A)
    zz = as_points(z, "z")
    tol = tolerance(tol)
    _check_method(method, device)
    vals = sigma_min_at(p, zz.ravel(), tol=tol, method=method, device=device, info=info)
    out = vals.reshape(zz.shape)
    return float(out) if out.ndim == 0 else out


@single_threaded
def sigma_min_grid(
    A, x, y, *, tol: float = 1e-10, method: str = "auto", device=None, info: dict | None = None, levels=None
):
    """Smallest singular value sigma_min(zI - A) on the grid z = x[j] + i y[i].

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    x, y : 1-D array_like of float
        Real and imaginary parts of the grid points.
    tol, method, device : optional
        As in :func:`sigma_min`.
    info : dict, optional
        As in :func:`sigma_min`, plus the number of grid points and of mirrored rows.
    levels : sequence of float, optional
        Contour levels (eps values) that the grid is for.  Then only the points next to a contour at one of
        them are computed to ``tol``; elsewhere ``S`` holds values computed to 1e-5 or interpolants, certified
        (sigma_min is 1-Lipschitz in z) to lie on the same side of every level, so contours drawn at ``levels``
        are those of the full grid.
        CPU only (``method="auto"``, no ``device``); ``info`` then counts exact and certified points.

    Returns
    -------
    S : (len(y), len(x)) ndarray of float64
        ``S[i, j]`` = sigma_min((x[j] + i y[i]) I - A).  For real A, rows whose y is the negative of another
        row's y (to within 1e-14 ||A||_F / sqrt(n)) are copied from that row (conjugate symmetry).

    Notes
    -----
    The eps-pseudospectra are the sublevel sets of ``S``:
    ``plt.contour(x, y, np.log10(S), levels=np.log10(eps_list))``.

    Examples
    --------
    For the Jordan block J = [[0, 1], [0, 0]], sigma_min(zI - J) = (sqrt(5) - 1) / 2 on |z| = 1:

    >>> from rnnrobust import spectra
    >>> spectra.sigma_min_grid([[0.0, 1.0], [0.0, 0.0]], x=[0.0, 1.0], y=[0.0]).round(6).tolist()
    [[0.0, 0.618034]]
    """
    p = prepare(A)
    xs = as_axis(x, "x")
    ys = as_axis(y, "y")
    tol = tolerance(tol)
    _check_method(method, device)
    if levels is not None:
        if method != "auto" or device is not None:
            raise ValueError("levels= computes on the CPU with the default method; leave method and device unset")
        return sigma_min_levels(p, xs, ys, eps_list(levels, "levels"), tol=tol, info=info)
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
    vals = sigma_min_at(p, pts, tol=tol, method=method, device=device, info=info).reshape(rows.size, xs.size)
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

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    eps : float
        Level, > 0.
    refine : bool, optional
        True (default): criss-cross iteration (radial Hamiltonian searches and circular symplectic-pencil
        searches, polished by dense-SVD root finding), accurate to about 1e-12 relative.  False: a polar grid
        with bisection along each ray only, a *lower bound* (every point used is verified to lie in the
        pseudospectrum), typically within 1e-2 relative.

    Returns
    -------
    rho_eps : float
        Always >= rho(A) + eps, with equality for normal A.

    Examples
    --------
    Lambda_eps([[a, c], [0, a]]) is the disc about a of radius sqrt(eps (eps + c)), here 1 (a normal matrix
    with the same eigenvalues would give 0.5 + eps = 1):

    >>> from rnnrobust import spectra
    >>> print(round(spectra.pseudospectral_radius([[0.5, 1.5], [0.0, 0.5]], eps=0.5), 10))
    1.5
    """
    p = prepare(A)
    e = positive_float(eps, "eps")
    return _scalars.pseudospectral_radius(p, e, refine=bool(refine))


@single_threaded
def pseudospectral_abscissa(A, eps: float, *, refine: bool = True) -> float:
    """eps-pseudospectral abscissa alpha_eps(A) = max{Re z : sigma_min(zI - A) <= eps}.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    eps : float
        Level, > 0.
    refine : bool, optional
        True (default): criss-cross iteration (horizontal and vertical Hamiltonian searches, polished by
        dense-SVD root finding).  False: horizontal lines with bisection only, a *lower bound*.

    Returns
    -------
    alpha_eps : float
        Always >= alpha(A) + eps, with equality for normal A.

    Examples
    --------
    A stable Jordan-type block whose 0.5-pseudospectrum, the disc of radius 1 about -0.5, reaches into the
    right half-plane:

    >>> from rnnrobust import spectra
    >>> print(round(spectra.pseudospectral_abscissa([[-0.5, 1.5], [0.0, -0.5]], eps=0.5), 10))
    0.5
    """
    p = prepare(A)
    e = positive_float(eps, "eps")
    return _scalars.pseudospectral_abscissa(p, e, refine=bool(refine))


@single_threaded
def distance_to_instability(A, kind: str = "discrete", *, refine: bool = True) -> float:
    """Distance to instability: the smallest sigma_min(zI - A) on the unit circle or the imaginary axis.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    kind : {"discrete", "continuous"}, optional
        "discrete" (default): d = min_{|z|=1} sigma_min(zI - A); "continuous": d = min over real w of
        sigma_min(iwI - A).
    refine : bool, optional
        True (default): 4096 samples plus the eigenvalue angles, Brent around the best local minima, then
        level-set tests (symplectic pencil / Hamiltonian) until no point below the current value is left.
        False: the sampled minimum only, an *upper bound*.

    Returns
    -------
    d : float
        For a stable A (rho(A) < 1, resp. alpha(A) < 0) the norm of the smallest perturbation E with A + E
        unstable; for an unstable A the distance to the nearest matrix with an eigenvalue on the unit circle
        (imaginary axis), not 0.

    Examples
    --------
    Both eigenvalues of [[0, 1.5], [0, 0]] are 0, yet a perturbation of norm 0.5 moves one onto the unit
    circle: the 0.5-pseudospectrum is the disc of radius sqrt(0.5 (0.5 + 1.5)) = 1 about 0.  A normal matrix
    with the same eigenvalues is at distance 1.

    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> print(round(spectra.distance_to_instability([[0.0, 1.5], [0.0, 0.0]]), 10))
    0.5
    >>> print(round(spectra.distance_to_instability(-2.0 * np.eye(2), kind="continuous"), 10))
    2.0
    """
    p = prepare(A)
    if kind not in ("discrete", "continuous"):
        raise ValueError(f"kind must be 'discrete' or 'continuous', got {kind!r}")
    return _instability.distance_to_instability(p, kind, refine=bool(refine))


@single_threaded
def real_distance_to_instability(A, *, refine: bool = True) -> float:
    """Real structured distance to instability (discrete time): the smallest ||E||_2 over *real* E for which
    A + E has an eigenvalue on the unit circle, for a real matrix A.

    Parameters
    ----------
    A : (n, n) array_like of real or Prepared
        Real square matrix, or the result of :func:`prepare` of one.
    refine : bool, optional
        True (default): Brent in the angle around the best minima of the scan, each value of tau_R searched
        to 1e-7 in log gamma.  False: the scan only (angles in (0, pi) and z = +-1, gamma to 1e-3).

    Returns
    -------
    d_R : float
        min over |z| = 1 of tau_R(zI - A), where (Qiu, Bernhardsson, Rantzer, Davison, Young & Doyle,
        Automatica 31, 1995) tau_R(M) = sup over gamma in (0, 1] of the second-smallest singular value of
        [[Re M, -gamma Im M], [Im M / gamma, Re M]], and tau_R(M) = sigma_min(M) for real z = +-1 (a real
        rank-1 E then suffices).  Always >= :func:`distance_to_instability` (complex E are allowed there):
        equal when the nearest point of the circle is real or when a real E can move a complex pair there.

    Raises
    ------
    ValueError
        If A is complex (the complex distance is then the only one).

    Notes
    -----
    tau_R is unimodal in gamma (Qiu et al.), so a bounded 1-D search finds the supremum.  Over the angle,
    tau_R(e^{i theta} I - A) >= sigma_min(e^{i theta} I - A): of a 256-angle scan only the angles where
    sigma_min (batched, cheap) is below the best value so far are evaluated, all of them for n <= 16,
    otherwise at most 64 (n <= 48) or 32, half spread over those angles and half in increasing order of
    sigma_min.  A real A has conjugate-symmetric values, so theta in [0, pi] suffices.  Every value found is
    attained by a real E (of rank <= 2), so the result is an upper bound up to the search in gamma.

    Examples
    --------
    A rotation by 90 degrees scaled by 0.6 has the eigenvalues +-0.6i, at distance 0.4 from the circle; the
    real perturbation E = 0.4 R (R the rotation) puts them on it, so both distances are 0.4:

    >>> from rnnrobust import spectra
    >>> A = [[0.0, -0.6], [0.6, 0.0]]
    >>> print(round(spectra.real_distance_to_instability(A), 9), round(spectra.distance_to_instability(A), 9))
    0.4 0.4

    A real perturbation cannot move the single eigenvalue 0.5 of [[0.5]] off the real axis: it must reach 1.

    >>> print(round(spectra.real_distance_to_instability([[0.5]]), 12))
    0.5
    """
    p = prepare(A)
    if not p.is_real:
        raise ValueError(
            "A must be a real matrix for the real structured distance to instability, got dtype complex128; "
            "use distance_to_instability for complex matrices"
        )
    return _instability.real_distance_to_instability(p, refine=bool(refine))


@single_threaded
def kreiss_constant(A, *, refine: bool = True) -> float:
    """Discrete-time Kreiss constant K(A) = sup_{|z|>1} (|z| - 1) ||(zI - A)^-1||_2, as a lower bound.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    refine : bool, optional
        True (default): a 1-D search over eps of (rho_eps(A) - 1) / eps, whose supremum is K(A), each value
        with the global (criss-cross) rho_eps: a scan in log eps, 3 per decade, then Brent's root finder on
        its slope around the best maxima.  False: a polar grid z = (1 + t) e^{i theta} only (t log-spaced,
        t >= 1e-7).

    Returns
    -------
    K : float
        inf for rho(A) > 1 + 1e-12, 1 for ||A|| <= 1, otherwise >= 1 (the limit for |z| -> inf): the largest
        ratio (|z| - 1) / sigma_min(zI - A) over the points z evaluated, by a dense SVD at the maximisers of
        |z| on Lambda_eps (and on the grid), so always a lower bound of K(A), exact (to about 1e-12 relative)
        at the maximum found.  Points with sigma_min < 1e-8 (||A|| + 1), where rounding could inflate the
        ratio, are not used.

    Notes
    -----
    Kreiss matrix theorem: K(A) <= max_k ||A^k|| <= e n K(A).  The search over eps cannot miss a maximiser
    in angle, as a local search in z from a few grid points can; the identity, its proof and the steps are
    in ``rnnrobust/spectra/_kreiss.py``.

    Examples
    --------
    K = 1 for a normal matrix with rho(A) <= 1, and inf once rho(A) > 1:

    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> print(spectra.kreiss_constant(np.diag([0.9, -0.5])), spectra.kreiss_constant(1.1 * np.eye(2)))
    1.0 inf

    For J = [[0, c], [0, 0]], rho_eps = sqrt(eps (eps + c)), and the maximum of (rho_eps - 1) / eps is
    K = (c^2 + 4) / (4c) for c > 2, at eps = 4c / (c^2 - 4); here c = 3 and K = 13/12:

    >>> print(round(spectra.kreiss_constant([[0.0, 3.0], [0.0, 0.0]]) * 12, 10))
    13.0
    """
    p = prepare(A)
    return _kreiss.kreiss_constant(p, refine=bool(refine))
