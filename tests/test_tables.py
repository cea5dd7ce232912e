"""Tables 1–3 against synthetic per-run files: values equal the JSON they come from, the paper's numbers sit
beside ours (rnnrobust.paper), status cells flag non-convergence, and the CSV / markdown / booktabs outputs
(rnnrobust.render) are well formed."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from rnnrobust import layout
from rnnrobust import paper as P
from rnnrobust import render as R
from rnnrobust import tables as T
from rnnrobust.analysis import analyze_blocks
from rnnrobust.io import write_json
from rnnrobust.layout import REGIMES, eps_key

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
    for i, key in enumerate(P.paper_blocks(task, model)):
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
    assert set(P.PAPER_TABLE1) == {(t, m) for t in layout.TASKS for m in layout.CELLS}
    for key, value in printed.items():
        assert P.PAPER_TABLE1[key].values == (value,)
        assert P.PAPER_TABLE1[key].display == f"{value:.2f}%"
    assert P.PAPER_TABLE1["mnist", "lstm"].display == "non-convergence (3 seeds)"
    assert P.PAPER_TABLE1["mnist", "lstm"].values == ()
    assert P.PAPER_TABLE1["mnist", "gru"].display == "19.37–22.47%"
    assert P.PAPER_TABLE1["mnist", "gru"].values == (19.37, 22.47)


def test_paper_table2_holds_the_published_henrici_values_per_gate():
    assert P.PAPER_TABLE2["imdb", "rnn"].values == (0.2,)
    assert P.PAPER_TABLE2["imdb", "lstm"].values == (2.6, 3.8, 1.2, 2.4)
    assert P.PAPER_TABLE2["imdb", "gru"].values == (0.9, 1.8, 0.8)
    assert P.PAPER_TABLE2["mnist", "rnn"].values == (1.8,)
    assert P.PAPER_TABLE2["mnist", "gru"].values == (4.7, 5.9, 6.0)
    # Lost cells are marked missing, one entry per matrix (2 layers × 4 / 3 gates).
    assert P.PAPER_TABLE2["adding", "lstm"].values == (None,) * 8
    assert P.PAPER_TABLE2["adding", "gru"].values == (None,) * 6
    assert P.PAPER_TABLE2["mnist", "lstm"].display == "non-convergence"
    # The adding RNN pair is assigned to encoder, decoder, and the note says that this is an inference.
    assert P.paper_henrici("adding", "rnn", "encoder/h")[:2] == (1.6, "1.6")
    assert P.paper_henrici("adding", "rnn", "decoder/h")[:2] == (2.3, "2.3")
    assert "[I]" in P.PAPER_TABLE2["adding", "rnn"].note
    assert P.paper_henrici("imdb", "lstm", "rnn/f")[0] == 3.8
    assert P.paper_henrici("mnist", "gru", "rnn/h")[0] == 6.0
    assert P.paper_henrici("adding", "lstm", "decoder/o")[:2] == (None, "not reported")
    assert P.paper_henrici("mnist", "lstm", "rnn/i")[:2] == (None, "non-convergence")
    for (task, model), cell in P.PAPER_TABLE2.items():
        assert len(cell.values) == len(P.paper_blocks(task, model))


def test_paper_figures_are_numbered_baseline_then_stabilized_in_task_order():
    assert list(P.FIGURES.items()) == [
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
    metrics, _ = runs
    data = _load(metrics)
    df = T.table1_accuracy(metrics)
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
                runs_ = [data[task, model, regime, s] for s in SEEDS]
                acc = [100 * m["test"]["accuracy"] for m in runs_]
                mean, std = _stats(acc)
                assert row[f"{regime}_accuracy_mean"] == pytest.approx(mean, rel=1e-12)
                assert row[f"{regime}_accuracy_std"] == pytest.approx(std, rel=1e-12)
                assert row[f"{regime}_n"] == len(SEEDS)
                assert row[f"{regime}_accuracy_per_seed"] == dict(zip(SEEDS, acc, strict=True))
                if task == "adding":
                    mean, std = _stats([100 * m["test"]["exact_match"] for m in runs_])
                    assert row[f"{regime}_exact_match_mean"] == pytest.approx(mean, rel=1e-12)
                    assert row[f"{regime}_exact_match_std"] == pytest.approx(std, rel=1e-12)
                else:
                    assert math.isnan(row[f"{regime}_exact_match_mean"])
            before = [100 * data[task, model, "stabilized", s]["test_before_final_rescale"]["accuracy"] for s in SEEDS]
            assert row["stabilized_before_rescale_accuracy_mean"] == pytest.approx(np.mean(before), rel=1e-12)
            assert row["stabilized_before_rescale_accuracy_std"] == pytest.approx(np.std(before, ddof=1), rel=1e-12)
    assert "baseline_before_rescale_accuracy_mean" not in df.columns  # baseline runs have no rescale


def test_table1_status_cells(runs):
    metrics, _ = runs
    df = T.table1_accuracy(metrics)
    assert _row(df, task="mnist", model="lstm")["baseline_status"] == "non-convergence (2/2 not converged)"
    assert (
        _row(df, task="mnist", model="lstm")["stabilized_status"] == "non-convergence (1/2 not converged, 1/2 diverged)"
    )
    assert _row(df, task="adding", model="lstm")["stabilized_status"] == "1/2 not converged"
    assert _row(df, task="adding", model="lstm")["baseline_status"] == "converged"
    assert _row(df, task="adding", model="rnn")["stabilized_status"] == "converged"


def test_status_cell():
    assert T.status_cell(["converged"] * 3) == "converged"
    assert T.status_cell(["converged", "not_converged", "diverged"]) == "1/3 not converged, 1/3 diverged"
    assert T.status_cell(["diverged", "diverged", "diverged"]) == "non-convergence (3/3 diverged)"
    with pytest.raises(ValueError, match="unknown run status"):
        T.status_cell(["exploded"])


def test_table1_paper_columns(runs):
    metrics, _ = runs
    df = T.table1_accuracy(metrics)
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
        T.table1_accuracy(wrong)
    wrong = {("mnist", "rnn", "stabilized", 0): metrics["mnist", "rnn", "baseline", 0]}
    with pytest.raises(ValueError, match="regime"):
        T.table1_accuracy(wrong)


# --------------------------------------------------------------------------------------------------
# Table 2.


def test_table2_values_equal_the_analysis_files(runs):
    metrics, analysis = runs
    data = _load(analysis)
    df = T.table2_henrici(analysis, metrics=metrics)
    # One row per task × model × matrix, layers encoder before decoder, gates in the cell's order.
    expected_rows = [(t, m, b) for t in TASKS for m in MODELS for b in P.paper_blocks(t, m)]
    assert list(df[["task", "model", "matrix"]].itertuples(index=False, name=None)) == expected_rows
    for task, model, block in expected_rows:
        row = _row(df, task=task, model=model, matrix=block)
        for regime in REGIMES:
            for q in ("henrici", "henrici_relative"):
                mean, std = _stats([data[task, model, regime, s][block][q] for s in SEEDS])
                assert row[f"{regime}_{q}_mean"] == pytest.approx(mean, rel=1e-12)
                assert row[f"{regime}_{q}_std"] == pytest.approx(std, rel=1e-12)
            assert row[f"{regime}_n"] == len(SEEDS)
    assert _row(df, task="mnist", model="lstm", matrix="rnn/f")["baseline_status"].startswith("non-convergence")
    assert _row(df, task="mnist", model="rnn", matrix="rnn/h")["baseline_status"] == "converged"


def test_table2_paper_column(runs):
    _, analysis = runs
    df = T.table2_henrici(analysis)
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
    df = T.table3_robustness(analysis, eps_log10)
    assert len(df) == len(TASKS) * len(MODELS) * len(REGIMES)
    for task in TASKS:
        for model in MODELS:
            for regime in REGIMES:
                row = _row(df, task=task, model=model, regime=regime)
                per_seed = [data[task, model, regime, s] for s in SEEDS]
                assert row["n"] == len(SEEDS)
                assert row["n_blocks"] == len(P.paper_blocks(task, model))
                expected = {
                    "spectral_radius": [max(b["spectral_radius"] for b in run.values()) for run in per_seed],
                    "spectral_norm": [max(b["spectral_norm"] for b in run.values()) for run in per_seed],
                    "pseudospectral_radius": [
                        max(b["pseudospectral_radius"][eps_key(eps_log10)] for b in run.values()) for run in per_seed
                    ],
                    "transient_peak": [max(b["transient_peak"] for b in run.values()) for run in per_seed],
                    "kreiss_lower_bound": [max(b["kreiss_lower_bound"] for b in run.values()) for run in per_seed],
                    "distance_to_instability": [
                        min(b["distance_to_instability"] for b in run.values()) for run in per_seed
                    ],
                }
                for key, values in expected.items():
                    if np.isinf(values).any():
                        assert row[f"{key}_mean"] == np.inf and math.isnan(row[f"{key}_std"])
                        continue
                    mean, std = _stats(values)
                    assert row[f"{key}_mean"] == pytest.approx(mean, rel=1e-12), key
                    assert row[f"{key}_std"] == pytest.approx(std, rel=1e-12), key
    # The stabilized blocks have rho = 1.05 > 1: an infinite Kreiss constant propagates to the mean.
    assert (df.loc[df["regime"] == "stabilized", "kreiss_lower_bound_mean"] == np.inf).all()
    assert np.isfinite(df.loc[df["regime"] == "baseline", "distance_to_instability_mean"]).all()


def test_table3_min_and_max_differ_from_the_mean_over_blocks(runs):
    """The aggregation is max (min) over blocks, not the mean: guards against a silent change."""
    _, analysis = runs
    data = _load(analysis)
    row = _row(T.table3_robustness(analysis, -1), task="adding", model="lstm", regime="baseline")
    means = [np.mean([b["spectral_norm"] for b in data["adding", "lstm", "baseline", s].values()]) for s in SEEDS]
    assert row["spectral_norm_mean"] > np.mean(means)


def test_table3_unknown_eps_raises_naming_the_levels(runs):
    _, analysis = runs
    with pytest.raises(KeyError, match=r"eps = -1\.3.*'-1\.0', '-2\.0'"):
        T.table3_robustness(analysis, -1.3)


def test_table3_header_shows_eps(runs):
    _, analysis = runs
    shown, _ = R.display_frame(T.table3_robustness(analysis, -2))
    assert "ρ_ε, ε = 0.01 (max)" in shown.columns
    assert "eps log10" not in shown.columns  # hidden: kept in the CSV only


def test_table3_status_with_metrics(runs):
    metrics, analysis = runs
    df = T.table3_robustness(analysis, -2, metrics=metrics)
    assert _row(df, task="mnist", model="lstm", regime="baseline")["status"].startswith("non-convergence")
    assert _row(df, task="adding", model="lstm", regime="stabilized")["status"] == "1/2 not converged"


# --------------------------------------------------------------------------------------------------
# Output files.


def _md_cells(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


@pytest.mark.parametrize("which", ["table1", "table2", "table3"])
def test_write_table_outputs(runs, tmp_path, which):
    metrics, analysis = runs
    df = {
        "table1": lambda: T.table1_accuracy(metrics),
        "table2": lambda: T.table2_henrici(analysis, metrics=metrics),
        "table3": lambda: T.table3_robustness(analysis, -2),
    }[which]()
    caption = "Test 50% & x_y {ok}"
    paths = R.write_table(df, tmp_path / "out" / which, caption)
    assert [p.name for p in paths] == [f"{which}.csv", f"{which}.md", f"{which}.tex"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temp files

    # CSV: every column, numbers at full precision.
    csv = pd.read_csv(paths[0])
    assert list(csv.columns) == list(df.columns)
    for col in df.columns:
        if col.endswith(("_mean", "_std")):
            np.testing.assert_allclose(csv[col].to_numpy(float), df[col].to_numpy(float), rtol=1e-15)

    # Markdown: caption, then a pipe table whose rows all have the header's number of cells.
    lines = paths[1].read_text().splitlines()
    assert lines[0] == "**Test 50% & x_y {ok}**" and lines[1] == ""
    header = _md_cells(lines[2])
    assert re.fullmatch(r"\|(-{3,}:?\|)+", lines[3]) and lines[3].count("|") == len(header) + 1
    body = lines[4:]
    assert len(body) == len(df)
    assert all(len(_md_cells(line)) == len(header) for line in body)
    assert not any(h.endswith(("mean", "std")) for h in header)  # shown as "mean ± std"
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
    assert "±" not in tex and "$\\pm$" in tex
    assert "$$" not in tex
    ncols = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    assert all(row.count(" & ") == len(ncols) - 1 for row in rows)


def test_table1_markdown_shows_mean_pm_std_and_paper(runs, tmp_path):
    metrics, _ = runs
    df = T.table1_accuracy(metrics)
    md = R.write_table(df, tmp_path / "t1", "Table 1")[1].read_text()
    row = _row(df, task="adding", model="rnn")
    mean, std = row["baseline_accuracy_mean"], row["baseline_accuracy_std"]
    assert f"| {mean:.4g} ± {std:.4g} |" in md
    assert "non-convergence (3 seeds)" in md and "99.73%" in md
    assert "baseline accuracy (%)" in md


def test_latex_escape():
    assert R.latex_escape("a_b & 50% $ # {x} ~ ^ \\") == (
        "a\\_b \\& 50\\% \\$ \\# \\{x\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}"
    )
    assert R.latex_escape("‖W‖₂") == "$\\|$W$\\| _2$"
    assert R.latex_escape("−∞ ± 1") == "$- \\infty$ $\\pm$ 1"
    assert R.latex_escape("19.37–22.47%") == "19.37--22.47\\%"


def test_format_value_and_eps():
    assert R.format_value(3.14159) == "3.142"
    assert (R.format_value(math.inf), R.format_value(-math.inf), R.format_value(math.nan)) == ("∞", "−∞", "")
    assert R.format_value({0: 0.5, 1: 2}) == "0: 0.5; 1: 2"
    assert R.format_mean_std(1.0, 0.25) == "1 ± 0.25" and R.format_mean_std(1.0, math.nan) == "1"
    assert (R.format_eps(-2), R.format_eps(-2.5), R.format_eps(-3)) == ("0.01", "0.00316", "0.001")
