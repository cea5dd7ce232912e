"""Numbers as text: a cell's value, ``mean ± sd [lo, hi]`` at the precision of its sd, and an ε level.

Dependency-light (numpy only), so that the tables, the figures' captions and the perturbation text import it without
pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["format_eps", "format_mean_std", "format_summary", "format_value"]


def format_value(x: Any) -> str:
    """A cell as text: 4 significant digits, ``∞``, ``""`` for None and NaN, dicts as ``"k: v; …"``.

    >>> format_value(3.14159), format_value(float("inf")), format_value({0: 0.5, 1: 2})
    ('3.142', '∞', '0: 0.5; 1: 2')
    """
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        x = float(x)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return f"{x:.4g}"
    if isinstance(x, Mapping):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ", ".join(format_value(v) for v in x)
    return str(x)


def _decimals(sd: float, mean: float) -> int | None:
    """The decimal place that gives the sd 2 significant digits (negative: tens, hundreds), or None when fixed point
    would mislead (a mean of a million or more, an sd below 10⁻⁶)."""
    decimals = 1 - math.floor(math.log10(abs(sd)))
    return decimals if decimals <= 6 and abs(mean) < 1e6 else None


def _fixed(x: float, decimals: int) -> str:
    """``x`` rounded to ``decimals`` places (negative: to tens, hundreds, …)."""
    return f"{round(x, decimals):.{max(decimals, 0)}f}"


def format_mean_std(mean: Any, std: Any) -> str:
    """``"mean ± sd"``: the sd to 2 significant digits and the mean to the same decimal place; just the mean
    (:func:`format_value`) where the sd is NaN (a single seed) or the mean is not finite.

    >>> format_mean_std(83.2912, 0.4471), format_mean_std(1.0, 0.25), format_mean_std(284.9, 187.0)
    ('83.29 ± 0.45', '1.00 ± 0.25', '280 ± 190')
    >>> format_mean_std(0.5, float("nan"))
    '0.5'
    """
    text = format_value(mean)
    if not text or not isinstance(std, float | np.floating) or math.isnan(std):
        return text
    mean, std = float(mean), float(std)
    if not (math.isfinite(mean) and math.isfinite(std)):
        return f"{text} ± {format_value(std)}" if math.isfinite(mean) else text
    if std == 0.0:
        return f"{text} ± 0"
    decimals = _decimals(std, mean)
    if decimals is not None:
        return f"{_fixed(mean, decimals)} ± {_fixed(std, decimals)}"
    return f"{text} ± {std:.2g}"


def format_summary(mean: Any, sd: Any, ci_low: Any = math.nan, ci_high: Any = math.nan) -> str:
    """``"mean ± sd [lo, hi]"``: :func:`format_mean_std` and the confidence interval at the mean's decimal place.

    The interval is left out where it is NaN (a single seed, a non-finite value) or the sd is 0 (it is then
    [mean, mean]).

    >>> format_summary(83.2912, 0.4471, 82.80, 83.71), format_summary(2.0, 0.0, 2.0, 2.0)
    ('83.29 ± 0.45 [82.80, 83.71]', '2 ± 0')
    >>> format_summary(1444779.6, 30000.0, 1.41e6, 1.48e6), format_summary(0.5, float("nan"))
    ('1.445e+06 ± 3e+04 [1.41e+06, 1.48e+06]', '0.5')
    """
    text = format_mean_std(mean, sd)
    try:
        mean, sd, low, high = float(mean), float(sd), float(ci_low), float(ci_high)
    except (TypeError, ValueError):
        return text
    if not all(math.isfinite(v) for v in (mean, sd, low, high)) or sd == 0.0:
        return text
    decimals = _decimals(sd, mean)
    if decimals is not None:
        return f"{text} [{_fixed(low, decimals)}, {_fixed(high, decimals)}]"
    return f"{text} [{low:.3g}, {high:.3g}]"


def format_eps(eps_log10: float) -> str:
    """An ε level given as log10 ε, as a plain number.

    >>> format_eps(-2), format_eps(-2.5)
    ('0.01', '0.00316')
    """
    return f"{10.0 ** float(eps_log10):.3g}"
