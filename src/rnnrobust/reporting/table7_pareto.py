"""Table 7: the robust-training study per arm — accuracy, fragility and spectral numbers over seeds, the dominated
hypervolume of each method's front, and matched comparisons with the arm's reference; its captions.

Reads the rows of :func:`rnnrobust.reporting.pareto_runs.pareto_runs` (one per run). An *arm* is a task × model ×
regime; a *method* pools the arms of one training method (``rnnrobust.robustness.pareto.regime_method``: the
barrier at every β and γ, say). Each arm is compared with its reference arm
(:func:`rnnrobust.robustness.pareto.paired_references`: the baseline, or for a causal arm its β = 0 control) seed
by seed; the fragility difference is given only where the two arms' mean accuracies lie within
:data:`MATCH_POINTS` of each other, so that a method is never credited with robustness that it bought with
accuracy.

A run is unstable, on the circle or stable by :func:`rnnrobust.layout.stability` of its largest ρ in the precision
of its weights: the runs' ``dtype`` column where they have one (``metrics.json`` ``hyperparameters.dtype``), else
the float32 of Keras-faithful training (:data:`~rnnrobust.reporting.table_common.DEFAULT_DTYPE`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.layout import ON_CIRCLE_ULPS, stability
from rnnrobust.reporting.table_common import (
    DEFAULT_DTYPE,
    STATS_NOTE,
    add_holm_columns,
    on_circle_text,
    over_seeds_summary,
    stability_text,
    summary_columns,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.robustness.pareto import MATCH_POINTS, dominates, hypervolume
from rnnrobust.runs import regime_order
from rnnrobust.stats import PAIRED_TEST, paired_difference

__all__ = [
    "hypervolume_reference",
    "table7_pareto",
    "table7_pareto_caption",
    "table7_pareto_report_caption",
]

#: (run column, printed header) of the arms' aggregates.
_QUANTITIES = (
    ("accuracy", "test accuracy (%)"),
    ("fragility", "log10 ε₅ (fragility; larger is more robust)"),
    ("henrici", "Henrici ‖N‖_F (gate block)"),
    ("spectral_radius", "ρ (max)"),
    ("kreiss", "Kreiss bound (max)"),
    ("transient_peak", "transient peak (max)"),
)
#: Quantities without a finite meaning for a run with ρ > 1 (as in Table 3): printed "k/n unstable" (or "k/n on
#: circle") instead.
_UNSTABLE = ("kreiss", "transient_peak")
#: (run column, printed header) of the paired differences arm − reference.
_PAIRED = (
    ("accuracy", "Δ accuracy (points)"),
    ("fragility", "Δ log10 ε₅ (matched arms)"),
    ("henrici", "Δ Henrici"),
)


def hypervolume_reference(runs: pd.DataFrame) -> tuple[float, float]:
    """The reference point of a task × model's hypervolumes: (mean chance accuracy %, the grid's smallest log10 ε)."""
    return float(runs["chance"].mean()), float(runs["grid_low"].min())


def _stability(runs: pd.DataFrame) -> list[str]:
    """:func:`rnnrobust.layout.stability` of each run's largest ρ in the precision of its weights (the runs'
    ``dtype`` column, :data:`~rnnrobust.reporting.table_common.DEFAULT_DTYPE` where it is missing or blank)."""
    dtypes = runs["dtype"] if "dtype" in runs else [DEFAULT_DTYPE] * len(runs)
    return [
        stability(float(radius), dtype if isinstance(dtype, str) and dtype else DEFAULT_DTYPE)
        for radius, dtype in zip(runs["spectral_radius"], dtypes, strict=True)
    ]


def _paired(arm: pd.DataFrame, ref: pd.DataFrame, column: str):
    return paired_difference(
        dict(zip(arm["seed"], arm[column], strict=True)),
        dict(zip(ref["seed"], ref[column], strict=True)),
        interval="auto",  # Student's t for up to 10 pairs, as every aggregate over seeds (table_common)
    )


def _arm_row(arm: pd.DataFrame, ref: pd.DataFrame | None, reference: str | None, hv: dict[str, float]) -> dict:
    task, model, regime, method = (arm[c].iloc[0] for c in ("task", "model", "regime", "method"))
    row: dict[str, Any] = {
        "task": task, "model": model, "method": method, "regime": regime, "reference": reference or "",
        "n": len(arm), "seeds": ", ".join(str(s) for s in sorted(arm["seed"])),
        "fragility_above": int((arm["fragility_censored"] == "above").sum()),
        "arm_hypervolume": hv["arm"], "method_hypervolume": hv["method"],
    }  # fmt: skip
    for column, _ in _QUANTITIES:
        row |= over_seeds_summary(arm[column]).columns(column)
    labels = _stability(arm)
    row |= {"n_unstable": labels.count("unstable"), "n_on_circle": labels.count("on_circle")}
    row |= {f"{column}_text": stability_text(labels) for column in _UNSTABLE}
    matched = ref is not None and abs(arm["accuracy"].mean() - ref["accuracy"].mean()) <= MATCH_POINTS
    row["matched"] = matched
    row["dominates_reference"] = "" if ref is None else ("yes" if dominates(_xy(arm), _xy(ref)) else "no")
    for column, _ in _PAIRED:
        if ref is None or (column == "fragility" and not matched):
            row |= over_seeds_summary([]).columns(f"{column}_diff") | {f"{column}_p": math.nan}
            continue
        diff = _paired(arm, ref, column)
        row |= diff.summary().columns(f"{column}_diff") | {f"{column}_p": diff.p_value}
    return row


def _xy(runs: pd.DataFrame):
    return runs[["accuracy", "fragility"]].to_numpy()


def _method_dominates(cell: pd.DataFrame, baseline: str | None) -> dict[str, str]:
    """Per method of one task × model: do its runs (all its arms) dominate the baseline arm's front?"""
    base = cell[cell["regime"] == baseline]
    if baseline is None or base.empty:
        return {}
    return {
        method: "yes" if dominates(_xy(runs), _xy(base)) else "no"
        for method, runs in cell[cell["regime"] != baseline].groupby("method")
    }


def _hypervolumes(cell: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Per regime and per method of one task × model: the hypervolume of its runs' (accuracy, fragility)."""
    reference = hypervolume_reference(cell)

    def hv(runs: pd.DataFrame) -> float:
        return hypervolume(runs[["accuracy", "fragility"]].to_numpy(), reference)

    return (
        {regime: hv(runs) for regime, runs in cell.groupby("regime")},
        {method: hv(runs) for method, runs in cell.groupby("method")},
    )


#: The columns that identify an arm, first in both parts; the CSV keeps the hidden ones.
_IDENTITY = ["task", "model", "method", "regime", "reference", "n", "seeds"]
_HIDDEN_IDENTITY = ["method", "reference", "n", "seeds"]


def _arm_columns() -> tuple[list[str], dict[str, str], list[str]]:
    """Columns, headers and hidden columns of the arms part (the numbers of each arm over its seeds)."""
    columns = list(_IDENTITY)
    for column, _ in _QUANTITIES:
        columns += summary_columns(column)
    columns += ["n_unstable", "n_on_circle", *(f"{c}_text" for c in _UNSTABLE), "fragility_above"]
    headers = {column: header for column, header in _QUANTITIES} | {"fragility_above": "ε₅ censored above"}
    return columns, headers, [*_HIDDEN_IDENTITY, "n_unstable", "n_on_circle", "fragility_above"]


def _front_columns() -> tuple[list[str], dict[str, str], list[str]]:
    """Columns, headers and hidden columns of the fronts part (hypervolumes, dominance, paired differences)."""
    columns = [*_IDENTITY, "arm_hypervolume", "method_hypervolume", "method_dominates_baseline"]
    columns += ["dominates_reference", "matched"]
    headers = {
        "arm_hypervolume": "HV (arm)",
        "method_hypervolume": "HV (method)",
        "method_dominates_baseline": "method's front dominates baseline's",
        "matched": f"accuracy within {MATCH_POINTS:g} point of reference",
        "dominates_reference": "dominates reference",
    }
    # printed: the method's hypervolume and dominance, and the differences (blank Δ log10 ε₅: accuracy not matched)
    hidden = [*_HIDDEN_IDENTITY, "arm_hypervolume", "dominates_reference", "matched"]
    for column, header in _PAIRED:
        columns += [*summary_columns(f"{column}_diff"), f"{column}_p", f"{column}_p_holm", f"{column}_p_text"]
        headers |= {f"{column}_diff": header, f"{column}_p": f"p, {column} (Holm)"}
        hidden += [f"{column}_p_holm"]
    # Δ Henrici and its p stay in the CSV: printed, the fronts part would not fit a page (Table 7's arms part prints
    # each arm's Henrici number).
    hidden += ["henrici_diff", *summary_columns("henrici_diff"), "henrici_p"]
    return columns, headers, hidden


def table7_pareto(
    runs: pd.DataFrame,
    *,
    references: Mapping[str, str | None],
    regimes: Sequence[str] | None = None,
    part: str = "arms",
) -> pd.DataFrame:
    """Table 7: one row per arm (task × model × regime) of the runs of :func:`~rnnrobust.reporting.pareto_runs.
    pareto_runs`, in the config's regime order, in two parts that each fit a page: ``part="arms"`` (the arm's
    numbers over seeds, ``table7_pareto``) and ``part="fronts"`` (hypervolumes, dominance and the paired
    differences, ``table7_fronts``).

    Per arm: n and seeds; mean ± sd [95 % CI] over seeds
    (:func:`~rnnrobust.reporting.table_common.over_seeds_summary`) of the quantities of :data:`_QUANTITIES`; the
    runs whose ε₅ is censored above the grid (their value is the grid's end, so the mean is a lower bound); the
    dominated hypervolume of the arm's runs and of its method's runs (same task × model) above
    :func:`hypervolume_reference`; whether its mean accuracy lies within :data:`MATCH_POINTS` of its reference
    arm's (``references[regime]``); and the seed-paired differences arm − reference with the
    :data:`rnnrobust.stats.PAIRED_TEST` (fragility only for matched arms), its p-values adjusted by
    :func:`rnnrobust.stats.holm` over the table's arms, per quantity (``<q>_p_holm``; ``<q>_p_text`` prints both).
    """
    order = regime_order([tuple(k) for k in runs[["task", "model", "regime", "seed"]].to_numpy()], regimes)
    rows = []
    for _, cell in runs.groupby(["task", "model"], sort=False):
        by_regime, by_method = _hypervolumes(cell)
        baseline = next((r for r in order if r in set(cell["regime"]) and references.get(r) is None), None)
        method_dominates = _method_dominates(cell, baseline)
        arms = {regime: group for regime, group in cell.groupby("regime")}
        for regime in [r for r in order if r in arms]:
            arm = arms[regime]
            reference = references.get(regime)
            ref = arms.get(reference) if reference else None
            hv = {"arm": by_regime[regime], "method": by_method[arm["method"].iloc[0]]}
            row = _arm_row(arm, ref, reference if ref is not None else None, hv)
            rows.append(row | {"method_dominates_baseline": method_dominates.get(row["method"], "")})
    if part not in ("arms", "fronts"):
        raise ValueError(f"part = {part!r}: use 'arms' or 'fronts'")
    if part == "arms":
        columns, headers, hidden = _arm_columns()
        text = {column: f"{column}_text" for column in _UNSTABLE}
        return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=_notes(runs)[:3])
    notes = _notes(runs)
    # Holm over the table's arms, one family per quantity, printed in the p column: "0.06 (Holm 0.3)".
    text = add_holm_columns(rows, [column for column, _ in _PAIRED])
    columns, headers, hidden = _front_columns()
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=[notes[0], *notes[2:]])


def _notes(runs: pd.DataFrame) -> list[str]:
    circle = on_circle_text(_stability(runs).count("on_circle"), len(runs))
    references = [
        f"{task}/{model}: ({a:.1f} %, {r:g})"
        for (task, model), cell in runs.groupby(["task", "model"], sort=False)
        for a, r in [hypervolume_reference(cell)]
    ]
    return [
        f"Per arm (task × model × regime) {STATS_NOTE}",
        "ρ, Kreiss bound and transient peak: the largest over a run's recurrent blocks; k/n unstable: k of the "
        "arm's n runs have a block with ρ > 1 beyond the precision of its weights (rnnrobust.layout.stability), whose "
        f"Kreiss bound is ∞ and powers grow; k/n on circle: their largest ρ lies within {ON_CIRCLE_ULPS} machine "
        "epsilons of 1 (Algorithm 1's exact rescale in float32 lands there), neither stable nor unstable (the CSV "
        "keeps the numbers)." + (f" {circle}" if circle else ""),
        "Fragility: log10 ε₅ of random directions (the relative weight perturbation at which test accuracy on the "
        "perturbation stage's subset falls 5 points; a run's value is the median over its directions); a run at least "
        "half of whose directions cost no 5 points on the grid carries the grid's end, so a mean over such runs is a "
        "lower bound.",
        "HV: the area of (accuracy %, log10 ε₅) dominated by the arm's or the method's runs above the reference "
        "point (chance accuracy, the grid's smallest log10 ε): " + "; ".join(references) + ". A point value over "
        "the runs, without an interval. A front dominates another when each point of the other's front is matched "
        "or beaten on both counts by one of its runs and one is beaten (rnnrobust.robustness.pareto.dominates); "
        "the method's front pools its arms, the baseline's is the baseline arm's.",
        f"Δ: arm − reference (the reference column: the baseline, or a causal arm's β = 0 control), paired by seed; "
        f"p: {PAIRED_TEST} (at least 0.0625 with 5 seeds). Δ log10 ε₅ only where the two arms' mean accuracies "
        f"differ by at most {MATCH_POINTS:g} point. Beside each p (Holm …): the quantity's p-values adjusted over the "
        "table's arms by Holm's step-down method (an arm without a p is not counted), so that rejecting those below "
        "α holds the chance of any false rejection among them at α (CSV: <quantity>_p_holm).",
    ]


def table7_pareto_caption(part: str = "arms") -> str:
    """The caption written into the files of a part of the table (:func:`table7_pareto`)."""
    if part == "arms":
        return (
            "Robust training per arm: test accuracy, fragility (log10 ε₅ of random directions), Henrici, ρ, Kreiss "
            "bound and transient peak over seeds."
        )
    return (
        "Robust training per arm: the hypervolume of each method's accuracy–robustness front, whether it dominates "
        "the baseline's, and seed-paired differences with the arm's reference (fragility for arms of matched "
        "accuracy) with Holm-adjusted p."
    )


def table7_pareto_report_caption(runs: pd.DataFrame, part: str = "arms") -> str:
    """The caption of a part of the table in the workflow's report: what it shows, then the runs it has."""
    arms = runs.groupby(["task", "model", "regime"]).ngroups
    seeds = sorted(set(runs["seed"]))
    name = "table7_pareto" if part == "arms" else "table7_fronts"
    labels = _stability(runs)
    circle = on_circle_text(labels.count("on_circle"), len(runs))
    return (
        f"Table 7 (``{name}``): the robust-training study (docs/robust-training.md), one row per arm. "
        f"{table7_pareto_caption(part)}\n\n"
        f"This run: {len(runs)} runs in {arms} arms, seeds {', '.join(str(s) for s in seeds)}; "
        f"{labels.count('unstable')} with a block unstable in its weights' precision.{' ' + circle if circle else ''}\n"
    )
