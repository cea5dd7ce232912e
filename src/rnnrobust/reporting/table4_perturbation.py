"""Table 4: what the perturbation stage measured, per task × model × regime, beside what the robustness numbers
predict; its caption and its report caption.

:mod:`rnnrobust.robustness.perturbation.eps5` defines every number, :mod:`rnnrobust.reporting.perturbation_text`
and :mod:`rnnrobust.reporting.perturbation_captions` put them in words. Like the other tables
(:mod:`rnnrobust.reporting.table_common`), every aggregate over seeds is a group ``<name>_mean`` / ``_sd`` /
``_ci_low`` / ``_ci_high`` / ``_n`` from :func:`~rnnrobust.reporting.table_common.over_seeds_summary` (log10 ε₅:
:func:`~rnnrobust.robustness.perturbation.eps5.family_summary`, the same interval), and the per-seed values travel
as ``{seed: value}`` dicts in the CSV.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.layout import RunKey
from rnnrobust.reporting.perturbation_captions import (
    cells_text,
    comparisons_text,
    correlation_text,
    grid_text,
    measured_families,
)
from rnnrobust.reporting.perturbation_text import censored_cell, threshold_text
from rnnrobust.reporting.table_common import STATS_NOTE, over_seeds, over_seeds_summary, summary_columns, unstable_text
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.robustness.perturbation.eps5 import (
    DROP,
    PerturbationRecords,
    RunFragility,
    as_fragility,
    family_summary,
    grid_bounds,
)
from rnnrobust.runs import regime_order, sort_runs

__all__ = [
    "TABLE4_HEADERS",
    "table4_perturbation",
    "table4_perturbation_caption",
    "table4_perturbation_report_caption",
]

#: Printed headers of the aggregates of :func:`table4_perturbation` (all log10 but the accuracy).
TABLE4_HEADERS = {
    "reference_accuracy": "unperturbed accuracy (%)",
    "eps5_random": "log10 ε₅, random",
    "eps5_worst": "log10 ε₅, worst case",
    "predicted": "predicted log10 ε (d/‖W‖₂, min)",
    "amplification": "log10 state amplification (measured)",
    "transient_peak": "log10 transient peak (linear)",
}


def _columns(families: Sequence[str]) -> list[str]:
    columns = ["task", "model", "regime", "n", "seeds", *summary_columns("reference_accuracy")]
    for family in families:
        columns += summary_columns(f"eps5_{family}")
        columns += [f"eps5_{family}_{part}" for part in ("above", "below", "text", "per_seed", "per_seed_text")]
    columns += [*summary_columns("predicted"), "predicted_per_seed", "unpredicted", *summary_columns("reach")]
    columns += [*summary_columns("amplification"), *summary_columns("transient_peak"), "amplification_layer"]
    return [*columns, "n_unstable_linear", "transient_peak_text", "grid_log10", "random_samples", "n_eval"]


def _family_columns(cell: Sequence[RunFragility], family: str, bounds: tuple[float, float]) -> dict[str, Any]:
    """log10 ε₅ of one family over the runs of a cell: the summary, the censored counts and cell, per seed (the
    value, and as printed with its censored samples)."""
    over_runs = family_summary(cell, family)
    present = [r for r in cell if family in r.eps5]
    return {
        **over_runs.summary.columns(f"eps5_{family}"),
        f"eps5_{family}_above": over_runs.above,
        f"eps5_{family}_below": over_runs.below,
        f"eps5_{family}_text": censored_cell(over_runs, bounds),
        f"eps5_{family}_per_seed": {r.run[3]: r.eps5[family].log10 if family in r.eps5 else math.nan for r in cell},
        f"eps5_{family}_per_seed_text": {r.run[3]: threshold_text(r.eps5[family]) for r in present},
    }


def _row(cell: Sequence[RunFragility], families: Sequence[str]) -> dict[str, Any]:
    """One task × model × regime: ``cell`` holds its runs, in seed order."""
    task, model, regime, _ = cell[0].run
    row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "n": len(cell)}
    row["seeds"] = [r.run[3] for r in cell]
    row |= over_seeds_summary(100.0 * r.reference_accuracy for r in cell).columns("reference_accuracy")
    bounds = grid_bounds(cell)
    for family in families:
        row |= _family_columns(cell, family, bounds)
    row |= over_seeds_summary(r.predicted for r in cell).columns("predicted")
    row["predicted_per_seed"] = {r.run[3]: r.predicted for r in cell}
    row["unpredicted"] = sum(math.isnan(r.predicted) for r in cell)
    row |= over_seeds_summary(r.reach for r in cell).columns("reach")
    row |= over_seeds_summary(r.amplification for r in cell).columns("amplification")
    row |= over_seeds_summary(r.transient_peak for r in cell).columns("transient_peak")
    row["amplification_layer"] = {r.run[3]: r.amplification_layer or "" for r in cell}
    row["n_unstable_linear"] = sum(r.linear_unstable for r in cell)
    row["transient_peak_text"] = unstable_text([r.linear_unstable for r in cell])
    row["grid_log10"] = list(bounds)
    row["random_samples"] = max(r.random_samples for r in cell)
    row["n_eval"] = max(r.n_eval for r in cell)
    return row


def _notes(samples: Sequence[int]) -> list[str]:
    return [
        f"ε₅: the relative perturbation ‖ΔW‖₂/‖W‖₂ (every recurrent gate block at once) at which test accuracy first "
        f"falls {100 * DROP:g} percentage points below the unperturbed accuracy, interpolated linearly in log10 ε "
        "between the grid's levels; worst case: the direction towards instability of each block; random: the median "
        f"of log10 ε₅ over the run's {'/'.join(map(str, samples))} Gaussian direction(s). Per run, then {STATS_NOTE}",
        "Censored: a direction whose accuracy never fell by 5 points up to the largest ε of the grid has ε₅ beyond "
        "it and counts at the grid's largest level (≤ the smallest level: fallen already there). A run's median is "
        "exact while fewer than half of its directions are censored that way, else a bound; a cell marked ≥ (k/n "
        "above the grid) is a lower bound of the mean over runs, > max when every run's median lies beyond the grid, "
        "≤ an upper bound; a cell with censored directions but exact medians gives their count (k of m samples). "
        "Per run, with its censored directions: the CSV's eps5_<family>_per_seed_text.",
        "Predicted: d/‖W‖₂ of the run's stable block closest to instability (d: distance to instability), the "
        "smallest relative perturbation that can put an eigenvalue of a stable block on the unit circle. State "
        "amplification: the largest over lags k of the median over test sequences of σ₁, the largest singular value of "
        "the Jacobian of the final state with respect to the state k steps earlier, of the run's most amplifying "
        "recurrent layer; transient peak: max_k ‖Wᵏ‖₂ of that layer's block through which "
        "the state re-enters (its linear prediction); unstable: that block has ρ > 1, so its powers grow without "
        "bound (the number is in the CSV only).",
    ]


def table4_perturbation(perturbation: PerturbationRecords, *, regimes: Sequence[str] | None = None) -> pd.DataFrame:
    """Perturbation thresholds per task × model × regime (rows): measured ε₅ of both families beside the
    predicted threshold, and the measured state amplification beside its linear prediction.

    Per run (:mod:`rnnrobust.robustness.perturbation.eps5`): log10 ε₅ of the random family (the median over the
    run's samples) and of the worst-case direction, found by log-linear interpolation on the ε grid; log10
    ``eps_pred_min``; log10 of the state amplification of the run's most amplifying layer and of that layer's
    transient peak. Then over seeds, :func:`~rnnrobust.reporting.table_common.over_seeds_summary` of each (mean ± sd
    [95 % CI], n).

    **Censored ε₅** (no 5-point drop within the grid, or one already at its smallest level) count at the grid's
    bound; a run's median is a bound only when at least half its samples are censored. The CSV has
    ``eps5_<family>_above`` / ``_below`` (runs whose value is a bound each way), ``_per_seed_text`` (each run as
    :func:`rnnrobust.reporting.perturbation_text.threshold_text` prints it, with its censored samples) and the
    printed cell is :func:`rnnrobust.reporting.perturbation_text.censored_cell`: ``"≥ mean … (k/n above the
    grid)"`` (a lower bound of the mean), or ``"> max (n/n above the grid)"`` when every run lies beyond the grid,
    never a bare number at the grid's end.

    Parameters
    ----------
    perturbation
        Run key -> the run's perturbation JSON (``rnnrobust.robustness.perturbation.run``), or its
        :class:`~rnnrobust.robustness.perturbation.eps5.RunFragility`.
    regimes
        The order of the regimes within a task × model (the config's); default: the order the runs first name them.
        A run of a regime it does not list is a ValueError.

    Returns
    -------
    DataFrame
        ``task``, ``model``, ``regime``, ``n`` runs, ``seeds``; aggregates ``reference_accuracy`` (%),
        ``eps5_random`` (when any run has random samples), ``eps5_worst``, ``predicted``, ``reach`` (log10
        ``eps_worst_min``, CSV only), ``amplification``, ``transient_peak``; per family ``eps5_<f>_above``,
        ``_below``, ``_text`` (the printed override), ``_per_seed`` and ``_per_seed_text``; ``predicted_per_seed``,
        ``unpredicted`` (runs
        without a stable block), ``amplification_layer`` (per seed), ``n_unstable_linear``, ``transient_peak_text``
        ("unstable" where the layer's linear block has ρ > 1), ``grid_log10`` (smallest and largest level),
        ``random_samples`` and ``n_eval``.
    """
    runs = as_fragility(perturbation)
    keys = sort_runs(runs, regime_order(runs, regimes, strict=True))
    families = measured_families(runs)
    cells: dict[tuple[str, str, str], list[RunFragility]] = {}
    for key in keys:
        cells.setdefault(key[:3], []).append(runs[key])
    rows = [_row(cell, families) for cell in cells.values()]

    headers = {key: label for key, label in TABLE4_HEADERS.items() if key != "eps5_random" or "random" in families}
    text = {f"eps5_{family}": f"eps5_{family}_text" for family in families}
    text["transient_peak"] = "transient_peak_text"
    parts = ("above", "below", "per_seed", "per_seed_text")
    hidden = ["n", "seeds", *(f"eps5_{f}_{part}" for f in families for part in parts)]
    hidden += ["predicted_per_seed", "unpredicted", "reach_mean", "amplification_layer", "n_unstable_linear"]
    hidden += ["grid_log10", "random_samples", "n_eval"]
    notes = _notes(sorted({r.random_samples for r in runs.values()}))
    return table_frame(rows, _columns(families), headers=headers, hidden=hidden, text=text, notes=notes)


def table4_perturbation_caption(keys: Iterable[RunKey]) -> str:
    """The caption written into the table's files."""
    return (
        "Perturbation thresholds: log10 ε₅ (the relative weight perturbation that costs 5 points of test accuracy; "
        f"random and worst-case directions) beside the predicted log10 d/‖W‖₂, and the state amplification beside its "
        f"linear prediction, {over_seeds(keys)}."
    )


def _description(runs: Mapping[RunKey, RunFragility]) -> str:
    """What Table 4 shows, with the grid and the random directions its runs recorded."""
    levels = sorted({x for run in runs.values() for x in run.levels})
    grid = ", ".join(f"{x:g}" for x in levels)
    samples = sorted({run.random_samples for run in runs.values()})
    directions = "the worst-case direction towards instability (no random directions)"
    if any(samples):
        directions = (
            f"random directions (the median over {'/'.join(map(str, samples))} per run) and the worst-case direction "
            "towards instability"
        )
    return (
        "Table 4 (``table4_perturbation`` rule; HTML here, CSV with every number, Markdown and booktabs LaTeX under "
        "Table files): per task × model × regime, log10 ε₅, the relative weight perturbation ‖ΔW‖₂/‖W‖₂ (every "
        f"recurrent gate block at once) at which test accuracy first falls {100 * DROP:g} points below the unperturbed "
        f"accuracy, interpolated linearly in log10 ε on the grid log10 ε ∈ [{grid}], for {directions}; beside it "
        "the predicted threshold d/‖W‖₂ of the run's stable block closest to instability, and the measured "
        "hidden-state amplification (largest over lags of the median σ₁ of the state Jacobian) beside its linear "
        "prediction, the transient peak "
        f'max_k ‖W^k‖₂. Every cell: {over_seeds(runs)}. "≥ … (k/n above the grid)": the median of k runs lies beyond '
        f"the grid (at least half of their directions never fell by {100 * DROP:g} points within it); they enter the "
        "mean at the grid's end, so the cell is a lower bound."
    )


def table4_perturbation_report_caption(
    perturbation: PerturbationRecords, *, regimes: Sequence[str] | None = None
) -> str:
    """The table's caption in the workflow's report: what it shows (the grid and random directions from the runs'
    records), then the runs and grid, per task the log10 ε₅ of each family and the prediction per regime (models
    and seeds pooled), the paired comparison of each regime with the reference
    (:func:`rnnrobust.robustness.perturbation.comparisons.compare_regimes`, its verdict computed), and Spearman's ρ of
    prediction against measurement over all runs."""
    runs = as_fragility(perturbation)
    families = measured_families(runs)
    keys = sort_runs(runs, regimes)
    lines = [_description(runs), "", "This run:", "", grid_text(runs), ""]
    for task in dict.fromkeys(k[0] for k in keys):
        cells: dict[str, list[RunFragility]] = {}
        for key in keys:
            if key[0] == task:
                cells.setdefault(key[2], []).append(runs[key])
        lines.append(f"- {task} (models and seeds pooled): {cells_text(cells, families)}.")
        lines.append(f"  {comparisons_text(runs, task, regimes)}")
    correlations = "; ".join(correlation_text(runs, f) for f in families)
    lines += ["", f"Predicted against measured over all runs: {correlations}."]
    return "\n".join(lines) + "\n"
