"""The horizon-aware threshold: the smallest perturbation that makes a recurrent block grow over the task's horizon.

Numbers only, one square block at a time (``rnnrobust.spectra`` does the linear algebra). For a block W (an H × H
gate block of ``weight_hh``, ``rnnrobust.layout.block_keys``), a horizon T > 0 (the number of recurrent steps the
task runs) and a growth factor g > 1 (default 2):

- **ε_T** = min{ε ≥ 0 : ρ_ε(W)^T ≥ g} = min{ε ≥ 0 : ρ_ε(W) ≥ g^{1/T}}, with ρ_ε the ε-pseudospectral radius
  (``spectra.pseudospectral_radius``; ρ₀ = ρ(W), the spectral radius). Some W + E with ‖E‖₂ ≤ ε_T has an eigenvalue
  of modulus g^{1/T}, whose powers grow by the factor g in T steps; no perturbation of smaller norm has one. The
  value is **absolute** (the same units as W); the relative threshold, comparable with the perturbation stage's
  ε₅ (``rnnrobust.robustness.perturbation.eps5``), is ε_T/‖W‖₂, which callers compute.
- **ε_T = 0** when ρ(W)^T ≥ g already: the unperturbed block grows by the factor without any perturbation.
- **Limits.** g^{1/T} → 1 as T → ∞, so ε_T → d, the distance to instability (``spectra.distance_to_instability``)
  of a stable block. For every T, d ≤ ε_T ≤ d + g^{1/T} − 1 (stable W), and ε_T ≤ g^{1/T} − ρ(W), with equality
  for a normal W (whose ρ_ε = ρ + ε): a non-normal block reaches the growth with a smaller perturbation.

**Why a root search works.** ρ_ε is continuous and strictly increasing in ε: σ_min(zI − W) is 1-Lipschitz in z,
so the ε-pseudospectrum grown by a disc of radius δ lies in the (ε + δ)-pseudospectrum, hence ρ_{ε+δ} ≥ ρ_ε + δ;
and σ_min(zI − W) has no local minimum but the eigenvalues (‖(zI − W)⁻¹‖ is subharmonic), so ρ_ε does not jump.
The equation ρ_ε = g^{1/T} therefore has exactly one root, which any bracket holds.

**Algorithm** (:func:`horizon_threshold`). The upper end of the bracket is ε_hi = g^{1/T} − ρ(W) (ρ_ε ≥ ρ + ε;
it is the answer when ρ_ε does not exceed the target there, as for a normal W). The lower end starts at
g^{1/T} − ‖W‖₂ when that is positive (ρ_ε ≤ ‖W‖₂ + ε), else a decade below ε_hi, and steps down by decades until
ρ_ε < g^{1/T}. The root is then found in x = log10 ε by Brent's method (``scipy.optimize.brentq``: inverse
quadratic interpolation safeguarded by bisection, so that every step keeps a bracket) to a relative tolerance
``rtol`` in ε (default 10⁻⁶; ρ_ε itself is accurate to about 10⁻¹² relative). A block so non-normal that
ρ_ε ≥ g^{1/T} already at ε = 10⁻¹²·max(‖W‖₂, 1), below which ρ_ε is rounding noise, gets that value: an upper
bound, not resolved further. The Schur form of W is computed once per call; pass ``spectra.prepare(W)`` to share
it between several horizons. Each step costs one ρ_ε (about 20 ms for H = 32 and 0.4 s for H = 128 on one core),
about ten steps a threshold.

>>> import numpy as np
>>> round(horizon_threshold(np.diag([0.5, 0.25]), horizon=1), 9)  # normal: 2 − ρ
1.5
>>> round(horizon_threshold([[0.5, 1.0], [0.0, 0.5]], horizon=1), 4)  # non-normal: ρ_ε = 0.5 + √(ε(ε + 1))
1.0811
"""

from __future__ import annotations

import functools
import math
from numbers import Real

import numpy as np
import scipy.optimize

from rnnrobust import spectra

__all__ = ["DEFAULT_GROWTH", "horizon_threshold"]

#: The growth factor over the horizon that defines ε_T.
DEFAULT_GROWTH = 2.0
# Below this ε, relative to max(‖W‖₂, 1), σ_min(zI − W) is rounding noise: the bracket stops there.
_EPS_FLOOR = 1e-12


def _positive(value, name: str, *, above: float = 0.0) -> float:
    """A finite real number > ``above`` as a float, else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, Real | np.number) or np.iscomplexobj(value):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= above:
        raise ValueError(f"{name} must be finite and > {above:g}, got {value!r}")
    return number


def _arguments(horizon, growth, rtol) -> tuple[float, float, float]:
    """(T, g, rtol) as floats, checked."""
    tol = _positive(rtol, "rtol")
    if tol > 0.1:
        raise ValueError(f"rtol must be at most 0.1, got {rtol!r}")
    return _positive(horizon, "horizon"), _positive(growth, "growth", above=1.0), tol


def _lower_end(excess, x_start: float, x_floor: float) -> float | None:
    """An x ≥ x_floor with ρ_ε < g^{1/T} at ε = 10^x, from ``x_start`` down by decades; None when there is none."""
    x = x_start
    while excess(x) >= 0.0:  # at the bound ‖W‖₂ only by rounding: a decade lower holds
        if x <= x_floor:
            return None
        x = max(x - 1.0, x_floor)
    return x


def horizon_threshold(W, horizon: float, *, growth: float = DEFAULT_GROWTH, rtol: float = 1e-6) -> float:
    """ε_T = min{ε ≥ 0 : ρ_ε(W)^T ≥ growth}, the absolute perturbation size that makes W grow over the horizon.

    Parameters
    ----------
    W : (n, n) array_like or spectra.Prepared
        Real or complex square matrix (a recurrent gate block), or ``spectra.prepare(W)``.
    horizon : float
        T > 0, the number of recurrent steps (need not be an integer).
    growth : float, optional
        g > 1, the growth factor over the horizon (default 2).
    rtol : float, optional
        Relative tolerance of ε_T, in (0, 0.1] (default 10⁻⁶).

    Returns
    -------
    float
        ε_T, absolute (divide by ‖W‖₂ for the relative threshold); 0 when ρ(W)^T ≥ growth already.

    Raises
    ------
    ValueError
        If W is not a finite square matrix, or horizon, growth or rtol is out of range.

    Examples
    --------
    A stable normal block, ρ = 0.9: ε_T = 2^{1/T} − 0.9, which tends to d = 0.1 as T grows; an unstable one
    needs no perturbation.

    >>> import numpy as np
    >>> [round(horizon_threshold(np.diag([0.9, 0.1]), t), 4) for t in (1, 10, 10**6)]
    [1.1, 0.1718, 0.1]
    >>> horizon_threshold(np.diag([1.1, 0.1]), 8)
    0.0
    """
    T, g, tol = _arguments(horizon, growth, rtol)
    p = spectra.prepare(W, "W")
    target = g ** (1.0 / T)
    rho = spectra.spectral_radius(p)
    if rho >= target:
        return 0.0
    hi = target - rho  # ρ_hi ≥ ρ + hi = target: the upper end of the bracket
    x_hi, x_floor = math.log10(hi), math.log10(_EPS_FLOOR * max(p.norm2, 1.0))
    if x_hi <= x_floor:
        return hi

    @functools.cache
    def excess(x: float) -> float:  # ρ_ε − g^{1/T} at ε = 10^x, each level computed once
        return spectra.pseudospectral_radius(p, 10.0**x) - target

    if excess(x_hi) <= 0.0:
        return hi  # a normal W: ρ_ε = ρ + ε reaches the target exactly at hi
    x_start = math.log10(target - p.norm2) if target > p.norm2 else x_hi - 1.0  # ρ_ε ≤ ‖W‖₂ + ε
    x_lo = _lower_end(excess, max(x_start, x_floor), x_floor)
    if x_lo is None:
        return 10.0**x_floor  # reached below the resolution of ρ_ε: an upper bound
    x = scipy.optimize.brentq(excess, x_lo, x_hi, xtol=math.log10(1.0 + tol), rtol=1e-15)
    return float(10.0**x)
