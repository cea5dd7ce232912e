"""Stable, on the circle or unstable in the precision of a run's weights (``layout.stability``), as Tables 3, 5 and 7,
their captions and the eigenvalue captions count them: Algorithm 1's exact rescale applies γ/ρ in float32 and lands
at 1 ± 7e-8, which a float32 run must not count as unstable, and a float64 run must."""

from __future__ import annotations

import pandas as pd
import pytest

from rnnrobust.io import read_json, write_json
from rnnrobust.layout import REFERENCE, REGIMES, block_keys, eps_key, run_stem
from rnnrobust.reporting.figure_eigenvalues import eigenvalues_caption
from rnnrobust.reporting.figure_style import eigenvalues_outside
from rnnrobust.reporting.pareto_runs import RUN_COLUMNS
from rnnrobust.reporting.table3_robustness import table3_robustness, table3_robustness_report_caption
from rnnrobust.reporting.table5_paired import table5_paired, table5_paired_report_caption
from rnnrobust.reporting.table7_pareto import table7_pareto, table7_pareto_report_caption
from rnnrobust.reporting.table_common import (
    DEFAULT_DTYPE,
    SIGNED_DISTANCE,
    matrices_text,
    run_dtype,
    run_dtypes,
    run_scalar,
    signed_distance,
    stability_text,
)
from rnnrobust.reporting.table_frame import display_frame

TASK, MODEL = "imdb", "lstm"
EPS_LOG10 = -2.0
#: A radius Algorithm 1's exact float32 rescale can land on: 1 + 5e-8 (float32's epsilon is 1.19e-7).
ON_CIRCLE = 1 + 5e-8
#: The distance to instability of the largest block (its distance back to the circle when ρ > 1).
D = 0.02
#: (radius of the run's largest block, dtype of its weights, the label it must get).
CASES = [
    (ON_CIRCLE, "float32", "on_circle"),
    (ON_CIRCLE, "float64", "unstable"),
    (1.01, "float32", "unstable"),
    (1.01, "float64", "unstable"),
    (0.9, "float32", "stable"),
]


def _write_run(root, key, radius, dtype, accuracy=0.8):
    """metrics.json (recording ``dtype``, unless None) and an analysis JSON of one run whose first block has
    ``radius`` and the others 0.5; their paths."""
    task, model, regime, seed = key
    hyperparameters = {"task": task, "model": model, "seed": seed, "regime": regime}
    if dtype is not None:
        hyperparameters["dtype"] = dtype
    metrics = {"task": task, "model": model, "seed": seed, "status": "converged", "chance_accuracy": 0.5,
               "test": {"accuracy": accuracy}, "hyperparameters": hyperparameters}  # fmt: skip
    summaries = {}
    for i, block in enumerate(block_keys(task, model)):
        rho = radius if i == 0 else 0.5
        summaries[block] = {
            "spectral_radius": rho, "spectral_norm": rho + 0.5, "pseudospectral_radius": {eps_key(EPS_LOG10): rho},
            "kreiss_lower_bound": float("inf") if rho > 1 + 1e-12 else 2.0, "transient_peak": 3.0,
            "distance_to_instability": D if i == 0 else 0.4, "henrici": 1.0, "henrici_relative": 0.1,
        }  # fmt: skip
    paths = root / f"models/{run_stem(*key)}/metrics.json", root / f"analysis/{run_stem(*key)}.json"
    write_json(paths[0], metrics)
    write_json(paths[1], summaries)
    return paths


def _one_run(tmp_path, radius, dtype, regime=REFERENCE, seed=0):
    key = (TASK, MODEL, regime, seed)
    metrics, analysis = _write_run(tmp_path, key, radius, dtype)
    return key, {key: metrics}, {key: analysis}


# --------------------------------------------------------------------------------------------------
# The labels and the signed distance.


@pytest.mark.parametrize(("radius", "dtype", "label"), CASES)
def test_signed_distance_is_zero_on_the_circle(radius, dtype, label):
    block = {"spectral_radius": radius, "distance_to_instability": D}
    assert signed_distance(block, dtype) == {"stable": D, "on_circle": 0.0, "unstable": -D}[label]


def test_a_run_s_dtype_comes_from_its_metrics(tmp_path):
    key, metrics, _ = _one_run(tmp_path, 0.9, "float64")
    assert run_dtype(metrics[key]) == "float64" and run_dtypes(metrics) == {key: "float64"}
    _, older, _ = _one_run(tmp_path / "older", 0.9, None)  # metrics that record no dtype
    assert run_dtype(older[key]) == DEFAULT_DTYPE == "float32"
    assert run_dtypes(None) == {}


def test_stability_text_counts_unstable_and_on_circle_seeds():
    assert stability_text(["stable", "on_circle"]) == "1/2 on circle"
    assert stability_text(["unstable", "on_circle", "on_circle"]) == "1/3 unstable, 2/3 on circle"
    assert stability_text(["stable"]) == ""


# --------------------------------------------------------------------------------------------------
# Table 3.


@pytest.mark.parametrize(("radius", "dtype", "label"), CASES)
def test_table3_labels_runs_in_their_weights_precision(tmp_path, radius, dtype, label):
    _, metrics, analysis = _one_run(tmp_path, radius, dtype)
    row = table3_robustness(analysis, EPS_LOG10, metrics=metrics).iloc[0]
    assert row["n_unstable"] == (label == "unstable")
    assert row["n_on_circle"] == (label == "on_circle")
    assert bool(row["unstable"]) == (label == "unstable")
    assert row["unstable_text"] == {"stable": "", "on_circle": "on circle", "unstable": "unstable"}[label]
    assert row[f"{SIGNED_DISTANCE}_mean"] == {"stable": D, "on_circle": 0.0, "unstable": -D}[label]


def test_table3_without_metrics_takes_float32_weights(tmp_path):
    _, _, analysis = _one_run(tmp_path, ON_CIRCLE, "float64")
    row = table3_robustness(analysis, EPS_LOG10).iloc[0]  # the metrics (float64) are not given
    assert row["n_on_circle"] == 1 and row["n_unstable"] == 0 and row[f"{SIGNED_DISTANCE}_mean"] == 0.0


def test_table3_prints_and_captions_runs_on_the_circle(tmp_path):
    metrics, analysis = {}, {}
    for seed, (radius, dtype) in enumerate([(ON_CIRCLE, "float32"), (1.01, "float32"), (0.9, "float32")]):
        key = (TASK, MODEL, REFERENCE, seed)
        metrics[key], analysis[key] = _write_run(tmp_path, key, radius, dtype)
    df = table3_robustness(analysis, EPS_LOG10, metrics=metrics)
    row = df.iloc[0]
    assert (row["n_unstable"], row["n_on_circle"], row["unstable_text"]) == (1, 1, "1/3 unstable, 1/3 on circle")
    shown, _ = display_frame(df)
    assert shown.iloc[0]["Kreiss bound (max)"] == "1/3 unstable, 1/3 on circle"
    assert any(note.startswith("1 of 3 runs has a recurrent matrix on the unit circle") for note in df.attrs["notes"])
    caption = table3_robustness_report_caption(metrics, analysis, EPS_LOG10)
    assert "1 of 3 runs have a recurrent matrix with ρ > 1" in caption
    assert "1 of 3 runs has a recurrent matrix on the unit circle" in caption
    # the same radii in float64: two unstable runs, none on the circle, and no sentence about it
    text = matrices_text(analysis, {key: "float64" for key in analysis})
    assert text.startswith("2 of 3 runs have a recurrent matrix with ρ > 1") and "on the unit circle" not in text


# --------------------------------------------------------------------------------------------------
# Table 5.


@pytest.mark.parametrize(("radius", "dtype", "label"), CASES)
def test_table5_signs_the_distance_in_the_weights_precision(tmp_path, radius, dtype, label):
    """The reference run is stable (its closest block at D); the other run's largest block has ``radius``."""
    other = REGIMES[1]
    metrics, analysis = {}, {}
    for seed in (0, 1):
        for regime, rho in ((REFERENCE, 0.9), (other, radius)):
            key = (TASK, MODEL, regime, seed)
            metrics[key], analysis[key] = _write_run(tmp_path, key, rho, dtype)
    row = table5_paired(metrics, analysis).iloc[0]
    signed = {"stable": D, "on_circle": 0.0, "unstable": -D}[label]
    assert row[f"{SIGNED_DISTANCE}_diff_mean"] == pytest.approx(signed - D)
    notes = table5_paired(metrics, analysis).attrs["notes"]
    circle = [note for note in notes if note.startswith("2 of 4 runs have a recurrent matrix on the unit circle")]
    caption = table5_paired_report_caption(metrics, analysis=analysis)
    assert bool(circle) == (label == "on_circle") == ("2 of 4 runs have a recurrent matrix on the unit" in caption)
    key = (TASK, MODEL, other, 0)
    assert run_scalar(read_json(analysis[key]), SIGNED_DISTANCE, "min", key, dtype=dtype) == signed


# --------------------------------------------------------------------------------------------------
# Table 7.


def _pareto_runs(radius, dtype):
    """One arm of three seeds: seed 0's largest ρ is ``radius``, the others 0.9; a ``dtype`` column unless None."""
    rows = [
        {
            "task": TASK,
            "model": MODEL,
            "regime": REFERENCE,
            "seed": seed,
            "method": "plain training",
            "accuracy": 80.0 + seed,
            "chance": 50.0,
            "fragility": -1.0 - 0.1 * seed,
            "fragility_censored": "",
            "henrici": 1.0,
            "spectral_radius": radius if seed == 0 else 0.9,
            "kreiss": 2.0,
            "transient_peak": 3.0,
            "grid_low": -4.0,
        }
        for seed in range(3)
    ]
    runs = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    if dtype is not None:
        runs["dtype"] = dtype
    return runs


@pytest.mark.parametrize(("radius", "dtype", "label"), [*CASES, (ON_CIRCLE, None, "on_circle")])
def test_table7_counts_runs_in_their_weights_precision(radius, dtype, label):
    runs = _pareto_runs(radius, dtype)  # dtype None: no dtype column, float32 weights (DEFAULT_DTYPE)
    row = table7_pareto(runs, references={REFERENCE: None}).iloc[0]
    assert row["n_unstable"] == (label == "unstable") and row["n_on_circle"] == (label == "on_circle")
    assert row["kreiss_text"] == {"stable": "", "on_circle": "1/3 on circle", "unstable": "1/3 unstable"}[label]
    caption = table7_pareto_report_caption(runs)
    assert f"{int(label == 'unstable')} with a block unstable" in caption
    assert ("1 of 3 runs has a recurrent matrix on the unit circle" in caption) == (label == "on_circle")
    notes = table7_pareto(runs, references={REFERENCE: None}).attrs["notes"]
    assert ("1 of 3 runs has a recurrent matrix on the unit circle" in notes[1]) == (label == "on_circle")


# --------------------------------------------------------------------------------------------------
# Eigenvalue captions.


def test_eigenvalues_on_the_circle_are_not_outside_it_in_float32(tmp_path):
    eigenvalues = [[ON_CIRCLE, 0.0], [0.0, 1.01], [0.5, 0.0]]
    assert eigenvalues_outside(eigenvalues, "float32") == 1 == eigenvalues_outside(eigenvalues)
    assert eigenvalues_outside(eigenvalues, "float64") == 2
    path = tmp_path / "analysis.json"
    write_json(path, {"rnn/h": {"spectral_radius": 1.01, "eigenvalues": eigenvalues}})
    assert "1 of 3 eigenvalues outside" in eigenvalues_caption({MODEL: path})
    assert "2 of 3 eigenvalues outside" in eigenvalues_caption({MODEL: path}, dtypes={MODEL: "float64"})
