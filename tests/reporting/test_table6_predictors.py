"""Table 6 (rnnrobust.reporting.table6_predictors), the stratified Spearman correlation it rests on, and Figure 10
(rnnrobust.reporting.figure10_predictors), which draws it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rnnrobust.correlation import stratified_spearman
from rnnrobust.layout import REGIMES
from rnnrobust.reporting.figure10_predictors import (
    build_predictors_figure,
    plot_predictors,
    predictors_figure_caption,
)
from rnnrobust.reporting.figure_style import panel_axes
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


# --------------------------------------------------------------------------------------------------
# Figure 10: the same runs and numbers, drawn.


def _study_with_edges():
    """:func:`_study` with one Kreiss constant at +∞, one ε_T at −∞, one ε_pred undefined and one censored run."""
    runs, predictors = _study()
    first, second, third, censored = sorted(runs)[:4]
    predictors[first]["summary"]["log_kreiss"] = math.inf
    predictors[second]["summary"]["log_eps_horizon"] = -math.inf
    predictors[third]["summary"]["log_eps_pred"] = None
    bound = FamilyThreshold((Threshold(0.0, "above"), Threshold(0.0, "above"), Threshold(-1.0)))
    runs[censored] = dataclasses.replace(runs[censored], flip5={**runs[censored].flip5, "gaussian": bound})
    return runs, predictors, {"+inf": first, "-inf": second, "none": third, "censored": censored}


def _run_markers(ax):
    """gid -> Line2D of the runs' markers of a panel (not the edges' dotted lines)."""
    return {
        line.get_gid(): line for line in ax.get_lines() if line.get_gid() and not line.get_gid().startswith("edge/")
    }


def _key_of(gid, task):
    _, cell, regime, seed, *_ = gid.split("/")
    return (task, cell, regime, int(seed))


def test_figure10_draws_each_run_at_its_predictor_value_and_measured_threshold():
    runs, predictors, special = _study_with_edges()
    fig = build_predictors_figure(runs, predictors)
    panels = panel_axes(fig)
    tasks = list(dict.fromkeys(k[0] for k in sorted(runs)))
    assert [ax.get_label() for ax in panels] == [f"panel:{t}/{n}" for t in tasks for n in FRAGILE_WHEN_LARGER]
    for ax in panels:
        task, name = ax.get_label().removeprefix("panel:").split("/")
        markers = _run_markers(ax)
        drawn = {_key_of(gid, task) for gid in markers}
        expected = {k for k in runs if k[0] == task and predictors[k]["summary"][name] is not None}
        assert drawn == expected and len(markers) == len(expected)
        edges = {
            line.get_gid(): line.get_xdata()[0] for line in ax.get_lines() if str(line.get_gid()).startswith("edge/")
        }
        for gid, line in markers.items():
            key = _key_of(gid, task)
            value = predictors[key]["summary"][name]
            assert line.get_ydata()[0] == pytest.approx(runs[key].flip5["gaussian"].log10)
            if math.isfinite(value):
                assert line.get_xdata()[0] == pytest.approx(value) and gid.count("/") == 3
            else:
                sign = "+inf" if value > 0 else "-inf"
                assert gid.endswith(f"/{sign}") and line.get_xdata()[0] == edges[f"edge/{sign}"]
                assert line.get_marker() == (">" if value > 0 else "<")
                finite = [
                    predictors[k]["summary"][name] for k in drawn if math.isfinite(predictors[k]["summary"][name])
                ]
                assert (edges[f"edge/{sign}"] > max(finite)) if value > 0 else (edges[f"edge/{sign}"] < min(finite))
    kreiss = next(ax for ax in panels if ax.get_label() == f"panel:{special['+inf'][0]}/log_kreiss")
    assert any(gid.endswith("/+inf") for gid in _run_markers(kreiss))


def test_figure10_titles_give_table6_rho_interval_and_n():
    runs, predictors, _ = _study_with_edges()
    table = table6_predictors(runs, predictors)
    fig = build_predictors_figure(runs, predictors)
    for ax in panel_axes(fig):
        task, name = ax.get_label().removeprefix("panel:").split("/")
        row = table[(table["task"] == task) & (table["key"] == name)].iloc[0]
        title = ax.get_title()
        expected = f"ρ = {row['rho_gaussian_mean']:.2f} [{row['rho_gaussian_ci_low']:.2f}, "
        assert (
            title.startswith(expected) and f"{row['rho_gaussian_ci_high']:.2f}], n = {row['rho_gaussian_n']}" in title
        )
        best = table[table["task"] == task].iloc[0]["key"]
        assert (ax.title.get_fontweight() == "bold") == (name == best)
    norm = next(ax for ax in panel_axes(fig) if ax.get_label().endswith("/log_norm"))
    assert norm.get_title().startswith("ρ = -1.00") and "n = 12" in norm.get_title()
    undefined = next(ax for ax in panel_axes(fig) if ax.get_label().endswith("/log_eps_pred"))
    assert "n = 11" in undefined.get_title()  # the run without a value is not ranked, as in Table 6


def test_figure10_draws_censored_runs_open():
    runs, predictors, special = _study_with_edges()
    fig = build_predictors_figure(runs, predictors)
    seen = 0
    for ax in panel_axes(fig):
        task = ax.get_label().removeprefix("panel:").split("/")[0]
        for gid, line in _run_markers(ax).items():
            censored = _key_of(gid, task) == special["censored"]
            assert gid.startswith("censored/" if censored else "measured/")
            assert (line.get_markerfacecolor() == "none") == censored
            seen += censored
    assert seen == len(FRAGILE_WHEN_LARGER)  # in every panel of its task
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    assert any(label.startswith("open: censored") for label in labels)


def test_figure10_writes_png_and_pdf_and_a_caption_of_this_run(tmp_path):
    runs, predictors, _ = _study_with_edges()
    paths = plot_predictors(runs, predictors, tmp_path / "figure10_predictors")
    assert [p.name for p in paths] == ["figure10_predictors.png", "figure10_predictors.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    caption = predictors_figure_caption(runs, predictors)
    description, numbers = caption.split("\n\nThis run:\n\n")
    assert "Figure 10" in description and "Table 6" in description
    assert "24 runs with both records" in numbers and "1 of them censored" in numbers
    assert "log10 Kreiss (max), runs at +∞: 1, at −∞: 0" in numbers and "without a value: 1" in numbers
    assert numbers.count("best agreement log10 ‖W‖₂ (max), ρ = -1.00 [-1.00, -1.00], n = 12") == 2
    with pytest.raises(ValueError, match="both"):
        build_predictors_figure(runs, {})
