"""Table 4: what the perturbation stage measured, per task × model × regime, beside what the robustness numbers
predict; its caption and its report caption.

:mod:`rnnrobust.robustness.perturbation.eps5` defines every number, :mod:`rnnrobust.reporting.perturbation_text`
and :mod:`rnnrobust.reporting.perturbation_captions` put them in words. Like the other tables
(:mod:`rnnrobust.reporting.table_common`), every aggregate over seeds is a group ``<name>_mean`` / ``_sd`` /
``_ci_low`` / ``_ci_high`` / ``_n`` from :func:`~rnnrobust.reporting.table_common.over_seeds_summary` (a log10
threshold: :func:`~rnnrobust.robustness.perturbation.eps5.family_summary`, the same interval), and the
per-seed values travel as ``{seed: value}`` dicts in the CSV.

The table prints the reported threshold (:func:`~rnnrobust.robustness.perturbation.comparisons.reported_threshold`:
the primary ε_flip5, or ε₅ for records of the stage before it bisected thresholds) for each family, beside the
accuracy and the prediction: at most 9 printed columns, to fit a page. The CSV has every threshold of
``eps5.THRESHOLD_NAMES`` (``<threshold>_<family>_…``, relative scale), the primary threshold on the two other scales
of ``eps5.SCALES`` (``flip5_<family>_absolute_…`` and ``flip5_<family>_preactivation_…``: the summary group,
``_above``, ``_below`` and ``_per_seed``) and the state amplification beside its linear prediction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.layout import REFERENCE, RunKey
from rnnrobust.reporting.perturbation_captions import (
    bisected,
    cells_text,
    comparisons_text,
    contrast_text,
    correlation_text,
    grid_text,
    matched_text,
    samples_text,
    scales_text,
)
from rnnrobust.reporting.perturbation_text import (
    FAMILY_LABELS,
    PERTURBATION_SIZE,
    SCALE_DEFINITIONS,
    SCALE_LABELS,
    THRESHOLD_LABELS,
    censored_cell,
    threshold_definition,
    threshold_text,
)
from rnnrobust.reporting.table_common import STATS_NOTE, over_seeds, over_seeds_summary, summary_columns, unstable_text
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.robustness.perturbation.comparisons import measured_families, reported_threshold
from rnnrobust.robustness.perturbation.eps5 import (
    PRIMARY,
    SCALES,
    THRESHOLD_NAMES,
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

#: Printed headers of the aggregates of :func:`table4_perturbation` but the thresholds (:func:`_headers`); all log10
#: but the accuracy.
TABLE4_HEADERS = {
    "reference_accuracy": "unperturbed accuracy (%)",
    "predicted": "predicted log10 ε (d/‖W‖₂, min)",
    "amplification": "log10 state amplification (measured)",
    "transient_peak": "log10 transient peak (linear)",
}
# Aggregates in the CSV only: the prediction's reach, and the state amplification beside its linear prediction.
_CSV_ONLY = ("reach", "amplification", "transient_peak")
# Per-family columns of a threshold beside its aggregate.
_FAMILY_PARTS = ("above", "below", "text", "per_seed", "per_seed_text")
# Per-family columns of the primary threshold on another scale beside its aggregate (CSV only).
_SCALE_PARTS = ("above", "below", "per_seed")


def _families(runs: Iterable[RunFragility]) -> dict[str, list[str]]:
    """threshold -> the families some run has a value of, for every threshold of ``eps5.THRESHOLD_NAMES``."""
    runs = list(runs)
    return {threshold: measured_families(runs, threshold) for threshold in THRESHOLD_NAMES}


def _scale_families(runs: Iterable[RunFragility]) -> dict[str, list[str]]:
    """scale -> the families some run has a value of the primary threshold of on it, for the scales of
    ``eps5.SCALES`` but the relative one (none for records before the stage bisected)."""
    runs = list(runs)
    return {scale: measured_families(runs, PRIMARY, scale) for scale in SCALES if scale != "relative"}


def _columns(families: Mapping[str, Sequence[str]], scaled: Mapping[str, Sequence[str]]) -> list[str]:
    columns = ["task", "model", "regime", "n", "seeds", *summary_columns("reference_accuracy")]
    for threshold, names in families.items():
        for family in names:
            columns += summary_columns(f"{threshold}_{family}")
            columns += [f"{threshold}_{family}_{part}" for part in _FAMILY_PARTS]
    for scale, names in scaled.items():
        for family in names:
            columns += summary_columns(f"{PRIMARY}_{family}_{scale}")
            columns += [f"{PRIMARY}_{family}_{scale}_{part}" for part in _SCALE_PARTS]
    columns += [*summary_columns("predicted"), "predicted_per_seed", "unpredicted", *summary_columns("reach")]
    columns += [*summary_columns("amplification"), *summary_columns("transient_peak"), "amplification_layer"]
    return [*columns, "n_unstable_linear", "transient_peak_text", "grid_log10", "directions", "n_eval"]


def _family_columns(
    cell: Sequence[RunFragility], family: str, threshold: str, bounds: tuple[float, float]
) -> dict[str, Any]:
    """The log10 ``threshold`` of one family over the runs of a cell: the summary, the censored counts and cell, per
    seed (the value, and as printed with its censored samples)."""
    over_runs = family_summary(cell, family, threshold)
    name = f"{threshold}_{family}"
    per_run = {r.run[3]: r.thresholds(threshold).get(family) for r in cell}
    return {
        **over_runs.summary.columns(name),
        f"{name}_above": over_runs.above,
        f"{name}_below": over_runs.below,
        f"{name}_text": censored_cell(over_runs, bounds),
        f"{name}_per_seed": {seed: math.nan if t is None else t.log10 for seed, t in per_run.items()},
        f"{name}_per_seed_text": {seed: threshold_text(t) for seed, t in per_run.items() if t is not None},
    }


def _scale_columns(cell: Sequence[RunFragility], scaled: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The primary threshold of each family on the other scales over the runs of a cell: the summary (bounds as
    values), the runs whose value is a bound each way, and each run's value."""
    out: dict[str, Any] = {}
    for scale, names in scaled.items():
        for family in names:
            name, over_runs = f"{PRIMARY}_{family}_{scale}", family_summary(cell, family, PRIMARY, scale)
            per_run = {r.run[3]: r.thresholds(PRIMARY, scale).get(family) for r in cell}
            out |= over_runs.summary.columns(name)
            out |= {f"{name}_above": over_runs.above, f"{name}_below": over_runs.below}
            out[f"{name}_per_seed"] = {seed: math.nan if t is None else t.log10 for seed, t in per_run.items()}
    return out


def _row(
    cell: Sequence[RunFragility], families: Mapping[str, Sequence[str]], scaled: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """One task × model × regime: ``cell`` holds its runs, in seed order."""
    task, model, regime, _ = cell[0].run
    row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "n": len(cell)}
    row["seeds"] = [r.run[3] for r in cell]
    row |= over_seeds_summary(100.0 * r.reference_accuracy for r in cell).columns("reference_accuracy")
    bounds = grid_bounds(cell)
    for threshold, names in families.items():
        for family in names:
            row |= _family_columns(cell, family, threshold, bounds)
    row |= _scale_columns(cell, scaled)
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
    row["directions"] = samples_text(cell, reported_threshold(cell))
    row["n_eval"] = max(r.n_eval for r in cell)
    return row


def _headers(families: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Printed headers: :data:`TABLE4_HEADERS` and ``"log10 <threshold>, <family>"`` of every threshold column."""
    headers = dict(TABLE4_HEADERS)
    for threshold, names in families.items():
        for family in names:
            headers[f"{threshold}_{family}"] = (
                f"log10 {THRESHOLD_LABELS[threshold]}, {FAMILY_LABELS.get(family, family)}"
            )
    return headers


def _hidden(families: Mapping[str, Sequence[str]], shown: str, scaled: Mapping[str, Sequence[str]]) -> list[str]:
    """The CSV-only columns: all but task, model, regime, the accuracy, the ``shown`` threshold (relative scale)
    and the prediction."""
    hidden = ["n", "seeds"]
    for threshold, names in families.items():
        hidden += [f"{threshold}_{f}_{part}" for f in names for part in _FAMILY_PARTS if part != "text"]
        hidden += [f"{threshold}_{f}_mean" for f in names if threshold != shown]
    for scale, names in scaled.items():
        hidden += [f"{PRIMARY}_{f}_{scale}_{part}" for f in names for part in ("mean", *_SCALE_PARTS)]
    hidden += [f"{name}_mean" for name in _CSV_ONLY]
    hidden += ["predicted_per_seed", "unpredicted", "amplification_layer", "n_unstable_linear"]
    return [*hidden, "grid_log10", "directions", "n_eval"]


def _family_note(families: Sequence[str]) -> str:
    """What each family's directions are, for the families the table has."""
    what = {
        "gaussian": "a Gaussian matrix per block",
        "gaussian_rank": "a Gaussian matrix of the instability direction's rank per block (its control)",
        "instability": "towards instability, the shortest way to put an eigenvalue of a stable block on the unit "
        "circle (runs with a stable block)",
        "adversarial": "projected gradient ascent on the loss within ‖ΔW‖₂ ≤ ε‖W‖₂ per block, on training "
        "examples disjoint from the evaluation subset: a lower bound on the worst case (a local ascent)",
        "worst": "towards instability, unstable blocks included (records before issue 19)",
    }
    return "; ".join(f"{FAMILY_LABELS.get(f, f)}: {what[f]}" for f in families if f in what)


def _scales_note(scaled: Mapping[str, Sequence[str]]) -> str:
    """The CSV's primary threshold on the other scales, what each scale is; ``""`` when the runs have none."""
    scales = [scale for scale, names in scaled.items() if names]
    if not scales:
        return ""
    what = "; ".join(f"{SCALE_LABELS[scale]}, {SCALE_DEFINITIONS[scale]}" for scale in scales)
    columns = " and ".join(f"{PRIMARY}_<family>_{scale}_…" for scale in scales)
    return f"; log10 {THRESHOLD_LABELS[PRIMARY]} on other scales than the relative one ({columns}: {what})"


def _notes(
    runs: Sequence[RunFragility], families: Mapping[str, Sequence[str]], shown: str, scaled: Mapping[str, Sequence[str]]
) -> list[str]:
    recorded = bisected(runs)
    others = "; ".join(f"log10 {THRESHOLD_LABELS[t]}, {threshold_definition(t, recorded)}" for t in THRESHOLD_NAMES
                       if t != shown and families[t])  # fmt: skip
    others += _scales_note(scaled)
    n_eval = "/".join(str(n) for n in sorted({run.n_eval for run in runs}))
    return [
        f"log10 {THRESHOLD_LABELS[shown]}: log10 of {PERTURBATION_SIZE} {threshold_definition(shown, recorded)} "
        f"({n_eval} test examples). A run's value is the median over its directions ({samples_text(runs, shown)} "
        f"per run); {_family_note(families[shown])}. Per run, then {STATS_NOTE}",
        "Censored: a direction that never reached the threshold up to the largest ε of the grid counts at that "
        "level (≤ the smallest level: reached already there). A run's median is exact while fewer than half of its "
        "directions are censored that way, else a bound. A cell ≥ mean ± sd, k/n above is a lower bound of the mean "
        "over its n runs, k of whose medians lie beyond the grid (its interval: in the CSV); > max, n/n above: every "
        "median lies beyond; ≤ …, k/n below: an upper bound. Directions censored in runs whose median stays exact "
        "are not marked; each run with its censored directions: the CSV's <threshold>_<family>_per_seed_text.",
        "Predicted: d/‖W‖₂ of the run's stable block closest to instability (d: distance to instability), the "
        "smallest relative perturbation that can put an eigenvalue of a stable block on the unit circle. In the CSV "
        f"only: {others}; the state amplification beside its linear prediction (transient peak).",
    ]


def table4_perturbation(perturbation: PerturbationRecords, *, regimes: Sequence[str] | None = None) -> pd.DataFrame:
    """Perturbation thresholds per task × model × regime (rows): the measured threshold of each family beside the
    predicted one; printed: the reported threshold (module docstring), in the CSV every threshold and the state
    amplification beside its linear prediction.

    Per run (:mod:`rnnrobust.robustness.perturbation.eps5`): log10 of each threshold of each family (the median
    over the run's directions; bisected by the stage, ε₅ of older records interpolated on the grid); log10
    ``eps_pred_min``; log10 of the state amplification of the run's most amplifying layer and of that layer's
    transient peak. Then over seeds, :func:`~rnnrobust.reporting.table_common.over_seeds_summary` of each (mean ± sd
    [95 % CI], n).

    **Censored thresholds** (not reached within the grid, or reached already at its smallest level) count at the
    grid's bound; a run's median is a bound only when a censored sample can move it (on the relative scale: at least
    half its samples censored). The CSV has
    ``<threshold>_<family>_above`` / ``_below`` (runs whose value is a bound each way), ``_per_seed_text`` (each
    run as :func:`rnnrobust.reporting.perturbation_text.threshold_text` prints it, with its censored samples) and the
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
        ``<threshold>_<family>`` for each threshold (``flip5``, ``eps5``, ``eps5_normalized``) and each family some
        run has a value of, ``predicted``, and in the CSV only ``reach`` (log10 ``eps_instability_min``),
        ``amplification``, ``transient_peak``; per threshold and family ``_above``, ``_below``, ``_text`` (the
        printed override), ``_per_seed`` and ``_per_seed_text``; ``predicted_per_seed``, ``unpredicted`` (runs
        without a stable block), ``amplification_layer`` (per seed), ``n_unstable_linear``, ``transient_peak_text``
        ("unstable" where the layer's linear block has ρ > 1), ``grid_log10`` (smallest and largest level),
        ``directions`` (per family, per run) and ``n_eval``; in the CSV only, the primary threshold on the other
        scales (``eps5.SCALES``): aggregates ``flip5_<family>_absolute`` and ``flip5_<family>_preactivation`` with
        their ``_above``, ``_below`` and ``_per_seed``, for the families some run has a value of on that scale.
    """
    runs = as_fragility(perturbation)
    keys = sort_runs(runs, regime_order(runs, regimes, strict=True))
    families, scaled = _families(runs.values()), _scale_families(runs.values())
    shown = reported_threshold(runs.values())
    cells: dict[tuple[str, str, str], list[RunFragility]] = {}
    for key in keys:
        cells.setdefault(key[:3], []).append(runs[key])
    rows = [_row(cell, families, scaled) for cell in cells.values()]

    text = {f"{t}_{f}": f"{t}_{f}_text" for t, names in families.items() for f in names}
    text["transient_peak"] = "transient_peak_text"
    notes = _notes(list(runs.values()), families, shown, scaled)
    return table_frame(rows, _columns(families, scaled), headers=_headers(families),
                       hidden=_hidden(families, shown, scaled), text=text, notes=notes)  # fmt: skip


def table4_perturbation_caption(keys: Iterable[RunKey]) -> str:
    """The caption written into the table's files."""
    return (
        "Perturbation thresholds: log10 of the relative weight perturbation at which 5 % of the predictions flip "
        "(for records before the stage measured flips: the accuracy falls 5 points), per family of directions "
        f"(Gaussian, its rank-matched control, towards instability, adversarial), beside the predicted log10 d/‖W‖₂, "
        f"{over_seeds(keys)}."
    )


def _description(runs: Mapping[RunKey, RunFragility], threshold: str) -> str:
    """What Table 4 shows, with the grid and the directions its runs recorded."""
    levels = sorted({x for run in runs.values() for x in run.levels})
    grid = ", ".join(f"{x:g}" for x in levels)
    label, definition = THRESHOLD_LABELS[threshold], threshold_definition(threshold, bisected(runs.values()))
    families = _family_note(measured_families(runs.values(), threshold))
    return (
        "Table 4 (``table4_perturbation`` rule; HTML here, CSV with every number, Markdown and booktabs LaTeX under "
        f"Table files): per task × model × regime, log10 {label}, log10 of {PERTURBATION_SIZE} {definition}, on the "
        f"grid log10 ε ∈ [{grid}], for the directions per run {samples_text(runs.values(), threshold)} ({families}); "
        "beside it the predicted threshold d/‖W‖₂ of the run's stable block closest to instability. The CSV adds the "
        "other thresholds and the measured hidden-state amplification (largest over lags of the median σ₁ of the "
        f"state Jacobian) beside its linear prediction, the transient peak max_k ‖W^k‖₂. Every cell: "
        f'{over_seeds(runs)}. "≥ …, k/n above": the median of k runs lies beyond the grid (at least half of their '
        "directions did not reach the threshold within it); they enter the mean at the grid's end, so the cell is a "
        f"lower bound.{_scales_description(runs, threshold)}"
    )


def _scales_description(runs: Mapping[RunKey, RunFragility], threshold: str) -> str:
    """What the scales of the comparisons below are, when the runs have ``threshold`` on more than the relative
    one (``""`` else)."""
    scales = [s for s in SCALES if s == "relative" or measured_families(runs.values(), threshold, s)]
    if len(scales) < 2:
        return ""
    what = "; ".join(f"{SCALE_LABELS[s]}, {SCALE_DEFINITIONS[s]}" for s in scales)
    return (
        f" The same threshold is read on {len(scales)} scales ({what}); each regime's mean paired difference from "
        f"{REFERENCE} is given on each, and a family whose difference changes sign between scales is named (its "
        "conclusion depends on the scale)."
    )


def table4_perturbation_report_caption(
    perturbation: PerturbationRecords, *, regimes: Sequence[str] | None = None
) -> str:
    """The table's caption in the workflow's report: what it shows (the grid and directions from the runs'
    records), then the runs and grid, per task the reported threshold of each family and the prediction per regime
    (models and seeds pooled), the paired comparison of each regime with the reference
    (:func:`rnnrobust.robustness.perturbation.comparisons.compare_regimes`, its verdict computed) and its mean paired
    differences on every scale, naming a family whose sign changes between scales
    (:func:`rnnrobust.reporting.perturbation_captions.scales_text`), and Spearman's ρ of prediction against
    measurement over all runs."""
    runs = as_fragility(perturbation)
    threshold = reported_threshold(runs.values())
    families = measured_families(runs.values(), threshold)
    keys = sort_runs(runs, regimes)
    lines = [_description(runs, threshold), "", "This run:", "", grid_text(runs, threshold), ""]
    for task in dict.fromkeys(k[0] for k in keys):
        cells: dict[str, list[RunFragility]] = {}
        for key in keys:
            if key[0] == task:
                cells.setdefault(key[2], []).append(runs[key])
        lines.append(f"- {task} (models and seeds pooled): {cells_text(cells, families, threshold)}.")
        lines.append(f"  {comparisons_text(runs, task, regimes, threshold)}")
        for text in (matched_text(runs, task, regimes, threshold), scales_text(runs, task, regimes, threshold),
                     contrast_text(runs, task, threshold)):  # fmt: skip
            lines += [f"  {text}"] if text else []
    correlations = "; ".join(correlation_text(runs, f, threshold) for f in families)
    lines += ["", f"Predicted against measured over all runs: {correlations}."]
    return "\n".join(lines) + "\n"
