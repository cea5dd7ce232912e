"""Table 4 and Figures 7–8 from synthetic perturbation records: ε₅ against hand computations, censoring, the table's
aggregates against rnnrobust.stats, paired verdicts, Spearman's ρ on the fixture's numbers, and the figures, files
and captions (rnnrobust.robustness.perturbation.eps5, rnnrobust.reporting.table4_perturbation,
figure7_perturbation, figure8_prediction, captions)."""

from __future__ import annotations

import dataclasses
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
from rnnrobust.reporting.latex import LATEX_COLUMN_SEP_PT, LATEX_TEXT_WIDTH_PT, latex_layout
from rnnrobust.reporting.perturbation_captions import contrast_text, matched_text
from rnnrobust.reporting.perturbation_text import comparison_sentence, family_text, rho_text, scales_sentence
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table4_perturbation import table4_perturbation, table4_perturbation_report_caption
from rnnrobust.reporting.table_frame import display_frame, table_notes
from rnnrobust.robustness.perturbation import eps5 as FR
from rnnrobust.robustness.perturbation.comparisons import (
    RegimeComparison,
    compare_regimes,
    compare_scales,
    prediction_correlation,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TASKS = (TASKS[0], TASKS[2])  # two layers (the adding task's encoder and decoder), and one
MODELS = CELLS[:2]
SEEDS = (0, 1, 2)
LEVELS = (-3.0, -2.0, -1.0, 0.0)
BASE, STAB = REGIMES
ABOVE, BELOW = "above", "below"
#: (task index, model index, seed, sample) of the one Gaussian direction of a baseline run that never flipped 5 %.
PARTIAL = (0, 0, 0, 2)
#: The fixture's accuracy falls 5 points this far (log10 ε) above where 5 % of its predictions flip.
ACCURACY_LAG = 0.25
CHANCE = 0.5
#: The shift of the absolute and pre-activation scales from the relative one in the fixture's records.
SHIFTS = {"absolute": 0.4, "preactivation": -0.3}
#: The printed name of the primary threshold and of ε₅ in headers and captions.
FLIP, EPS5 = "ε at 5 % flips", "ε₅"
LABELS = {"gaussian": "Gaussian", "gaussian_rank": "Gaussian, rank-matched", "instability": "instability",
          "adversarial": "adversarial (PGD)"}  # fmt: skip


def _lagged(x: float | str) -> float | str:
    """The accuracy's ε₅ of a direction whose ε_flip5 is ``x``: ACCURACY_LAG later, censored beyond the grid."""
    if x in (ABOVE, BELOW):
        return x
    return ABOVE if x + ACCURACY_LAG > max(LEVELS) else x + ACCURACY_LAG


def design(task: str, model: str, regime: str, seed: int) -> dict:
    """The fixture's intended log10 ε_flip5 per family and sample (ABOVE / BELOW: censored), its log10 ε₅ (accuracy,
    :func:`_lagged`), prediction and state numbers. A run without a stable block has no prediction and no
    instability direction, hence no rank-matched control either (as the stage records it)."""
    t, m = FIXTURE_TASKS.index(task), MODELS.index(model)
    instability = {BASE: -1.4, STAB: -2.3}[regime] + 0.1 * seed + 0.05 * m
    predicted = instability - 0.5 - 0.02 * seed
    if (t, m, regime, seed) == (1, 1, STAB, 0):
        instability = BELOW  # flipped already at the smallest level
    stable = (t, m, regime, seed) != (1, 0, STAB, 2)
    gaussian = []
    for sample in (0, 1, 2):
        base = -0.7 + 0.1 * seed + 0.1 * sample
        if regime == BASE:
            # Every sample above the grid; two of three (the median is a bound); one of three (the median is exact).
            censored = (t, m) == (1, 0) or (t, m, seed, sample) == PARTIAL or ((t, m, seed) == (1, 1, 2) and sample > 0)
            gaussian.append(ABOVE if censored else base)
        elif t == 0:
            gaussian.append(-1.7 + 0.1 * seed + 0.1 * sample)
        else:
            gaussian.append(base + (0.2 if seed % 2 == 0 else -0.2))
    adversarial = {BASE: -2.2, STAB: -2.6}[regime] + 0.1 * seed
    if t == 1 and regime == STAB:
        adversarial += 0.45 if seed % 2 == 0 else -0.45  # no consistent difference in task 1
    flip5 = {"gaussian": gaussian}
    if stable:
        flip5["gaussian_rank"] = [x if x in (ABOVE, BELOW) else x - 0.3 for x in gaussian]
        flip5["instability"] = [instability]
    flip5["adversarial"] = [adversarial]
    layers = LAYERS[task]
    amplification = {layers[0]: 1.5 * (1 + 0.1 * seed)}
    peaks = {layers[0]: 2.0 + seed}
    if len(layers) > 1:
        amplification[layers[1]], peaks[layers[1]] = 3.0, 5.0
    top = max(amplification, key=amplification.get)
    unstable = regime == STAB and (m == 1 or (t, seed) == (1, 1))
    return {
        "flip5": flip5,
        "eps5": {family: [_lagged(x) for x in values] for family, values in flip5.items()},
        "predicted": predicted if stable else None,
        "amplification": amplification,
        "peaks": peaks,
        "top": top,
        "unstable": unstable,
        "reference": 0.9 - 0.01 * seed,
    }


def _start(x5: float) -> int:
    """The grid point below x5 where a fixture curve starts to rise (x5 rounded: −1.4 + 0.4 is a level, −1)."""
    return math.ceil(round(x5, 9)) - 1


def rising(x5: float | str, level: float) -> float:
    """A measured quantity (accuracy drop, flip rate) at ``level``: 0 up to the grid point below x5, then linear in
    log10 ε through 0.05 at x5; ABOVE: 0.01 everywhere, BELOW: 0.5."""
    if x5 == ABOVE:
        return 0.01
    if x5 == BELOW:
        return 0.5
    start = _start(x5)
    return 0.05 / (x5 - start) * max(0.0, level - start)


def curve(reference: float, x5: float | str) -> list[float]:
    """Accuracy at LEVELS of a direction whose ε₅ is x5 (:func:`rising`)."""
    return [reference - rising(x5, x) for x in LEVELS]


def recorded_crossing(x: float | str) -> dict:
    """One sample of a record's ``thresholds``, as ``bisection.Crossing.to_record`` and the stage write it."""
    if x == ABOVE:
        crossing = {"eps_log10": max(LEVELS), "low": max(LEVELS), "high": None, "censored": "above", "bisections": 0}
    elif x == BELOW:
        crossing = {"eps_log10": min(LEVELS), "low": None, "high": min(LEVELS), "censored": "below", "bisections": 0}
    else:
        crossing = {"eps_log10": x, "low": x - 1 / 128, "high": x + 1 / 128, "censored": None, "bisections": 5}
    value = crossing["eps_log10"]
    return crossing | {f"eps_{scale}_log10": value + shift for scale, shift in SHIFTS.items()}


def sweep_rows(family: str, sample: int, reference: float, flip: float | str, drop: float | str) -> list[dict]:
    """A curve's rows as the stage writes them: the grid, then one bisection point (``grid`` False) whose accuracy
    of 0 no curve or grid threshold may see."""
    rows = []
    for level in LEVELS:
        accuracy = reference - rising(drop, level)
        rows.append({"family": family, "sample": sample, "eps_log10": level, "eps": 10**level, "grid": True,
                     "loss": 1.0, "accuracy": accuracy, "drop": reference - accuracy,
                     "flip_rate": rising(flip, level), "kl": 0.1, "crossed": False})  # fmt: skip
    if flip not in (ABOVE, BELOW):
        rows.append(rows[0] | {"eps_log10": flip, "eps": 10**flip, "grid": False, "accuracy": 0.0, "flip_rate": 1.0})
    return rows


def _blocks_and_state(task: str, model: str, d: dict) -> tuple[dict, dict]:
    gate = GATES[model][-1]
    blocks, state = {}, {}
    for layer in LAYERS[task]:
        block = f"{layer}/{gate}"
        radius = 1.01 if d["unstable"] and layer == d["top"] else 0.9
        blocks[block] = {"spectral_radius": radius, "transient_peak": d["peaks"][layer],
                         "stability": "unstable" if radius > 1 else "stable"}  # fmt: skip
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
    return blocks, state


def record(task: str, model: str, regime: str, seed: int) -> dict:
    """A perturbation record of the stage as it is now: four families, grid and bisection rows, ``thresholds``."""
    d = design(task, model, regime, seed)
    ref = d["reference"]
    sweep, thresholds = [], {"flip5": {}, "drop5": {}}
    for family, flips in d["flip5"].items():
        for sample, (flip, drop) in enumerate(zip(flips, d["eps5"][family], strict=True)):
            sweep += sweep_rows(family, sample, ref, flip, drop)
            thresholds["flip5"].setdefault(family, []).append({"sample": sample, **recorded_crossing(flip)})
            thresholds["drop5"].setdefault(family, []).append({"sample": sample, **recorded_crossing(drop)})
    blocks, state = _blocks_and_state(task, model, d)
    predicted = None if d["predicted"] is None else 10.0 ** d["predicted"]
    return {
        "task": task, "model": model, "regime": regime, "seed": seed, "n_eval": 64, "n_test": 100,
        "precision": "float32", "chance_accuracy": CHANCE, "reference": {"loss": 0.5, "accuracy": ref},
        "blocks": blocks, "eps_pred_min": predicted, "sweep": sweep, "thresholds": thresholds, "state": state,
        "eps_instability_min": None if predicted is None else 2 * predicted,
    }  # fmt: skip


def old_record(task: str, model: str, regime: str, seed: int) -> dict:
    """The same run as the stage recorded it before issue 19: families ``random`` and ``worst``, grid rows without
    ``grid``, accuracy only, no ``thresholds`` (ε₅ is interpolated on the grid), ``eps_worst_min``."""
    data, d = record(task, model, regime, seed), design(task, model, regime, seed)
    sweep = []
    for family, old in (("instability", "worst"), ("gaussian", "random")):
        for sample, drop in enumerate(d["eps5"].get(family, [])):
            sweep += [{"family": old, "sample": sample, "eps_log10": x, "eps": 10**x, "loss": 1.0, "accuracy": a,
                       "crossed": False} for x, a in zip(LEVELS, curve(d["reference"], drop), strict=True)]  # fmt: skip
    reach = data["eps_instability_min"]
    data = {k: v for k, v in data.items() if k not in ("thresholds", "eps_instability_min", "chance_accuracy")}
    return data | {"sweep": sweep, "eps_worst_min": reach}


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


def _bounded(x: float | str) -> float:
    return {ABOVE: max(LEVELS), BELOW: min(LEVELS)}.get(x, x)


def _normalized(x: float | str, reference: float) -> float:
    """log10 normalised ε₅ of a :func:`curve` by hand: the accuracy's drop reaches 5 % of (reference − chance) between
    the grid points around x, on the line from 0 at the one below to 0.05 / (x − start) at the one above."""
    if x in (ABOVE, BELOW):
        return _bounded(x)
    start = _start(x)
    return start + (reference - CHANCE) * (x - start)


def expected_run(key) -> dict:
    """Per-run numbers by hand from the design: censored values at the grid's bounds, each family the median of its
    samples (None: the run has no such family)."""
    d = design(*key)
    families = list(d["flip5"])
    return {
        "flip5": {f: float(np.median([_bounded(x) for x in d["flip5"][f]])) for f in families},
        "eps5": {f: float(np.median([_bounded(x) for x in d["eps5"][f]])) for f in families},
        "eps5_normalized": {
            f: float(np.median([_normalized(x, d["reference"]) for x in d["eps5"][f]])) for f in families
        },
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
        assert run.flip5.keys() == run.eps5.keys() == run.curves.keys() == d["flip5"].keys(), key
        for name in FR.THRESHOLD_NAMES:
            for family, value in want[name].items():
                assert run.thresholds(name)[family].log10 == pytest.approx(value, abs=1e-9), (key, name, family)
        sides = {ABOVE: "above", BELOW: "below"}
        if "instability" in d["flip5"]:
            assert run.flip5["instability"].censored == sides.get(d["flip5"]["instability"][0], "")
        assert run.flip5["gaussian"].above == d["flip5"]["gaussian"].count(ABOVE)
        # the median is a bound when at least 2 of the 3 samples are censored, else exact
        assert run.flip5["gaussian"].censored == ("above" if d["flip5"]["gaussian"].count(ABOVE) >= 2 else ""), key
        np.testing.assert_allclose(run.predicted, want["predicted"], atol=1e-12)
        assert run.amplification == pytest.approx(want["amplification"])  # the median's maximum, not the max's
        assert run.transient_peak == pytest.approx(want["transient_peak"])
        assert run.amplification_layer == d["top"] and run.linear_unstable == d["unstable"]
        # the curves are the grid's: the bisection points (accuracy 0, flip rate 1) are not among them
        assert run.levels == LEVELS and run.random_samples == 3
        for family, flips in d["eps5"].items():
            mean = np.mean([curve(d["reference"], x) for x in flips], axis=0)
            np.testing.assert_allclose([run.curves[family][x] for x in LEVELS], mean, atol=1e-12)
        assert run.flip_curves.keys() == d["flip5"].keys()
        for family, flips in d["flip5"].items():
            mean = np.mean([[rising(x, level) for level in LEVELS] for x in flips], axis=0)
            np.testing.assert_allclose([run.flip_curves[family][x] for x in LEVELS], mean, atol=1e-12)
        # the other scales: the records' fields (recorded_crossing: +0.4 absolute, −0.3 pre-activation), censored
        # as on the relative scale; ε₅ normalised is interpolated on the grid, relative only
        for scale, shift in SHIFTS.items():
            for name, recorded in (("flip5", "flip5"), ("eps5", "eps5")):
                got = run.thresholds(name, scale)
                assert got.keys() == d[recorded].keys(), (key, name, scale)
                for family, values in d[recorded].items():
                    want = float(np.median([_bounded(x) + shift for x in values]))
                    assert got[family].log10 == pytest.approx(want, abs=1e-9), (key, name, scale, family)
                    assert got[family].censored == run.thresholds(name)[family].censored, (key, name, scale, family)
            assert run.thresholds("eps5_normalized", scale) == {}
        assert run.thresholds("flip5", "relative") is run.flip5


def test_an_old_record_is_read_with_its_families_renamed_and_eps5_on_the_grid(tmp_path):
    """A record of the stage before issue 19 (``random`` and ``worst``, no ``thresholds``, no ``grid``): its random
    directions are the Gaussian family, its ε₅ is interpolated on the grid, it has no ε_flip5, and Table 4 and
    Figure 8 report ε₅ for it."""
    keys = [(FIXTURE_TASKS[0], MODELS[0], regime, seed) for regime in REGIMES for seed in SEEDS]
    files = {}
    for key in keys:
        files[key] = tmp_path / f"{run_stem(*key)}.json"
        write_json(files[key], old_record(*key))
    runs = FR.load_fragility(files)
    for key, run in runs.items():
        want = expected_run(key)
        assert not run.flip5 and list(run.eps5) == ["gaussian", "worst"]
        # relative only, and no flip rates: the figure has no flip-rate panels
        assert not run.scaled and not run.flip_curves
        assert run.thresholds("eps5", "absolute") == {} and run.thresholds("flip5", "preactivation") == {}
        assert run.eps5["gaussian"].log10 == pytest.approx(want["eps5"]["gaussian"], abs=1e-9)
        assert run.eps5["worst"].log10 == pytest.approx(want["eps5"]["instability"], abs=1e-9)
        assert run.reach == pytest.approx(math.log10(2) + want["predicted"])
    table = table4_perturbation(files, regimes=list(REGIMES))
    assert not any(c.startswith("flip5_") for c in table.columns)
    row = _row(table, *keys[0][:3])
    gaussian = S.summarize([expected_run(k)["eps5"]["gaussian"] for k in keys[:3]], interval="t")
    np.testing.assert_allclose([row["eps5_gaussian_mean"], row["eps5_gaussian_ci_low"]], [gaussian.mean,
                               gaussian.ci_low], atol=1e-9)  # fmt: skip
    shown, _ = display_frame(table)
    assert f"log10 {EPS5}, Gaussian" in shown.columns and "interpolated linearly in log10 ε" in table_notes(table)[0]
    assert f"log10 {EPS5}, instability, all blocks (older records)" in shown.columns
    assert [ax.get_label() for ax in panel_axes(build_prediction_figure(files))] == ["panel:gaussian", "panel:worst"]
    figure = build_perturbation_figure(files, task=keys[0][0], regimes=list(REGIMES))
    assert [ax.get_label() for ax in panel_axes(figure)] == [f"panel:{f}/{MODELS[0]}/accuracy" for f in
                                                             ("gaussian", "worst")]  # fmt: skip
    caption = table4_perturbation_report_caption(files, regimes=list(REGIMES))
    assert "by scale" not in caption and "scales" not in caption
    assert "flips" not in perturbation_figure_description(files, task=keys[0][0])


def _gaussian_run(seed: int, gaussian: list) -> FR.RunFragility:
    """A run of the first fixture cell whose Gaussian directions reach ε_flip5 at ``gaussian`` (ABOVE: never)."""
    key = (FIXTURE_TASKS[0], MODELS[0], BASE, seed)
    data = record(*key)
    data["thresholds"]["flip5"]["gaussian"] = [{"sample": s, **recorded_crossing(x)} for s, x in enumerate(gaussian)]
    return FR.run_fragility(data)


def test_a_partly_censored_run_is_its_median_printed_with_its_count():
    """Issue 19: two of three directions flip 5 % at 10^−0.875, one never did. The run's value is the median,
    −0.875 (exact: the censored sample cannot move it), not the mean −0.583 of the bounds, and is printed with the
    count; with two of three censored the median is the grid's end, a bound printed with its count."""
    partly = _gaussian_run(0, [-0.875, ABOVE, -0.875])
    t = partly.flip5["gaussian"]
    assert t.log10 == pytest.approx(-0.875) and (t.censored, t.above, t.n) == ("", 1, 3)
    one = table4_perturbation({partly.run: partly})
    assert one["flip5_gaussian_text"][0] == ""  # exact: the summary is printed
    assert one["flip5_gaussian_per_seed_text"][0] == {0: "-0.875 (1 of 3 samples above the grid)"}
    assert family_text([partly], "gaussian") == "-0.875 (1 of 3 samples above the grid) (n = 1)"
    mostly = _gaussian_run(1, [-0.875, ABOVE, ABOVE])
    t = mostly.flip5["gaussian"]
    assert t.log10 == max(LEVELS) and (t.censored, t.above) == ("above", 2)
    both = table4_perturbation({partly.run: partly, mostly.run: mostly})
    mean, sd = np.mean([-0.875, 0.0]), np.std([-0.875, 0.0], ddof=1)
    assert both["flip5_gaussian_text"][0] == f"≥ {mean:.2f} ± {sd:.2f}, 1/2 above"
    assert both["flip5_gaussian_per_seed_text"][0] == {
        0: "-0.875 (1 of 3 samples above the grid)", 1: "≥ 0 (2 of 3 samples above the grid)"}  # fmt: skip
    # Two samples, one above: the median (−0.875 + 0) / 2 is a lower bound short of the grid's end, not "> 0".
    even = _gaussian_run(2, [-0.875, ABOVE])
    assert table4_perturbation({even.run: even})["flip5_gaussian_text"][0] == "≥ -0.4375, 1/1 above"
    # Ranked by the median: the partly censored run counts as measured, the mostly censored one at the grid's end.
    corr = prediction_correlation({partly.run: partly, mostly.run: mostly}, "gaussian")
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
    aggregates = ["reference_accuracy", "predicted", "reach", "amplification", "transient_peak"]
    aggregates += [f"{name}_{f}" for name in FR.THRESHOLD_NAMES for f in FAMILIES]
    for name in aggregates:
        assert all(f"{name}_{p}" in table.columns for p in parts), name
    assert list(table[["task", "model", "regime"]].itertuples(index=False, name=None)) == [
        (t, m, r) for t in FIXTURE_TASKS for m in MODELS for r in REGIMES
    ]
    shown, _ = display_frame(table)
    # The primary threshold of the four families beside accuracy and prediction: 9 columns; n printed once, in the
    # header where a column's cells share it (a run without a stable block: no instability direction, no control,
    # no prediction: per cell)
    assert list(shown.columns) == [
        "task", "model", "regime", "unperturbed accuracy (%) (n=3)", f"log10 {FLIP}, Gaussian (n=3)",
        f"log10 {FLIP}, Gaussian, rank-matched", f"log10 {FLIP}, instability", f"log10 {FLIP}, adversarial (PGD) (n=3)",
        "predicted log10 ε (d/‖W‖₂, min)",
    ]  # fmt: skip
    assert sum(cell.endswith("(n=2)") for cell in shown["predicted log10 ε (d/‖W‖₂, min)"]) == 1


def test_table4_fits_a_page(table):
    """At most 9 printed columns, headers of at most 4 lines, and a width within the text (as every table)."""
    layout = latex_layout(table)
    assert len(layout) <= 9, [h for _, h, _ in layout]
    assert sum(w + LATEX_COLUMN_SEP_PT for _, _, w in layout) <= LATEX_TEXT_WIDTH_PT
    assert all(len(lines) <= 4 for _, lines, _ in layout)


def test_table4_notes_define_the_thresholds_and_the_families(table):
    first, censoring, predicted = table_notes(table)[:3]
    assert "5 % of the predictions on the evaluation subset first differ" in first
    assert "per output character for adding" in first and "bisected in log10 ε to 1/64 decade" in first
    assert "(64 test examples)" in first
    assert "Gaussian 3; Gaussian, rank-matched 3; instability 1; adversarial (PGD) 1 per run" in first
    assert "disjoint from the evaluation subset: a lower bound on the worst case" in first
    assert "worst case" not in first.replace("a lower bound on the worst case", "")
    assert "≥ mean ± sd, k/n above is a lower bound" in censoring
    assert "test accuracy first falls 5 points below the unperturbed accuracy, bisected" in predicted


def test_table4_aggregates_equal_stats_of_the_hand_computed_runs(table):
    for task in FIXTURE_TASKS:
        for model in MODELS:
            for regime in REGIMES:
                row = _row(table, task, model, regime)
                per_run = [expected_run((task, model, regime, s)) for s in SEEDS]
                columns = {"predicted": [r["predicted"] for r in per_run]}
                columns |= {name: [r[name] for r in per_run] for name in ("amplification", "transient_peak")}
                for name in FR.THRESHOLD_NAMES:
                    for family in FAMILIES:
                        columns[f"{name}_{family}"] = [r[name].get(family, math.nan) for r in per_run]
                for column, values in columns.items():
                    want = S.summarize(values, interval="t")  # 3 seeds: Student's t
                    got = [row[f"{column}_{p}"] for p in ("mean", "sd", "ci_low", "ci_high")]
                    np.testing.assert_allclose(got, [want.mean, want.sd, want.ci_low, want.ci_high], atol=1e-9)
                    assert row[f"{column}_n"] == want.n, column
                accuracy = S.summarize(100 * design(task, model, regime, s)["reference"] for s in SEEDS)
                assert row["reference_accuracy_mean"] == pytest.approx(accuracy.mean)


def test_table4_prints_censored_cells_as_bounds_with_counts(table):
    shown, _ = display_frame(table)
    shown.index = [f"{t}/{m}/{r}" for t, m, r in table[["task", "model", "regime"]].itertuples(index=False)]
    t0, t1 = FIXTURE_TASKS
    gaussian = f"log10 {FLIP}, Gaussian (n=3)"
    # every seed censored: the bound, never a bare number at the grid's end
    assert shown.loc[f"{t1}/{MODELS[0]}/{BASE}", gaussian] == "> 0, 3/3 above"
    # one seed's median a bound (two of its three samples above): a lower bound of the mean, with its count
    row = _row(table, t1, MODELS[1], BASE)
    mean, sd = row["flip5_gaussian_mean"], row["flip5_gaussian_sd"]
    assert shown.loc[f"{t1}/{MODELS[1]}/{BASE}", gaussian] == f"≥ {mean:.2f} ± {sd:.2f}, 1/3 above"
    assert (row["flip5_gaussian_above"], row["flip5_gaussian_below"]) == (1, 0)
    assert row["flip5_gaussian_per_seed_text"][2] == "≥ 0 (2 of 3 samples above the grid)"
    # one sample of one seed above the grid: that seed's median is exact, the cell is the summary
    row = _row(table, t0, MODELS[0], BASE)
    assert (row["flip5_gaussian_above"], row["flip5_gaussian_below"]) == (0, 0)
    # seed 0: samples −0.7, −0.6 and one above the grid (carried as 0): median −0.6, wherever beyond it that one lies
    assert row["flip5_gaussian_per_seed"][0] == pytest.approx(-0.6) and row["flip5_gaussian_mean"] == pytest.approx(
        -0.5
    )
    assert row["flip5_gaussian_per_seed_text"] == {0: "-0.6 (1 of 3 samples above the grid)", 1: "-0.5", 2: "-0.4"}
    summary = format_summary(*(row[f"flip5_gaussian_{p}"] for p in ("mean", "sd", "ci_low", "ci_high")))
    assert shown.loc[f"{t0}/{MODELS[0]}/{BASE}", gaussian] == summary
    # flipped at the smallest level: an upper bound
    row = _row(table, t1, MODELS[1], STAB)
    mean, sd = row["flip5_instability_mean"], row["flip5_instability_sd"]
    assert shown.loc[f"{t1}/{MODELS[1]}/{STAB}", f"log10 {FLIP}, instability"] == f"≤ {mean:.2f} ± {sd:.2f}, 1/3 below"
    # uncensored cells print the summary itself (with n: the column's cells differ in it)
    row = _row(table, t0, MODELS[0], STAB)
    assert shown.loc[f"{t0}/{MODELS[0]}/{STAB}", f"log10 {FLIP}, instability"] == format_summary(
        row["flip5_instability_mean"], row["flip5_instability_sd"], row["flip5_instability_ci_low"],
        row["flip5_instability_ci_high"]) + " (n=3)"  # fmt: skip
    # the unstable linear block's transient peak: in the CSV only, as text
    assert _row(table, t0, MODELS[1], STAB)["transient_peak_text"] == "unstable"
    assert _row(table, t1, MODELS[0], STAB)["transient_peak_text"] == "1/3 unstable"
    assert not any("amplification" in c or "transient" in c for c in shown.columns)
    assert _row(table, t1, MODELS[0], STAB)["unpredicted"] == 1


def test_table4_files(table, tmp_path):
    paths = write_table(table, tmp_path / "table4_perturbation", "Table 4")
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex", ".html"]
    md = paths[1].read_text()
    assert "> 0, 3/3 above" in md and "(n=2)" in md
    csv = paths[0].read_text()
    assert "eps5_normalized_gaussian_mean" in csv and "amplification_mean" in csv
    assert "\\varepsilon$ at 5 \\%" in paths[2].read_text()


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
    # task 0, ε_flip5 (the default): every instability difference is −0.9, every Gaussian and rank-matched one
    # −1.0, every adversarial one −0.4, over 6 pairs: p = 2/2⁶ < 0.05; the baseline run with one of three Gaussian
    # samples above the grid has an exact median and is paired like the rest
    c = comparisons[t0]
    assert (c.regime, c.reference, c.threshold) == (STAB, BASE, "flip5") and c.families == list(FAMILIES)
    assert c.differences["instability"].n == 6 and c.differences["instability"].mean == pytest.approx(-0.9)
    assert c.censored == dict.fromkeys(FAMILIES, 0) and c.differences["gaussian"].n == 6
    assert c.differences["gaussian"].mean == pytest.approx(-1.0) and c.differences["gaussian"].p_value == 2 / 2**6
    assert c.differences["adversarial"].mean == pytest.approx(-0.4)
    # each p = 2/2⁶ alone is < 0.05, but Holm over the regime's 2 tasks × 4 families leaves none below it
    tests = [(t, f) for t in FIXTURE_TASKS for f in comparisons[t].families]
    raw = [
        comparisons[t].differences[f].p_value for t, f in tests if not math.isnan(comparisons[t].differences[f].p_value)
    ]
    adjusted = dict(zip([(t, f) for t, f in tests if not math.isnan(comparisons[t].differences[f].p_value)],
                        S.holm(raw), strict=True))  # fmt: skip
    for (t, f), p in adjusted.items():
        assert comparisons[t].p_holm[f] == pytest.approx(p)
    assert c.p_holm["gaussian"] >= 8 / 2**6 and c.verdict == "not resolved"
    assert (
        "By these measurements stabilized runs are shown neither less nor more robust than baseline runs (Gaussian: "
        "CI below 0 but Holm-adjusted p ≥ 0.05 (the least p with 6 pairs is 0.031)"
    ) in comparison_sentence(c)
    assert "Holm adjusts each regime's p over its task × family tests." in comparison_sentence(c)
    # without Holm (a comparison built alone) the same differences are resolved: every family below 0
    alone = dataclasses.replace(c, p_holm={})
    assert alone.verdict == "less robust"
    assert (
        "By these measurements stabilized runs are less robust than baseline runs (Gaussian: CI below 0, p < 0.05; "
        "Gaussian, rank-matched: CI below 0, p < 0.05; instability: CI below 0, p < 0.05; adversarial (PGD): CI "
        "below 0, p < 0.05)."
    ) in comparison_sentence(alone)
    assert f"paired by model and seed, log10 {FLIP}: Gaussian " in comparison_sentence(c)
    # ε₅ on request: the accuracy's thresholds lie ACCURACY_LAG above the flips on both sides
    c = next(c for c in compare_regimes(loaded, regimes=list(REGIMES), threshold="eps5") if c.task == t0)
    assert c.threshold == "eps5" and c.differences["instability"].mean == pytest.approx(-0.9)
    assert f"log10 {EPS5}: Gaussian" in comparison_sentence(c)
    # task 1: a left-censored instability threshold and a run without a stable block leave 4 pairs (p ≥ 1/8);
    # four censored baselines leave 2 Gaussian pairs
    c = comparisons[t1]
    assert c.censored == {"gaussian": 4, "gaussian_rank": 3, "instability": 1, "adversarial": 0}
    assert c.differences["instability"].n == 4
    a = {(m, s): expected_run((t1, m, STAB, s))["flip5"]["gaussian"] for m in MODELS for s in SEEDS}
    b = {(m, s): expected_run((t1, m, BASE, s))["flip5"]["gaussian"] for m in MODELS for s in SEEDS}
    uncensored = [(MODELS[1], 0), (MODELS[1], 1)]
    want = S.paired_difference({k: a[k] for k in uncensored}, {k: b[k] for k in uncensored}, interval="t")
    got = c.differences["gaussian"]
    np.testing.assert_allclose([got.mean, got.ci_low, got.ci_high, got.p_value],
                               [want.mean, want.ci_low, want.ci_high, want.p_value], atol=1e-12)  # fmt: skip
    assert got.n == want.n == 2 and want.ci_low < 0 < want.ci_high and c.verdict == "not resolved"
    assert (
        "By these measurements stabilized runs are shown neither less nor more robust than baseline runs (Gaussian: "
        "CI includes 0; Gaussian, rank-matched: CI includes 0; instability: CI below 0 but Holm-adjusted p ≥ 0.05 "
        f"(the least p with 4 pairs is {S.min_p_value(4):.2g}); adversarial (PGD): CI includes 0)."
    ) in comparison_sentence(c)


#: The scaled fixture's stabilized runs: their thresholds this much higher on the absolute scale (every family), and
#: on the pre-activation scale for the adversarial family only (its direction sizes the pre-activations differently).
STAB_SHIFTS = {"absolute": 0.6, "preactivation": 0.3}
#: The stabilized run of task 0 whose adversarial threshold has no absolute value in its record.
NO_ABSOLUTE = (FIXTURE_TASKS[0], MODELS[1], STAB, 2)


def scaled_record(task: str, model: str, regime: str, seed: int) -> dict:
    """:func:`record` with the other scales moved for stabilized runs (:data:`STAB_SHIFTS`), so that a conclusion on
    the relative scale changes sign on another."""
    data = record(task, model, regime, seed)
    if regime != STAB:
        return data
    for name, families in data["thresholds"].items():
        for family, samples in families.items():
            for sample in samples:
                sample["eps_absolute_log10"] += STAB_SHIFTS["absolute"]
                sample["eps_preactivation_log10"] += STAB_SHIFTS["preactivation"] * (family == "adversarial")
                if (task, model, regime, seed) == NO_ABSOLUTE and family == "adversarial" and name == "flip5":
                    del sample["eps_absolute_log10"]
    return data


@pytest.fixture(scope="module")
def scaled():
    keys = [(t, m, r, s) for t in FIXTURE_TASKS for m in MODELS for r in REGIMES for s in SEEDS]
    return {key: FR.run_fragility(scaled_record(*key)) for key in keys}


def _hand_scale(key, family: str, scale: str) -> float:
    """A run's log10 ε_flip5 of ``family`` on ``scale`` by hand: the relative median shifted as the records are."""
    value = expected_run(key)["flip5"][family] + SHIFTS.get(scale, 0.0)
    if key[2] == STAB and scale == "absolute":
        value += STAB_SHIFTS["absolute"]
    if key[2] == STAB and scale == "preactivation" and family == "adversarial":
        value += STAB_SHIFTS["preactivation"]
    return value


def test_regimes_compared_on_every_scale(scaled):
    t0 = FIXTURE_TASKS[0]
    (c,) = [c for c in compare_scales(scaled, regimes=list(REGIMES)) if c.task == t0]
    assert (c.regime, c.reference, c.threshold) == (STAB, BASE, "flip5") and list(c.differences) == list(FAMILIES)
    for family in FAMILIES:
        assert list(c.differences[family]) == list(FR.SCALES)
        for scale in FR.SCALES:
            pairs = [
                (m, s)
                for m in MODELS
                for s in SEEDS
                if not (scale == "absolute" and family == "adversarial" and (t0, m, STAB, s) == NO_ABSOLUTE)
            ]
            want = S.paired_difference({p: _hand_scale((t0, *p[:1], STAB, p[1]), family, scale) for p in pairs},
                                       {p: _hand_scale((t0, *p[:1], BASE, p[1]), family, scale) for p in pairs},
                                       interval="t")  # fmt: skip
            got = c.differences[family][scale]
            assert got.n == want.n == len(pairs) and got.mean == pytest.approx(want.mean, abs=1e-9), (family, scale)
            # the comparison of that scale alone is the same one
            alone = next(x for x in compare_regimes(scaled, regimes=list(REGIMES), scale=scale) if x.task == t0)
            assert alone.scale == scale and alone.differences[family].mean == pytest.approx(got.mean, abs=1e-12)
    # adversarial: −0.4 relative, −0.4 + 0.6 absolute, −0.4 + 0.3 pre-activation: the sign changes
    assert c.sign_changes == ["adversarial"]
    assert scales_sentence(c) == (
        f"{t0}, {STAB} − {BASE}, mean paired difference of log10 {FLIP} by scale: Gaussian -1.00 relative, -0.40 "
        "absolute, -1.00 pre-activation; Gaussian, rank-matched -1.00 relative, -0.40 absolute, -1.00 pre-activation; "
        "instability -0.90 relative, -0.30 absolute, -0.90 pre-activation; adversarial (PGD) -0.40 relative, +0.20 "
        "absolute, -0.10 pre-activation (6/5/6 pairs). The sign changes between scales: adversarial (PGD) (below 0 "
        "relative and pre-activation, above 0 absolute)."
    )
    alone = next(x for x in compare_regimes(scaled, regimes=list(REGIMES), scale="absolute") if x.task == t0)
    assert f"log10 {FLIP} (absolute scale): Gaussian" in comparison_sentence(alone)
    # Table 4's report caption: the sentence after the task's comparison; the fixture's own records keep every sign
    caption = table4_perturbation_report_caption(scaled, regimes=list(REGIMES))
    assert f"  {scales_sentence(c)}\n" in caption
    assert caption.index(scales_sentence(c)) < caption.index(f"- {FIXTURE_TASKS[1]} (models and seeds pooled)")
    assert "The same threshold is read on 3 scales (relative, ε with ‖ΔW_b‖₂ = ε‖W_b‖₂" in caption
    plain = table4_perturbation_report_caption({k: FR.run_fragility(record(*k)) for k in scaled}, regimes=list(REGIMES))
    assert plain.count("No family's sign changes between scales.") == 2 and "The sign changes" not in plain
    assert "adversarial (PGD) -0.40 relative, -0.40 absolute, -0.40 pre-activation." in plain


def test_a_median_is_a_bound_where_a_censored_sample_can_move_it():
    """On the relative scale the count rule (⌈n/2⌉ censored one way) and the positions agree; on another scale a
    censored sample's bound can lie below the others, and the median is then a bound even with one of three."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(1, 7))
        sides = rng.choice(["", "above", "below"], size=n, p=[0.5, 0.3, 0.2])
        values = rng.uniform(-2.9, -0.1, size=n)
        samples = tuple(FR.Threshold({"above": 0.0, "below": -3.0}.get(side, x), side)
                        for x, side in zip(values, sides, strict=True))  # fmt: skip
        above, below = (sum(sides == side) >= (n + 1) // 2 for side in ("above", "below"))
        want = {(False, False): "", (True, False): "above", (False, True): "below"}.get((above, below), "both")
        assert FR.FamilyThreshold(samples).censored == want, samples
    data = record(FIXTURE_TASKS[0], MODELS[0], BASE, 0)
    data["thresholds"]["flip5"]["gaussian"] = [{"sample": i, **recorded_crossing(x)} for i, x in
                                               enumerate([-0.875, ABOVE, -0.875])]  # fmt: skip
    data["thresholds"]["flip5"]["gaussian"][1]["eps_preactivation_log10"] = -2.0  # below the others' −1.175
    run = FR.run_fragility(data)
    assert run.flip5["gaussian"].censored == "" and run.thresholds("flip5", "absolute")["gaussian"].censored == ""
    pre = run.thresholds("flip5", "preactivation")["gaussian"]
    assert pre.log10 == pytest.approx(-1.175) and pre.censored == "above"
    with pytest.raises(ValueError, match="unknown scale"):
        run.thresholds("flip5", "log")


def test_table4_csv_has_the_primary_threshold_on_the_other_scales(table):
    for task in FIXTURE_TASKS:
        for model in MODELS:
            for regime in REGIMES:
                row = _row(table, task, model, regime)
                for family in FAMILIES:
                    for scale, shift in SHIFTS.items():
                        per_run = {s: expected_run((task, model, regime, s))["flip5"].get(family, math.nan) + shift
                                   for s in SEEDS}  # fmt: skip
                        name = f"flip5_{family}_{scale}"
                        want = S.summarize(list(per_run.values()), interval="t")
                        got = [row[f"{name}_{p}"] for p in ("mean", "sd", "ci_low", "ci_high")]
                        np.testing.assert_allclose(got, [want.mean, want.sd, want.ci_low, want.ci_high], atol=1e-9)
                        np.testing.assert_allclose([row[f"{name}_per_seed"][s] for s in SEEDS], list(per_run.values()),
                                                   atol=1e-9)  # fmt: skip
                        # censored as on the relative scale (the fixture shifts every sample of a run alike)
                        assert (row[f"{name}_above"], row[f"{name}_below"]) == (
                            row[f"flip5_{family}_above"], row[f"flip5_{family}_below"])  # fmt: skip
    assert not any(c.startswith(("eps5_", "eps5_normalized_")) and c.endswith("absolute_mean") for c in table.columns)
    shown, _ = display_frame(table)
    assert not any("absolute" in c or "preactivation" in c for c in shown.columns)
    assert "flip5_<family>_absolute_… and flip5_<family>_preactivation_…" in table_notes(table)[2]


def test_verdicts_follow_the_intervals():
    up = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # six pairs: the sign-flip test can reach p = 2/2⁶ < 0.05
    down, flat = [-x for x in up], [x * (-1) ** i for i, x in enumerate(up)]

    def comparison(**families):
        diffs = {f: S.paired_difference(v, [0.0] * len(v)) for f, v in families.items()}
        return RegimeComparison("task", STAB, BASE, diffs)

    assert comparison(instability=up, gaussian=up).verdict == "more robust"
    assert comparison(instability=down, gaussian=down).verdict == "less robust"
    c = comparison(instability=flat, gaussian=flat)
    assert c.verdict == "not resolved"
    assert "are shown neither less nor more robust than baseline runs" in comparison_sentence(c)
    c = comparison(instability=down, gaussian=up, adversarial=flat)
    assert c.verdict == "mixed" and (
        "are less robust under instability perturbations but more robust under Gaussian perturbations than baseline "
        "runs, and not resolved under adversarial (PGD) perturbations"
    ) in comparison_sentence(c)
    assert comparison(instability=[0.5]).verdict == "not resolved"  # one pair: no interval
    c = comparison(instability=up[:3])  # the CI is above 0, but 3 pairs cannot give p < 0.05
    assert c.verdict == "not resolved"
    assert "CI above 0 but p ≥ 0.05 (the least p with 3 pairs is 0.25)" in comparison_sentence(c)


def test_spearman_on_the_fixture_numbers(loaded):
    x, y, accuracy, censored, measured = [], [], [], 0, []
    for key in loaded:
        want, flips = expected_run(key), design(*key)["flip5"]
        if math.isnan(want["predicted"]):
            continue
        x.append(want["predicted"])
        y.append(want["flip5"]["instability"])
        accuracy.append(want["eps5"]["instability"])
        censored += flips["instability"][0] in (ABOVE, BELOW)
        if flips["instability"][0] not in (ABOVE, BELOW):
            measured.append((x[-1], y[-1]))
    corr = prediction_correlation(loaded, "instability")
    assert corr.threshold == "flip5" and corr.all == S.spearman_ci(x, y)
    # the run without a stable block has no instability direction: not counted as unpredicted
    assert (corr.censored, corr.unpredicted, corr.all.n) == (censored, 0, len(x)) and censored == 1
    assert corr.measured == S.spearman_ci(*zip(*measured, strict=True))
    assert corr.all.rho > 0.5  # the fixture's prediction tracks its thresholds
    # the Gaussian family has a value for that run: it is left out for want of a prediction
    assert prediction_correlation(loaded, "gaussian").unpredicted == 1
    assert prediction_correlation(loaded, "instability", "eps5").all == S.spearman_ci(x, accuracy)


# --------------------------------------------------------------------------------------------------
# Figures and captions.


def _figure7_means(task: str, model: str, regime: str, family: str) -> dict[str, np.ndarray]:
    """The lines Figure 7 should draw, by hand from the design: per measure the mean over seeds of each run's mean
    over its samples, the accuracy change in points and the flip rate in percent."""
    accuracy, flips = [], []
    for seed in SEEDS:
        d = design(task, model, regime, seed)
        if family in d["eps5"]:
            accuracy.append(100 * (np.mean([curve(d["reference"], x) for x in d["eps5"][family]], axis=0)
                                   - d["reference"]))  # fmt: skip
            flips.append(100 * np.mean([[rising(x, level) for level in LEVELS] for x in d["flip5"][family]], axis=0))
    return {"accuracy": np.mean(accuracy, axis=0), "flip_rate": np.mean(flips, axis=0)}


def test_figure7_lines_thresholds_and_files(loaded, tmp_path):
    task = FIXTURE_TASKS[1]
    fig = build_perturbation_figure(loaded, task=task, regimes=list(REGIMES))
    panels = panel_axes(fig)
    # per family row, each model's accuracy panel beside its flip-rate panel
    assert [ax.get_label() for ax in panels] == [
        f"panel:{f}/{m}/{measure}" for f in FAMILIES for m in MODELS for measure in ("accuracy", "flip_rate")
    ]
    limits = {}
    for ax in panels:
        family, model, measure = ax.get_label().removeprefix("panel:").split("/")
        assert ax.get_xscale() == "log" and LABELS[family] in ax.get_title()
        lines = {line.get_gid(): line for line in ax.get_lines()}
        level = {"accuracy": -5.0, "flip_rate": 5.0}[measure]  # the 5-point drop, 5 % of predictions flipped
        assert any(np.allclose(line.get_ydata(), level) for line in ax.get_lines() if not line.get_gid())
        for regime in REGIMES:
            line = lines[f"{measure}/{family}/{model}/{regime}"]
            np.testing.assert_allclose(line.get_xdata(), 10.0 ** np.asarray(LEVELS))  # the grid: no bisection point
            np.testing.assert_allclose(line.get_ydata(), _figure7_means(task, model, regime, family)[measure],
                                       atol=1e-9)  # fmt: skip
            predicted = [expected_run((task, model, regime, s))["predicted"] for s in SEEDS]
            x = 10.0 ** np.nanmean(predicted)
            np.testing.assert_allclose(lines[f"predicted/{regime}"].get_xdata(), [x, x])
        assert len(ax.collections) == len(REGIMES)  # one min–max band per regime
        limits.setdefault(measure, set()).add(ax.get_ylim())
    # every panel of a measure on one y axis, the two measures on their own
    assert len(limits["accuracy"]) == len(limits["flip_rate"]) == 1 and limits["accuracy"] != limits["flip_rate"]
    low, high = limits["flip_rate"].pop()
    assert low < 0 < 5 < 100 * max(rising(BELOW, 0.0), 0.05) < high
    paths = plot_perturbation(loaded, tmp_path / f"figure7_perturbation_{task}", task=task, regimes=list(REGIMES))
    assert [p.read_bytes()[:4] for p in paths] == [b"\x89PNG", b"%PDF"]


def test_figure8_panels_markers_and_rho(loaded, tmp_path):
    fig = build_prediction_figure(loaded, regimes=list(REGIMES))
    panels = panel_axes(fig)
    assert [ax.get_label() for ax in panels] == [f"panel:{f}" for f in FAMILIES]
    for ax in panels:
        family = ax.get_label().removeprefix("panel:")
        markers = [line for line in ax.get_lines() if line.get_gid()]
        drawn = [k for k in loaded if not math.isnan(expected_run(k)["predicted"])]
        assert len(markers) == len(drawn)
        censored = [line for line in markers if line.get_gid().startswith("censored/")]
        assert all(line.get_markerfacecolor() == "none" for line in censored)
        assert len(censored) == sum(bool(loaded[k].flip5[family].censored) for k in drawn)
        # each marker at (predicted, ε_flip5) of its run
        ys = sorted(float(line.get_ydata()[0]) for line in markers)
        np.testing.assert_allclose(ys, sorted(10.0 ** expected_run(k)["flip5"][family] for k in drawn), rtol=1e-9)
        corr = prediction_correlation(loaded, family)
        assert rho_text(corr.all) in ax.get_title() and ax.get_xscale() == ax.get_yscale() == "log"
        assert ax.get_ylabel() == f"measured {FLIP}, {LABELS[family]}"
    eps5 = build_prediction_figure(loaded, regimes=list(REGIMES), threshold="eps5")
    assert panel_axes(eps5)[0].get_ylabel() == f"measured {EPS5}, Gaussian"
    paths = plot_prediction(loaded, tmp_path / "figure8_prediction", regimes=list(REGIMES))
    assert [p.read_bytes()[:4] for p in paths] == [b"\x89PNG", b"%PDF"]


def test_captions_give_the_numbers_and_a_computed_verdict(loaded, table):
    t0, t1 = FIXTURE_TASKS
    text = table4_perturbation_report_caption(loaded, regimes=list(REGIMES))
    # What the table is, with the grid and directions its runs recorded (not the config's), then the numbers.
    assert text.startswith("Table 4 (``table4_perturbation`` rule;")
    assert (
        "on the grid log10 ε ∈ [-3, -2, -1, 0], for the directions per run Gaussian 3; Gaussian, rank-matched 3" in text
    )
    assert "Every cell: mean ± sd [95 % t CI] over 3 seeds (0, 1, 2)." in text
    assert (
        "\n\nThis run:\n\n24 runs (seeds 0, 1, 2); ε grid 10^-3 … 10^0 (4 levels); directions per run: Gaussian 3"
        in text
    )
    # Holm over the regime's task × family tests leaves no 6-pair difference resolved (p ≥ 8 · 2/2⁶)
    assert "stabilized runs are less robust than baseline runs" not in text
    assert text.count("stabilized runs are shown neither less nor more robust than baseline runs") == 2
    assert f"instability: Spearman {rho_text(prediction_correlation(loaded, 'instability').all)}" in text
    pooled = [loaded[k] for k in loaded if k[0] == t0 and k[2] == STAB]
    assert f"log10 {FLIP}, instability: {BASE} " in text and f"; {STAB} {family_text(pooled, 'instability')}" in text
    assert "worst" not in text.replace("a lower bound on the worst case", "")

    figure = perturbation_figure_caption(loaded, task=t1, regimes=list(REGIMES))
    row = _row(table, t1, MODELS[0], BASE)
    adversarial = format_summary(row["flip5_adversarial_mean"], row["flip5_adversarial_sd"],
                                 row["flip5_adversarial_ci_low"], row["flip5_adversarial_ci_high"])  # fmt: skip
    assert f"- {MODELS[0].upper()}, {BASE} (seeds 0, 1, 2)" in figure and f"{adversarial} (n = 3)" in figure
    assert f"{t1}, {STAB} − {BASE} paired by model and seed" in figure and "bands: minimum to maximum" in figure
    assert t0 not in figure.split("\n", 1)[1]

    prediction = prediction_figure_caption(loaded, regimes=list(REGIMES))
    assert "1 run without a stable block left out" in prediction and "ranked as ties beyond the grid" in prediction
    # What Figure 7 is, with the number of test examples its runs recorded (not the config's perturbation.n_eval).
    description = perturbation_figure_description(loaded, task=t1)
    assert "perturbed − unperturbed, on 64 test examples)" in description
    assert "top to bottom: Gaussian; Gaussian, rank-matched; instability; adversarial (PGD)" in description


def test_workflow_rules_follow_the_report_pattern():
    text = (ROOT / "workflow/rules/report_perturbation.smk").read_text()
    # Table 4 and Figures 7–8 first, in that order (Table 6, of the predictor stage, follows; its own tests check it)
    rules = re.findall(r"^rule (\w+):", text, flags=re.M)[:3]
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


def test_runs_without_gaussian_samples_or_state_measurements(tmp_path):
    """A config with ``random_samples: 0`` and ``state_sequences: 0``, one regime and one seed: the instability and
    adversarial directions alone."""
    task, model = FIXTURE_TASKS[1], MODELS[0]
    files = {}
    for seed in (0,):
        data = record(task, model, BASE, seed)
        data["sweep"] = [row for row in data["sweep"] if row["family"] in ("instability", "adversarial")]
        for name in data["thresholds"]:
            data["thresholds"][name] = {f: v for f, v in data["thresholds"][name].items() if f in ("instability",
                                        "adversarial")}  # fmt: skip
        data["state"] = {}
        files[(task, model, BASE, seed)] = tmp_path / f"{seed}.json"
        write_json(files[(task, model, BASE, seed)], data)
    df = table4_perturbation(files)
    assert not any("gaussian" in c for c in df.columns) and math.isnan(df["amplification_mean"][0])
    shown, _ = display_frame(df)
    assert list(shown.columns)[4:6] == [f"log10 {FLIP}, instability", f"log10 {FLIP}, adversarial (PGD)"]
    assert "n = 1 in every cell" in table_notes(df)[-1] and df["directions"][0] == "instability 1; adversarial (PGD) 1"
    caption = table4_perturbation_report_caption(files)
    assert "for the directions per run instability 1; adversarial (PGD) 1 (instability: towards instability" in caption
    assert "Every cell: one seed (0): no spread." in caption and "This run:" in caption
    fig = build_perturbation_figure(files, task=task)
    measures = ("accuracy", "flip_rate")
    assert [ax.get_label() for ax in panel_axes(fig)] == [
        f"panel:{f}/{model}/{m}" for f in ("instability", "adversarial") for m in measures]  # fmt: skip
    assert [ax.get_label() for ax in panel_axes(build_prediction_figure(files))] == [
        "panel:instability", "panel:adversarial"]  # fmt: skip
    text = perturbation_figure_caption(files, task=task)
    assert f"only {BASE} runs, so no regime is compared" in text
    assert "ρ undefined (1 run;" in prediction_figure_caption(files)


def test_matched_comparisons_leave_out_pairs_whose_accuracy_differs_by_more_than_a_point(loaded):
    t0 = FIXTURE_TASKS[0]
    collapsed = (t0, MODELS[0], STAB, SEEDS[0])
    runs = dict(loaded)
    runs[collapsed] = dataclasses.replace(
        loaded[collapsed], reference_accuracy=loaded[collapsed].reference_accuracy - 0.2
    )
    everything = next(c for c in compare_regimes(runs, regimes=list(REGIMES)) if c.task == t0)
    matched = next(c for c in compare_regimes(runs, regimes=list(REGIMES), matched=True) if c.task == t0)
    assert everything.unmatched == 0 and matched.unmatched == 1
    assert matched.differences["gaussian"].n == everything.differences["gaussian"].n - 1
    a = {(m, s): runs[(t0, m, STAB, s)].flip5["gaussian"].log10 for m in MODELS for s in SEEDS}
    b = {(m, s): runs[(t0, m, BASE, s)].flip5["gaussian"].log10 for m in MODELS for s in SEEDS}
    kept = [k for k in a if k != collapsed[1::2]]
    want = S.paired_difference({k: a[k] for k in kept}, {k: b[k] for k in kept}, interval="auto")
    assert matched.differences["gaussian"].mean == pytest.approx(want.mean)
    text = matched_text(runs, t0, list(REGIMES))
    assert text.startswith("Matched accuracy only (within 1 point; 1 unmatched pair left out): ")
    assert comparison_sentence(matched) in text and matched_text(loaded, t0, list(REGIMES)) == ""
    assert text in table4_perturbation_report_caption(runs, regimes=list(REGIMES))


def test_the_caption_contrasts_the_instability_direction_with_its_rank_matched_control(loaded):
    t0 = FIXTURE_TASKS[0]
    keys = [k for k in loaded if k[0] == t0]
    values = {
        f: {k: loaded[k].flip5[f] for k in keys if f in loaded[k].flip5} for f in ("instability", "gaussian_rank")
    }
    both = [k for k in keys if all(k in v and not v[k].censored for v in values.values())]
    want = S.paired_difference({k: values["instability"][k].log10 for k in both},
                               {k: values["gaussian_rank"][k].log10 for k in both}, interval="auto")  # fmt: skip
    text = contrast_text(loaded, t0)
    assert text.startswith(f"instability − Gaussian, rank-matched, log10 {FLIP}, paired by run: {want.mean:+.2f} ")
    assert f"over {want.n} runs" in text and f"p = {want.p_value:.2g}" in text
    assert text in table4_perturbation_report_caption(loaded, regimes=list(REGIMES))
