"""Table 4 and Figures 7–8 from synthetic perturbation records: ε₅ against hand computations, censoring, the table's
aggregates against rnnrobust.stats, paired verdicts, Spearman's ρ on the fixture's numbers, and the figures, files
and captions (rnnrobust.robustness.perturbation.eps5, rnnrobust.reporting.table4_perturbation,
figure7_perturbation, figure8_prediction, captions)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rnnrobust import runs
from rnnrobust import stats as S
from rnnrobust.io import write_json
from rnnrobust.layout import CELLS, FAMILIES, GATES, LAYERS, REGIMES, TASKS, run_stem
from rnnrobust.reporting.figure7_perturbation import (
    build_perturbation_figure,
    perturbation_figure_caption,
    perturbation_figure_description,
    plot_perturbation,
)
from rnnrobust.reporting.figure8_prediction import build_prediction_figure, plot_prediction, prediction_figure_caption
from rnnrobust.reporting.figure_style import panel_axes
from rnnrobust.reporting.formatting import format_summary
from rnnrobust.reporting.perturbation_text import comparison_sentence, family_text, rho_text
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table4_perturbation import table4_perturbation, table4_perturbation_report_caption
from rnnrobust.reporting.table_frame import display_frame, table_notes
from rnnrobust.robustness.perturbation import eps5 as FR
from rnnrobust.robustness.perturbation.comparisons import RegimeComparison, compare_regimes, prediction_correlation

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TASKS = (TASKS[0], TASKS[2])  # two layers (the adding task's encoder and decoder), and one
MODELS = CELLS[:2]
SEEDS = (0, 1, 2)
LEVELS = (-3.0, -2.0, -1.0, 0.0)
BASE, STAB = REGIMES
ABOVE, BELOW = "above", "below"
#: (task index, model index, seed, sample) of the one random direction of a baseline run that never fell.
PARTIAL = (0, 0, 0, 2)


def design(task: str, model: str, regime: str, seed: int) -> dict:
    """The fixture's intended log10 ε₅ per family (ABOVE / BELOW: censored), prediction and state numbers."""
    t, m = FIXTURE_TASKS.index(task), MODELS.index(model)
    worst = {BASE: -1.4, STAB: -2.3}[regime] + 0.1 * seed + 0.05 * m
    predicted = worst - 0.5 - 0.02 * seed
    if (t, m, regime, seed) == (1, 1, STAB, 0):
        worst = BELOW  # fallen already at the smallest level
    if (t, m, regime, seed) == (1, 0, STAB, 2):
        predicted = None  # no stable block
    random = []
    for sample in (0, 1, 2):
        base = -0.7 + 0.1 * seed + 0.1 * sample
        if regime == BASE:
            # Every sample above the grid; two of three (the median is a bound); one of three (the median is exact).
            censored = (t, m) == (1, 0) or (t, m, seed, sample) == PARTIAL or ((t, m, seed) == (1, 1, 2) and sample > 0)
            random.append(ABOVE if censored else base)
        elif t == 0:
            random.append(-1.7 + 0.1 * seed + 0.1 * sample)
        else:
            random.append(base + (0.2 if seed % 2 == 0 else -0.2))
    layers = LAYERS[task]
    amplification = {layers[0]: 1.5 * (1 + 0.1 * seed)}
    peaks = {layers[0]: 2.0 + seed}
    if len(layers) > 1:
        amplification[layers[1]], peaks[layers[1]] = 3.0, 5.0
    top = max(amplification, key=amplification.get)
    unstable = regime == STAB and (m == 1 or (t, seed) == (1, 1))
    return {
        "worst": worst,
        "random": random,
        "predicted": predicted,
        "amplification": amplification,
        "peaks": peaks,
        "top": top,
        "unstable": unstable,
        "reference": 0.9 - 0.01 * seed,
    }


def curve(reference: float, x5: float | str) -> list[float]:
    """Accuracy at LEVELS: flat up to the grid point below x5, then linear in log10 ε through ref − 0.05 at x5."""
    if x5 == ABOVE:
        return [reference - 0.01] * len(LEVELS)
    if x5 == BELOW:
        return [reference - 0.5] * len(LEVELS)
    start = math.floor(x5)
    slope = FR.DROP / (x5 - start)
    return [reference - slope * max(0.0, x - start) for x in LEVELS]


def record(task: str, model: str, regime: str, seed: int) -> dict:
    d = design(task, model, regime, seed)
    ref = d["reference"]
    sweep = []
    for family, sample, x5 in [("worst", 0, d["worst"]), *(("random", s, x) for s, x in enumerate(d["random"]))]:
        for level, accuracy in zip(LEVELS, curve(ref, x5), strict=True):
            sweep.append({"family": family, "sample": sample, "eps_log10": level, "eps": 10**level,
                          "loss": 1.0, "accuracy": accuracy, "crossed": False})  # fmt: skip
    gate = GATES[model][-1]
    blocks, state = {}, {}
    for layer in LAYERS[task]:
        block = f"{layer}/{gate}"
        radius = 1.01 if d["unstable"] and layer == d["top"] else 0.9
        blocks[block] = {"spectral_radius": radius, "transient_peak": d["peaks"][layer]}
        top = d["amplification"][layer]
        state[layer] = {
            "state": "h",
            "steps": 8,
            "lags": [1, 4, 8],
            "amplification": {
                "1": {"median": top, "max": 2 * top, "mean": top, "values": [top]},
                "4": {"median": 0.5 * top, "max": 9.0 * top, "mean": top, "values": [top]},  # max is not the median
                "8": {"median": 0.1, "max": 0.1, "mean": 0.1, "values": [0.1]},
            },
            "linear_block": block,
            "linear": {"norm_power": {}, "transient_peak": d["peaks"][layer], "transient_peak_k": 2},
        }
    predicted = None if d["predicted"] is None else 10.0 ** d["predicted"]
    return {
        "task": task, "model": model, "regime": regime, "seed": seed, "n_eval": 64, "n_test": 100,
        "reference": {"loss": 0.5, "accuracy": ref}, "blocks": blocks,
        "eps_pred_min": predicted, "eps_worst_min": None if predicted is None else 2 * predicted,
        "sweep": sweep, "state": state,
    }  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    out = {}
    for task in FIXTURE_TASKS:
        for model in MODELS:
            for regime in REGIMES:
                for seed in SEEDS:
                    path = root / "perturbation" / f"{run_stem(task, model, regime, seed)}.json"
                    write_json(path, record(task, model, regime, seed))
                    out[(task, model, regime, seed)] = path
    return out


@pytest.fixture(scope="module")
def loaded(files):
    return FR.load_fragility(files)


def expected_run(key) -> dict[str, float]:
    """Per-run numbers by hand from the design: censored values at the grid's bounds, random the median of samples."""
    d = design(*key)
    bound = {ABOVE: max(LEVELS), BELOW: min(LEVELS)}
    random = [bound.get(x, x) for x in d["random"]]
    return {
        "worst": bound.get(d["worst"], d["worst"]),
        "random": float(np.median(random)),
        "predicted": math.nan if d["predicted"] is None else d["predicted"],
        "amplification": math.log10(d["amplification"][d["top"]]),
        "transient_peak": math.log10(d["peaks"][d["top"]]),
    }


# --------------------------------------------------------------------------------------------------
# ε₅ of one curve.


def test_eps5_interpolates_linearly_in_log_eps():
    # target 0.85: crossed between -2 (0.88) and -1 (0.80): -2 + (0.88 - 0.85) / (0.88 - 0.80) = -1.625
    t = FR.eps5([-3, -2, -1, 0], [0.90, 0.88, 0.80, 0.50], reference=0.90)
    assert t.censored == "" and t.log10 == pytest.approx(-1.625, abs=1e-12)
    # unsorted input, a NaN point left out, and a recovery after the first crossing does not move it
    t = FR.eps5([0, -1, -2, -3, -2.5], [0.95, 0.70, 0.88, 0.90, math.nan], reference=0.90)
    assert t.log10 == pytest.approx(-2 + 0.03 / 0.18, abs=1e-12)
    # a drop of exactly 5 points counts at that level
    assert FR.eps5([-2, -1], [0.90, 0.85], reference=0.90).log10 == pytest.approx(-1.0)


def test_eps5_censoring():
    assert FR.eps5([-3, -2, -1], [0.9, 0.87, 0.86], 0.9) == FR.Threshold(-1.0, "above")
    assert FR.eps5([-3, -2, -1], [0.8, 0.7, 0.1], 0.9) == FR.Threshold(-3.0, "below")
    assert math.isnan(FR.eps5([-3], [0.8], math.nan).log10)


def test_runs_are_reduced_as_designed(loaded):
    for key, run in loaded.items():
        want = expected_run(key)
        d = design(*key)
        assert run.eps5["worst"].log10 == pytest.approx(want["worst"], abs=1e-9), key
        assert run.eps5["random"].log10 == pytest.approx(want["random"], abs=1e-9), key
        assert run.eps5["worst"].censored == {ABOVE: "above", BELOW: "below"}.get(d["worst"], "")
        assert run.eps5["random"].above == d["random"].count(ABOVE)
        # the median is a bound when at least 2 of the 3 samples are censored, else exact
        assert run.eps5["random"].censored == ("above" if d["random"].count(ABOVE) >= 2 else ""), key
        np.testing.assert_allclose(run.predicted, want["predicted"], atol=1e-12)
        assert run.amplification == pytest.approx(want["amplification"])  # the median's maximum, not the max's
        assert run.transient_peak == pytest.approx(want["transient_peak"])
        assert run.amplification_layer == d["top"] and run.linear_unstable == d["unstable"]
        assert run.levels == LEVELS and run.random_samples == 3


def _random_run(seed: int, random: list) -> FR.RunFragility:
    """A run of the first fixture cell whose random samples cross at ``random`` (ABOVE: never), worst case at −2."""
    key = (FIXTURE_TASKS[0], MODELS[0], BASE, seed)
    data = record(*key)
    sweep = [row for row in data["sweep"] if row["family"] == "worst"]
    for sample, x5 in enumerate(random):
        sweep += [{"family": "random", "sample": sample, "eps_log10": x, "accuracy": a}
                  for x, a in zip(LEVELS, curve(data["reference"]["accuracy"], x5), strict=True)]  # fmt: skip
    return FR.run_fragility(data | {"sweep": sweep})


def test_a_partly_censored_run_is_its_median_printed_with_its_count():
    """Issue 19: two of three directions cost 5 points at 10^−0.875, one never did. The run's value is the median,
    −0.875 (exact: the censored sample cannot move it), not the mean −0.583 of the bounds, and is printed with the
    count; with two of three censored the median is the grid's end, a bound."""
    partly = _random_run(0, [-0.875, ABOVE, -0.875])
    t = partly.eps5["random"]
    assert t.log10 == pytest.approx(-0.875) and (t.censored, t.above, t.n) == ("", 1, 3)
    one = table4_perturbation({partly.run: partly})
    assert one["eps5_random_text"][0] == "-0.875 (1 of 3 samples above the grid)"
    assert one["eps5_random_per_seed_text"][0] == {0: "-0.875 (1 of 3 samples above the grid)"}
    mostly = _random_run(1, [-0.875, ABOVE, ABOVE])
    t = mostly.eps5["random"]
    assert t.log10 == max(LEVELS) and (t.censored, t.above) == ("above", 2)
    both = table4_perturbation({partly.run: partly, mostly.run: mostly})
    assert both["eps5_random_text"][0].startswith("≥ ") and both["eps5_random_text"][0].endswith("(1/2 above the grid)")
    assert both["eps5_random_per_seed_text"][0] == {
        0: "-0.875 (1 of 3 samples above the grid)", 1: "≥ 0 (2 of 3 samples above the grid)"}  # fmt: skip
    # Two samples, one above: the median (−0.875 + 0) / 2 is a lower bound short of the grid's end, not "> 0".
    even = _random_run(2, [-0.875, ABOVE])
    assert table4_perturbation({even.run: even})["eps5_random_text"][0] == "≥ -0.4375 (1/1 above the grid)"
    # Ranked by the median: the partly censored run counts as measured, the mostly censored one at the grid's end.
    corr = prediction_correlation({partly.run: partly, mostly.run: mostly}, "random")
    assert (corr.all.n, corr.censored, corr.measured.n) == (2, 1, 1)


def test_a_file_of_another_run_is_refused(files):
    key = next(iter(files))
    other = (*key[:3], key[3] + 1)
    with pytest.raises(ValueError, match="run key"):
        FR.load_fragility({other: files[key]})


def test_run_files_name_the_perturbation_record():
    records = runs.run_records("results/x", [(TASKS[0], CELLS[0], REGIMES[0], 1)], "perturbation")
    assert records[0]["perturbation"] == f"results/x/perturbation/{run_stem(TASKS[0], CELLS[0], REGIMES[0], 1)}.json"


# --------------------------------------------------------------------------------------------------
# Table 4.


@pytest.fixture(scope="module")
def table(files):
    return table4_perturbation(files, regimes=list(REGIMES))


def _row(df, task, model, regime):
    rows = df[(df.task == task) & (df.model == model) & (df.regime == regime)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_table4_columns_and_order(table):
    parts = ("mean", "sd", "ci_low", "ci_high", "n")
    for name in ("reference_accuracy", "eps5_random", "eps5_worst", "predicted", "amplification", "transient_peak"):
        assert all(f"{name}_{p}" in table.columns for p in parts), name
    assert list(table[["task", "model", "regime"]].itertuples(index=False, name=None)) == [
        (t, m, r) for t in FIXTURE_TASKS for m in MODELS for r in REGIMES
    ]
    shown, _ = display_frame(table)
    # n is printed once: in the header where a column's cells share it (the prediction misses one run: per cell)
    assert list(shown.columns) == [
        "task", "model", "regime", "unperturbed accuracy (%) (n=3)", "log10 ε₅, random (n=3)",
        "log10 ε₅, worst case (n=3)", "predicted log10 ε (d/‖W‖₂, min)", "log10 state amplification (measured) (n=3)",
        "log10 transient peak (linear) (n=3)",
    ]  # fmt: skip
    assert sum(cell.endswith("(n=2)") for cell in shown["predicted log10 ε (d/‖W‖₂, min)"]) == 1


def test_table4_aggregates_equal_stats_of_the_hand_computed_runs(table):
    for task in FIXTURE_TASKS:
        for model in MODELS:
            for regime in REGIMES:
                row = _row(table, task, model, regime)
                per_run = [expected_run((task, model, regime, s)) for s in SEEDS]
                for name in ("worst", "random", "predicted", "amplification", "transient_peak"):
                    column = {"worst": "eps5_worst", "random": "eps5_random"}.get(name, name)
                    want = S.summarize((r[name] for r in per_run), interval="t")  # 3 seeds: Student's t
                    got = [row[f"{column}_{p}"] for p in ("mean", "sd", "ci_low", "ci_high")]
                    np.testing.assert_allclose(got, [want.mean, want.sd, want.ci_low, want.ci_high], atol=1e-9)
                    assert row[f"{column}_n"] == want.n
                accuracy = S.summarize(100 * design(task, model, regime, s)["reference"] for s in SEEDS)
                assert row["reference_accuracy_mean"] == pytest.approx(accuracy.mean)


def test_table4_prints_censored_cells_as_bounds_with_counts(table):
    shown, _ = display_frame(table)
    shown.index = [f"{t}/{m}/{r}" for t, m, r in table[["task", "model", "regime"]].itertuples(index=False)]
    t0, t1 = FIXTURE_TASKS
    # every seed censored: the bound, never a bare number at the grid's end
    assert shown.loc[f"{t1}/{MODELS[0]}/{BASE}", "log10 ε₅, random (n=3)"] == "> 0 (3/3 above the grid)"
    # one seed's median a bound (two of its three samples above): a lower bound of the mean
    cell = shown.loc[f"{t1}/{MODELS[1]}/{BASE}", "log10 ε₅, random (n=3)"]
    assert cell.startswith("≥ ") and cell.endswith("(1/3 above the grid)")
    row = _row(table, t1, MODELS[1], BASE)
    assert (row["eps5_random_above"], row["eps5_random_below"]) == (1, 0)
    assert row["eps5_random_per_seed_text"][2] == "≥ 0 (2 of 3 samples above the grid)"
    # one sample of one seed above the grid: that seed's median is exact, the cell is no bound but counts it
    row = _row(table, t0, MODELS[0], BASE)
    assert (row["eps5_random_above"], row["eps5_random_below"]) == (0, 0)
    # seed 0: samples −0.7, −0.6 and one above the grid (carried as 0): median −0.6, wherever beyond it that one lies
    assert row["eps5_random_per_seed"][0] == pytest.approx(-0.6) and row["eps5_random_mean"] == pytest.approx(-0.5)
    assert row["eps5_random_per_seed_text"] == {0: "-0.6 (1 of 3 samples above the grid)", 1: "-0.5", 2: "-0.4"}
    summary = format_summary(*(row[f"eps5_random_{p}"] for p in ("mean", "sd", "ci_low", "ci_high")))
    assert shown.loc[f"{t0}/{MODELS[0]}/{BASE}", "log10 ε₅, random (n=3)"] == (
        f"{summary} (1 of 9 samples above the grid)")  # fmt: skip
    # fallen at the smallest level: an upper bound
    cell = shown.loc[f"{t1}/{MODELS[1]}/{STAB}", "log10 ε₅, worst case (n=3)"]
    assert cell.startswith("≤ ") and cell.endswith("(1/3 below the grid)")
    # uncensored cells print the summary itself
    row = _row(table, t0, MODELS[0], STAB)
    assert shown.loc[f"{t0}/{MODELS[0]}/{STAB}", "log10 ε₅, worst case (n=3)"] == format_summary(
        row["eps5_worst_mean"], row["eps5_worst_sd"], row["eps5_worst_ci_low"], row["eps5_worst_ci_high"]
    )
    # the linear prediction of an unstable block is not printed as a number
    assert shown.loc[f"{t0}/{MODELS[1]}/{STAB}", "log10 transient peak (linear) (n=3)"] == "unstable"
    assert shown.loc[f"{t1}/{MODELS[0]}/{STAB}", "log10 transient peak (linear) (n=3)"] == "1/3 unstable"
    assert _row(table, t1, MODELS[0], STAB)["unpredicted"] == 1


def test_table4_files(table, tmp_path):
    paths = write_table(table, tmp_path / "table4_perturbation", "Table 4")
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex", ".html"]
    md = paths[1].read_text()
    assert "> 0 (3/3 above the grid)" in md and "(n=2)" in md
    assert "\\varepsilon _5" in paths[2].read_text()


@pytest.mark.latex
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_table4_latex_compiles_without_overfull_boxes(table, tmp_path):
    write_table(table, tmp_path / "table4", "Table 4: 50% & x_y")
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[margin=1in]{geometry}\n"
        "\\usepackage{booktabs}\n\\begin{document}\n\\input{table4.tex}\n\\end{document}\n"
    )
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "Overfull \\hbox" not in log


def test_table4_refuses_a_regime_it_is_not_given(files):
    with pytest.raises(ValueError, match="not among the regimes"):
        table4_perturbation(files, regimes=[BASE])


# --------------------------------------------------------------------------------------------------
# Regimes compared, and the prediction.


def test_paired_comparison_and_its_verdict(loaded):
    comparisons = {c.task: c for c in compare_regimes(loaded, regimes=list(REGIMES))}
    assert list(comparisons) == list(FIXTURE_TASKS)
    t0, t1 = FIXTURE_TASKS
    # task 0: every worst-case difference is −0.9 and every random one −1.0, over 6 pairs: p = 2/2⁶ < 0.05; the
    # baseline run with one of three random samples above the grid has an exact median and is paired like the rest
    c = comparisons[t0]
    assert (c.regime, c.reference) == (STAB, BASE)
    assert c.differences["worst"].n == 6 and c.differences["worst"].mean == pytest.approx(-0.9)
    assert c.censored == {"worst": 0, "random": 0} and c.differences["random"].n == 6
    assert c.differences["random"].mean == pytest.approx(-1.0) and c.differences["random"].p_value == 2 / 2**6
    assert c.verdict == "less robust"
    assert (
        "By these measurements stabilized runs are less robust than baseline runs (random: CI below 0, p < 0.05; "
        "worst case: CI below 0, p < 0.05)."
    ) in comparison_sentence(c)
    # task 1: a left-censored worst case leaves 5 pairs (p ≥ 1/16); four censored baselines leave 2 random pairs
    c = comparisons[t1]
    assert c.censored == {"worst": 1, "random": 4} and c.differences["worst"].n == 5
    a = {(m, s): expected_run((t1, m, STAB, s))["random"] for m in MODELS for s in SEEDS if (m, s) != (MODELS[1], 2)}
    b = {(m, s): expected_run((t1, m, BASE, s))["random"] for m in MODELS for s in SEEDS if (m, s) != (MODELS[1], 2)}
    want = S.paired_difference({k: v for k, v in a.items() if k[0] != MODELS[0]}, b, interval="t")  # 2 pairs
    got = c.differences["random"]
    np.testing.assert_allclose([got.mean, got.ci_low, got.ci_high, got.p_value],
                               [want.mean, want.ci_low, want.ci_high, want.p_value], atol=1e-12)  # fmt: skip
    assert got.n == want.n == 2 and want.ci_low < 0 < want.ci_high and c.verdict == "not resolved"
    assert (
        "By these measurements stabilized runs are shown neither less nor more robust than baseline runs (random: CI "
        "includes 0; worst case: CI below 0 but p ≥ 0.05 (the least p with 5 pairs is 0.062))."
    ) in comparison_sentence(c)


def test_verdicts_follow_the_intervals():
    up = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # six pairs: the sign-flip test can reach p = 2/2⁶ < 0.05
    down, flat = [-x for x in up], [x * (-1) ** i for i, x in enumerate(up)]

    def comparison(**families):
        diffs = {f: S.paired_difference(v, [0.0] * len(v)) for f, v in families.items()}
        return RegimeComparison("task", STAB, BASE, diffs)

    assert comparison(worst=up, random=up).verdict == "more robust"
    assert comparison(worst=down, random=down).verdict == "less robust"
    c = comparison(worst=flat, random=flat)
    assert c.verdict == "not resolved"
    assert "are shown neither less nor more robust than baseline runs" in comparison_sentence(c)
    c = comparison(worst=down, random=up)
    assert c.verdict == "mixed" and "are less robust under worst case perturbations but more robust under random" in (
        comparison_sentence(c)
    )
    assert comparison(worst=[0.5]).verdict == "not resolved"  # one pair: no interval
    c = comparison(worst=up[:3])  # the CI is above 0, but 3 pairs cannot give p < 0.05
    assert c.verdict == "not resolved"
    assert "CI above 0 but p ≥ 0.05 (the least p with 3 pairs is 0.25)" in comparison_sentence(c)


def test_spearman_on_the_fixture_numbers(loaded):
    x, y, censored = [], [], 0
    for key in loaded:
        want = expected_run(key)
        if math.isnan(want["predicted"]):
            continue
        x.append(want["predicted"])
        y.append(want["worst"])
        censored += design(*key)["worst"] in (ABOVE, BELOW)
    corr = prediction_correlation(loaded, "worst")
    assert corr.all == S.spearman_ci(x, y)
    assert (corr.censored, corr.unpredicted, corr.all.n) == (censored, 1, len(x)) and censored == 1
    measured = [(a, b) for a, b, k in zip(x, y, [k for k in loaded if not math.isnan(expected_run(k)["predicted"])],
                strict=True) if design(*k)["worst"] not in (ABOVE, BELOW)]  # fmt: skip
    assert corr.measured == S.spearman_ci(*zip(*measured, strict=True))
    assert corr.all.rho > 0.5  # the fixture's prediction tracks its ε₅


# --------------------------------------------------------------------------------------------------
# Figures and captions.


def test_figure7_lines_thresholds_and_files(loaded, tmp_path):
    task = FIXTURE_TASKS[1]
    fig = build_perturbation_figure(loaded, task=task, regimes=list(REGIMES))
    panels = panel_axes(fig)
    assert [ax.get_label() for ax in panels] == [f"panel:{f}/{m}" for f in FAMILIES for m in MODELS]
    for ax in panels:
        family, model = ax.get_label().removeprefix("panel:").split("/")
        assert ax.get_xscale() == "log"
        lines = {line.get_gid(): line for line in ax.get_lines()}
        assert any(np.allclose(line.get_ydata(), -5.0) for line in ax.get_lines())  # the 5-point drop
        for regime in REGIMES:
            want = []
            for seed in SEEDS:
                d = design(task, model, regime, seed)
                curves = [curve(d["reference"], x) for x in ([d["worst"]] if family == "worst" else d["random"])]
                want.append(100 * (np.mean(curves, axis=0) - d["reference"]))
            line = lines[f"{family}/{model}/{regime}"]
            np.testing.assert_allclose(line.get_xdata(), 10.0 ** np.asarray(LEVELS))
            np.testing.assert_allclose(line.get_ydata(), np.mean(want, axis=0), atol=1e-9)
            predicted = [expected_run((task, model, regime, s))["predicted"] for s in SEEDS]
            x = 10.0 ** np.nanmean(predicted)
            np.testing.assert_allclose(lines[f"predicted/{regime}"].get_xdata(), [x, x])
        assert len(ax.collections) == len(REGIMES)  # one min–max band per regime
    paths = plot_perturbation(loaded, tmp_path / f"figure7_perturbation_{task}", task=task, regimes=list(REGIMES))
    assert [p.read_bytes()[:4] for p in paths] == [b"\x89PNG", b"%PDF"]


def test_figure8_panels_markers_and_rho(loaded, tmp_path):
    fig = build_prediction_figure(loaded, regimes=list(REGIMES))
    panels = panel_axes(fig)
    assert [ax.get_label() for ax in panels] == ["panel:worst", "panel:random"]
    for ax in panels:
        family = ax.get_label().removeprefix("panel:")
        markers = [line for line in ax.get_lines() if line.get_gid()]
        drawn = [k for k in loaded if not math.isnan(expected_run(k)["predicted"])]
        assert len(markers) == len(drawn)
        censored = [line for line in markers if line.get_gid().startswith("censored/")]
        assert all(line.get_markerfacecolor() == "none" for line in censored)
        assert len(censored) == sum(bool(loaded[k].eps5[family].censored) for k in drawn)
        corr = prediction_correlation(loaded, family)
        assert rho_text(corr.all) in ax.get_title() and ax.get_xscale() == ax.get_yscale() == "log"
    paths = plot_prediction(loaded, tmp_path / "figure8_prediction", regimes=list(REGIMES))
    assert [p.read_bytes()[:4] for p in paths] == [b"\x89PNG", b"%PDF"]


def test_captions_give_the_numbers_and_a_computed_verdict(loaded, table):
    t0, t1 = FIXTURE_TASKS
    text = table4_perturbation_report_caption(loaded, regimes=list(REGIMES))
    # What the table is, with the grid and random directions its runs recorded (not the config's), then the numbers.
    assert text.startswith("Table 4 (``table4_perturbation`` rule;")
    assert "on the grid log10 ε ∈ [-3, -2, -1, 0], for random directions (the median over 3 per run)" in text
    assert "Every cell: mean ± sd [95 % t CI] over 3 seeds (0, 1, 2)." in text
    assert "\n\nThis run:\n\n24 runs (seeds 0, 1, 2); ε grid 10^-3 … 10^0 (4 levels); 3 random direction(s)" in text
    assert "stabilized runs are less robust than baseline runs" in text
    assert "stabilized runs are shown neither less nor more robust than baseline runs" in text
    assert f"worst case: Spearman {rho_text(prediction_correlation(loaded, 'worst').all)}" in text
    pooled = [loaded[k] for k in loaded if k[0] == t0 and k[2] == STAB]
    assert f"log10 ε₅ worst case: {BASE} " in text and f"; {STAB} {family_text(pooled, 'worst')}" in text

    figure = perturbation_figure_caption(loaded, task=t1, regimes=list(REGIMES))
    row = _row(table, t1, MODELS[0], BASE)
    worst = format_summary(row["eps5_worst_mean"], row["eps5_worst_sd"], row["eps5_worst_ci_low"],
                             row["eps5_worst_ci_high"])  # fmt: skip
    assert f"- {MODELS[0].upper()}, {BASE} (seeds 0, 1, 2)" in figure and f"{worst} (n = 3)" in figure
    assert f"{t1}, {STAB} − {BASE} paired by model and seed" in figure and "bands: minimum to maximum" in figure
    assert t0 not in figure.split("\n", 1)[1]

    prediction = prediction_figure_caption(loaded, regimes=list(REGIMES))
    assert "1 run without a stable block left out" in prediction and "ranked as ties beyond the grid" in prediction
    # What Figure 7 is, with the number of test examples its runs recorded (not the config's perturbation.n_eval).
    assert "perturbed − unperturbed, on 64 test examples)" in perturbation_figure_description(loaded, task=t1)


def test_workflow_rules_follow_the_report_pattern():
    text = (ROOT / "workflow/rules/report_perturbation.smk").read_text()
    rules = re.findall(r"^rule (\w+):", text, flags=re.M)
    assert rules == ["table4_perturbation", "figure7_perturbation", "figure8_prediction"]
    for rule in rules:
        body = text.split(f"rule {rule}:", 1)[1].split("\nrule ", 1)[0]
        assert f'code=CODE["{rule}"]' in body and f'"../scripts/{rule}.py"' in body
        assert "localrule: True" in body and 'regimes=list(config["regimes"])' in body
        # one report section per stage; each item's report caption is the whole caption its job wrote
        assert 'category="6. Perturbation"' in body and f'caption="../report/{rule}.rst"' in body
        caption = (ROOT / f"workflow/report/{rule}.rst").read_text()
        assert caption == ".. include:: {{ snakemake.output.caption }}\n"
        script = (ROOT / f"workflow/scripts/{rule}.py").read_text()
        assert "sm = start(snakemake)" in script
        assert 'results("logs/' in body and 'results("benchmarks/' in body


def test_runs_without_random_samples_or_state_measurements(tmp_path):
    """A config with ``random_samples: 0`` and ``state_sequences: 0``, one regime and one seed: the worst case alone."""
    task, model = FIXTURE_TASKS[1], MODELS[0]
    files = {}
    for seed in (0,):
        data = record(task, model, BASE, seed)
        data["sweep"] = [row for row in data["sweep"] if row["family"] == "worst"]
        data["state"] = {}
        files[(task, model, BASE, seed)] = tmp_path / f"{seed}.json"
        write_json(files[(task, model, BASE, seed)], data)
    df = table4_perturbation(files)
    assert not any(c.startswith("eps5_random") for c in df.columns) and math.isnan(df["amplification_mean"][0])
    shown, _ = display_frame(df)
    assert "log10 ε₅, worst case" in shown.columns and "n = 1 in every cell" in table_notes(df)[-1]
    assert shown["log10 state amplification (measured)"][0] == ""
    caption = table4_perturbation_report_caption(files)
    assert "for the worst-case direction towards instability (no random directions)" in caption
    assert "Every cell: one seed (0): no spread." in caption and "This run:" in caption
    fig = build_perturbation_figure(files, task=task)
    assert [ax.get_label() for ax in panel_axes(fig)] == [f"panel:worst/{model}"]
    assert [ax.get_label() for ax in panel_axes(build_prediction_figure(files))] == ["panel:worst"]
    text = perturbation_figure_caption(files, task=task)
    assert f"only {BASE} runs, so no regime is compared" in text
    assert "ρ undefined (1 run;" in prediction_figure_caption(files)
