"""Distance to instability: the complex one (unstructured perturbations) and the real structured one.

The complex distance of a matrix A is d = min sigma_min(zI - A) over the unit circle (discrete time) or the
imaginary axis (continuous time): the smallest ||E||_2, E complex, for which A + E has an eigenvalue there.
For a real A the real structured distance d_R >= d asks the same of real E only (see
:func:`real_distance_to_instability`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize

from ._blas import single_threaded
from ._grid import sigma_min_at
from ._levelset import axis_crossings, circle_crossings
from ._scalars import _MAX_ROUNDS, _TWO_PI, _brent_min, _local_minima
from ._schur import Prepared, prepare
from ._svd import svd_point

# ----------------------------------------------------------------------------------------------------
# distance to instability


def distance_to_instability(prep: Prepared, kind: str, *, refine: bool, tol: float = 1e-10, samples=4096) -> float:
    return _instability_search(prep, kind, refine=refine, tol=tol, samples=samples)[0]


def _instability_search(prep: Prepared, kind: str, *, refine: bool, tol: float = 1e-10, samples=4096):
    """(d, s): the distance to instability and the parameter of the point that attains it (the angle of
    z = e^{is} on the unit circle, or w of z = iw on the imaginary axis)."""
    lam = prep.eigenvalues
    if kind == "discrete":
        periodic = True
        lo, hi = 0.0, (np.pi if prep.is_real else _TWO_PI)
        base = np.linspace(lo, hi, samples // 2 + 1 if prep.is_real else samples, endpoint=prep.is_real)
        extra = np.mod(np.angle(lam), _TWO_PI)

        def point(t):
            return np.exp(1j * t)

        xtol = 1e-12
    elif kind == "continuous":
        periodic = False
        R = 2.0 * prep.norm2 + 1.0
        lo, hi = (0.0 if prep.is_real else -R), R
        base = np.linspace(lo, hi, samples // 2 + 1 if prep.is_real else samples)
        extra = lam.imag[(lam.imag >= lo) & (lam.imag <= hi)]

        def point(w):
            return 1j * w

        xtol = 1e-12 * R
    else:
        raise ValueError(f"kind must be 'discrete' or 'continuous', got {kind!r}")
    if prep.is_real and kind == "discrete":
        extra = np.where(extra > np.pi, _TWO_PI - extra, extra)
    elif prep.is_real:
        extra = np.abs(extra)
    t = np.unique(np.concatenate((base, extra)))
    f = sigma_min_at(prep, point(t), tol=tol)
    best, best_s = float(f.min()), float(t[int(np.argmin(f))])
    if not refine or best == 0.0:
        return best, best_s

    def fun(s):
        return svd_point(prep, complex(point(s)))

    # local Brent refinement around the best sampled local minima
    per = periodic and not prep.is_real
    for i in _local_minima(f, per)[:6]:
        a = t[i - 1] if i > 0 else (t[-1] - _TWO_PI if per else t[i])
        b = t[i + 1] if i + 1 < t.size else (t[0] + _TWO_PI if per else t[i])
        for s, v in (_brent_min(fun, float(a), float(b), xtol), (float(t[i]), fun(float(t[i])))):
            if v < best:
                best, best_s = v, s
    # global check (Boyd-Balakrishnan style): does sigma_min dip below (1 - 1e-9) * best anywhere?
    for _ in range(_MAX_ROUNDS):
        if best <= 0.0:
            break
        gamma = best * (1.0 - 1e-9)
        if kind == "discrete":
            cr = circle_crossings(prep.A, gamma, lam) if prep.is_real else circle_crossings(prep.T, gamma)
            ends = np.unique(cr)
            pairs = list(zip(ends, np.append(ends[1:], ends[:1] + _TWO_PI), strict=True)) if ends.size else []
        else:
            cr = axis_crossings(prep.T, gamma)
            ends = np.unique(cr)
            pairs = list(itertools.pairwise(ends))
        improved = False
        for a, b in pairs:
            if fun(0.5 * (a + b)) < gamma:
                s, v = _brent_min(fun, float(a), float(b), xtol)
                if v < best:
                    best, best_s, improved = v, s, True
        if not improved:
            break
    return best, best_s


@dataclass(frozen=True)
class InstabilityMinimizer:
    """Result of :func:`instability_minimizer`: where the distance to instability is attained.

    Attributes
    ----------
    distance : float
        d = sigma_min(zI - A) at ``z``, by a dense SVD there (equal to :func:`distance_to_instability` to
        within its accuracy).
    z : complex
        The minimiser: on the unit circle (``kind="discrete"``) or the imaginary axis (``"continuous"``).
        For a real A it is taken real (z = 1 or -1, resp. 0) whenever sigma_min there is within 1e-8
        relative of the minimum, and otherwise has Im z > 0 (its conjugate is a minimiser too).
    u, v : (n,) ndarray
        Unit left and right singular vectors of zI - A for its smallest singular value, (zI - A) v = d u;
        real (float64) when A and z are real, complex128 otherwise.
    """

    distance: float
    z: complex
    u: np.ndarray
    v: np.ndarray

    def perturbation(self) -> np.ndarray:
        """E = d u v^*, of norm d: the smallest perturbation (complex unless A and z are real) for which
        A + E has the eigenvalue z, with eigenvector v."""
        return self.distance * np.outer(self.u, self.v.conj())


@single_threaded
def instability_minimizer(A, kind: str = "discrete", *, refine: bool = True) -> InstabilityMinimizer:
    """The point z where sigma_min(zI - A) attains the distance to instability, with its singular vectors.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    kind : {"discrete", "continuous"}, optional
        Minimise over the unit circle |z| = 1 (default) or the imaginary axis, as
        :func:`distance_to_instability`.
    refine : bool, optional
        As in :func:`distance_to_instability` (False: the best sampled point only).

    Returns
    -------
    InstabilityMinimizer
        ``distance``, ``z``, ``u``, ``v`` with (zI - A) v = distance u, so that A + distance u v^* has the
        eigenvalue z (:meth:`InstabilityMinimizer.perturbation`).

    Examples
    --------
    The eigenvalue 0.8 of diag(0.8, -0.2) is 0.2 from the unit circle, at z = 1, and the rank-1 perturbation
    of norm 0.2 puts it there:

    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> A = np.diag([0.8, -0.2])
    >>> m = spectra.instability_minimizer(A)
    >>> print(round(m.distance, 12), m.z, round(float(np.linalg.norm(m.perturbation(), 2)), 12))
    0.2 (1+0j) 0.2
    >>> print(round(spectra.spectral_radius(A + m.perturbation()), 12))
    1.0

    A rotation by 90 degrees scaled by 0.5 reaches the circle first at z = i:

    >>> m = spectra.instability_minimizer([[0.0, -0.5], [0.5, 0.0]])
    >>> print(round(m.distance, 10), round(float(np.angle(m.z)), 8))
    0.5 1.57079633
    """
    p = prepare(A)
    if kind not in ("discrete", "continuous"):
        raise ValueError(f"kind must be 'discrete' or 'continuous', got {kind!r}")
    d, s = _instability_search(p, kind, refine=bool(refine))
    z = complex(np.exp(1j * s)) if kind == "discrete" else complex(0.0, s)
    if p.is_real and z.imag != 0.0:
        # a real minimiser gives a real rank-1 perturbation; snap to it when it is as good to rounding
        for real in (1.0, -1.0) if kind == "discrete" else (0.0,):
            if svd_point(p, complex(real)) <= d * (1.0 + 1e-8) + 1e-14 * p.norm2:
                z = complex(real)
                break
    if p.is_real and z.imag == 0.0:
        M = z.real * np.eye(p.n) - p.A
    else:
        M = z * np.eye(p.n, dtype=np.complex128) - p.A
    U, S, Vh = np.linalg.svd(M)
    return InstabilityMinimizer(distance=float(S[-1]), z=z, u=U[:, -1].copy(), v=Vh[-1].conj().copy())


# ----------------------------------------------------------------------------------------------------
# real structured distance to instability (discrete time)

_REAL_SAMPLES = 256  # interior angles of the scan over (0, pi)
_REAL_REFINED = 3


def real_distance_to_instability(prep: Prepared, *, refine: bool, tol: float = 1e-10) -> float:
    return _real_instability_search(prep, refine=refine, tol=tol)[0]


def _real_budget(n: int) -> int:
    """How many tau_R values (each ~20 dense SVDs of order 2n) the scan may spend."""
    return _REAL_SAMPLES if n <= 16 else 64 if n <= 48 else 32


def _real_instability_search(prep: Prepared, *, refine: bool, tol: float = 1e-10) -> tuple[float, float]:
    """(d_R, theta): the real structured distance of a real A and the angle in [0, pi] of e^{i theta} attaining it.

    d_R = min over theta in [0, pi] of tau_R(e^{i theta} I - A) (conjugate z give the same value), with
    tau_R = sigma_min at the real points theta = 0, pi.  tau_R >= sigma_min(e^{i theta} I - A), so of 256
    angles only those where sigma_min is below the best value so far are evaluated: all of them for n <= 16,
    otherwise up to a budget, half spread evenly over those angles (so that no valley of tau_R is left out)
    and half in increasing order of sigma_min; then Brent between the evaluated neighbours of the best local
    minima.  Every value is tau_R at some angle, so the result is attained (up to the search in gamma).
    """
    A = prep.A
    eye = np.eye(prep.n)
    best, best_t = min(
        (float(np.linalg.svd(z * eye - A, compute_uv=False)[-1]), t) for z, t in ((1.0, 0.0), (-1.0, np.pi))
    )
    if prep.n == 1:
        return best, best_t  # a real 1 x 1 perturbation keeps the eigenvalue real
    theta = np.linspace(0.0, np.pi, _REAL_SAMPLES + 2)[1:-1]
    lower = sigma_min_at(prep, np.exp(1j * theta), tol=tol)
    budget = _real_budget(prep.n)
    evaluated: dict[int, tuple[float, float]] = {}
    candidates = np.flatnonzero(lower < best)
    spread = (
        candidates[np.linspace(0, candidates.size - 1, budget // 2).astype(int)] if candidates.size > budget else []
    )
    for ascending, j in [*((False, j) for j in spread), *((True, j) for j in np.argsort(lower))]:
        if len(evaluated) >= budget or (ascending and lower[j] >= best):
            break  # in increasing order of sigma_min, every later angle has sigma_min >= best too
        if j not in evaluated and lower[j] < best:
            evaluated[j] = _tau_real(A, float(theta[j]), xtol=1e-3)
            if evaluated[j][0] < best:
                best, best_t = evaluated[j][0], float(theta[j])
    if not refine or not evaluated:
        return best, best_t
    order = sorted(evaluated)
    values = np.array([evaluated[j][0] for j in order])
    for k in _local_minima(values, periodic=False)[:_REAL_REFINED]:
        j = order[k]
        left = order[k - 1] if k > 0 else j - 1
        right = order[k + 1] if k + 1 < len(order) else j + 1
        a = theta[left] if left >= 0 else 1e-3 * theta[0]
        b = theta[right] if right < theta.size else np.pi - 1e-3 * (np.pi - theta[-1])
        hint = [evaluated[j][1]]

        def fun(t, hint=hint):
            value, hint[0] = _tau_real(A, t, xtol=1e-7, hint=hint[0])
            return value

        t, v = _brent_min(fun, float(a), float(b), 1e-7)
        if v < best:
            best, best_t = v, t
    return best, best_t


def _tau_real(A: np.ndarray, theta: float, *, xtol: float, hint: float | None = None) -> tuple[float, float]:
    """(tau_R, log gamma*) of M = e^{i theta} I - A, 0 < theta < pi (Qiu et al., Automatica 31, 1995):

        tau_R(M) = sup_{0 < gamma <= 1} sigma_{2n-1}([[Re M, -gamma Im M], [Im M / gamma, Re M]]),

    the second-smallest singular value of a real 2n x 2n matrix, unimodal in gamma, so that bounded Brent in
    log gamma finds the maximum.  Here Im M = sin(theta) I; the maximiser gamma* is about sin(theta) for
    small angles, so the search starts at log(sin theta) - 8 (and moves down if the maximum is at that end).
    At gamma = 1 the value is sigma_min(M) (each singular value of M twice), a lower bound.
    """
    n = A.shape[0]
    c, s = np.cos(theta), np.sin(theta)
    P = np.zeros((2 * n, 2 * n))
    P[:n, :n] = P[n:, n:] = c * np.eye(n) - A
    idx = np.arange(n)

    def neg_sigma(log_gamma):
        gamma = np.exp(log_gamma)
        P[idx, n + idx] = -gamma * s
        P[n + idx, idx] = s / gamma
        return -float(scipy.linalg.svdvals(P, check_finite=False)[-2])

    at_one = -neg_sigma(0.0)
    lo, hi = (hint - 2.0, min(0.0, hint + 2.0)) if hint is not None else (min(np.log(s), 0.0) - 8.0, 0.0)
    for _ in range(8):
        res = scipy.optimize.minimize_scalar(neg_sigma, bounds=(lo, hi), method="bounded", options={"xatol": xtol})
        if res.x - lo > 10 * xtol or lo < np.log(s) - 60.0:
            break
        lo, hi = lo - 16.0, lo + 1.0
    if hi < 0.0 and 0.0 - res.x < 10 * xtol:
        return _tau_real(A, theta, xtol=xtol)  # the maximum lies above a warm start's bracket
    if at_one >= -res.fun:
        return at_one, 0.0
    return -float(res.fun), float(res.x)
