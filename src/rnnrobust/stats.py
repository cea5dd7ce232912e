"""Statistics over seeds: summaries with confidence intervals, paired differences, Holm's adjustment, Spearman's ρ.

Numpy and scipy only, no global state: every function takes its resampling seed as an argument (default 0),
so the same numbers give the same intervals on every machine and in every run of the workflow.

Conventions, stated once:

- **Missing values.** NaN is a missing value (e.g. an exact match that a task does not have): it is dropped and
  not counted in ``n``. ±∞ is a value (e.g. the Kreiss bound of an unstable matrix): it propagates to the mean,
  and the standard deviation and interval are then NaN (no finite spread describes it).
- **Standard deviation** is the sample standard deviation (ddof = 1), NaN for fewer than 2 values.
- **Confidence interval** (95 % by default) of the mean, by ``interval``: ``"bootstrap"``, the percentile bootstrap
  (the 2.5 % and 97.5 % quantiles, numpy's linear interpolation, of the means of resamples drawn with replacement:
  every ordered resample once when nⁿ ≤ ``n_resamples``, i.e. n ≤ 5, else ``n_resamples`` draws of
  ``numpy.random.default_rng(seed)``); ``"t"``, Student's mean ± t_{n−1} · sd / √n (exact for normal values);
  ``"auto"`` (:func:`interval_for`, the tables'), t for n ≤ :data:`T_INTERVAL_MAX_N` and the bootstrap beyond: a
  percentile bootstrap cannot reach beyond the observed values, and for normal data its 95 % interval covers the mean
  only about 67 % of the time at n = 3 and 84 % at n = 5 (simulated). NaN for n < 2, [c, c] for constant data.
- **Paired test** (:func:`paired_difference`): the exact two-sided sign-flip permutation test of the mean paired
  difference. Under the null hypothesis (no effect) the sign of each seed's difference is as likely + as −; the
  p-value is the fraction of the 2ⁿ sign assignments whose mean difference is at least as far from 0 as the
  observed one. It is exact for any n (no normality, no tables), uses the sizes of the differences (unlike the
  sign test) and tests the same quantity as the interval (the mean, unlike Wilcoxon's signed ranks). Its smallest
  attainable p-value is 2 / 2ⁿ = 2¹⁻ⁿ: **0.25 with 3 seeds, 0.0625 with 5**, so no difference over fewer than 6
  seeds can reach p < 0.05. Beyond 16 pairs the 2ⁿ assignments are sampled (``n_resamples`` seeded draws,
  p = (k + 1) / (draws + 1)).
- **Several tests** (:func:`holm`): Holm's step-down adjustment of a family of p-values, which holds the chance of
  any false rejection among them at the level, whatever their dependence.

>>> s = summarize([1.0, 2.0, 3.0])  # the 27 ordered resamples, enumerated
>>> s.n, s.mean, s.sd
(3, 2.0, 1.0)
>>> round(s.ci_low, 4), round(s.ci_high, 4)
(1.2167, 2.7833)
>>> t = summarize([0.0, 1.0], interval="auto")  # t for 2 values: 0.5 ± 12.706 · 0.7071 / √2
>>> round(t.ci_low, 3), round(t.ci_high, 3)
(-5.853, 6.853)
>>> d = paired_difference({0: 2.0, 1: 3.0, 2: 4.0}, {0: 1.0, 1: 1.0, 2: 1.0})
>>> d.n, d.mean, d.p_value
(3, 2.0, 0.25)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "CONFIDENCE",
    "N_RESAMPLES",
    "PAIRED_TEST",
    "T_INTERVAL_MAX_N",
    "PairedDifference",
    "SpearmanResult",
    "Summary",
    "holm",
    "interval_for",
    "min_p_value",
    "paired_difference",
    "spearman_ci",
    "summarize",
]

#: Level of every confidence interval.
CONFIDENCE = 0.95
#: Bootstrap resamples (and sampled sign flips beyond :data:`_EXACT_SIGN_FLIPS` pairs).
N_RESAMPLES = 10_000
#: The paired test, as the tables name it.
PAIRED_TEST = "exact sign-flip permutation test of the mean difference, two-sided"
#: Up to this many values an ``interval="auto"`` is Student's t, beyond it the percentile bootstrap (module docstring).
T_INTERVAL_MAX_N = 10
# Up to this many pairs the sign-flip test enumerates all 2ⁿ assignments (65 536 rows of n values).
_EXACT_SIGN_FLIPS = 16


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and confidence interval of the mean of ``n`` values."""

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float

    def columns(self, name: str) -> dict[str, float | int]:
        """The summary as table columns ``<name>_mean``, ``_sd``, ``_ci_low``, ``_ci_high``, ``_n``.

        >>> summarize([2.0, 2.0]).columns("x")
        {'x_mean': 2.0, 'x_sd': 0.0, 'x_ci_low': 2.0, 'x_ci_high': 2.0, 'x_n': 2}
        """
        parts = {"mean": self.mean, "sd": self.sd, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}
        return {f"{name}_{part}": value for part, value in parts.items()}


@dataclass(frozen=True)
class PairedDifference:
    """Paired differences a − b: their summary (:class:`Summary` fields), the test's p-value and the unpaired keys.

    Attributes
    ----------
    n, mean, sd, ci_low, ci_high
        Of the differences, as :class:`Summary`.
    p_value, test : float, str
        Two-sided p-value of the test named ``test`` (:data:`PAIRED_TEST`); NaN for no pair or a non-finite difference.
    only_a, only_b : tuple
        Keys (seeds) with a value in only one of the two mappings (or a NaN in the other): left out.
    """

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str = PAIRED_TEST
    only_a: tuple[Hashable, ...] = field(default=())
    only_b: tuple[Hashable, ...] = field(default=())

    def summary(self) -> Summary:
        """The differences' :class:`Summary`."""
        return Summary(self.n, self.mean, self.sd, self.ci_low, self.ci_high)


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman's rank correlation ρ of ``n`` pairs and its paired-bootstrap confidence interval."""

    n: int
    rho: float
    ci_low: float
    ci_high: float


def _values(values: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _resample_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """Rows of indices into n values: every ordered resample once when nⁿ ≤ n_resamples, else seeded draws."""
    if n**n <= n_resamples:
        return np.asarray(list(itertools.product(range(n), repeat=n)), dtype=np.intp).reshape(-1, n)
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.nanpercentile(samples, [alpha, 100.0 - alpha])
    return float(low), float(high)


def _check_confidence(confidence: float, interval: str = "bootstrap") -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    if interval not in ("bootstrap", "t", "auto"):
        raise ValueError(f"interval = {interval!r}: use 'bootstrap', 't' or 'auto'")


def interval_for(n: int) -> str:
    """What ``interval="auto"`` takes for n values: ``"t"`` up to :data:`T_INTERVAL_MAX_N`, else ``"bootstrap"``.

    >>> interval_for(3), interval_for(10), interval_for(11)
    ('t', 't', 'bootstrap')
    """
    return "t" if n <= T_INTERVAL_MAX_N else "bootstrap"


def _t_interval(mean: float, sd: float, n: int, confidence: float) -> tuple[float, float]:
    """Student's t interval of the mean of n values: mean ± t_{n−1} · sd / √n."""
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def summarize(
    values: Iterable[float],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    interval: str = "bootstrap",
) -> Summary:
    """n, mean, sample sd and confidence interval of the mean: percentile bootstrap, Student's t, or the one that
    suits n (``"auto"``, :func:`interval_for`; see the module docstring).

    Parameters
    ----------
    values
        The numbers, e.g. one per seed; NaN is dropped (not counted), ±∞ propagates to the mean.
    confidence
        Level of the interval.
    n_resamples, seed
        Bootstrap resamples (every ordered one when nⁿ ≤ ``n_resamples``) and their RNG's seed (for draws only).
    interval
        ``"bootstrap"``, ``"t"`` or ``"auto"`` (t for n ≤ :data:`T_INTERVAL_MAX_N`, n counted without NaN).

    Returns
    -------
    Summary
        ``sd`` is NaN for n < 2; the interval is NaN for n < 2 or a non-finite value, [c, c] for constant data.

    Examples
    --------
    >>> s = summarize([0.0, 1.0])  # resample means 0, .5, .5, 1; 2.5 % quantile: 0 + 0.075 · 0.5
    >>> s.n, s.mean, round(s.sd, 6), round(s.ci_low, 6), round(s.ci_high, 6)
    (2, 0.5, 0.707107, 0.0375, 0.9625)
    >>> summarize([7.0])
    Summary(n=1, mean=7.0, sd=nan, ci_low=nan, ci_high=nan)
    >>> summarize([0.1, 0.1, 0.1, 0.1])
    Summary(n=4, mean=0.1, sd=0.0, ci_low=0.1, ci_high=0.1)
    >>> summarize([1.0, float("inf")]).mean, summarize([float("nan"), 3.0]).n
    (inf, 1)
    """
    _check_confidence(confidence, interval)
    arr = _values(values)
    n = int(arr.size)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(arr.mean())
    if n < 2 or not np.all(np.isfinite(arr)):
        return Summary(n, mean, math.nan, math.nan, math.nan)
    if np.all(arr == arr[0]):  # constant data: no spread, exactly (the resample means would round)
        c = float(arr[0])
        return Summary(n, c, 0.0, c, c)
    with np.errstate(over="ignore"):  # e.g. transient peaks at the overflow guard (1e250): sd is then inf
        sd = float(arr.std(ddof=1))
    if interval == "auto":
        interval = interval_for(n)
    if interval == "t":
        return Summary(n, mean, sd, *_t_interval(mean, sd, n, confidence))
    means = arr[_resample_indices(n, n_resamples, seed)].mean(axis=1)
    low, high = _interval(means, confidence)
    return Summary(n, mean, sd, low, high)


def _pairs(
    a: Mapping[Hashable, float] | Iterable[float], b: Mapping[Hashable, float] | Iterable[float]
) -> tuple[np.ndarray, np.ndarray, tuple[Hashable, ...], tuple[Hashable, ...]]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise TypeError("give both a and b as mappings (key -> value) or both as sequences")
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        xa, xb = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
        if xa.shape != xb.shape or xa.ndim != 1:
            raise ValueError(f"paired sequences need equal lengths, got {xa.shape} and {xb.shape}")
        a, b = dict(enumerate(xa)), dict(enumerate(xb))

    pa, pb = ({k: float(v) for k, v in x.items() if not math.isnan(float(v))} for x in (a, b))
    keys = [k for k in pa if k in pb]
    only_a = tuple(k for k in a if k not in keys)
    only_b = tuple(k for k in b if k not in keys)
    return np.array([pa[k] for k in keys]), np.array([pb[k] for k in keys]), only_a, only_b


def min_p_value(n: int) -> float:
    """The smallest two-sided p-value the exact sign-flip test can give with ``n`` pairs: 2¹⁻ⁿ (1 for n = 0).

    >>> min_p_value(3), min_p_value(5)
    (0.25, 0.0625)
    """
    return min(1.0, 2.0 ** (1 - n))


def _sign_flip_p(diff: np.ndarray, n_resamples: int, seed: int) -> float:
    n = diff.size
    observed = abs(float(diff.mean()))
    if n <= _EXACT_SIGN_FLIPS:
        signs = np.asarray(list(itertools.product((1.0, -1.0), repeat=n)))
        means = np.abs(signs @ diff) / n
        # A tolerance of a few ulps, so that the observed assignment (and its mirror) always count.
        return float(np.mean(means >= observed * (1 - 1e-12) - 1e-300))
    signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(n_resamples, n))
    extreme = int(np.sum(np.abs(signs @ diff) / n >= observed * (1 - 1e-12) - 1e-300))
    return (extreme + 1) / (n_resamples + 1)


def paired_difference(
    a: Mapping[Hashable, float] | Iterable[float],
    b: Mapping[Hashable, float] | Iterable[float],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    interval: str = "bootstrap",
) -> PairedDifference:
    """The paired differences a − b: mean, sd, CI of the mean difference (:func:`summarize`) and the sign-flip test.

    Parameters
    ----------
    a, b
        Mappings key (seed) -> value, paired by key; or two sequences of equal length, paired by position. A key
        in one mapping only, or whose value is NaN on either side, is left out and listed in ``only_a`` /
        ``only_b``.
    confidence, n_resamples, seed, interval
        As :func:`summarize` (``"auto"`` counts the pairs); ``n_resamples`` and ``seed`` also serve the sampled test
        beyond 16 pairs.

    Returns
    -------
    PairedDifference
        The summary of the differences (:func:`summarize`), the two-sided p-value of :data:`PAIRED_TEST` (NaN for
        no pair or a non-finite difference; 1 when every difference is 0) and the keys left out.

    Examples
    --------
    Three seeds, all differences positive: 2 of the 2³ sign assignments are as extreme (all +, all −).

    >>> d = paired_difference({0: 0.9, 1: 0.8, 2: 0.7}, {0: 0.5, 1: 0.6, 2: 0.4, 3: 0.5})
    >>> d.n, round(d.mean, 6), d.p_value, d.only_b
    (3, 0.3, 0.25, (3,))
    >>> paired_difference([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 3.0, 4.0]).p_value  # differences -1, 1, 0, 0
    1.0
    """
    xa, xb, only_a, only_b = _pairs(a, b)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = xa - xb
    s = summarize(diff, confidence=confidence, n_resamples=n_resamples, seed=seed, interval=interval)
    p = _sign_flip_p(diff, n_resamples, seed) if diff.size and np.all(np.isfinite(diff)) else math.nan
    return PairedDifference(s.n, s.mean, s.sd, s.ci_low, s.ci_high, p, PAIRED_TEST, only_a, only_b)


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in the order given: rejecting those ≤ α holds the family-wise error at α.

    With the m non-NaN p-values sorted, p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted p₍ᵢ₎ is max over j ≤ i of (m − j + 1) · p₍ⱼ₎,
    capped at 1 (monotone in p, never below p). NaN (no test) stays NaN and does not count in m.

    Examples
    --------
    Sorted 0.01, 0.03, 0.04 of m = 3: 3 · 0.01 = 0.03; max(0.03, 2 · 0.03) = 0.06; max(0.06, 1 · 0.04) = 0.06.

    >>> holm([0.04, 0.01, float("nan"), 0.03]).round(12).tolist()
    [0.06, 0.03, nan, 0.06]
    """
    p = np.asarray(list(p_values), dtype=float).ravel()
    out = np.full(p.shape, math.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    steps = p[order] * np.arange(order.size, 0, -1)  # (m − j + 1) · p₍ⱼ₎
    out[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return out


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row pair (average ranks for ties); NaN where a row's ranks are constant."""
    rx = scipy_stats.rankdata(x, axis=1)
    ry = scipy_stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))


def spearman_ci(
    x: Iterable[float],
    y: Iterable[float],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> SpearmanResult:
    """Spearman's rank correlation of paired values and its percentile-bootstrap confidence interval.

    Pairs with a NaN on either side are dropped. The interval resamples whole pairs with replacement
    (``n_resamples`` draws of ``numpy.random.default_rng(seed)``, or every ordered resample when nⁿ ≤
    ``n_resamples``); resamples whose ranks are constant on one side have no ρ and are left out of the quantiles.

    Returns
    -------
    SpearmanResult
        ``rho`` (ties take average ranks; ±∞ ranks as the largest/smallest value) and the interval; all NaN for
        fewer than 3 pairs or constant data.

    Examples
    --------
    >>> spearman_ci([1, 2, 3, 4, 5], [1, 10, 100, 1000, 10000])  # any monotone series: ρ = 1, every resample too
    SpearmanResult(n=5, rho=1.0, ci_low=1.0, ci_high=1.0)
    >>> spearman_ci([1, 2, 3], [3, 2, 1]).rho
    -1.0
    """
    _check_confidence(confidence)
    xs, ys = (np.asarray(list(v), dtype=float).ravel() for v in (x, y))
    if xs.shape != ys.shape:
        raise ValueError(f"spearman_ci needs paired values of equal length, got {xs.size} and {ys.size}")
    keep = ~(np.isnan(xs) | np.isnan(ys))
    xs, ys = xs[keep], ys[keep]
    n = int(xs.size)
    rho = float(_spearman_rows(xs[None, :], ys[None, :])[0]) if n >= 3 else math.nan
    if math.isnan(rho):
        return SpearmanResult(n, math.nan, math.nan, math.nan)
    rho = max(-1.0, min(1.0, rho))
    idx = _resample_indices(n, n_resamples, seed)
    low, high = _interval(_spearman_rows(xs[idx], ys[idx]), confidence)
    # ρ of ±1 resamples is ±1 up to rounding: clip to the range ρ can take.
    return SpearmanResult(n, rho, max(-1.0, low), min(1.0, high))
