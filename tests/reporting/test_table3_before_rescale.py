"""Table 3's rows "<regime>, before final rescale": a rescaled regime's runs analysed on their kernels before the last
epoch's rescale (``analysis/<run>.before_rescale.json``), right after the regime's own rows, computed as those are."""

from __future__ import annotations

import pytest

from rnnrobust.io import write_json
from rnnrobust.layout import REFERENCE, REGIMES, RUN_FILES, block_keys, eps_key, run_stem
from rnnrobust.reporting.table3_robustness import (
    BEFORE_RESCALE,
    table3_robustness,
    table3_robustness_report_caption,
)
from rnnrobust.reporting.table_common import SIGNED_DISTANCE
from rnnrobust.reporting.table_frame import display_frame

TASK = "imdb"
MODELS = ("rnn", "gru")
SEEDS = (0, 1)
EPS_LOG10 = -2.0
#: A second rescaled regime beyond the paper's, so that rows of two regimes must keep their places.
NORM = "stabilized_norm"
RESCALED = (REGIMES[1], NORM)
ORDER = [REFERENCE, *RESCALED]
#: The radius of a run's largest block: saved weights (after the final rescale) and before it.
AFTER, BEFORE = {REFERENCE: 0.9, REGIMES[1]: 1.0, NORM: 0.95}, {REGIMES[1]: 1.3, NORM: 1.1}


def _analysis(task, model, radius):
    """An analysis JSON (the keys Table 3 reads) whose first block has ``radius``, the others 0.5."""
    out = {}
    for i, block in enumerate(block_keys(task, model)):
        rho = radius if i == 0 else 0.5
        out[block] = {
            "spectral_radius": rho, "spectral_norm": rho + 0.5, "pseudospectral_radius": {eps_key(EPS_LOG10): rho},
            "kreiss_lower_bound": float("inf") if rho > 1 else 2.0, "transient_peak": 3.0 * rho,
            "distance_to_instability": abs(1.0 - rho) / 2 if i == 0 else 0.4, "henrici": 1.0,
        }  # fmt: skip
    return out


@pytest.fixture
def runs(tmp_path):
    """metrics, analysis and before-rescale analysis of imdb × rnn, gru × three regimes × two seeds: a rescaled run
    falls near chance at its final rescale (accuracy 0.55 after, 0.9 before)."""
    metrics, analysis, before = {}, {}, {}
    for model in MODELS:
        for regime in ORDER:
            for seed in SEEDS:
                key = (TASK, model, regime, seed)
                stem = run_stem(*key)
                m = {"task": TASK, "model": model, "seed": seed, "status": "converged", "chance_accuracy": 0.5,
                     "test": {"accuracy": 0.9}, "hyperparameters": {"regime": regime, "dtype": "float32"}}  # fmt: skip
                if regime in RESCALED:
                    m |= {"test": {"accuracy": 0.55}, "test_before_final_rescale": {"accuracy": 0.9}}
                    before[key] = tmp_path / RUN_FILES["analysis_before_rescale"].format(stem=stem)
                    write_json(before[key], _analysis(TASK, model, BEFORE[regime] + 0.01 * seed))
                metrics[key] = tmp_path / RUN_FILES["metrics"].format(stem=stem)
                analysis[key] = tmp_path / RUN_FILES["analysis"].format(stem=stem)
                write_json(metrics[key], m)
                write_json(analysis[key], _analysis(TASK, model, AFTER[regime] + 0.01 * seed))
    return metrics, analysis, before


def test_rows_before_the_final_rescale_follow_their_regime(runs):
    metrics, analysis, before = runs
    df = table3_robustness(analysis, EPS_LOG10, metrics=metrics, regimes=ORDER, before_rescale=before)
    labels = [REFERENCE, REGIMES[1], BEFORE_RESCALE.format(regime=REGIMES[1]), NORM, f"{NORM}, before final rescale"]
    assert list(zip(df["model"], df["regime"], strict=True)) == [(m, r) for m in ("rnn", "gru") for r in labels]
    assert df["before_final_rescale"].tolist() == [r.endswith("before final rescale") for r in labels] * 2
    for model in MODELS:
        rows = df[df["model"] == model].set_index("regime")
        for regime in RESCALED:
            after, first = rows.loc[regime], rows.loc[f"{regime}, before final rescale"]
            assert first["spectral_radius_mean"] == pytest.approx(BEFORE[regime] + 0.005)  # mean over seeds 0, 1
            assert after["spectral_radius_mean"] == pytest.approx(AFTER[regime] + 0.005)
            assert (
                first["n"] == len(SEEDS) and first["n_unstable"] == len(SEEDS) and first["unstable_text"] == "unstable"
            )
            assert first[f"{SIGNED_DISTANCE}_mean"] < 0
            # the outcome of the network before the rescale: its accuracy then (0.9), not after it (0.55)
            assert first["outcome"] == "2/2 learned" and first["status"] == "converged"
            assert after["outcome"] == "2/2 collapsed at rescale"
    assert any(note.startswith("Rows “<regime>, before final rescale”") for note in df.attrs["notes"])
    shown, _ = display_frame(df)
    assert len(shown.columns) <= 9 and "before_final_rescale" not in shown.columns


def test_without_before_rescale_files_the_table_is_as_before(runs):
    metrics, analysis, _ = runs
    plain = table3_robustness(analysis, EPS_LOG10, metrics=metrics, regimes=ORDER)
    empty = table3_robustness(analysis, EPS_LOG10, metrics=metrics, regimes=ORDER, before_rescale={})
    assert plain.equals(empty) and "before_final_rescale" not in plain.columns
    assert list(plain["regime"]) == ORDER * 2
    assert not any("before final rescale" in note for note in plain.attrs["notes"])


def test_a_before_rescale_analysis_needs_its_run(runs):
    _, analysis, before = runs
    key = (TASK, "rnn", NORM, 0)
    with pytest.raises(ValueError, match="without an analysis of their saved weights"):
        table3_robustness({k: v for k, v in analysis.items() if k != key}, EPS_LOG10, before_rescale=before)


def test_report_caption_names_the_regimes_shown_before_the_rescale(runs):
    metrics, analysis, before = runs
    caption = table3_robustness_report_caption(metrics, analysis, EPS_LOG10, before)
    assert f"Rows of {REGIMES[1]}, {NORM} before the final rescale: {len(before)} runs" in caption
    assert "before the final rescale" not in table3_robustness_report_caption(metrics, analysis, EPS_LOG10)
