"""Discrete-time Kreiss constant, as a lower bound: a 1-D search over eps of F(eps) = (rho_eps(A) - 1) / eps.

K(A) = sup_{|z| > 1} (|z| - 1) ||(zI - A)^-1||_2 = sup_{|z| > 1} (|z| - 1) / sigma_min(zI - A) is also

    K(A) = sup_{eps > 0} (rho_eps(A) - 1) / eps

(Trefethen & Embree, *Spectra and Pseudospectra*, 2005, ch. 16, with the Kreiss matrix theorem in ch. 18;
Mitchell, SIAM J. Matrix Anal. Appl. 41 (2020) computes K to arbitrary accuracy).  Proof: for |z| > 1 put
eps = sigma_min(zI - A); z lies in Lambda_eps, so rho_eps >= |z| and F(eps) >= (|z| - 1) / sigma_min(zI - A).
Conversely a point z of Lambda_eps with |z| = rho_eps > 1 (Lambda_eps is closed) has sigma_min(zI - A) <= eps,
so (|z| - 1) / sigma_min(zI - A) >= F(eps).  Conventions: ||.|| is the spectral norm, Lambda_eps = {z :
sigma_min(zI - A) <= eps} (closed), K = inf for rho(A) > 1, K >= 1 (the limit |z| -> inf, eps -> inf).
F <= 0 below the distance to instability d (rho_eps <= 1 there), and F <= 1 + (||A|| - 1) / eps since
rho_eps <= ||A|| + eps.

Each value of F is a global rho_eps (criss-cross, ``_scalars.radius_and_angle``), so a search over eps cannot
miss a maximiser in angle, which a local search in (|z|, arg z) from a few starting points can.  With the
maximiser z of |z| on Lambda_eps and its singular vectors u, v (w = u^* v), d rho_eps / d eps =
1 / Re(e^{i arg z} w), and dF / d log(eps) = d rho_eps / d eps - F, so each evaluation also gives the slope.
Steps:

1. a polar grid of (|z| - 1) / sigma_min(zI - A) by the batched evaluator (``refine=False`` stops here);
2. F and its slope at eps log-spaced over [eps_lo, eps_hi], 3 per decade, upwards (each maximiser lies in
   the next, larger set, where the search starts from it): eps_lo = the grid's distance to instability (an
   upper bound of d), eps_hi = (||A|| - 1) / (K_grid - 1), beyond which F cannot exceed the grid's value
   (or 10 (||A|| + 1) if that is smaller); extended downwards while F still falls at the lowest eps, and
   upwards (to 1000 (||A|| + 1)) while it still rises at the highest (only without the bound);
3. in every interval where the slope changes sign from + to - (the best few), Brent's root finder on the
   slope in log eps, to 1e-5 (F is flat there: an error delta in log eps costs about delta^2 F).

The value returned is the largest ratio (|z| - 1) / sigma_min(zI - A) over the points z where it was
evaluated by a dense SVD (only where sigma_min >= 1e-8 (||A|| + 1), where rounding cannot inflate it): a
lower bound of K(A), equal to it (to about 1e-12 relative) at the maximum found.  Where F still rises as eps
falls to that floor (K of order 1e6 and more), the search stops at 1 + 1e-6 times the floor, so its value
is the supremum over the trusted region to within about 1e-6.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from ._grid import sigma_min_at
from ._scalars import _TWO_PI, radius_and_angle
from ._schur import Prepared

_PER_DECADE = 3
_MAX_SCAN = 40
_REFINED = 3
_SLOPE_XTOL = 1e-5


def kreiss_constant(prep: Prepared, *, refine: bool, tol: float = 1e-10) -> float:
    lam = prep.eigenvalues
    if float(np.abs(lam).max()) > 1.0 + 1e-12:
        return float("inf")
    best_grid, z_grid, d_grid = _polar_grid(prep, tol)
    if not refine:
        return best_grid
    if prep.norm2 <= 1.0:
        return 1.0  # ||A^k|| <= 1 for every k, so K = 1 (the lower side of the Kreiss matrix theorem)
    search = _EpsSearch(prep)
    search.scan(best_grid, d_grid, float(np.angle(z_grid)))
    brackets = search.brackets()
    for lo, hi in sorted(brackets, key=lambda b: -max(b[0].ratio, b[1].ratio))[:_REFINED]:
        search.refine(lo, hi)
    return max(best_grid, search.best())


def _sigma_floor(prep: Prepared) -> float:
    """Below this sigma_min the rounding of a dense SVD (about u ||A||) could inflate (|z| - 1) / sigma_min."""
    return 1e-8 * (prep.norm2 + 1.0)


@dataclass(frozen=True)
class _Point:
    """F at one eps: log(eps), the verified ratio at the maximiser z of |z| on Lambda_eps, dF / d log(eps)."""

    log_eps: float
    z: complex
    ratio: float
    slope: float


class _EpsSearch:
    """The evaluations of F(eps) = (rho_eps - 1) / eps of one matrix, each a global rho_eps."""

    def __init__(self, prep: Prepared):
        self.prep = prep
        self.floor = _sigma_floor(prep)
        self.points: list[_Point] = []

    def evaluate(self, log_eps: float, seeds=()) -> _Point:
        """F and its slope at eps = exp(log_eps), started from the maximiser at the nearest smaller eps."""
        known = [p for p in self.points if p.log_eps == log_eps]
        if known:
            return known[0]  # a bracket's ends, which the root finder evaluates again
        below = [p for p in self.points if p.log_eps < log_eps]
        inside = max(below, key=lambda p: p.log_eps).z if below else None
        eps = float(np.exp(log_eps))
        r, t = radius_and_angle(self.prep, eps, list(seeds), inside)
        z = complex(r * np.exp(1j * t))
        sigma, w = _sigma_and_slope(self.prep, z)
        ratio = (r - 1.0) / sigma if sigma >= self.floor else 0.0
        growth = float((np.exp(1j * t) * w).real)  # d sigma / d r at z: > 0 on the outer boundary
        slope = (1.0 / growth if growth > 0.0 else np.inf) - (r - 1.0) / eps
        point = _Point(log_eps, z, ratio, slope)
        self.points.append(point)
        return point

    def scan(self, best_grid: float, d_grid: float, seed_angle: float) -> None:
        """F at eps log-spaced over [eps_lo, eps_hi], upwards, extended while F rises beyond either end."""
        prep = self.prep
        eps_cap = 10.0 * (prep.norm2 + 1.0)
        bounded = best_grid > 1.0 + 1e-12 and (prep.norm2 - 1.0) / (best_grid - 1.0) < eps_cap
        lowest = self.floor * (1.0 + 1e-6)  # clear of the floor by 50 times the SVD error there (~2e-8)
        eps_hi = max((prep.norm2 - 1.0) / (best_grid - 1.0) if bounded else eps_cap, lowest)
        eps_lo = min(max(lowest, d_grid), eps_hi)
        count = int(np.clip(np.ceil(_PER_DECADE * np.log10(eps_hi / eps_lo)) + 1, 1, _MAX_SCAN))
        lam = self.prep.eigenvalues
        seeds = [float(np.angle(lam[np.argmax(np.abs(lam))])), seed_angle]
        for log_eps in np.linspace(np.log(eps_lo), np.log(eps_hi), count):
            self.evaluate(float(log_eps), seeds)
            seeds = []
        # F still falling at eps_lo: a maximum lies below, between d and eps_lo (d_grid may exceed d); still
        # rising at eps_hi: above (unless eps_hi came from the bound, which F cannot beat beyond); F tends to
        # 1 + (w - 1) / eps with w the numerical radius, so it may pass 1 late, by little
        step = np.log(10.0) / _PER_DECADE
        low, high = self.points[0], self.points[-1]
        while low.slope < 0.0 < low.ratio and low.log_eps > np.log(lowest) + 1e-9:
            low = self.evaluate(max(low.log_eps - step, np.log(lowest)), [float(np.angle(low.z))])
        while not bounded and high.slope > 0.0 and high.log_eps < np.log(100.0 * eps_cap):
            high = self.evaluate(high.log_eps + step)

    def brackets(self) -> list[tuple[_Point, _Point]]:
        """Consecutive scan points between which the slope turns from + to - (a local maximum of F)."""
        pts = sorted(self.points, key=lambda p: p.log_eps)
        return [(a, b) for a, b in itertools.pairwise(pts) if a.slope > 0.0 > b.slope and a.ratio > 0.0]

    def refine(self, lo: _Point, hi: _Point) -> None:
        """Brent's root finder on the slope of F in log eps between lo and hi."""
        scipy.optimize.brentq(lambda s: self.evaluate(s).slope, lo.log_eps, hi.log_eps, xtol=_SLOPE_XTOL)

    def best(self) -> float:
        return max((p.ratio for p in self.points), default=1.0)


def _polar_grid(prep: Prepared, tol: float):
    """(best ratio >= 1, the grid point attaining it, min sigma_min on the circle |z| = 1 + 1e-7)."""
    lam = prep.eigenvalues
    n_theta = 64 if prep.is_real else 128
    base = np.linspace(0, np.pi if prep.is_real else _TWO_PI, n_theta, endpoint=prep.is_real)
    extra = np.mod(np.angle(lam[np.argsort(-np.abs(lam))[:32]]), _TWO_PI)
    if prep.is_real:
        extra = np.where(extra > np.pi, _TWO_PI - extra, extra)
    th = np.unique(np.concatenate((base, extra)))
    # beyond |z| - 1 = 10 (||A|| + 1) the ratio is below 10 / 9 and falls towards 1, its limit at infinity
    t_hi = 10.0 * (prep.norm2 + 1.0)
    ts = np.logspace(-7, np.log10(t_hi), 20)
    TH, TT = np.meshgrid(th, ts, indexing="ij")
    z = (1.0 + TT.ravel()) * np.exp(1j * TH.ravel())
    sig = sigma_min_at(prep, z, tol=tol)
    # (|z| - 1) / sigma is only trusted where both are well above the rounding level: t >= 1e-7 and
    # sigma >= 1e-8 (||A|| + 1); closer to an eigenvalue on the unit circle rounding could inflate it
    floor = _sigma_floor(prep)
    ratio = np.where(sig >= floor, TT.ravel() / np.maximum(sig, floor), 0.0)
    j = int(np.argmax(ratio))
    return max(1.0, float(ratio[j])), complex(z[j]), float(sig.reshape(TH.shape)[:, 0].min())


def _sigma_and_slope(prep: Prepared, z: complex) -> tuple[float, complex]:
    """sigma_min(zI - A) by a dense SVD and w = u^* v, for which d sigma = Re(w dz) (a simple sigma_min)."""
    M = -prep.T.copy()
    M[np.diag_indices_from(M)] += z
    U, S, Vh = np.linalg.svd(M)
    return float(S[-1]), complex(np.vdot(U[:, -1], Vh[-1].conj()))
