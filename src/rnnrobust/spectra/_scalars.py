"""Robustness scalars built on sigma_min(zI - A): grid stage (one-sided) and refinement stage.

rho_eps and alpha_eps, with the helpers the other scalar modules share (``_instability``, ``_kreiss``), and
the transient growth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from ._grid import sigma_min_at
from ._levelset import axis_crossings, circle_crossings
from ._schur import Prepared
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
    return radius_and_angle(prep, eps, seed_angles[:4])[0]


def radius_and_angle(prep: Prepared, eps: float, seed_angles, inside: complex | None = None) -> tuple[float, float]:
    """(rho_eps, theta): the refined pseudospectral radius and the angle of a point of Lambda_eps attaining it.

    Criss-cross (Mengi & Overton 2005): radial searches from the seed angles (Hamiltonian eigenvalues: the
    outermost crossing of each ray), then a circular search just outside the current radius, and radial
    searches outward from the middle of every arc of that circle inside the set (dense SVDs: a crossing
    beyond the arc); stops when the circle misses the set.  Every component of Lambda_eps holds an
    eigenvalue, all of them inside the circle, so a circle that misses the set bounds rho_eps: the seeds
    only decide how fast it gets there.  ``inside``, a point known to lie in Lambda_eps (a maximiser at a
    smaller eps), starts the search there instead.
    """
    lam = prep.eigenvalues
    top = int(np.argmax(np.abs(lam)))
    best_r, best_t = float(abs(lam[top])) + eps, float(np.angle(lam[top]))
    scale = _scale(prep, eps)
    delta = 1e-12 * scale
    xtol = 1e-15 * scale
    if inside is not None and abs(inside) > best_r:
        best_r, best_t = float(abs(inside)), float(np.angle(inside))
    # a crossing outward from that inside point: the circle tests below need a circle with a point outside
    # the set (a circle wholly inside it has no crossings); from a maximiser at a smaller eps, this ray leaves
    # the set close to the new maximiser
    best_r = _radial_from_inside(prep, best_t, best_r, eps, xtol)
    # for a real A the circle test runs on A itself, in real arithmetic (same singular values as T)
    B, lam_b = (prep.A, lam) if prep.is_real else (prep.T, None)
    for t in _distinct_angles(prep, seed_angles):
        r_t = _radial_outer(prep, t, eps, scale, xtol)
        if r_t is not None and r_t > best_r:
            best_r, best_t = r_t, t
    for _ in range(_MAX_ROUNDS):
        rc = best_r + delta
        crossings = circle_crossings(B / rc, eps / rc, None if lam_b is None else lam_b / rc)
        mids = _inside_midpoints(crossings, lambda t, rc=rc: svd_point(prep, rc * np.exp(1j * t)) < eps, periodic=True)
        previous = best_r
        for t in _distinct_angles(prep, mids):
            r_t = _radial_from_inside(prep, t, rc, eps, xtol)
            if r_t > best_r:
                best_r, best_t = r_t, t
        if best_r <= previous:
            break  # no arc, or only rounding-level arcs that gave nothing new
    return best_r, best_t


def _radial_from_inside(prep: Prepared, theta: float, r_in: float, eps: float, xtol: float) -> float:
    """A crossing r > r_in of sigma_min(r e^{i theta} I - A) = eps, outward from the inside point r_in.

    Newton steps (d sigma / dr from the singular vectors), never shorter than eps - sigma (sigma is
    1-Lipschitz, so that step stays inside) nor longer than 4 times the previous one, until a point outside
    brackets a crossing (at the latest ||A|| + eps: sigma_min(zI - A) >= |z| - ||A||); then Brent.
    """
    w = np.exp(1j * theta)
    lo, step = r_in, 0.0
    r_out = prep.norm2 + eps + 2.0 * xtol
    for _ in range(200):
        M = -prep.T.copy()
        M[np.diag_indices_from(M)] += lo * w
        U, S, Vh = np.linalg.svd(M)
        gap = eps - float(S[-1])
        if gap <= 0.0:
            return lo  # on the boundary to rounding (a start at distance eps from a normal eigenvalue)
        slope = float((w * np.vdot(U[:, -1], Vh[-1].conj())).real)
        step = min(gap / slope if slope > 0.0 else np.inf, max(gap, 4.0 * step))
        hi = min(lo + step * 1.01 + xtol, r_out)
        if svd_point(prep, hi * w) > eps:
            break
        lo = hi
    else:
        return lo

    def g(r):
        return svd_point(prep, r * w) - eps

    if g(lo) >= 0.0:
        return lo  # the values-only SVD rounds lo onto the boundary
    return float(scipy.optimize.brentq(g, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=400))


def _distinct_angles(prep: Prepared, angles) -> list[float]:
    """The angles to search, without repeats; for a real A folded into [0, pi] (conjugate rays are alike)."""
    t = np.mod(np.asarray(angles, dtype=float), _TWO_PI)
    if prep.is_real:
        t = np.where(t > np.pi, _TWO_PI - t, t)
    return [float(v) for v in np.unique(np.round(t, 14))]


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
