"""Table 6 (rnnrobust.reporting.table6_predictors) and the stratified Spearman correlation it rests on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rnnrobust.correlation import stratified_spearman
from rnnrobust.layout import REGIMES
from rnnrobust.reporting.latex import LATEX_COLUMN_SEP_PT, LATEX_TEXT_WIDTH_PT, latex_layout
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table6_predictors import TABLE6_FAMILIES, table6_predictors
from rnnrobust.robustness.perturbation.eps5 import FamilyThreshold, RunFragility, Threshold
from rnnrobust.robustness.predictors import FRAGILE_WHEN_LARGER


def test_stratified_spearman_pools_fisher_z_of_each_stratum():
    rng = np.random.default_rng(0)
    x, y, strata = [], [], []
    for stratum, (n, noise) in {"rnn": (12, 0.5), "gru": (9, 2.0)}.items():
        xs = rng.standard_normal(n)
        shift = 10.0 if stratum == "gru" else 0.0  # the cells differ in both: a confound, not a correlation
        x += list(xs + shift)
        y += list(xs + noise * rng.standard_normal(n) + shift)
        strata += [stratum] * n
    result = stratified_spearman(x, y, strata)
    x, y, strata = np.array(x), np.array(y), np.array(strata)
    rhos = {s: scipy_stats.spearmanr(x[strata == s], y[strata == s]).statistic for s in ("rnn", "gru")}
    z = (9 * math.atanh(rhos["rnn"]) + 6 * math.atanh(rhos["gru"])) / 15
    assert result.n == 21 and result.rho == pytest.approx(math.tanh(z), rel=1e-12)
    se = math.sqrt(9 * (1 + rhos["rnn"] ** 2 / 2) + 6 * (1 + rhos["gru"] ** 2 / 2)) / 15
    assert result.ci_low == pytest.approx(math.tanh(z - 1.959963984540054 * se), rel=1e-9)
    assert result.ci_low < result.rho < result.ci_high
    # the shift between cells makes the pooled (unstratified) correlation larger than any cell's
    assert scipy_stats.spearmanr(x, y).statistic > max(rhos.values())


def test_stratified_spearman_leaves_out_small_or_constant_strata_and_nan_pairs():
    result = stratified_spearman([1, 2, 3, 4, 5, 1, 2, 3, math.nan], [1, 2, 3, 5, 4, 3, 2, 1, 7], "aaaaabbbb")
    assert result.n == 5 and result.rho == pytest.approx(0.9)  # b: 3 pairs after the NaN, left out
    assert math.isnan(stratified_spearman([1, 1, 1, 1], [1, 2, 3, 4], "aaaa").rho)


def _run(task, cell, regime, seed, flip5):
    thresholds = {family: FamilyThreshold((Threshold(value),)) for family, value in flip5.items()}
    return RunFragility(
        run=(task, cell, regime, seed), reference_accuracy=0.9, levels=(-2.0, 0.0), curves={}, eps5={},
        predicted=math.nan, reach=math.nan, flip5=thresholds,
    )  # fmt: skip


def _study(seed=0):
    """Two tasks × two cells × 2 regimes × 3 seeds; log_norm ranks the Gaussian threshold perfectly (inversely)
    within each cell, the linear response the adversarial one, the rest is noise."""
    rng = np.random.default_rng(seed)
    runs, predictors = {}, {}
    for task in ("adding", "imdb"):
        for cell, offset in (("rnn", 0.0), ("gru", 3.0)):
            for regime in REGIMES:
                for s in range(3):
                    key = (task, cell, regime, s)
                    norm = rng.uniform(0, 1) + offset  # cells differ: only the stratified ρ is ±1
                    adversarial = rng.uniform(-3, -1)
                    runs[key] = _run(*key, {"gaussian": -norm, "adversarial": adversarial})
                    summary = {name: float(rng.standard_normal()) for name in FRAGILE_WHEN_LARGER}
                    summary |= {"log_norm": norm, "log_eps_flip5_linear": adversarial + 0.1}
                    predictors[key] = {"summary": summary}
    return runs, predictors


def test_table6_ranks_each_predictor_within_cells_and_states_the_expected_sign():
    runs, predictors = _study()
    df = table6_predictors(runs, predictors)
    assert list(df["task"].unique()) == ["adding", "imdb"] and len(df) == 2 * len(FRAGILE_WHEN_LARGER)
    for task in ("adding", "imdb"):
        rows = df[df["task"] == task].set_index("key")
        norm, linear = rows.loc["log_norm"], rows.loc["log_eps_flip5_linear"]
        assert norm["rho_gaussian_mean"] == pytest.approx(-1.0, abs=1e-12) and norm["expected_sign"] == "−"
        assert norm["agreement_gaussian"] == pytest.approx(1.0, abs=1e-12)
        assert linear["rho_adversarial_mean"] == pytest.approx(1.0, abs=1e-12) and linear["expected_sign"] == "+"
        assert rows.index[0] == "log_norm"  # sorted by agreement with the Gaussian family, best first
        assert (rows["rho_gaussian_n"] == 12).all()
        keys = [k for k in runs if k[0] == task]
        for name in FRAGILE_WHEN_LARGER:
            for family in TABLE6_FAMILIES:
                expected = stratified_spearman(
                    [predictors[k]["summary"][name] for k in keys],
                    [runs[k].flip5[family].log10 for k in keys],
                    [k[1] for k in keys],
                )
                assert rows.loc[name, f"rho_{family}_mean"] == pytest.approx(expected.rho, nan_ok=True)
                assert rows.loc[name, f"rho_{family}_ci_high"] == pytest.approx(expected.ci_high, nan_ok=True)


def test_table6_fits_a_page_and_prints_n(tmp_path):
    runs, predictors = _study()
    df = table6_predictors(runs, predictors)
    layout = latex_layout(df)
    assert len(layout) <= 9
    assert sum(w + LATEX_COLUMN_SEP_PT for _, _, w in layout) <= LATEX_TEXT_WIDTH_PT
    md = write_table(df, tmp_path / "t6", "Table 6")[1].read_text()
    assert "n = 12" in md and "Bonett–Wright" in md and "key" not in md.splitlines()[2]
