"""Rank correlation within strata: Spearman's ρ of each stratum, pooled by Fisher's z.

Within a stratum (a cell: RNNs with RNNs) the ranks compare like with like, so a difference between strata (GRUs
more robust than RNNs, and larger in some predictor) does not pass for a correlation, as it would in ρ over all
pairs (``rnnrobust.stats.spearman_ci``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable

import numpy as np
from scipy import stats as scipy_stats

from rnnrobust.stats import CONFIDENCE, SpearmanResult

__all__ = ["stratified_spearman"]


def stratified_spearman(
    x: Iterable[float], y: Iterable[float], strata: Iterable[Hashable], *, confidence: float = CONFIDENCE
) -> SpearmanResult:
    """Spearman's ρ within strata (e.g. cells), pooled: Fisher's z of each stratum's ρ_s weighted by n_s − 3.

    Pairs with a NaN are dropped; strata with fewer than 4
    pairs or constant ranks are left out (their n is not counted). The interval is tanh(z̄ ± q·se) with the
    Bonett–Wright variance (1 + ρ_s²/2)/(n_s − 3) of each stratum's z (Bonett & Wright, Psychometrika 2000), q the
    normal quantile: approximate for small strata, and no substitute for more runs.

    >>> round(stratified_spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], "aaaaa").rho, 12)  # one stratum: its ρ
    0.8
    >>> r = stratified_spearman([1, 2, 3, 4, 9, 8, 7, 6], [1, 2, 3, 4, 1, 2, 3, 4], "aaaabbbb")
    >>> r.n, round(r.rho, 12)  # +1 in one stratum, −1 in the other, equal sizes: 0
    (8, 0.0)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    xs, ys = (np.asarray(list(v), dtype=float).ravel() for v in (x, y))
    groups = np.asarray(list(strata), dtype=object)
    if not xs.shape == ys.shape == groups.shape:
        raise ValueError(
            f"stratified_spearman needs x, y and strata of equal length: {xs.size}, {ys.size}, {groups.size}"
        )
    keep = ~(np.isnan(xs) | np.isnan(ys))
    z_sum = weight = variance = 0.0
    n = 0
    for stratum in dict.fromkeys(groups[keep]):
        rows = keep & (groups == stratum)
        n_s = int(rows.sum())
        rho_s = _spearman(xs[rows], ys[rows]) if n_s >= 4 else math.nan
        if math.isnan(rho_s):
            continue
        rho_s = max(-1 + 1e-15, min(1 - 1e-15, rho_s))  # z of ±1 is infinite
        z_sum += (n_s - 3) * math.atanh(rho_s)
        weight += n_s - 3
        variance += (n_s - 3) * (1 + rho_s**2 / 2)  # (n_s − 3)² · Bonett–Wright variance of z_s
        n += n_s
    if weight == 0:
        return SpearmanResult(n, math.nan, math.nan, math.nan)
    z, se = z_sum / weight, math.sqrt(variance) / weight
    q = float(scipy_stats.norm.ppf(0.5 + confidence / 2))
    rho = math.tanh(z)
    return SpearmanResult(n, 0.0 if abs(rho) < 1e-15 else rho, math.tanh(z - q * se), math.tanh(z + q * se))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (average ranks for ties); NaN when one side's ranks are constant."""
    if np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(scipy_stats.spearmanr(x, y).statistic)
