"""Tables 1–3 and 5 against synthetic per-run files: values equal the JSON they come from, the paper's numbers sit
beside ours (rnnrobust.reporting.paper), outcome and status cells count the seeds, unstable matrices print as such,
the CSV / markdown / booktabs outputs (rnnrobust.reporting.render, .latex) are well formed and fit a page, and the
captions come from the data."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from rnnrobust import layout, stats
from rnnrobust.io import write_json
from rnnrobust.layout import REGIMES, block_keys, eps_key, run_stem
from rnnrobust.reporting.formatting import format_eps, format_mean_std, format_summary, format_value
from rnnrobust.reporting.latex import (
    LATEX_COLUMN_SEP_PT,
    LATEX_TEXT_WIDTH_PT,
    LATEX_WRAP_PT,
    latex_escape,
    latex_font,
    latex_layout,
    to_latex,
)
from rnnrobust.reporting.outcomes import OUTCOME_RULE, outcome_cell, run_outcome, status_cell
from rnnrobust.reporting.paper import FIGURES, PAPER_TABLE1, PAPER_TABLE2, paper_blocks, paper_henrici
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table1_accuracy import table1_accuracy, table1_accuracy_caption, table1_accuracy_report_caption
from rnnrobust.reporting.table1_detail import table1_detail, table1_detail_caption, table1_detail_report_caption
from rnnrobust.reporting.table2_henrici import table2_henrici, table2_henrici_caption, table2_henrici_report_caption
from rnnrobust.reporting.table3_robustness import (
    table3_robustness,
    table3_robustness_caption,
    table3_robustness_report_caption,
)
from rnnrobust.reporting.table5_paired import table5_paired, table5_paired_caption, table5_paired_report_caption
from rnnrobust.reporting.table_common import SIGNED_DISTANCE, run_scalar, unstable_text
from rnnrobust.reporting.table_frame import display_frame, table_frame, table_notes
from rnnrobust.robustness.analysis import analyze_blocks

ROOT = Path(__file__).resolve().parents[2]
TASKS = ("adding", "mnist")
MODELS = ("rnn", "lstm")
SEEDS = (0, 1)
EPS_LOG10 = (-2.0, -1.0)
N = 5

# Statuses that differ from "converged": a cell where no seed converged, and cells where some did not.
STATUS = {
    ("mnist", "lstm", "baseline", 0): "not_converged",
    ("mnist", "lstm", "baseline", 1): "not_converged",
    ("mnist", "lstm", "stabilized", 0): "diverged",
    ("mnist", "lstm", "stabilized", 1): "not_converged",
    ("adding", "lstm", "stabilized", 1): "not_converged",
}


def _blocks(task: str, model: str, regime: str, seed: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    blocks = {}
    for i, key in enumerate(paper_blocks(task, model)):
        if i == 0:  # a Jordan block: defective, strongly non-normal
            w = np.diag(np.full(N, 0.8 + 0.05 * seed)) + np.diag(np.ones(N - 1), 1)
        else:
            w = rng.normal(size=(N, N)) / 2.5
        if regime == "stabilized":  # dominant eigenvalue just outside the unit circle: Kreiss constant ∞
            w = w * (1.05 / np.abs(np.linalg.eigvals(w)).max())
        blocks[key] = w
    return blocks


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """metrics.json and analysis JSON of 2 tasks × 2 models × 2 regimes × 2 seeds, as the workflow lays them out."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(2018)
    metrics, analysis = {}, {}
    for task in TASKS:
        for model in MODELS:
            for regime in REGIMES:
                for seed in SEEDS:
                    key = (task, model, regime, seed)
                    test = {"loss": float(rng.uniform(0.1, 2)), "accuracy": float(rng.uniform(0.1, 1))}
                    if task == "adding":
                        test["exact_match"] = float(rng.uniform(0, 1))
                    m = {
                        "task": task,
                        "model": model,
                        "seed": seed,
                        "status": STATUS.get(key, "converged"),
                        "test": test,
                        "chance_accuracy": 0.1 if task == "mnist" else 0.25,
                        "epochs_completed": 3,
                        "wall_time_s": 1.0,
                        "hyperparameters": {"task": task, "model": model, "seed": seed, "regime": regime},
                    }
                    if regime == "stabilized":
                        m["test_before_final_rescale"] = {"loss": 1.0, "accuracy": float(rng.uniform(0.1, 1))}
                    path = root / f"models/{task}/{model}/{regime}/seed{seed}/metrics.json"
                    write_json(path, m)
                    metrics[key] = path
                    path = root / f"analysis/{task}/{model}/{regime}/seed{seed}.json"
                    write_json(path, analyze_blocks(_blocks(task, model, regime, seed, rng), EPS_LOG10))
                    analysis[key] = path
    return metrics, analysis


def _load(paths):
    # The same parser the tables use (Python's json reads the Infinity that write_json writes).
    return {key: json.loads(path.read_text()) for key, path in paths.items()}


def _row(df, **match):
    mask = np.ones(len(df), dtype=bool)
    for col, value in match.items():
        mask &= (df[col] == value).to_numpy()
    assert mask.sum() == 1, f"expected one row for {match}, found {mask.sum()}"
    return df[mask].iloc[0]


def _stats(values):
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std(ddof=1)


def _signed(block):
    """The distance to instability signed by hand: −d for a block with ρ > 1 (the stabilized ones here), else +d."""
    d = block["distance_to_instability"]
    return -d if block["spectral_radius"] > 1 else d


# --------------------------------------------------------------------------------------------------
# The paper's numbers.


def test_paper_table1_holds_the_published_accuracies():
    printed = {
        ("adding", "rnn"): 99.73,
        ("adding", "lstm"): 99.87,
        ("adding", "gru"): 99.94,
        ("imdb", "rnn"): 83.29,
        ("imdb", "lstm"): 83.81,
        ("imdb", "gru"): 85.96,
        ("mnist", "rnn"): 26.11,
    }
    assert set(PAPER_TABLE1) == {(t, m) for t in layout.TASKS for m in layout.CELLS}
    for key, value in printed.items():
        assert PAPER_TABLE1[key].values == (value,)
        assert PAPER_TABLE1[key].display == f"{value:.2f}%"
    assert PAPER_TABLE1["mnist", "lstm"].display == "non-convergence (3 seeds)"
    assert PAPER_TABLE1["mnist", "lstm"].values == ()
    assert PAPER_TABLE1["mnist", "gru"].display == "19.37–22.47%"
    assert PAPER_TABLE1["mnist", "gru"].values == (19.37, 22.47)


def test_paper_table2_holds_the_published_henrici_values_per_gate():
    assert PAPER_TABLE2["imdb", "rnn"].values == (0.2,)
    assert PAPER_TABLE2["imdb", "lstm"].values == (2.6, 3.8, 1.2, 2.4)
    assert PAPER_TABLE2["imdb", "gru"].values == (0.9, 1.8, 0.8)
    assert PAPER_TABLE2["mnist", "rnn"].values == (1.8,)
    assert PAPER_TABLE2["mnist", "gru"].values == (4.7, 5.9, 6.0)
    # Lost cells are marked missing, one entry per matrix (2 layers × 4 / 3 gates).
    assert PAPER_TABLE2["adding", "lstm"].values == (None,) * 8
    assert PAPER_TABLE2["adding", "gru"].values == (None,) * 6
    assert PAPER_TABLE2["mnist", "lstm"].display == "non-convergence"
    # The adding RNN pair is assigned to encoder, decoder, and the note says that this is an inference.
    assert paper_henrici("adding", "rnn", "encoder/h")[:2] == (1.6, "1.6")
    assert paper_henrici("adding", "rnn", "decoder/h")[:2] == (2.3, "2.3")
    assert "[I]" in PAPER_TABLE2["adding", "rnn"].note
    assert paper_henrici("imdb", "lstm", "rnn/f")[0] == 3.8
    assert paper_henrici("mnist", "gru", "rnn/h")[0] == 6.0
    assert paper_henrici("adding", "lstm", "decoder/o")[:2] == (None, "not reported")
    assert paper_henrici("mnist", "lstm", "rnn/i")[:2] == (None, "non-convergence")
    for (task, model), cell in PAPER_TABLE2.items():
        assert len(cell.values) == len(paper_blocks(task, model))


def test_paper_figures_are_numbered_baseline_then_stabilized_in_task_order():
    assert list(FIGURES.items()) == [
        ("figure1_adding", ("adding", "baseline")),
        ("figure2_imdb", ("imdb", "baseline")),
        ("figure3_mnist", ("mnist", "baseline")),
        ("figure4_adding", ("adding", "stabilized")),
        ("figure5_imdb", ("imdb", "stabilized")),
        ("figure6_mnist", ("mnist", "stabilized")),
    ]


# --------------------------------------------------------------------------------------------------
# Table 1.


def test_table1_values_equal_the_metrics_files(runs):
    """The main table: the accuracy after the final rescale (metrics.json "test"), mean ± sd [95 % CI] over seeds."""
    metrics, _ = runs
    data = _load(metrics)
    df = table1_accuracy(metrics)
    assert list(df[["task", "model"]].itertuples(index=False, name=None)) == [
        ("adding", "rnn"),
        ("adding", "lstm"),
        ("mnist", "rnn"),
        ("mnist", "lstm"),
    ]
    for task in TASKS:
        for model in MODELS:
            row = _row(df, task=task, model=model)
            for regime in REGIMES:
                acc = [100 * data[task, model, regime, s]["test"]["accuracy"] for s in SEEDS]
                mean, std = _stats(acc)
                assert row[f"{regime}_accuracy_mean"] == pytest.approx(mean, rel=1e-12)
                assert row[f"{regime}_accuracy_sd"] == pytest.approx(std, rel=1e-12)
                assert row[f"{regime}_n"] == len(SEEDS)
    # The paper's layout: details live in table1_detail.
    assert not any(c.startswith(("baseline_before", "baseline_exact", "stabilized_before")) for c in df.columns)
    shown, _ = display_frame(df)
    assert list(shown.columns) == [
        "task", "model", "paper", "baseline (%)", "baseline outcome",
        "stabilized, after final rescale (%)", "stabilized outcome",
    ]  # fmt: skip


def test_table1_detail_values_equal_the_metrics_files(runs):
    """One row per task × model × regime: after and before the final rescale, exact match, chance, per seed."""
    metrics, analysis = runs
    data = _load(metrics)
    radii = _load(analysis)
    df = table1_detail(metrics, analysis=analysis)
    assert list(df[["task", "model", "regime"]].itertuples(index=False, name=None)) == [
        (t, m, r) for t in TASKS for m in MODELS for r in REGIMES
    ]
    for task in TASKS:
        for model in MODELS:
            for regime in REGIMES:
                row = _row(df, task=task, model=model, regime=regime)
                runs_ = [data[task, model, regime, s] for s in SEEDS]
                acc = [100 * m["test"]["accuracy"] for m in runs_]
                mean, std = _stats(acc)
                assert row["accuracy_mean"] == pytest.approx(mean, rel=1e-12)
                assert row["accuracy_sd"] == pytest.approx(std, rel=1e-12)
                assert row["n"] == len(SEEDS)
                assert row["accuracy_per_seed"] == dict(zip(SEEDS, acc, strict=True))
                assert row["chance_accuracy"] == pytest.approx(100 * runs_[0]["chance_accuracy"])
                if task == "adding":
                    mean, std = _stats([100 * m["test"]["exact_match"] for m in runs_])
                    assert row["exact_match_mean"] == pytest.approx(mean, rel=1e-12)
                    assert row["exact_match_sd"] == pytest.approx(std, rel=1e-12)
                else:
                    assert math.isnan(row["exact_match_mean"])
                if regime == "baseline":  # no rescale: no accuracy before it, no ρ after it
                    assert math.isnan(row["before_rescale_accuracy_mean"])
                    assert math.isnan(row["radius_after_rescale_mean"])
                    continue
                before = [100 * m["test_before_final_rescale"]["accuracy"] for m in runs_]
                assert row["before_rescale_accuracy_mean"] == pytest.approx(np.mean(before), rel=1e-12)
                assert row["before_rescale_accuracy_sd"] == pytest.approx(np.std(before, ddof=1), rel=1e-12)
                assert row["before_rescale_accuracy_per_seed"] == dict(zip(SEEDS, before, strict=True))
                rho = [max(b["spectral_radius"] for b in radii[task, model, regime, s].values()) for s in SEEDS]
                assert row["radius_after_rescale_mean"] == pytest.approx(np.mean(rho), rel=1e-12)
    shown, _ = display_frame(df)
    assert {"accuracy after final rescale", "accuracy before final rescale"} <= set(shown.columns)
    assert "ρ after final rescale (max)" in shown.columns
    assert "status" not in shown.columns and "status" in df.columns  # the training status: CSV only
    # Without the analysis files there is no ρ column.
    assert "radius_after_rescale_mean" not in table1_detail(metrics).columns


def test_table1_outcome_cells(runs):
    metrics, _ = runs
    data = _load(metrics)
    df = table1_accuracy(metrics)
    detail = table1_detail(metrics)
    for task in TASKS:
        for model in MODELS:
            for regime in REGIMES:
                expected = outcome_cell([run_outcome(data[task, model, regime, s]) for s in SEEDS])
                assert _row(df, task=task, model=model)[f"{regime}_outcome"] == expected
                assert _row(detail, task=task, model=model, regime=regime)["outcome"] == expected
    assert "diverged" in _row(df, task="mnist", model="lstm")["stabilized_outcome"]


def test_table1_detail_keeps_the_status_training_wrote(runs):
    metrics, _ = runs
    df = table1_detail(metrics)
    assert _row(df, task="mnist", model="lstm", regime="baseline")["status"] == "non-convergence (2/2 not converged)"
    assert (
        _row(df, task="mnist", model="lstm", regime="stabilized")["status"]
        == "non-convergence (1/2 not converged, 1/2 diverged)"
    )
    assert _row(df, task="adding", model="lstm", regime="stabilized")["status"] == "1/2 not converged"
    assert _row(df, task="adding", model="lstm", regime="baseline")["status"] == "converged"
    assert _row(df, task="adding", model="rnn", regime="stabilized")["status"] == "converged"


def _metrics(accuracy, chance=1 / 3, status="converged", before=None, margin=0.05):
    m = {"status": status, "test": {"accuracy": accuracy}, "chance_accuracy": chance}
    m["hyperparameters"] = {"convergence_margin": margin}
    if before is not None:
        m["test_before_final_rescale"] = {"accuracy": before}
    return m


def test_run_outcome_rule():
    """learned: at least half the way from chance to 100 %; near chance: below chance + margin (training's
    not_converged); collapsed at rescale: the final rescale cost more than 10 points; diverged first."""
    # 38 % on the adding task (chance 33 %): "converged" for training, not "learned" for a reader.
    assert run_outcome(_metrics(0.38, chance=0.33)) == "above chance"
    assert run_outcome(_metrics(0.37, chance=0.33)) == "near chance"
    assert run_outcome(_metrics(0.37, chance=0.33, margin=0.02)) == "above chance"  # the run's own margin
    assert run_outcome(_metrics(0.75 - 1e-9, chance=0.5)) == "above chance"
    assert run_outcome(_metrics(0.75, chance=0.5)) == "learned"
    assert run_outcome(_metrics(0.8311, chance=0.5)) == "learned"  # the paper's IMDB accuracies
    assert run_outcome(_metrics(0.2611, chance=0.1135)) == "above chance"  # the paper's MNIST RNN
    assert run_outcome(_metrics(0.9, before=0.99)) == "learned"  # lost 9 points: not a collapse
    assert run_outcome(_metrics(0.6, before=0.99)) == "collapsed at rescale"
    assert run_outcome(_metrics(0.99, status="diverged", before=0.1)) == "diverged"
    # Training's status and the outcome agree on "near chance".
    assert run_outcome(_metrics(0.2, status="not_converged")) == "near chance"
    with pytest.raises(ValueError, match="unknown run status"):
        run_outcome(_metrics(0.5, status="exploded"))


def test_outcome_cell():
    assert outcome_cell(["learned"] * 3) == "3/3 learned"
    assert outcome_cell(["near chance", "learned", "diverged"]) == "1/3 learned, 1/3 near chance, 1/3 diverged"
    assert outcome_cell([]) == ""
    with pytest.raises(ValueError, match="unknown outcome"):
        outcome_cell(["converged"])


def test_status_cell():
    assert status_cell(["converged"] * 3) == "converged"
    assert status_cell(["converged", "not_converged", "diverged"]) == "1/3 not converged, 1/3 diverged"
    assert status_cell(["diverged", "diverged", "diverged"]) == "non-convergence (3/3 diverged)"
    with pytest.raises(ValueError, match="unknown run status"):
        status_cell(["exploded"])


def test_table1_paper_columns(runs):
    metrics, _ = runs
    df = table1_accuracy(metrics)
    row = _row(df, task="adding", model="rnn")
    assert row["paper_accuracy"] == "99.73%"
    assert row["paper_accuracy_low"] == row["paper_accuracy_high"] == 99.73
    assert _row(df, task="adding", model="lstm")["paper_accuracy_low"] == 99.87
    assert _row(df, task="mnist", model="rnn")["paper_accuracy"] == "26.11%"
    row = _row(df, task="mnist", model="lstm")
    assert row["paper_accuracy"] == "non-convergence (3 seeds)"
    assert math.isnan(row["paper_accuracy_low"])


def test_table1_rejects_a_run_key_that_does_not_match_its_file(runs, tmp_path):
    metrics, _ = runs
    wrong = {("mnist", "gru", "baseline", 0): metrics["mnist", "rnn", "baseline", 0]}
    with pytest.raises(ValueError, match="run key"):
        table1_accuracy(wrong)
    wrong = {("mnist", "rnn", "stabilized", 0): metrics["mnist", "rnn", "baseline", 0]}
    with pytest.raises(ValueError, match="regime"):
        table1_accuracy(wrong)


# --------------------------------------------------------------------------------------------------
# Table 2.


def test_table2_values_equal_the_analysis_files(runs):
    metrics, analysis = runs
    data = _load(analysis)
    df = table2_henrici(analysis, metrics=metrics)
    # One row per task × model × matrix, layers encoder before decoder, gates in the cell's order.
    expected_rows = [(t, m, b) for t in TASKS for m in MODELS for b in paper_blocks(t, m)]
    assert list(df[["task", "model", "matrix"]].itertuples(index=False, name=None)) == expected_rows
    for task, model, block in expected_rows:
        row = _row(df, task=task, model=model, matrix=block)
        for regime in REGIMES:
            for q in ("henrici", "henrici_relative"):
                mean, std = _stats([data[task, model, regime, s][block][q] for s in SEEDS])
                assert row[f"{regime}_{q}_mean"] == pytest.approx(mean, rel=1e-12)
                assert row[f"{regime}_{q}_sd"] == pytest.approx(std, rel=1e-12)
            assert row[f"{regime}_n"] == len(SEEDS)
    assert _row(df, task="mnist", model="lstm", matrix="rnn/f")["baseline_status"].startswith("non-convergence")
    assert _row(df, task="mnist", model="rnn", matrix="rnn/h")["baseline_status"] == "converged"


def test_table2_paper_column(runs):
    _, analysis = runs
    df = table2_henrici(analysis)
    row = _row(df, task="adding", model="rnn", matrix="encoder/h")
    assert (row["paper_henrici"], row["paper_henrici_value"]) == ("1.6", 1.6)
    assert "[I]" in row["paper_note"]
    assert _row(df, task="adding", model="rnn", matrix="decoder/h")["paper_henrici_value"] == 2.3
    assert _row(df, task="mnist", model="rnn", matrix="rnn/h")["paper_henrici_value"] == 1.8
    row = _row(df, task="adding", model="lstm", matrix="decoder/c")
    assert row["paper_henrici"] == "not reported" and math.isnan(row["paper_henrici_value"])
    assert _row(df, task="mnist", model="lstm", matrix="rnn/o")["paper_henrici"] == "non-convergence"
    assert "baseline_status" not in df.columns  # only with metrics


# --------------------------------------------------------------------------------------------------
# Table 3.


@pytest.mark.parametrize("eps_log10", [-2, -1.0])
def test_table3_aggregates_blocks_then_seeds(runs, eps_log10):
    _, analysis = runs
    data = _load(analysis)
    df = table3_robustness(analysis, eps_log10)
    assert len(df) == len(TASKS) * len(MODELS) * len(REGIMES)
    for task in TASKS:
        for model in MODELS:
            for regime in REGIMES:
                row = _row(df, task=task, model=model, regime=regime)
                per_seed = [data[task, model, regime, s] for s in SEEDS]
                assert row["n"] == len(SEEDS)
                assert row["n_blocks"] == len(paper_blocks(task, model))
                expected = {
                    "spectral_radius": [max(b["spectral_radius"] for b in run.values()) for run in per_seed],
                    "spectral_norm": [max(b["spectral_norm"] for b in run.values()) for run in per_seed],
                    "pseudospectral_radius": [
                        max(b["pseudospectral_radius"][eps_key(eps_log10)] for b in run.values()) for run in per_seed
                    ],
                    "transient_peak": [max(b["transient_peak"] for b in run.values()) for run in per_seed],
                    "kreiss_lower_bound": [max(b["kreiss_lower_bound"] for b in run.values()) for run in per_seed],
                    "signed_distance_to_instability": [min(_signed(b) for b in run.values()) for run in per_seed],
                }
                for key, values in expected.items():
                    if np.isinf(values).any():
                        assert row[f"{key}_mean"] == np.inf and math.isnan(row[f"{key}_sd"])
                        continue
                    mean, std = _stats(values)
                    assert row[f"{key}_mean"] == pytest.approx(mean, rel=1e-12), key
                    assert row[f"{key}_sd"] == pytest.approx(std, rel=1e-12), key
    # The stabilized blocks have rho = 1.05 > 1: an infinite Kreiss constant propagates to the mean.
    assert (df.loc[df["regime"] == "stabilized", "kreiss_lower_bound_mean"] == np.inf).all()
    # Every stabilized run has a block with ρ = 1.05, whose distance back to the unit circle counts negative; cells
    # whose runs are all stable keep a positive distance.
    assert (df.loc[df["regime"] == "stabilized", "signed_distance_to_instability_mean"] < 0).all()
    stable = df["n_unstable"] == 0
    assert stable.any() and (df.loc[stable, "signed_distance_to_instability_mean"] > 0).all()


def test_table3_min_and_max_differ_from_the_mean_over_blocks(runs):
    """The aggregation is max (min) over blocks, not the mean: guards against a silent change."""
    _, analysis = runs
    data = _load(analysis)
    row = _row(table3_robustness(analysis, -1), task="adding", model="lstm", regime="baseline")
    means = [np.mean([b["spectral_norm"] for b in data["adding", "lstm", "baseline", s].values()]) for s in SEEDS]
    assert row["spectral_norm_mean"] > np.mean(means)


def test_table3_unknown_eps_raises_naming_the_levels(runs):
    _, analysis = runs
    with pytest.raises(KeyError, match=r"eps = -1\.3.*'-1\.0', '-2\.0'"):
        table3_robustness(analysis, -1.3)


def test_table3_header_shows_eps(runs):
    _, analysis = runs
    df = table3_robustness(analysis, -2)
    shown, _ = display_frame(df)
    assert "ρ_ε, ε = 0.01 (max)" in shown.columns
    assert "signed distance to instability (min; < 0: unstable)" in shown.columns
    assert any(note.startswith("Signed distance to instability: +d") for note in df.attrs["notes"])
    assert "eps log10" not in shown.columns  # hidden: kept in the CSV only


def test_table3_status_with_metrics(runs):
    metrics, analysis = runs
    df = table3_robustness(analysis, -2, metrics=metrics)
    assert _row(df, task="mnist", model="lstm", regime="baseline")["status"].startswith("non-convergence")
    assert _row(df, task="adding", model="lstm", regime="stabilized")["status"] == "1/2 not converged"
    assert _row(df, task="mnist", model="lstm", regime="stabilized")["outcome"].endswith("1/2 diverged")
    shown, _ = display_frame(df)
    assert "status" not in shown.columns and "outcome" not in shown.columns  # Table 1 shows them


def test_table3_prints_unstable_runs_as_such(runs, tmp_path):
    """Stabilized blocks here have ρ = 1.05: the CSV keeps ∞ and the numbers, the markdown says "unstable"."""
    _, analysis = runs
    data = _load(analysis)
    df = table3_robustness(analysis, -2)
    for row in df.itertuples():
        radii = [max(b["spectral_radius"] for b in data[row.task, row.model, row.regime, s].values()) for s in SEEDS]
        unstable = sum(r > 1 for r in radii)
        assert row.n_unstable == unstable and row.unstable == (unstable == len(SEEDS))
        assert row.unstable_text == {0: "", len(SEEDS): "unstable"}.get(unstable, f"{unstable}/{len(SEEDS)} unstable")
        assert (row.kreiss_lower_bound_mean == math.inf) == (unstable > 0)
    stabilized = df["regime"] == "stabilized"
    assert df.loc[stabilized, "unstable"].all()
    assert (df["n_unstable"] == 0).any()  # stable rows exist too
    shown, _ = display_frame(df)
    for quantity in ("Kreiss bound (max)", "transient peak ‖Wᵏ‖ (max)"):
        assert (shown.loc[stabilized.to_numpy(), quantity] == "unstable").all()
        stable = (df["n_unstable"] == 0).to_numpy()
        assert not shown.loc[stable, quantity].str.contains("unstable").any()
    assert "∞" not in shown.to_string()
    csv = pd.read_csv(write_table(df, tmp_path / "t3", "T3")[0])
    assert np.isinf(csv.loc[stabilized.to_numpy(), "kreiss_lower_bound_mean"]).all()
    assert csv["unstable"].dtype == bool
    assert all(text.endswith("unstable") for text in csv["unstable_text"].dropna())
    md = (tmp_path / "t3.md").read_text()
    assert "| unstable | unstable |" in md and "inf" not in md


def test_table3_counts_unstable_seeds():
    def text(radii, dtype="float64"):
        return unstable_text([layout.stability(r, dtype) == "unstable" for r in radii])

    assert text([1.0, 0.9]) == ""  # ρ = 1 is not unstable
    assert text([1.0 + 1e-9, 0.9, 0.8]) == "1/3 unstable"
    assert text([1.0 + 1e-9, 0.9, 0.8], "float32") == ""  # on the circle in float32
    assert text([1.43]) == "unstable"


# --------------------------------------------------------------------------------------------------
# Statistics over seeds, named regimes, Table 5.


def test_every_aggregate_carries_sd_ci_and_n_of_rnnrobust_stats(runs):
    metrics, analysis = runs
    data = _load(metrics)
    row = _row(table1_accuracy(metrics), task="mnist", model="rnn")
    for regime in REGIMES:
        values = [100 * data["mnist", "rnn", regime, s]["test"]["accuracy"] for s in SEEDS]
        # Two seeds: Student's t interval, mean ± t_{0.975, 1} · sd / √2, not the percentile bootstrap.
        mean, sd = np.mean(values), np.std(values, ddof=1)
        half = scipy_stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values))
        expected = {"x_mean": mean, "x_sd": sd, "x_ci_low": mean - half, "x_ci_high": mean + half, "x_n": 2}
        got = {f"x_{p}": row[f"{regime}_accuracy_{p}"] for p in ("mean", "sd", "ci_low", "ci_high", "n")}
        assert got == pytest.approx(expected, rel=1e-12)
        assert got["x_ci_low"] < stats.summarize(values).ci_low  # wider than the bootstrap's
    for df in _tables(metrics, analysis).values():
        for prefix in [c[:-5] for c in df.columns if c.endswith("_mean")]:
            assert {f"{prefix}_{p}" for p in ("sd", "ci_low", "ci_high", "n")} <= set(df.columns), prefix


def _write_run(root, key, accuracy, blocks, before=None):
    """metrics.json and a hand-written analysis JSON (only the keys the tables read) of one run; their paths."""
    task, model, regime, seed = key
    m = {"task": task, "model": model, "seed": seed, "status": "converged", "chance_accuracy": 0.5,
         "test": {"accuracy": accuracy}, "hyperparameters": {"regime": regime}}  # fmt: skip
    if before is not None:
        m["test_before_final_rescale"] = {"accuracy": before}
    # blocks: {block: (henrici_relative, distance_to_instability[, spectral_radius, default 0.5])}
    summaries = {b: {"henrici": 1.0, "henrici_relative": v[0], "distance_to_instability": v[1],
                     "spectral_radius": v[2] if len(v) > 2 else 0.5} for b, v in blocks.items()}  # fmt: skip
    paths = root / f"models/{run_stem(*key)}/metrics.json", root / f"analysis/{run_stem(*key)}.json"
    write_json(paths[0], m)
    write_json(paths[1], summaries)
    return paths


# A regime beyond the paper's two, without a rescale, and one more with a rescale; the config orders them.
EXTRA, RESCALED = "identity_init", "stabilized_norm"


@pytest.fixture(scope="module")
def regime_runs(tmp_path_factory):
    """imdb/lstm: baseline seeds 0–2; REGIMES[1] seeds 0–3 (seed 3 has no baseline partner); EXTRA seeds 0–2 (no
    rescale); RESCALED seeds 0–2. Given in the order EXTRA, REGIMES[1], baseline, RESCALED (first appearance)."""
    root = tmp_path_factory.mktemp("regimes")
    base, stab = REGIMES
    blocks = block_keys("imdb", "lstm")
    accuracy = {base: [0.80, 0.82, 0.84], stab: [0.70, 0.71, 0.72, 0.95], EXTRA: [0.81, 0.80, 0.86],
                RESCALED: [0.79, 0.83, 0.84]}  # fmt: skip
    metrics, analysis = {}, {}
    for regime in (EXTRA, stab, base, RESCALED):
        for seed, acc in enumerate(accuracy[regime]):
            # Henrici / ‖W‖_F per block: the run's max is 0.5 + 0.1 · seed (+ 0.2 for REGIMES[1]); distance to
            # instability: the run's min is 0.01 · (seed + 1) (× 3 for REGIMES[1]).
            shift = 0.2 if regime == stab else 0.0
            scale = 3.0 if regime == stab else 1.0
            values = {b: (0.5 + 0.1 * seed + shift - 0.1 * i, scale * 0.01 * (seed + 1) * (1 + i)) for i, b in
                      enumerate(blocks)}  # fmt: skip
            key = ("imdb", "lstm", regime, seed)
            before = acc + 0.01 if regime in (stab, RESCALED) else None
            metrics[key], analysis[key] = _write_run(root, key, acc, values, before)
    return metrics, analysis


def test_regimes_follow_the_runs_or_the_given_order(regime_runs):
    metrics, analysis = regime_runs
    base, stab = REGIMES
    first_seen = [EXTRA, stab, base, RESCALED]
    assert list(table1_detail(metrics)["regime"]) == first_seen
    config = [base, stab, RESCALED, EXTRA]
    assert list(table1_detail(metrics, regimes=config)["regime"]) == config
    df = table1_accuracy(metrics, regimes=config)
    shown, _ = display_frame(df)
    # The paper's columns for baseline and stabilized, then one column group per extra regime; a regime "has a
    # final rescale" by its metrics, whatever its name.
    # The n of each column is in its header: 4 seeds of REGIMES[1], 3 of the others.
    assert list(shown.columns) == [
        "task", "model", "paper", f"{base} (%) (n=3)", f"{base} outcome",
        f"{stab}, after final rescale (%) (n=4)", f"{stab} outcome", f"{RESCALED}, after final rescale (%) (n=3)",
        f"{RESCALED} outcome", f"{EXTRA} (%) (n=3)", f"{EXTRA} outcome",
    ]  # fmt: skip
    assert _row(df, task="imdb", model="lstm")[f"{stab}_accuracy_n"] == 4
    table2 = table2_henrici(analysis, regimes=config)
    assert [c.removesuffix("_henrici_mean") for c in table2.columns if c.endswith("_henrici_mean")] == config
    with pytest.raises(ValueError, match="not among the regimes given"):
        table1_accuracy(metrics, regimes=[base, stab])


def test_table5_pairs_each_regime_with_the_baseline_by_seed(regime_runs, tmp_path):
    metrics, analysis = regime_runs
    base, stab = REGIMES
    config = [base, stab, RESCALED, EXTRA]
    df = table5_paired(metrics, analysis, regimes=config)
    assert list(df[["task", "model", "regime"]].itertuples(index=False, name=None)) == [
        ("imdb", "lstm", r) for r in config[1:]
    ]
    row = _row(df, regime=stab)
    # Seeds 0–2 pair: accuracy differences −10, −11, −12 points; seed 3 has no baseline run and is left out.
    assert row["n"] == 3 and row["accuracy_diff_n"] == 3
    assert row["accuracy_diff_mean"] == pytest.approx(-11.0) and row["accuracy_diff_sd"] == pytest.approx(1.0)
    assert row["accuracy_p"] == 0.25  # 3 pairs of one sign: the smallest p the exact test can give
    # 3 pairs: Student's t, −11 ± t_{0.975, 2} · 1 / √3 = −11 ± 2.484
    half = scipy_stats.t.ppf(0.975, 2) / math.sqrt(3)
    assert (row["accuracy_diff_ci_low"], row["accuracy_diff_ci_high"]) == (
        pytest.approx(-11 - half), pytest.approx(-11 + half))  # fmt: skip
    # Henrici / ‖W‖_F: the max over blocks differs by +0.2 in every seed; the distance to instability (every block
    # stable, so signed +d): the min over blocks is 3 × 0.01 · (seed + 1), a difference of 0.02 · (seed + 1).
    assert row["henrici_relative_diff_mean"] == pytest.approx(0.2) and row["henrici_relative_diff_sd"] < 1e-12
    assert row["signed_distance_to_instability_diff_mean"] == pytest.approx(0.04)
    assert row["signed_distance_to_instability_diff_sd"] == pytest.approx(0.02)
    assert row["test"] == stats.PAIRED_TEST
    assert row["excluded"] == f"{stab} seeds 3: no {base} run of the seed"
    assert any(note.startswith("Left out") and "imdb/lstm" in note for note in df.attrs["notes"])
    assert any("0.25 with 3 seeds" in note for note in df.attrs["notes"])
    extra = _row(df, regime=EXTRA)  # differences +1, −2, +2: mixed signs
    assert extra["accuracy_diff_mean"] == pytest.approx(1 / 3) and extra["excluded"] == ""
    # Signs of 1, −2, 2 (sum 1): the 8 sums are ±5, ±1, ±1, ±3, all at least 1 away from 0.
    assert extra["accuracy_p"] == 1.0
    # Holm over the table's 3 rows, one family per quantity: stats.holm of the p column, in row order.
    for key in ("accuracy", "henrici_relative", "signed_distance_to_instability"):
        np.testing.assert_allclose(df[f"{key}_p_holm"], stats.holm(df[f"{key}_p"]), rtol=1e-15)
        assert (df[f"{key}_p_holm"] >= df[f"{key}_p"]).all()
    assert row["accuracy_p_holm"] == pytest.approx(min(1.0, 3 * row["accuracy_p"]))  # the smallest of 3: × 3
    shown, _ = display_frame(df)
    assert list(shown.columns) == [
        "task", "model", "regime", "Δ test accuracy (points)", "p (accuracy)", "Δ Henrici / ‖W‖_F (max)",
        "p (Henrici)", "Δ signed distance to instability (min; < 0: unstable)", "p (distance)",
    ]  # fmt: skip
    # p and its Holm adjustment side by side in one printed column
    assert shown.iloc[0, 4] == f"0.25 (Holm {row['accuracy_p_holm']:.4g})" and "[" in shown.iloc[0, 3]
    assert any("Holm's step-down method" in note for note in df.attrs["notes"])
    assert any(note.startswith("Signed distance to instability: +d") for note in df.attrs["notes"])
    write_table(df, tmp_path / "t5", "Table 5")
    csv = pd.read_csv(tmp_path / "t5.csv")
    assert {"accuracy_diff_mean", "accuracy_diff_sd", "accuracy_diff_ci_low", "accuracy_diff_ci_high",
            "accuracy_diff_n", "accuracy_p", "accuracy_p_holm", "test", "excluded"} <= set(csv.columns)  # fmt: skip


def test_table5_and_table3_sign_the_distance_of_an_unstable_block(tmp_path):
    """A block with ρ > 1 counts −d (its distance back to the unit circle), so a regime that leaves the circle
    is not reported as "further from instability" than the stable baseline."""
    base, stab = REGIMES
    blocks = block_keys("imdb", "lstm")
    metrics, analysis = {}, {}
    for seed in (0, 1, 2):
        for regime in (base, stab):
            # baseline: every block stable, the closest at d = 0.05; stabilized: one block at ρ = 1.2, d = 0.2 from
            # the circle, the others stable and further (0.3) than any baseline block.
            values = {b: (0.5, 0.05 * (1 + i), 0.9) for i, b in enumerate(blocks)}
            if regime == stab:
                values = {b: (0.5, 0.2, 1.2) if i == 0 else (0.5, 0.3, 0.9) for i, b in enumerate(blocks)}
            key = ("imdb", "lstm", regime, seed)
            metrics[key], analysis[key] = _write_run(tmp_path, key, 0.8, values)
    # Table 3's per-run number (these hand-written analyses hold only the keys Table 5 reads)
    data = _load(analysis)
    for regime, value in ((base, 0.05), (stab, -0.2)):
        run = ("imdb", "lstm", regime, 0)
        assert run_scalar(data[run], SIGNED_DISTANCE, "min", run, dtype="float32") == value
    with pytest.raises(ValueError, match="needs the dtype"):
        run_scalar(data[run], SIGNED_DISTANCE, "min", run)
    # The unsigned minimum would say +0.15 (0.2 − 0.05): the signed difference is −0.2 − 0.05.
    row = _row(table5_paired(metrics, analysis), regime=stab)
    assert row["signed_distance_to_instability_diff_mean"] == pytest.approx(-0.25)
    assert row["signed_distance_to_instability_diff_sd"] == pytest.approx(0.0, abs=1e-12)


def test_table5_caption_counts_the_pairs(regime_runs):
    metrics, _ = regime_runs
    text = table5_paired_report_caption(metrics)
    # 4 + 3 + 3 runs of the other regimes; seed 3 of REGIMES[1] has no baseline partner.
    assert "\n\nThis run:\n\n13 runs (seeds 0, 1, 2, 3)" in text
    assert f"9 runs of other regimes have a {REGIMES[0]} run of the same seed" in text and "want of one: 1." in text


def test_captions_come_from_the_runs_and_the_jobs_params(runs):
    """The caption of a table's files and its report caption: seeds from the run keys, ε from the job's param."""
    metrics, analysis = runs
    one = {k: v for k, v in metrics.items() if k[3] == 0}
    assert table1_accuracy_caption(metrics) == (
        "Test accuracy (%), mean ± sd [95 % t CI] over 2 seeds (0, 1), with the paper's Table 1; rescaled "
        "regimes: after the final rescale."
    )
    assert "one seed (0): no spread" in table1_detail_caption(one) and "seed" in table2_henrici_caption(one)
    assert table3_robustness_caption(metrics, -2.5).startswith("Robustness scalars (ε = 0.00316;")
    assert table5_paired_caption().startswith(f"Each regime − {REGIMES[0]}, paired by seed")
    text = table3_robustness_report_caption(metrics, analysis, -1)
    description, this_run = text.split("\n\nThis run:\n\n")
    assert "ρ_ε at log10 ε = -1, Kreiss" in description and "over 2 seeds (0, 1)" in description
    assert this_run.startswith("16 runs (seeds 0, 1): 11 converged, 1 diverged, 4 not_converged. 11 of 16 runs have")
    assert OUTCOME_RULE in table1_accuracy_report_caption(metrics) and OUTCOME_RULE in table1_detail_report_caption(one)
    assert "16 runs (seeds 0, 1): 11 converged, 1 diverged, 4 not_converged." in table2_henrici_report_caption(
        metrics, analysis
    )


def test_table_report_captions_are_the_jobs_own():
    """The report caption of every table is the file its job wrote, whole: no report .rst reads the live config."""
    for name in ("tables", "table4_perturbation"):
        text = (ROOT / "workflow" / "report" / f"{name}.rst").read_text()
        assert text == ".. include:: {{ snakemake.output.caption }}\n", name
    assert "snakemake.config" not in (ROOT / "workflow" / "report" / "table_files.rst").read_text()


def test_table5_without_the_baseline_has_no_rows_and_says_so(regime_runs):
    metrics, analysis = regime_runs
    base = REGIMES[0]
    keep = {k: v for k, v in metrics.items() if k[2] != base}
    df = table5_paired(keep, {k: v for k, v in analysis.items() if k[2] != base})
    assert df.empty and any(f"No run has a {base} partner" in note for note in df.attrs["notes"])
    assert any(f"{EXTRA} seeds 0, 1, 2: no {base} run" in note for note in df.attrs["notes"])


def test_n_is_stated_once_per_table_per_column_or_per_cell():
    def frame(ns):
        b = stats.summarize([1.0, 2.0]).columns("b")
        rows = [{"x": str(i), **stats.summarize(np.arange(n) + i).columns("a"), **b} for i, n in enumerate(ns)]
        return table_frame(rows, list(rows[0]))

    uniform = frame([2, 2])
    shown, _ = display_frame(uniform)
    assert list(shown.columns) == ["x", "a", "b"] and table_notes(uniform)[-1].endswith("n = 2 in every cell.")
    per_column = frame([3, 3])
    shown, _ = display_frame(per_column)
    assert list(shown.columns) == ["x", "a (n=3)", "b (n=2)"] and not table_notes(per_column)
    per_cell = frame([3, 1])
    shown, _ = display_frame(per_cell)
    assert list(shown.columns) == ["x", "a", "b (n=2)"] and not table_notes(per_cell)
    s = stats.summarize([0.0, 1.0, 2.0])
    assert shown["a"][0] == format_summary(s.mean, s.sd, s.ci_low, s.ci_high) + " (n=3)"
    assert shown["a"][1] == "1 (n=1)"  # one seed: its value, no sd, no interval


def test_a_single_seed_shows_its_value_and_no_interval(regime_runs):
    metrics, _ = regime_runs
    one = {k: v for k, v in metrics.items() if k[3] == 0}
    df = table1_detail(one)
    assert (df["accuracy_n"] == 1).all() and df["accuracy_sd"].isna().all() and df["accuracy_ci_low"].isna().all()
    shown, _ = display_frame(df)
    assert not shown["accuracy after final rescale"].str.contains("±|\\[").any()
    assert table_notes(df)[-1].endswith("n = 1 in every cell.")


# --------------------------------------------------------------------------------------------------
# Output files.


def _md_cells(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def _tables(metrics, analysis):
    """Every table as the workflow writes it (workflow/scripts/tables.py)."""
    return {
        "table1": table1_accuracy(metrics),
        "table1_detail": table1_detail(metrics, analysis=analysis),
        "table2": table2_henrici(analysis, metrics=metrics),
        "table3": table3_robustness(analysis, -2, metrics=metrics),
        "table5_paired": table5_paired(metrics, analysis),
    }


@pytest.mark.parametrize("which", ["table1", "table1_detail", "table2", "table3", "table5_paired"])
def test_write_table_outputs(runs, tmp_path, which):
    metrics, analysis = runs
    df = _tables(metrics, analysis)[which]
    caption = "Test 50% & x_y {ok}"
    paths = write_table(df, tmp_path / "out" / which, caption)
    assert [p.name for p in paths] == [f"{which}.csv", f"{which}.md", f"{which}.tex", f"{which}.html"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temp files

    # CSV: every column, numbers at full precision.
    csv = pd.read_csv(paths[0])
    assert list(csv.columns) == list(df.columns)
    for col in df.columns:
        if col.endswith(("_mean", "_sd", "_ci_low", "_ci_high")):
            np.testing.assert_allclose(csv[col].to_numpy(float), df[col].to_numpy(float), rtol=1e-15)

    # Markdown: caption, then a pipe table whose rows all have the header's number of cells, then the notes.
    lines = paths[1].read_text().splitlines()
    assert lines[0] == "**Test 50% & x_y {ok}**" and lines[1] == ""
    header = _md_cells(lines[2])
    assert re.fullmatch(r"\|(-{3,}:?\|)+", lines[3]) and lines[3].count("|") == len(header) + 1
    body = lines[4 : 4 + len(df)]
    notes = table_notes(df)
    assert notes and lines[4 + len(df) :] == [x for note in notes for x in ("", note)]
    assert all(len(_md_cells(line)) == len(header) for line in body)
    assert not any(h.endswith(("mean", "sd", "ci low", "ci high", " n")) for h in header)  # one "mean ± sd [lo, hi]"
    assert any("±" in line for line in body)
    for hidden in df.attrs["hidden"]:
        assert hidden.replace("_", " ") not in header

    # LaTeX: booktabs rules in order, escaped caption, one row per table row, no unescaped ±.
    tex = paths[2].read_text()
    i = [tex.index(rule) for rule in ("\\toprule", "\\midrule", "\\bottomrule")]
    assert i == sorted(i)
    assert "\\caption{Test 50\\% \\& x\\_y \\{ok\\}}" in tex
    assert "\\label{tab:" + which + "}" in tex
    rows = tex[i[1] : i[2]].strip().splitlines()[1:]
    assert len(rows) == len(df)
    assert f"\\{latex_font(df)}\n" in tex and latex_escape(notes[0]) in tex
    assert "±" not in tex and "$\\pm$" in tex
    assert "$$" not in tex
    ncols = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    assert all(row.count(" & ") == len(ncols) - 1 for row in rows)

    # HTML: the caption escaped, one <th> per printed column, one <tr> per row, numbers right-aligned, notes.
    page = paths[3].read_text()
    assert "<caption>Test 50% &amp; x_y {ok}</caption>" in page
    assert page.count("</th>") == len(header) and page.count("<tr>") == len(df) + 1
    assert 'class="num"' in page and "±" in page and all(html.escape(note) in page for note in notes)


def test_table1_markdown_shows_mean_sd_ci_and_paper(runs, tmp_path):
    metrics, _ = runs
    df = table1_accuracy(metrics)
    md = write_table(df, tmp_path / "t1", "Table 1")[1].read_text()
    row = _row(df, task="adding", model="rnn")
    cell = format_summary(*(row[f"baseline_accuracy_{p}"] for p in ("mean", "sd", "ci_low", "ci_high")))
    assert f"| {cell} |" in md and re.search(r"\| \d+(\.\d+)? ± \d+(\.\d+)? \[-?\d+(\.\d+)?, \d+(\.\d+)?\] \|", md)
    assert "n = 2 in every cell" in md  # n stated once: every cell has both seeds
    assert "non-convergence (3 seeds)" in md and "99.73%" in md
    assert "| baseline (%) |" in md and "| stabilized, after final rescale (%) |" in md
    assert OUTCOME_RULE in md


def test_latex_tables_fit_a_page(runs):
    """At most 9 printed columns per table, and the columns of latex_layout (headers wrapped, long text in a
    parbox, mean ± sd [lo, hi] on several lines and a smaller font if need be) add up to less than the text width:
    no \\resizebox needed."""
    metrics, analysis = runs
    for name, df in _tables(metrics, analysis).items():
        layout = latex_layout(df)
        assert len(layout) <= 9, (name, [h for _, h, _ in layout])
        width = sum(w + LATEX_COLUMN_SEP_PT for _, _, w in layout)
        assert width <= LATEX_TEXT_WIDTH_PT, (name, width, [(" ".join(h), w) for _, h, w in layout])
        assert all(len(lines) <= 4 for _, lines, _ in layout), name  # headers of at most 4 lines
        assert "resizebox" not in to_latex(df)


def test_latex_stacks_mean_and_std_only_when_one_line_is_too_wide():
    row = {"x": "a", **{f"q{i}_mean": 1.23456 for i in range(3)}, **{f"q{i}_sd": 0.0123 for i in range(3)}}
    narrow = table_frame([row], list(row))
    assert "\\begin{tabular}[t]" not in to_latex(narrow) and "1.235 $\\pm$ 0.012" in to_latex(narrow)
    row = {"x": "a", **{f"q{i}_mean": 1.23456 for i in range(9)}, **{f"q{i}_sd": 0.0123 for i in range(9)}}
    wide = table_frame([row], list(row))
    tex = to_latex(wide)
    assert "\\begin{tabular}[t]{@{}r@{}}1.235 \\\\ $\\pm$ 0.012\\end{tabular}" in tex
    assert sum(w + LATEX_COLUMN_SEP_PT for _, _, w in latex_layout(wide)) <= LATEX_TEXT_WIDTH_PT


@pytest.mark.latex
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_tables_compile_without_overfull_boxes(runs, tmp_path):
    metrics, analysis = runs
    inputs = []
    for name, df in _tables(metrics, analysis).items():
        write_table(df, tmp_path / name, f"{name}: 50% & x_y")
        inputs.append(f"\\input{{{name}.tex}}")
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[margin=1in]{geometry}\n"
        "\\usepackage{booktabs}\n\\begin{document}\n" + "\n".join(inputs) + "\n\\end{document}\n"
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "Overfull \\hbox" not in log, log[log.index("Overfull") - 200 : log.index("Overfull") + 400]


def test_latex_escape():
    assert latex_escape("a_b & 50% $ # {x} ~ ^ \\") == (
        "a\\_b \\& 50\\% \\$ \\# \\{x\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}"
    )
    assert latex_escape("‖W‖₂") == "$\\|$W$\\| _2$"
    assert latex_escape("−∞ ± 1") == "$- \\infty$ $\\pm$ 1"
    assert latex_escape("19.37–22.47%") == "19.37--22.47\\%"
    # Sub- and superscripts after a symbol; identifiers keep their underscores.
    assert latex_escape("ρ_ε") == "$\\rho _{\\varepsilon}$"
    assert latex_escape("‖W‖_F") == "$\\|$W$\\| _{F}$"
    assert latex_escape("‖Wᵏ‖") == "$\\|$W$^{k} \\|$"
    assert latex_escape("test_before_final_rescale") == "test\\_before\\_final\\_rescale"


def test_text_overrides_and_notes_in_every_format(tmp_path):
    rows = [{"x": "a", "v_mean": 1.5, "v_sd": 0.25, "v_text": ""}, {"x": "b", "v_mean": math.inf, "v_sd": math.nan,
            "v_text": "unstable"}]  # fmt: skip
    df = table_frame(rows, ["x", "v_mean", "v_sd", "v_text"], text={"v": "v_text"}, notes=["A note."])
    shown, numeric = display_frame(df)
    assert list(shown.columns) == ["x", "v"] and numeric == [False, True]
    assert list(shown["v"]) == ["1.50 ± 0.25", "unstable"]
    csv, md, tex, page = (p.read_text() for p in write_table(df, tmp_path / "t", "cap"))
    assert '<td>b</td><td class="num">unstable</td>' in page and '<p class="note">A note.</p>' in page
    assert "inf" in csv and "v_text" in csv and "unstable" in csv
    assert md.endswith("\nA note.\n") and "| b | unstable |" in md
    assert "A note.\\par" in tex


def test_long_headers_and_text_cells_wrap_in_latex():
    rows = [{"name": "a long text cell that needs more than one line", "value": 1.0}]
    df = table_frame(rows, ["name", "value"], headers={"value": "a header of several words"})
    (_, name_lines, name_width), (_, lines, _) = latex_layout(df)
    assert name_width == LATEX_WRAP_PT and name_lines == ["name"]
    assert len(lines) > 1
    tex = to_latex(df)
    assert "\\parbox[t]" in tex and "\\begin{tabular}[b]{@{}r@{}}a header" in tex


def test_format_value_and_eps():
    assert format_value(3.14159) == "3.142"
    assert (format_value(math.inf), format_value(-math.inf), format_value(math.nan)) == ("∞", "−∞", "")
    assert format_value({0: 0.5, 1: 2}) == "0: 0.5; 1: 2"
    assert format_mean_std(1.0, 0.25) == "1.00 ± 0.25" and format_mean_std(1.0, math.nan) == "1"
    # The sd to 2 significant digits, the mean (and the interval) to the same decimal place.
    assert format_mean_std(99.7312, 0.01234) == "99.731 ± 0.012"
    assert format_mean_std(0.002345, 0.0011) == "0.0023 ± 0.0011"
    assert format_mean_std(1444779.6, 30000.0) == "1.445e+06 ± 3e+04"
    assert format_mean_std(math.inf, math.nan) == "∞" and format_mean_std(2.0, 0.0) == "2 ± 0"
    assert (format_eps(-2), format_eps(-2.5), format_eps(-3)) == ("0.01", "0.00316", "0.001")
    assert format_mean_std(284.9, 187.0) == "280 ± 190"  # an sd of hundreds: rounded to tens
    assert format_summary(99.7312, 0.01234, 99.7201, 99.7432) == "99.731 ± 0.012 [99.720, 99.743]"
    assert format_summary(1.0, math.nan, math.nan, math.nan) == "1"  # one seed: no sd, no interval
    assert format_summary(2.0, 0.0, 2.0, 2.0) == "2 ± 0"  # constant: the interval is [2, 2], said by the sd
