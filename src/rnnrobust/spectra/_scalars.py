"""Robustness scalars built on sigma_min(zI - A): grid stage (one-sided) and refinement stage."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from ._blas import single_threaded
from ._grid import sigma_min_at
from ._levelset import axis_crossings, circle_crossings
from ._schur import Prepared, prepare
from ._svd import svd_point

_TWO_PI = 2.0 * np.pi
_MAX_ROUNDS = 40


# ----------------------------------------------------------------------------------------------------
# helpers


def _scale(prep: Prepared, eps: float = 0.0) -> float:
    return prep.norm2 + eps if prep.norm2 + eps > 0 else 1.0


def _brent_min(f, a: float, b: float, xtol: float):
    """Bounded Brent minimisation of f on [a, b]; returns (x, f(x))."""
    if not b > a:
        return a, f(a)
    res = scipy.optimize.minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": xtol})
    return float(res.x), float(res.fun)


def _local_minima(f: np.ndarray, periodic: bool) -> np.ndarray:
    """Indices of the sampled local minima of f (ordered by value)."""
    if f.size < 3:
        return np.argsort(f)
    if periodic:
        left, right = np.roll(f, 1), np.roll(f, -1)
    else:
        left = np.concatenate(([np.inf], f[:-1]))
        right = np.concatenate((f[1:], [np.inf]))
    idx = np.flatnonzero((f <= left) & (f <= right))
    return idx[np.argsort(f[idx])]


def _outer_root(g, t: float, h: float, xtol: float):
    """Refine an outer crossing of g = sigma - eps near t (inside where g <= 0, outside beyond).

    Returns the refined crossing or None when t is not an inside/outside boundary point.
    """
    g_hi = g(t + h)
    if g_hi <= 0:
        return None
    g_lo = g(t - h)
    if g_lo <= 0:
        return float(scipy.optimize.brentq(g, t - h, t + h, xtol=xtol, rtol=4 * np.finfo(float).eps))
    # a tangency (both sides outside): keep t only if it is itself inside
    return t if g(t) <= 0 else None


# ----------------------------------------------------------------------------------------------------
# grid stage for rho_eps and alpha_eps: outermost verified-inside point on each ray / line


def _bisect_outer(prep: Prepared, point, lo: np.ndarray, hi: np.ndarray, eps: float, tol: float, steps=40):
    """Vectorised bisection: lo inside (sigma <= eps), hi outside; keeps lo verified inside."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        inside = sigma_min_at(prep, point(mid), tol=tol) <= eps
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return lo


def _grid_outer(prep, eps, tol, directions, start, seeds, n_steps, point_of):
    """Shared grid stage: for each direction sample the parameter s on [start, stop], take the outermost
    sample with sigma <= eps (or the seed, a point known to be inside), bisect to the next sample."""
    stop = _scale(prep, eps) + 0.0
    s = np.linspace(start, stop, n_steps)
    D, S = np.meshgrid(directions, s, indexing="ij")
    sig = sigma_min_at(prep, point_of(D.ravel(), S.ravel()), tol=tol).reshape(D.shape)
    inside = sig <= eps
    lo = np.full(directions.size, -np.inf)
    rows = np.flatnonzero(inside.any(axis=1))
    last = inside.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1)
    lo[rows] = s[last[rows]]
    lo = np.maximum(lo, seeds)
    ok = np.isfinite(lo)
    d, lo = directions[ok], lo[ok]
    # the next sample beyond lo is outside (lo is the outermost inside sample, or beyond it)
    nxt = np.searchsorted(s, lo, side="right")
    hi = np.where(nxt < s.size, s[np.minimum(nxt, s.size - 1)], stop + (s[1] - s[0]))
    lo = _bisect_outer(prep, lambda v: point_of(d, v), lo, hi, eps, tol)
    return d, lo


# ----------------------------------------------------------------------------------------------------
# pseudospectral radius


def pseudospectral_radius(prep: Prepared, eps: float, *, refine: bool, tol: float = 1e-10) -> float:
    lam = prep.eigenvalues
    mod = np.abs(lam)
    rho = float(mod.max())
    scale = _scale(prep, eps)
    n_rays = 128 if prep.is_real else 256
    top = np.argsort(-mod)[: min(8, mod.size)]
    seed_angles = np.mod(np.angle(lam[top]), _TWO_PI)
    base = np.linspace(0, np.pi if prep.is_real else _TWO_PI, n_rays, endpoint=not prep.is_real)
    angles = np.concatenate((seed_angles, base))
    seeds = np.concatenate((mod[top] + eps, np.full(base.size, -np.inf)))

    def point_of(theta, r):
        return r * np.exp(1j * theta)

    if not refine:
        _, r = _grid_outer(prep, eps, tol, angles, 0.0, seeds, 48, point_of)
        return max(float(r.max()), rho + eps)
    best_r = rho + eps

    # criss-cross refinement (Mengi & Overton 2005): radial searches from candidate angles, then a
    # circular search just outside the current radius; stops when that circle misses the set.
    delta = 1e-12 * scale
    xtol = 1e-15 * scale
    seeds_t = seed_angles[:4]
    if prep.is_real:  # conjugate rays give the same radius
        seeds_t = np.where(seeds_t > np.pi, _TWO_PI - seeds_t, seeds_t)
    thetas = [float(t) for t in np.unique(np.round(seeds_t, 14))]
    for rnd in range(_MAX_ROUNDS):
        previous = best_r
        for t in thetas:
            r_t = _radial_outer(prep, t, eps, scale, xtol)
            if r_t is not None and r_t > best_r:
                best_r = r_t
        if rnd > 0 and best_r <= previous:
            break  # the arcs found last round gave nothing new (rounding-level arcs)
        rc = best_r + delta
        crossings = circle_crossings(prep.T / rc, eps / rc)
        thetas = _inside_midpoints(
            crossings, lambda t, rc=rc: svd_point(prep, rc * np.exp(1j * t)) < eps, periodic=True
        )
        if not thetas:
            break
    return best_r


def _radial_outer(prep: Prepared, theta: float, eps: float, scale: float, xtol: float):
    """Largest r >= 0 with sigma_min(r e^{i theta} I - A) = eps (the outer boundary on that ray)."""
    w = np.exp(1j * theta)
    cand = axis_crossings(1j * prep.T / w, eps)
    cand = cand[cand >= 0][::-1]

    def g(r):
        return svd_point(prep, r * w) - eps

    h = 1e-7 * scale
    for r in cand:
        root = _outer_root(g, float(r), h, xtol)
        if root is not None:
            return root
    return None


def _inside_midpoints(crossings: np.ndarray, is_inside, periodic: bool) -> list[float]:
    """Midpoints of the intervals between consecutive crossings that lie inside the level set."""
    if crossings.size == 0:
        return []
    c = np.unique(crossings)
    if periodic:
        ends = np.append(c[1:], c[0] + _TWO_PI)
        mids = 0.5 * (c + ends)
    else:
        mids = 0.5 * (c[:-1] + c[1:]) if c.size > 1 else np.empty(0)
    return [float(m) for m in mids if is_inside(float(m))]


# ----------------------------------------------------------------------------------------------------
# pseudospectral abscissa


def pseudospectral_abscissa(prep: Prepared, eps: float, *, refine: bool, tol: float = 1e-10) -> float:
    lam = prep.eigenvalues
    scale = _scale(prep, eps)
    alpha = float(lam.real.max())
    n_lines = 64 if prep.is_real else 128
    top = np.argsort(-lam.real)[: min(8, lam.size)]
    seed_y = np.abs(lam[top].imag) if prep.is_real else lam[top].imag
    base = np.linspace(0.0 if prep.is_real else -scale, scale, n_lines)
    ys = np.concatenate((seed_y, base))
    seeds = np.concatenate((lam[top].real + eps, np.full(base.size, -np.inf)))
    x0 = float(lam.real.min()) - eps

    def point_of(y, x):
        return x + 1j * y

    if not refine:
        _, x = _grid_outer(prep, eps, tol, ys, x0, seeds, 48, point_of)
        return max(float(x.max()), alpha + eps)
    best_x = alpha + eps

    # criss-cross refinement (Burke, Lewis & Overton 2003): horizontal searches, then a vertical
    # search just right of the current abscissa; stops when that line misses the set.
    delta = 1e-12 * scale
    xtol = 1e-15 * scale
    eye = np.eye(prep.n)
    cand_y = [float(v) for v in np.unique(np.round(seed_y[:4], 14))]
    for rnd in range(_MAX_ROUNDS):
        previous = best_x
        for y in cand_y:
            cand = axis_crossings(y * eye + 1j * prep.T, eps)[::-1]

            def g(xx, y=y):
                return svd_point(prep, xx + 1j * y) - eps

            for xc in cand:
                root = _outer_root(g, float(xc), 1e-7 * scale, xtol)
                if root is not None:
                    best_x = max(best_x, root)
                    break
        if rnd > 0 and best_x <= previous:
            break
        xv = best_x + delta
        crossings = axis_crossings(prep.T - xv * eye, eps)
        cand_y = _inside_midpoints(crossings, lambda yy, xv=xv: svd_point(prep, xv + 1j * yy) < eps, periodic=False)
        if not cand_y:
            break
    return best_x


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
            cr = circle_crossings(prep.T, gamma)
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
# Kreiss constant (lower bound)


def kreiss_constant(prep: Prepared, *, refine: bool, tol: float = 1e-10) -> float:
    lam = prep.eigenvalues
    rho = float(np.abs(lam).max())
    if rho > 1.0 + 1e-12:
        return float("inf")
    n_theta = 64 if prep.is_real else 128
    base = np.linspace(0, np.pi if prep.is_real else _TWO_PI, n_theta, endpoint=prep.is_real)
    extra = np.mod(np.angle(lam[np.argsort(-np.abs(lam))[:32]]), _TWO_PI)
    if prep.is_real:
        extra = np.where(extra > np.pi, _TWO_PI - extra, extra)
    th = np.unique(np.concatenate((base, extra)))
    # beyond |z| - 1 = 10 (||A|| + 1) the ratio is below 1 (its limit at infinity), which is returned anyway
    t_hi = 10.0 * (prep.norm2 + 1.0)
    ts = np.logspace(-7, np.log10(t_hi), 20)
    TH, TT = np.meshgrid(th, ts, indexing="ij")
    z = (1.0 + TT.ravel()) * np.exp(1j * TH.ravel())
    sig = sigma_min_at(prep, z, tol=tol)
    # (|z| - 1) / sigma is only trusted where both are well above the rounding level: t >= 1e-7 and
    # sigma >= 1e-8 (||A|| + 1); closer to an eigenvalue on the unit circle rounding could inflate it
    sig_floor = 1e-8 * (prep.norm2 + 1.0)
    ratio = np.where(sig >= sig_floor, TT.ravel() / np.maximum(sig, sig_floor), 0.0)
    best = max(1.0, float(ratio.max()))
    if not refine:
        return best

    lt_lo, lt_hi = np.log(1e-7), np.log(t_hi)

    def neg(p):
        tt = np.exp(min(max(p[0], lt_lo), lt_hi))
        sv = svd_point(prep, (1.0 + tt) * np.exp(1j * p[1]))
        return -tt / sv if sv >= sig_floor else 0.0

    for j in np.argsort(-ratio)[:3]:
        if ratio[j] <= 0:
            break
        p0 = np.array([np.log(TT.ravel()[j]), TH.ravel()[j]])
        res = scipy.optimize.minimize(
            neg,
            p0,
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-13 * best, "maxiter": 400},
        )
        best = max(best, -float(res.fun))
    return best


# ----------------------------------------------------------------------------------------------------
# transient growth


@dataclass(frozen=True)
class TransientGrowth:
    """Result of :func:`transient_growth`.

    Attributes
    ----------
    norms : (K + 1,) ndarray of float64
        ||A^k||_2 for k = 0..K.
    peak : float
        max(norms), at least ||A^0|| = 1.
    peak_k : int
        The first k whose norm is within 1e-12 relative of the peak.
    """

    norms: np.ndarray
    peak: float
    peak_k: int


_KMAX_DEFAULT = 500


def transient_growth(prep: Prepared, kmax) -> TransientGrowth:
    A = prep.A
    adaptive = kmax is None
    cap = _KMAX_DEFAULT if adaptive else kmax
    norms = [1.0]
    P = np.eye(prep.n, dtype=A.dtype)
    peak, peak_k = 1.0, 0
    for k in range(1, cap + 1):
        P = P @ A
        v = float(np.linalg.svd(P, compute_uv=False)[0]) if prep.n > 1 else float(abs(P[0, 0]))
        norms.append(v)
        if v > peak:
            peak, peak_k = v, k
        if not np.isfinite(v) or v > 1e250:
            break
        if adaptive and (v == 0.0 or (k > peak_k and v <= 1e-3 * peak)):
            break
    arr = np.asarray(norms)
    # first k within rounding of the peak, so that noise on a plateau (orthogonal A) does not move it
    peak_k = int(np.argmax(arr >= peak * (1 - 1e-12)))
    return TransientGrowth(norms=arr, peak=float(peak), peak_k=peak_k)
