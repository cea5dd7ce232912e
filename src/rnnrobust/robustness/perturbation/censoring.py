"""One curve's threshold, and a run's median over the samples of a family, with their censoring.

Numbers only, torch-free; re-exported by :mod:`rnnrobust.robustness.perturbation.eps5`, whose docstring defines ε₅
and the censoring of a run's median (read there). A :class:`Threshold` is one curve's log10 threshold on one
scale (``eps5.SCALES``): its value, or a bound where the curve never reached the threshold on the grid
(``"above"``) or had reached it at the grid's first level (``"below"``); :func:`eps5` interpolates one on the grid
(records of the stage before it bisected thresholds); a :class:`FamilyThreshold` is the median over a family's
samples, and says when that median is a bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DROP", "FamilyThreshold", "Threshold", "eps5", "log10"]

#: The accuracy drop that defines ε₅: 5 percentage points (accuracies are fractions).
DROP = 0.05
# Accuracies are fractions k / n_eval: a drop that equals DROP up to rounding counts as a drop.
_TOLERANCE = 1e-12
# Among equal values a sample censored below sorts first (its true value is at most the bound), one censored above
# last (at least the bound).
_TIE_ORDER = {"below": 0, "": 1, "above": 2}


def log10(x: float | None) -> float:
    """log10 of a non-negative number: −∞ for 0, NaN for None or NaN, ∞ for ∞.

    >>> log10(0.01), log10(0.0), log10(None)
    (-2.0, -inf, nan)
    """
    if x is None:
        return math.nan
    x = float(x)
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log10(x)


@dataclass(frozen=True)
class Threshold:
    """log10 threshold of one curve: the value, or the bound when ``censored`` (``"above"``: not reached up to the
    largest level of the grid; ``"below"``: reached already at the smallest), on the scale it was read on (the
    bound of the relative scale is the grid's end, that of another scale the curve's value there); NaN when
    undefined."""

    log10: float
    censored: str = ""


def eps5(levels: Sequence[float], accuracies: Sequence[float], reference: float, drop: float = DROP) -> Threshold:
    """log10 ε₅ of one curve: where the accuracy first falls ``drop`` below ``reference`` (``eps5`` module
    docstring).

    Parameters
    ----------
    levels
        log10 ε of the curve's points (any order; sorted here).
    accuracies
        Accuracy (fraction) at each level; NaN points are left out.
    reference
        The unperturbed accuracy.
    drop
        The fall that counts (fraction: 0.05 = 5 percentage points).

    Examples
    --------
    From 0.88 at 10⁻² to 0.80 at 10⁻¹, 0.85 is crossed 3/8 of the way: log10 ε₅ = −2 + 0.375 = −1.625.

    >>> round(eps5([-3, -2, -1], [0.90, 0.88, 0.80], reference=0.90).log10, 12)
    -1.625
    >>> eps5([-3, -2, -1], [0.90, 0.89, 0.88], reference=0.90)
    Threshold(log10=-1.0, censored='above')
    >>> eps5([-3, -2, -1], [0.10, 0.10, 0.10], reference=0.90)
    Threshold(log10=-3.0, censored='below')
    """
    if reference is None or math.isnan(float(reference)):
        return Threshold(math.nan)
    points = sorted((float(x), float(a)) for x, a in zip(levels, accuracies, strict=True) if not math.isnan(float(a)))
    if not points:
        return Threshold(math.nan)
    target = float(reference) - drop
    for i, (x, a) in enumerate(points):
        if a <= target + _TOLERANCE:
            if i == 0:
                return Threshold(x, "below")
            x0, a0 = points[i - 1]
            fraction = (a0 - target) / (a0 - a) if a0 > a else 1.0
            return Threshold(x0 + min(max(fraction, 0.0), 1.0) * (x - x0))
    return Threshold(points[-1][0], "above")


@dataclass(frozen=True)
class FamilyThreshold:
    """A run's log10 threshold of one family: its samples' :class:`Threshold`, and their median (``eps5`` module
    docstring).

    >>> t = FamilyThreshold((Threshold(-0.875), Threshold(0.0, "above"), Threshold(-0.875)))
    >>> t.log10, t.above, t.censored  # one of three above the grid: the median is exact
    (-0.875, 1, '')
    >>> FamilyThreshold((Threshold(-0.875), Threshold(0.0, "above"), Threshold(0.0, "above"))).censored
    'above'

    On a scale other than the relative one a censored sample's bound need not be the largest value: one below
    the median could rise past it, so the median is then a bound.

    >>> FamilyThreshold((Threshold(-0.875), Threshold(-2.0, "above"), Threshold(-0.5))).censored
    'above'
    """

    samples: tuple[Threshold, ...]

    @property
    def log10(self) -> float:
        """The median of the samples' log10 threshold, censored ones at their bound; NaN when no sample has a
        value."""
        values = [t.log10 for t in self.samples if not math.isnan(t.log10)]
        return float(np.median(values)) if values else math.nan

    @property
    def n(self) -> int:
        """Samples with a value (a NaN one, e.g. of an undefined reference, is left out)."""
        return sum(not math.isnan(t.log10) for t in self.samples)

    @property
    def above(self) -> int:
        """Samples censored above the grid (the threshold not reached)."""
        return sum(t.censored == "above" for t in self.samples)

    @property
    def below(self) -> int:
        """Samples censored below the grid (reached at the smallest level)."""
        return sum(t.censored == "below" for t in self.samples)

    @property
    def censored(self) -> str:
        """Which way the median is a bound: ``""`` (exact), ``"above"`` (a lower bound), ``"below"`` (an upper
        bound) or ``"both"`` (no bound).

        The median is the middle value, or the mean of the two middle ones, of the samples sorted by their values
        (censored ones at their bound). A sample censored above may lie anywhere above its bound: the median is a
        lower bound when such a sample is at or below the (upper) middle, since raising it can then move the
        median; likewise for one censored below at or above the (lower) middle. On the relative scale the bounds
        are the grid's ends, the largest (smallest) values, so this holds exactly when at least half (⌈n/2⌉) of
        the samples are censored that way.
        """
        ordered = sorted(
            (t.log10, _TIE_ORDER.get(t.censored, 1), t.censored) for t in self.samples if not math.isnan(t.log10)
        )
        n = len(ordered)
        above = any(side == "above" for _, _, side in ordered[: n // 2 + 1])
        below = any(side == "below" for _, _, side in ordered[(n - 1) // 2 :])
        return {(False, False): "", (True, False): "above", (False, True): "below"}.get((above, below), "both")
