"""The robust-training study's numbers: fronts, hypervolumes, methods and references (rnnrobust.robustness.pareto),
the per-run rows read from the three files of each run (reporting.pareto_runs), and Table 7."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnrobust.config.files import load_config
from rnnrobust.io import write_json
from rnnrobust.reporting.latex import LATEX_COLUMN_SEP_PT, LATEX_TEXT_WIDTH_PT, latex_layout
from rnnrobust.reporting.pareto_runs import RUN_COLUMNS, pareto_runs
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table7_pareto import hypervolume_reference, table7_pareto
from rnnrobust.robustness.pareto import MATCH_POINTS, METHODS, front, hypervolume, paired_references, regime_method
from rnnrobust.stats import holm, paired_difference, summarize

REPO = Path(__file__).resolve().parents[2]


def test_the_front_is_what_brute_force_finds():
    rng = np.random.default_rng(0)
    points = np.round(rng.normal(size=(60, 2)), 1)  # rounded: ties on one count occur
    expected = [
        not any(np.all(q >= p) and np.any(q > p) for q in points)
        for p in points
    ]  # fmt: skip
    assert front(points).tolist() == expected


def test_hypervolume_equals_the_dominated_area_counted_on_a_fine_grid():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 1, size=(12, 2))
    reference = (0.1, 0.2)
    xs = np.linspace(0, 1, 801)[:-1] + 0.5 / 800  # cell centres
    grid = np.stack(np.meshgrid(xs, xs, indexing="ij"), axis=-1).reshape(-1, 2)
    inside = (grid[:, 0] > reference[0]) & (grid[:, 1] > reference[1])
    dominated = np.zeros(len(grid), dtype=bool)
    for p in points:
        dominated |= (grid[:, 0] <= p[0]) & (grid[:, 1] <= p[1])
    area = np.sum(inside & dominated) / 800**2
    assert hypervolume(points, reference) == pytest.approx(area, abs=3e-3)
    # dominated points and points at or below the reference add nothing
    more = np.vstack([points, points[front(points)] - 0.01, [[0.05, 0.9]], [[np.nan, 1.0]]])
    assert hypervolume(more, reference) == pytest.approx(hypervolume(points, reference), abs=1e-12)


def test_the_study_config_names_each_regime_s_method_and_reference():
    config = load_config(REPO / "config.yaml", REPO / "workflow/configs/robust_training.yaml")
    regimes = config["regimes"]
    methods = {name: regime_method(name, settings) for name, settings in regimes.items()}
    assert methods["baseline"] == "plain training" and methods["stabilized"] == "Algorithm 1 per epoch"
    assert methods["stabilized_step"] == "Algorithm 1 per step" and methods["norm_projection"] == "norm projection"
    assert {methods[r] for r in regimes if r.startswith("barrier")} == {"stability barrier"}
    assert {methods[r] for r in regimes if r.startswith("schur_g")} == {"Schur parametrisation"}
    assert {methods[r] for r in regimes if r.startswith("schur_frozen")} == {"Schur, eigenvalues frozen"}
    assert set(methods.values()) == set(METHODS)
    references = paired_references(regimes, "baseline")
    assert references["baseline"] is None and references["schur_g095_b1em2"] == "baseline"
    assert references["schur_frozen_b0"] == "schur_g1_b0"
    assert {references[r] for r in regimes if r.startswith("schur_frozen_b1")} == {"schur_frozen_b0"}


# ------------------------------------------------------------------------------------------ per-run rows from files

ARMS = {"baseline": {}, "s": {"robust_training": {"parametrization": "schur"}}}


def _perturbation_record(key, accuracy: float, drop_at: float, old: bool) -> dict:
    """A run's perturbation record: one Gaussian direction whose accuracy falls 20 points between the grid levels
    around ``drop_at``; as the stage writes it now (``grid`` rows, bisected ``thresholds``: ε₅ at ``drop_at`` − 0.1,
    ε_flip5 a decade earlier), or, ``old``, as before issue 19 (family ``random``, no thresholds: ε₅ interpolated)."""
    task, model, regime, seed = key
    levels = [-3.0, -2.0, -1.0, 0.0]
    sweep = [{"family": "random" if old else "gaussian", "sample": 0, "eps_log10": x,
              "accuracy": accuracy if x < drop_at else accuracy - 0.2} for x in levels]  # fmt: skip
    data = {"task": task, "model": model, "regime": regime, "seed": seed, "reference": {"accuracy": accuracy}}
    if old:
        return data | {"sweep": sweep}

    def crossing(x: float) -> list[dict]:
        return [{"sample": 0, "eps_log10": x, "low": x - 1 / 128, "high": x + 1 / 128, "censored": None}]

    thresholds = {"drop5": {"gaussian": crossing(drop_at - 0.1)}, "flip5": {"gaussian": crossing(drop_at - 1.1)}}
    return data | {"sweep": [row | {"grid": True} for row in sweep], "thresholds": thresholds}


def _write_run(root: Path, key, accuracy: float, drop_at: float, henrici: float, old: bool = False) -> dict[str, Path]:
    task, model, regime, seed = key
    stem = f"{task}-{model}-{regime}-{seed}"
    files = {kind: root / f"{kind}/{stem}.json" for kind in ("metrics", "analysis", "perturbation")}
    write_json(files["metrics"], {"task": task, "model": model, "seed": seed, "test": {"accuracy": accuracy},
                                  "chance_accuracy": 0.5, "hyperparameters": {"regime": regime}})  # fmt: skip
    blocks = {
        f"rnn/{gate}": {"henrici": henrici * (1 if gate == "h" else 9), "spectral_radius": 0.9 + 0.01 * seed,
                        "kreiss_lower_bound": 2.0, "transient_peak": 3.0 + seed}
        for gate in ("z", "h")
    }  # fmt: skip
    write_json(files["analysis"], blocks)
    write_json(files["perturbation"], _perturbation_record(key, accuracy, drop_at, old))
    return files


def _pareto_runs(tmp_path: Path, old: bool) -> pd.DataFrame:
    keys = [("imdb", "gru", regime, seed) for regime in ARMS for seed in (0, 1)]
    files = {key: _write_run(tmp_path, key, 0.8 + 0.01 * key[3], -1.0, 2.0 + key[3], old) for key in keys}
    by_kind = {kind: {key: f[kind] for key, f in files.items()} for kind in ("metrics", "analysis", "perturbation")}
    return pareto_runs(by_kind["metrics"], by_kind["analysis"], by_kind["perturbation"], regimes=ARMS,
                       gates={"gru": "h"})  # fmt: skip


def test_pareto_runs_reads_each_run_s_numbers(tmp_path):
    runs = _pareto_runs(tmp_path, old=False)
    assert list(runs.columns) == list(RUN_COLUMNS) and len(runs) == 4
    row = runs.iloc[1]
    assert (row["regime"], row["seed"], row["method"]) == ("baseline", 1, "plain training")
    assert row["accuracy"] == pytest.approx(81.0) and row["chance"] == pytest.approx(50.0)
    # the Gaussian family's ε₅ of the accuracy as the stage bisected it, not its ε_flip5 (a decade earlier)
    assert row["fragility"] == pytest.approx(-1.1) and row["fragility_censored"] == ""
    assert row["henrici"] == pytest.approx(3.0)  # the gate's block, not the larger z block
    assert (row["spectral_radius"], row["transient_peak"], row["grid_low"]) == pytest.approx((0.91, 4.0, -3.0))
    assert runs.iloc[2]["method"] == "Schur parametrisation"


def test_pareto_runs_reads_records_of_the_stage_before_issue_19(tmp_path):
    """The robust-training study's records predate the rework: their ``random`` family is the Gaussian one, and its
    ε₅ is interpolated on the grid."""
    row = _pareto_runs(tmp_path, old=True).iloc[1]
    # a 20-point fall between −2 and −1, interpolated in log10 ε to the 5-point drop
    assert row["fragility"] == pytest.approx(-1.75) and row["fragility_censored"] == ""


# ------------------------------------------------------------------------------------------ Table 7


def _runs(accuracy_shift: float) -> pd.DataFrame:
    """Two cells × three arms × five seeds; arm "far" loses accuracy_shift points, arm "near" half a point."""
    rows = []
    rng = np.random.default_rng(2)
    for (task, model), (regime, shift), seed in itertools.product(
        [("adding", "rnn"), ("imdb", "gru")], [("baseline", 0.0), ("near", -0.5), ("far", -accuracy_shift)], range(5)
    ):
        rows.append({
            "task": task, "model": model, "regime": regime, "seed": seed,
            "method": {"baseline": "plain training", "near": "norm projection", "far": "stability barrier"}[regime],
            "accuracy": 90.0 + shift + rng.normal(0, 0.3), "chance": 10.0,
            "fragility": -1.5 + (0.3 if regime == "far" else 0.1) + rng.normal(0, 0.05),
            "fragility_censored": "above" if (regime, seed) == ("near", 0) else "",
            "henrici": 5.0 - seed, "spectral_radius": 0.9, "kreiss": 3.0, "transient_peak": 4.0, "grid_low": -4.0,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def test_table7_rows_summaries_hypervolumes_and_matched_comparisons(tmp_path):
    runs = _runs(accuracy_shift=3.0)
    references = {"baseline": None, "near": "baseline", "far": "baseline"}
    arms = table7_pareto(runs, references=references, regimes=["baseline", "near", "far"])
    fronts = table7_pareto(runs, references=references, regimes=["baseline", "near", "far"], part="fronts")
    assert list(arms[["task", "model", "regime"]].itertuples()) == list(
        fronts[["task", "model", "regime"]].itertuples()
    )
    table = arms.join(fronts.drop(columns=[c for c in fronts.columns if c in arms.columns]))
    assert list(zip(table["task"], table["regime"], strict=True))[:3] == [
        ("adding", "baseline"), ("adding", "near"), ("adding", "far")]  # fmt: skip
    cell = runs[(runs["task"] == "adding")]
    arm = {r: cell[cell["regime"] == r] for r in ("baseline", "near", "far")}
    row = {r: table[(table["task"] == "adding") & (table["regime"] == r)].iloc[0] for r in arm}
    assert row["near"]["accuracy_mean"] == pytest.approx(summarize(arm["near"]["accuracy"]).mean)
    # 5 seeds: Student's t interval (rnnrobust.stats.interval_for), wider than the percentile bootstrap's
    t = summarize(arm["near"]["fragility"], interval="t")
    assert row["near"]["fragility_ci_low"] == pytest.approx(t.ci_low)
    assert t.ci_low < summarize(arm["near"]["fragility"]).ci_low
    assert row["near"]["fragility_above"] == 1 and row["far"]["fragility_above"] == 0
    assert bool(row["near"]["matched"]) and not bool(row["far"]["matched"]) and not bool(row["baseline"]["matched"])
    by_seed = {r: dict(zip(arm[r]["seed"], arm[r]["fragility"], strict=True)) for r in arm}
    expected = paired_difference(by_seed["near"], by_seed["baseline"], interval="t")
    assert row["near"]["fragility_diff_mean"] == pytest.approx(expected.mean)
    assert row["near"]["fragility_diff_ci_low"] == pytest.approx(expected.ci_low)
    assert row["near"]["fragility_p"] == pytest.approx(expected.p_value)
    # Holm per quantity over the table's arms: the fragility of the 2 matched arms (one per cell), the accuracy and
    # Henrici of the 4 arms with a reference; arms without a p are not counted.
    for column, tested in (("fragility", 2), ("accuracy", 4), ("henrici", 4)):
        p = table[f"{column}_p"]
        assert p.notna().sum() == tested
        np.testing.assert_allclose(table[f"{column}_p_holm"], holm(p), rtol=1e-15)
        smallest = p.idxmin()
        assert table.loc[smallest, f"{column}_p_holm"] == pytest.approx(min(1.0, tested * p[smallest]))
    near = row["near"]
    assert near["fragility_p_text"] == f"{near['fragility_p']:.4g} (Holm {near['fragility_p_holm']:.4g})"
    assert row["baseline"]["fragility_p_text"] == "" and math.isnan(row["baseline"]["fragility_p_holm"])
    assert math.isnan(row["far"]["fragility_diff_mean"])  # 3 points less accurate: not compared on fragility
    assert row["far"]["accuracy_diff_mean"] < -MATCH_POINTS and row["far"]["henrici_diff_mean"] == 0.0
    reference = hypervolume_reference(cell)
    assert reference == (10.0, -4.0)
    points = arm["far"][["accuracy", "fragility"]].to_numpy()
    assert row["far"]["arm_hypervolume"] == pytest.approx(hypervolume(points, reference))
    assert row["far"]["method_hypervolume"] == row["far"]["arm_hypervolume"]  # the method's only arm
    written = write_table(fronts, tmp_path / "table7_fronts", "caption")
    assert {p.suffix for p in written} >= {".csv", ".md", ".html"}
    assert "HV (method)" in (tmp_path / "table7_fronts.md").read_text()
    for part in (arms, fronts):  # each part fits a page, as every table does
        layout = latex_layout(part)
        assert len(layout) <= 9, [h for _, h, _ in layout]
        assert sum(w + LATEX_COLUMN_SEP_PT for _, _, w in layout) <= LATEX_TEXT_WIDTH_PT
    with pytest.raises(ValueError, match="part = 'both'"):
        table7_pareto(runs, references=references, part="both")


def test_table7_says_which_fronts_dominate():
    runs = _runs(accuracy_shift=3.0)
    runs.loc[runs["regime"] == "near", "accuracy"] += 5.0  # "near" now beats the baseline on both counts
    references = {"baseline": None, "near": "baseline", "far": "baseline"}
    table = table7_pareto(runs, references=references, regimes=["baseline", "near", "far"], part="fronts")
    rows = {r: table[(table["task"] == "imdb") & (table["regime"] == r)].iloc[0] for r in references}
    assert rows["near"]["dominates_reference"] == "yes" and rows["near"]["method_dominates_baseline"] == "yes"
    assert rows["far"]["dominates_reference"] == "no" and rows["baseline"]["dominates_reference"] == ""
    assert rows["baseline"]["method_dominates_baseline"] == ""
