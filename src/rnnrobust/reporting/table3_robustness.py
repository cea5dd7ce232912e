"""Table 3: the robustness scalars of each run's recurrent matrices per task × model × regime; its caption and its
report caption.

Reads the analysis JSON of every run (``metrics.json`` for the status and outcome columns; see
:mod:`rnnrobust.reporting.table_common`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import UNSTABLE_RADIUS, RunKey
from rnnrobust.reporting.formatting import format_eps
from rnnrobust.reporting.outcomes import outcome_cell, run_outcomes, run_statuses, status_cell
from rnnrobust.reporting.table_common import (
    SIGNED_DISTANCE,
    SIGNED_DISTANCE_NOTE,
    STATS_NOTE,
    group_runs,
    load_runs,
    matrices_text,
    over_seeds,
    over_seeds_summary,
    report_caption,
    run_scalar,
    runs_text,
    summary_columns,
    unstable_text,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.runs import regime_order

__all__ = [
    "TABLE3_QUANTITIES",
    "UNSTABLE_QUANTITIES",
    "table3_robustness",
    "table3_robustness_caption",
    "table3_robustness_report_caption",
]

TABLE3_QUANTITIES: tuple[tuple[str, str, str], ...] = (
    ("spectral_radius", "max", "spectral radius ρ"),
    ("spectral_norm", "max", "spectral norm ‖W‖₂"),
    ("pseudospectral_radius", "max", "ρ_ε"),
    ("kreiss_lower_bound", "max", "Kreiss bound"),
    ("transient_peak", "max", "transient peak ‖Wᵏ‖"),
    (SIGNED_DISTANCE, "min", "signed distance to instability"),
)
"""(summary key, aggregation over a run's blocks, header) of the columns of :func:`table3_robustness`;
:data:`~rnnrobust.reporting.table_common.SIGNED_DISTANCE` is the distance to instability signed by stability
(:func:`~rnnrobust.reporting.table_common.signed_distance`)."""

#: Quantities that have no finite meaning for an unstable matrix (∞, or growth capped at an overflow guard):
#: the printed Table 3 shows "unstable" instead of their numbers (ρ is in its own column).
UNSTABLE_QUANTITIES = ("kreiss_lower_bound", "transient_peak")

_NOTES = [
    "Per run the maximum over its recurrent matrices (minimum for the signed distance to instability), then "
    f"{STATS_NOTE} Of the saved weights, i.e. for rescaled regimes after the final rescale.",
    SIGNED_DISTANCE_NOTE,
    "unstable (k/n unstable: k of n seeds): a matrix of the run has ρ > 1 (column ρ), so its Kreiss bound is ∞ "
    "and its powers grow without bound; the numbers (∞, or the overflow guard of the transient computation) "
    "are in the CSV only.",
]


def _columns(eps_log10: float, with_metrics: bool) -> tuple[list[str], dict[str, str]]:
    """The columns of the table and their printed headers."""
    columns = ["task", "model", "regime", "n", "n_blocks", "eps_log10"]
    headers = {"n_blocks": "matrices"}
    for key, agg, label in TABLE3_QUANTITIES:
        columns += summary_columns(key)
        if key == "pseudospectral_radius":
            label = f"{label}, ε = {format_eps(eps_log10)}"
        headers[key] = f"{label} ({agg}; < 0: unstable)" if key == SIGNED_DISTANCE else f"{label} ({agg})"
    columns += ["n_unstable", "unstable", "unstable_text"]
    if with_metrics:
        columns += ["status", "outcome"]
    return columns, headers


def _row(
    cell: tuple[str, str, str],
    seeds: list[tuple[int, Any]],
    eps_log10: float,
    statuses: Mapping[RunKey, str],
    outcomes: Mapping[RunKey, str],
) -> dict[str, Any]:
    """One task × model × regime: ``seeds`` are its (seed, analysis) pairs."""
    task, model, regime = cell
    per_run = {
        key: [run_scalar(data, key, agg, (task, model, regime, seed), eps_log10) for seed, data in seeds]
        for key, agg, _ in TABLE3_QUANTITIES
    }
    row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "eps_log10": eps_log10}
    row["n"] = len(seeds)
    row["n_blocks"] = max(len(data) for _, data in seeds)
    for key, _, _ in TABLE3_QUANTITIES:
        row |= over_seeds_summary(per_run[key]).columns(key)
    radii = per_run["spectral_radius"]
    row["n_unstable"] = sum(r > UNSTABLE_RADIUS for r in radii)
    row["unstable"] = row["n_unstable"] == len(radii)
    row["unstable_text"] = unstable_text([r > UNSTABLE_RADIUS for r in radii])
    if statuses:
        row["status"] = status_cell([statuses[(task, model, regime, seed)] for seed, _ in seeds])
        row["outcome"] = outcome_cell([outcomes[(task, model, regime, seed)] for seed, _ in seeds])
    return row


def table3_robustness(
    analysis: Mapping[RunKey, PathLike],
    eps_log10: float,
    *,
    metrics: Mapping[RunKey, PathLike] | None = None,
    regimes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Robustness scalars per task × model × regime (rows).

    Each run is reduced to one number per quantity over its matrices (gate blocks, both layers of the adding
    task): the **maximum** over blocks for the spectral radius, spectral norm, ε-pseudospectral radius ρ_ε,
    Kreiss lower bound and transient peak max_k ‖Wᵏ‖ (the least robust block), the **minimum** for the signed
    distance to instability (+d for a stable block, −d for an unstable one: the block closest to instability, or the
    one furthest beyond it). See :data:`TABLE3_QUANTITIES`. All are of the saved weights: for a stabilized run,
    after the final rescale.

    A run is **unstable** when one of its blocks has ρ > 1 (``layout.UNSTABLE_RADIUS``): its Kreiss bound is ∞ and
    its powers grow until the transient computation's overflow guard. The CSV keeps those numbers; the printed
    table shows ``unstable_text`` in their place (:data:`UNSTABLE_QUANTITIES`).

    Parameters
    ----------
    analysis
        Run key -> analysis JSON; ρ_ε is read at ``summary["pseudospectral_radius"][eps_key(eps_log10)]``.
    eps_log10
        log10 ε of the reported ρ_ε (one of the analysis stage's levels; KeyError naming them otherwise).
    metrics
        Run key -> metrics.json; adds the ``status`` (:func:`~rnnrobust.reporting.outcomes.status_cell`) and
        ``outcome`` (:func:`~rnnrobust.reporting.outcomes.outcome_cell`) columns, kept in the CSV only (Table 1
        shows the outcomes).
    regimes
        The order of the regimes within a task × model (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        ``<quantity>_mean`` / ``_sd`` / ``_ci_low`` / ``_ci_high`` / ``_n`` over seeds, ``n`` runs, ``n_blocks``
        matrices per run,
        ``n_unstable`` (seeds with an unstable block), ``unstable`` (every seed unstable), ``unstable_text`` (the
        printed override: ``"unstable"``, ``"1/3 unstable"`` or ``""``) and the hidden ``eps_log10``.
    """
    runs = load_runs(analysis, "analysis")
    statuses = run_statuses(metrics)
    outcomes = run_outcomes(metrics)
    groups = group_runs(runs, regime_order(runs, regimes, strict=True))
    eps_log10 = float(eps_log10)
    columns, headers = _columns(eps_log10, bool(statuses))
    rows = [
        _row((task, model, regime), seeds, eps_log10, statuses, outcomes)
        for (task, model), by_regime in groups.items()
        for regime, seeds in by_regime.items()
    ]
    hidden = ["n", "n_blocks", "eps_log10", "n_unstable", "unstable"] + (["status", "outcome"] if statuses else [])
    text = {key: "unstable_text" for key in UNSTABLE_QUANTITIES}
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=_NOTES)


def table3_robustness_caption(keys: Iterable[RunKey], eps_log10: float) -> str:
    """The caption written into the table's files; ``eps_log10``: the level of its ρ_ε."""
    return f"Robustness scalars (ε = {format_eps(eps_log10)}; worst matrix per run), {over_seeds(keys)}."


def table3_robustness_report_caption(
    metrics: Mapping[RunKey, PathLike], analysis: Mapping[RunKey, PathLike], eps_log10: float
) -> str:
    """The table's caption in the workflow's report: what it shows at the level ``eps_log10`` the job was given,
    then its runs, how many have an unstable matrix and the range of the Henrici numbers."""
    description = (
        "Table 3 (``table3_robustness``, ``tables`` rule): spectral radius and norm, ρ_ε at log10 ε = "
        f"{float(eps_log10):g}, Kreiss lower bound, transient peak max_k ‖W^k‖₂ (maximum over a run's matrices) and "
        "signed distance to instability (minimum; negative for a matrix with ρ > 1, by its distance back to the unit "
        'circle); a run with a matrix of ρ > 1 shows "unstable" for the Kreiss bound and the transient peak.'
    )
    return report_caption(description, metrics, f"{runs_text(metrics)} {matrices_text(analysis)}")
