"""rnnrobust.stats against hand computations on small numbers: mean and sd, the exact bootstrap interval of two
and three values, constant data, one value, the exact sign-flip p-values, pairing by seed, Spearman's ρ."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rnnrobust import stats


def test_summarize_mean_and_sd_by_hand():
    s = stats.summarize([2.0, 4.0, 9.0])
    # mean (2 + 4 + 9) / 3 = 5; deviations −3, −1, 4: sd = √((9 + 1 + 16) / 2) = √13
    assert (s.n, s.mean) == (3, 5.0)
    assert s.sd == pytest.approx(math.sqrt(13.0), rel=1e-15)
    assert s.ci_low <= s.mean <= s.ci_high


def test_bootstrap_interval_of_two_and_three_values_is_the_exact_distribution():
    # Two values: resample means 0, ½, ½, 1; the 2.5 % quantile sits 0.025 · 3 = 0.075 of the way from 0 to ½.
    s = stats.summarize([0.0, 1.0])
    assert (s.ci_low, s.ci_high) == (pytest.approx(0.0375), pytest.approx(0.9625))
    # Three values 1, 2, 3: 27 resamples; the lowest mean 1 (once), then 4/3 (three times): 1 + 0.65 · 1/3.
    s = stats.summarize([3.0, 1.0, 2.0])
    assert s.ci_low == pytest.approx(1 + 0.65 / 3) and s.ci_high == pytest.approx(3 - 0.65 / 3)
    # Enumerated (nⁿ ≤ 10 000): the seed plays no part.
    assert stats.summarize([1.0, 5.0, 2.0, 8.0, 3.0], seed=1) == stats.summarize([1.0, 5.0, 2.0, 8.0, 3.0], seed=2)


def test_bootstrap_interval_of_many_values_is_seeded():
    values = np.arange(12.0) ** 1.5
    a, b = stats.summarize(values, seed=3), stats.summarize(values, seed=3)
    assert a == b  # reproducible
    assert values.min() < a.ci_low < a.mean < a.ci_high < values.max()
    # Close to the normal-theory interval of the mean for 12 values.
    half = 1.96 * values.std(ddof=0) / math.sqrt(values.size)
    assert a.ci_high - a.ci_low == pytest.approx(2 * half, rel=0.15)


def test_constant_one_empty_and_non_finite_data():
    for values in ([0.1] * 3, [2.5] * 7):  # enumerated and sampled
        s = stats.summarize(values)
        assert (s.mean, s.sd, s.ci_low, s.ci_high) == (values[0], 0.0, values[0], values[0])
    one = stats.summarize([7.0])  # one seed: no sd, no interval — never pretend
    assert one.n == 1 and one.mean == 7.0 and all(math.isnan(v) for v in (one.sd, one.ci_low, one.ci_high))
    empty = stats.summarize([])
    assert empty.n == 0 and all(math.isnan(v) for v in (empty.mean, empty.sd, empty.ci_low, empty.ci_high))
    s = stats.summarize([1.0, math.nan, 3.0])  # NaN: missing, not counted
    assert (s.n, s.mean) == (2, 2.0)
    s = stats.summarize([1.0, math.inf, 3.0])  # ∞ propagates to the mean; no finite spread
    assert s.n == 3 and s.mean == math.inf and math.isnan(s.sd) and math.isnan(s.ci_low)
    assert stats.summarize([1.0, 2.0]).columns("acc") == {
        "acc_mean": 1.5, "acc_sd": pytest.approx(math.sqrt(0.5)), "acc_ci_low": pytest.approx(1.0375),
        "acc_ci_high": pytest.approx(1.9625), "acc_n": 2,
    }  # fmt: skip
    with pytest.raises(ValueError, match="confidence"):
        stats.summarize([1.0, 2.0], confidence=95)


def test_sign_flip_p_values_by_hand():
    # 3 pairs, all differences positive: 2 of the 2³ assignments (all +, all −) are as extreme.
    d = stats.paired_difference([3.0, 5.0, 4.0], [1.0, 2.0, 3.0])
    assert (d.n, d.p_value) == (3, 0.25) and d.p_value == stats.min_p_value(3)
    # Differences 1, 2, 3, −4 (sum 2): an assignment's sum is 10 − 2s for s the sum of the magnitudes it makes
    # negative; only s = 5 ({1, 4} and {2, 3}) gives |sum| < 2, so 14 of the 16 assignments are as extreme.
    d = stats.paired_difference([1.0, 2.0, 3.0, -4.0], [0.0, 0.0, 0.0, 0.0])
    assert d.p_value == pytest.approx(14 / 16)
    assert stats.paired_difference([1.0, 2.0, 3.0, 4.0], [0.0] * 4).p_value == pytest.approx(2 / 16)
    assert stats.paired_difference([1.0, 1.0], [1.0, 1.0]).p_value == 1.0  # no difference at all
    assert (stats.min_p_value(5), stats.min_p_value(6)) == (0.0625, 0.03125)
    # Beyond 16 pairs the assignments are sampled (seeded): (k + 1) / (draws + 1) with no draw as extreme.
    many = stats.paired_difference(np.ones(20), np.zeros(20), n_resamples=2000, seed=4)
    assert many.p_value == pytest.approx(1 / 2001)


def test_paired_difference_summary_by_hand_and_pairing_by_seed():
    regime = {0: 80.0, 1: 84.0, 2: 79.0, 5: 90.0}
    baseline = {0: 78.0, 1: 81.0, 2: 80.0, 3: 70.0, 4: math.nan}
    d = stats.paired_difference(regime, baseline)
    # Seeds 0, 1, 2 pair: differences 2, 3, −1; mean 4/3; sd √(((2/3)² + (5/3)² + (7/3)²) / 2) = √(13/3).
    assert d.n == 3 and d.mean == pytest.approx(4 / 3) and d.sd == pytest.approx(math.sqrt(13 / 3))
    assert d.summary() == stats.summarize([2.0, 3.0, -1.0])
    assert d.only_a == (5,) and d.only_b == (3, 4)  # unpaired seeds are left out and named
    # Signs of 2, 3, −1 (sum 4): the 8 sums are ±4, ±6, ±0, ±2, so 4 of 8 are at least 4 away from 0.
    assert d.p_value == 0.5
    assert d.test == stats.PAIRED_TEST
    with pytest.raises(ValueError, match="equal lengths"):
        stats.paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="both"):
        stats.paired_difference({0: 1.0}, [1.0])
    none = stats.paired_difference({0: 1.0}, {1: 1.0})
    assert none.n == 0 and math.isnan(none.p_value) and math.isnan(none.mean)


def test_spearman_by_hand():
    res = stats.spearman_ci([1, 2, 3, 4, 5, 6, 7, 8], np.exp([1, 2, 3, 4, 5, 6, 7, 8]))  # monotone: ρ = 1
    assert (res.n, res.rho, res.ci_low, res.ci_high) == (8, 1.0, 1.0, 1.0)
    assert stats.spearman_ci([1, 2, 3], [9, 5, 1]).rho == -1.0
    # Ranks 1 2 3 4 against 1 3 2 4: Σd² = 2, ρ = 1 − 6 · 2 / (4 · 15) = 0.8.
    res = stats.spearman_ci([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0])
    assert res.rho == pytest.approx(0.8) and -1.0 <= res.ci_low <= res.rho <= res.ci_high <= 1.0
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    res = stats.spearman_ci(x, y, seed=1)
    assert res.rho == pytest.approx(scipy_stats.spearmanr(x, y).statistic, rel=1e-12)
    assert res.ci_low < res.rho < res.ci_high and res == stats.spearman_ci(x, y, seed=1)
    assert stats.spearman_ci([1.0, math.nan, 3.0, 4.0], [1.0, 2.0, 2.0, 5.0]).n == 3  # the NaN pair is dropped
    short = stats.spearman_ci([1.0, 2.0], [2.0, 1.0])
    assert short.n == 2 and math.isnan(short.rho) and math.isnan(short.ci_low)
    assert math.isnan(stats.spearman_ci([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).rho)  # constant: no ranks to correlate
    with pytest.raises(ValueError, match="equal length"):
        stats.spearman_ci([1.0, 2.0, 3.0], [1.0, 2.0])


def test_the_t_interval_is_scipy_s():
    values = [0.3, 1.1, 0.7, 2.0, 1.4]
    s = stats.summarize(values, interval="t")
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high), rel=1e-12)
    assert stats.summarize([1.0], interval="t").ci_low != stats.summarize([1.0], interval="t").ci_low  # NaN for n = 1
    with pytest.raises(ValueError, match="interval = 'normal'"):
        stats.summarize(values, interval="normal")


def test_with_three_normal_values_the_t_interval_is_wider_than_the_bootstrap():
    # The percentile bootstrap cannot reach beyond the observed values; t does, which is why the tables take t
    # for few seeds (stats.T_INTERVAL_MAX_N).
    values = np.random.default_rng(3).normal(size=3)
    t, boot = stats.summarize(values, interval="t"), stats.summarize(values)
    assert t.ci_low < values.min() <= boot.ci_low and boot.ci_high <= values.max() < t.ci_high
    assert (t.mean, t.sd) == (boot.mean, boot.sd)  # only the interval differs


def test_auto_takes_t_up_to_ten_values_and_the_bootstrap_beyond():
    assert stats.T_INTERVAL_MAX_N == 10
    ten, eleven = np.arange(10.0) ** 1.5, np.arange(11.0) ** 1.5
    assert stats.summarize(ten, interval="auto") == stats.summarize(ten, interval="t")
    # n counts the values that remain: a NaN does not make 10 values 11
    assert stats.summarize([*ten, math.nan], interval="auto") == stats.summarize(ten, interval="t")
    bootstrap = stats.summarize(eleven)
    assert stats.summarize(eleven, interval="auto") == bootstrap != stats.summarize(eleven, interval="t")
    # a paired difference counts its pairs: 3 of them here, so t
    d = stats.paired_difference({0: 3.0, 1: 5.0, 2: 4.0, 3: 1.0}, {0: 1.0, 1: 2.0, 2: 3.0}, interval="auto")
    assert d.summary() == stats.summarize([2.0, 3.0, 1.0], interval="t") and d.only_a == (3,)
    assert d.p_value == stats.paired_difference([3.0, 5.0, 4.0], [1.0, 2.0, 3.0]).p_value  # the test is unchanged


def _statsmodels_holm(p_values):
    """statsmodels.stats.multitest.multipletests(p, method="holm")[1], written out (statsmodels is not a dependency):
    sort, multiply the i-th smallest by m − i (0-based), running maximum, cap at 1, unsort."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    corrected = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    corrected[corrected > 1] = 1
    out = np.empty_like(corrected)
    out[order] = corrected
    return out


def test_holm_by_hand():
    # m = 4, sorted 0.01, 0.02, 0.03, 0.5: × 4, 3, 2, 1 = 0.04, 0.06, 0.06, 0.5 (already monotone).
    np.testing.assert_allclose(stats.holm([0.03, 0.5, 0.01, 0.02]), [0.06, 0.5, 0.04, 0.06], rtol=1e-14)
    # Monotone: 0.01 · 3 = 0.03, 0.011 · 2 = 0.022 → 0.03 (the running maximum), 0.9 · 1; capped at 1 above.
    np.testing.assert_allclose(stats.holm([0.01, 0.011, 0.9]), [0.03, 0.03, 0.9], rtol=1e-14)
    np.testing.assert_allclose(stats.holm([0.4, 0.6]), [0.8, 0.8], rtol=1e-14)
    np.testing.assert_allclose(stats.holm([0.3, 0.9, 0.5]), [0.9, 1.0, 1.0], rtol=1e-14)
    # NaN (no test) stays NaN and does not count: the two real p-values are a family of 2.
    got = stats.holm([math.nan, 0.02, 0.04, math.nan])
    assert math.isnan(got[0]) and math.isnan(got[3]) and got[1:3] == pytest.approx([0.04, 0.04])
    assert stats.holm([]).size == 0 and math.isnan(stats.holm([math.nan])[0])
    assert stats.holm([0.2]).tolist() == [0.2]  # one test: nothing to adjust


def test_holm_is_statsmodels_holm_and_the_step_down_rule():
    rng = np.random.default_rng(8)
    for m in (1, 2, 5, 12, 40):
        p = rng.uniform(0, 0.2, size=m) ** 2
        p[rng.integers(0, m)] = p[0]  # a tie
        adjusted = stats.holm(p)
        np.testing.assert_allclose(adjusted, _statsmodels_holm(p), rtol=1e-14)
        assert np.all(adjusted >= p) and np.all(adjusted <= 1)
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(adjusted[order]) >= 0)  # monotone in p
        # Holm's step-down rule at level α: reject the k smallest, k the first failure of p₍ᵢ₎ ≤ α / (m − i + 1).
        for alpha in (0.001, 0.01, 0.05):
            passes = p[order] <= alpha / np.arange(m, 0, -1)
            k = m if passes.all() else int(np.argmin(passes))
            assert set(np.flatnonzero(adjusted <= alpha)) == set(order[:k].tolist()), (m, alpha)
