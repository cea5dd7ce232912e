"""Where a curve over ε first reaches a threshold: bracketed on the grid, then bisected in log ε.

A curve is one direction (a family's sample) swept over the levels x = log10 ε; its value at x is a measured
quantity that grows with ε, e.g. the flip rate or the accuracy drop. Its **crossing** is the first level where
the value reaches the threshold. On the grid (:func:`first_crossing`) it lies between the last level below and
the first level at or above (the first one counts: a curve that comes back below at larger ε does not move
it). Each bisection step (:func:`bisect_crossings`) measures the midpoint of every open bracket at once (one
evaluation per curve and step: ``measure`` takes them all) and keeps the half where the crossing lies, so a
bracket of half a decade is 1/64 decade wide after 5 steps; the estimate is the bracket's midpoint (within
1/128 decade of a crossing, if the curve crosses once inside it).

Linear interpolation on the grid, which this replaces, is off by up to a quarter of a decade on a
sigmoid-shaped curve sampled every half decade.

**Censoring.** A curve that never reaches the threshold on the grid is right-censored (``"above"``): its
crossing is above the grid's end, carried as that bound; one that is at or above the threshold at the first
level is left-censored (``"below"``): carried as the first level. Neither is bisected.

Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace

__all__ = ["TOLERANCE", "Crossing", "bisect_crossings", "first_crossing", "reaches"]

#: A value equal to the threshold up to rounding reaches it (accuracies and flip rates are fractions k / n).
TOLERANCE = 1e-12


def reaches(value: float, threshold: float) -> bool:
    """Whether a measured value reaches the threshold (up to :data:`TOLERANCE`); NaN (a diverged copy) does."""
    return not value < threshold - TOLERANCE


@dataclass(frozen=True)
class Crossing:
    """The first crossing of one curve, as a bracket [``low``, ``high``] in log10 ε.

    ``low``: the largest level known below the threshold (None: left-censored); ``high``: the smallest level
    known at or above it (None: right-censored); ``steps``: bisection steps taken.
    """

    low: float | None
    high: float | None
    steps: int = 0

    @property
    def censored(self) -> str | None:
        """``"above"`` (never reached on the grid), ``"below"`` (reached at its first level) or None."""
        if self.high is None:
            return "above"
        return "below" if self.low is None else None

    @property
    def log10(self) -> float:
        """The estimate: the bracket's midpoint, or the censoring bound (the grid's end it lies beyond).

        >>> Crossing(-1.0, -0.5).log10, Crossing(0.5, None).log10, Crossing(None, -4.0).log10
        (-0.75, 0.5, -4.0)
        """
        if self.low is None or self.high is None:
            return self.low if self.high is None else self.high
        return 0.5 * (self.low + self.high)

    def to_record(self) -> dict:
        """The JSON fields: ``eps_log10`` (the estimate), ``low``, ``high``, ``censored``, ``bisections``."""
        return {"eps_log10": self.log10, "low": self.low, "high": self.high, "censored": self.censored,
                "bisections": self.steps}  # fmt: skip


def first_crossing(levels: Sequence[float], values: Sequence[float], threshold: float) -> Crossing:
    """The grid's bracket of the first level whose value reaches ``threshold`` (levels ascending).

    >>> first_crossing([-2, -1, 0], [0.0, 0.02, 0.3], 0.05)
    Crossing(low=-1, high=0, steps=0)
    >>> first_crossing([-2, -1, 0], [0.0, 0.02, 0.03], 0.05).censored
    'above'
    """
    if list(levels) != sorted(levels):
        raise ValueError(f"levels must ascend; got {list(levels)}")
    for i, (level, value) in enumerate(zip(levels, values, strict=True)):
        if reaches(value, threshold):
            return Crossing(low=levels[i - 1] if i else None, high=level)
    return Crossing(low=levels[-1] if len(levels) else None, high=None)


def bisect_crossings(
    crossings: Mapping[Hashable, Crossing],
    measure: Callable[[list[tuple[Hashable, float]]], Sequence[float]],
    threshold: float,
    steps: int,
) -> dict[Hashable, Crossing]:
    """Bisect every bracketed crossing ``steps`` times in log ε, measuring all midpoints of a step at once.

    ``measure([(key, level), ...])`` returns each curve's value at the level (in that order). Censored
    crossings are returned as they are.

    >>> planted = {"a": -1.234, "b": 0.4}
    >>> grid = {k: first_crossing([-2, -1.5, -1, -0.5, 0, 0.5], [float(x >= t) for x in
    ...     [-2, -1.5, -1, -0.5, 0, 0.5]], 0.5) for k, t in planted.items()}
    >>> out = bisect_crossings(grid, lambda pts: [float(x >= planted[k]) for k, x in pts], 0.5, 5)
    >>> [round(out[k].high - out[k].low, 6) for k in "ab"], abs(out["a"].log10 + 1.234) < 1 / 128
    ([0.015625, 0.015625], True)
    """
    current = dict(crossings)
    for _ in range(steps):
        open_keys = [k for k, c in current.items() if c.censored is None]
        if not open_keys:
            break
        points = [(k, 0.5 * (current[k].low + current[k].high)) for k in open_keys]
        values = measure(points)
        for (key, mid), value in zip(points, values, strict=True):
            c = current[key]
            bracket = {"high": mid} if reaches(value, threshold) else {"low": mid}
            current[key] = replace(c, steps=c.steps + 1, **bracket)
    return current
