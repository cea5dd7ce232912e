"""Table 3: the robustness scalars of each run's recurrent matrices per task × model × regime; its caption and its
report caption.

Reads the analysis JSON of every run (``metrics.json`` for the precision of its weights and the status and outcome
columns; see :mod:`rnnrobust.reporting.table_common`). A rescaled regime may add rows of the same runs' kernels
before their final rescale (``analysis/<run>.before_rescale.json``): :func:`table3_robustness`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import RunKey, stability
from rnnrobust.reporting.formatting import format_eps
from rnnrobust.reporting.outcomes import outcome_cell, run_outcome, status_cell
from rnnrobust.reporting.table_common import (
    DEFAULT_DTYPE,
    SIGNED_DISTANCE,
    SIGNED_DISTANCE_NOTE,
    STATS_NOTE,
    group_runs,
    load_runs,
    matrices_text,
    on_circle_text,
    over_seeds,
    over_seeds_summary,
    report_caption,
    run_dtypes,
    run_scalar,
    runs_text,
    stability_text,
    summary_columns,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.runs import regime_order

__all__ = [
    "BEFORE_RESCALE",
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

#: Quantities that have no finite meaning for an unstable matrix (∞, or growth capped at an overflow guard) nor a
#: useful one on the circle: the printed Table 3 shows "unstable" or "on circle" instead of their numbers (ρ is in
#: its own column).
UNSTABLE_QUANTITIES = ("kreiss_lower_bound", "transient_peak")

#: The regime label of the rows of a rescaled regime's kernels before its final rescale.
BEFORE_RESCALE = "{regime}, before final rescale"

_NOTES = [
    "Per run the maximum over its recurrent matrices (minimum for the signed distance to instability), then "
    f"{STATS_NOTE} Of the saved weights, i.e. for rescaled regimes after the final rescale.",
    SIGNED_DISTANCE_NOTE,
    "unstable (k/n unstable: k of n seeds): a matrix of the run has ρ > 1 beyond the precision of its weights "
    "(rnnrobust.layout.stability), so its Kreiss bound is ∞ and its powers grow without bound; on circle: its "
    "largest ρ is within 4 machine epsilons of 1, neither stable nor unstable, its Kreiss bound ∞ or vast; the "
    "numbers (∞, or the overflow guard of the transient computation) are in the CSV only.",
]
_BEFORE_NOTE = (
    "Rows “<regime>, before final rescale”: the same runs' recurrent kernels before the last epoch's end-of-epoch "
    "rescale (models/<run>/before_rescale.pt, analysed as analysis/<run>.before_rescale.json), the network whose "
    "accuracy metrics.json records as test_before_final_rescale (the outcome of those rows is of that accuracy)."
)


def _columns(eps_log10: float, with_metrics: bool, with_before: bool) -> tuple[list[str], dict[str, str], list[str]]:
    """The columns of the table, their printed headers and the hidden ones."""
    columns = ["task", "model", "regime", "n", "n_blocks", "eps_log10"]
    headers = {"n_blocks": "matrices"}
    for key, agg, label in TABLE3_QUANTITIES:
        columns += summary_columns(key)
        if key == "pseudospectral_radius":
            label = f"{label}, ε = {format_eps(eps_log10)}"
        headers[key] = f"{label} ({agg}; < 0: unstable)" if key == SIGNED_DISTANCE else f"{label} ({agg})"
    columns += ["n_unstable", "n_on_circle", "unstable", "unstable_text"]
    if with_before:
        columns += ["before_final_rescale"]
    if with_metrics:
        columns += ["status", "outcome"]
    hidden = ["n", "n_blocks", "eps_log10", "n_unstable", "n_on_circle", "unstable"]
    hidden += (["before_final_rescale"] if with_before else []) + (["status", "outcome"] if with_metrics else [])
    return columns, headers, hidden


def _notes(rows: Sequence[Mapping[str, Any]], with_before: bool) -> list[str]:
    """The table's notes: the rows before the final rescale when it has them, and the runs of saved weights whose
    largest ρ is on the circle when any is."""
    saved = [row for row in rows if not row.get("before_final_rescale")]
    circle = on_circle_text(sum(row["n_on_circle"] for row in saved), sum(row["n"] for row in saved))
    return [*_NOTES, *([_BEFORE_NOTE] if with_before else []), *([circle] if circle else [])]


def _row(
    cell: tuple[str, str, str], seeds: list[tuple[int, Any]], eps_log10: float, info: Mapping[str, Mapping]
) -> dict[str, Any]:
    """One task × model × regime: ``seeds`` are its (seed, analysis) pairs; ``info``: ``"dtype"``, ``"status"``
    and ``"outcome"``, each run key -> its value (status and outcome empty without metrics)."""
    task, model, regime = cell
    keys = [(task, model, regime, seed) for seed, _ in seeds]
    dtypes = [info["dtype"].get(key, DEFAULT_DTYPE) for key in keys]
    per_run = {
        key: [
            run_scalar(data, key, agg, run, eps_log10, dtype)
            for (_, data), run, dtype in zip(seeds, keys, dtypes, strict=True)
        ]
        for key, agg, _ in TABLE3_QUANTITIES
    }
    row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "eps_log10": eps_log10}
    row["n"] = len(seeds)
    row["n_blocks"] = max(len(data) for _, data in seeds)
    for key, _, _ in TABLE3_QUANTITIES:
        row |= over_seeds_summary(per_run[key]).columns(key)
    labels = [stability(r, dtype) for r, dtype in zip(per_run["spectral_radius"], dtypes, strict=True)]
    row["n_unstable"] = labels.count("unstable")
    row["n_on_circle"] = labels.count("on_circle")
    row["unstable"] = row["n_unstable"] == len(labels)
    row["unstable_text"] = stability_text(labels)
    if info["status"]:
        row["status"] = status_cell([info["status"][key] for key in keys])
        row["outcome"] = outcome_cell([info["outcome"][key] for key in keys])
    return row


def _before_outcome(metrics: Mapping[str, Any], run: RunKey) -> str:
    """The outcome of a run's network before its final rescale: :func:`~rnnrobust.reporting.outcomes.run_outcome`
    of the accuracy metrics.json records before it (``test_before_final_rescale``)."""
    if "test_before_final_rescale" not in metrics:
        raise ValueError(f"metrics of {run} record no test_before_final_rescale, but it has a before-rescale analysis")
    before = {k: v for k, v in metrics.items() if k != "test_before_final_rescale"}
    return run_outcome(before | {"test": metrics["test_before_final_rescale"]})


def _run_info(metrics: Mapping[RunKey, PathLike] | None, before: Iterable[RunKey]) -> dict[str, dict[str, dict]]:
    """Per kind of row (``"saved"``, ``"before"``): ``"dtype"``, ``"status"``, ``"outcome"`` -> run key -> value."""
    mruns = load_runs(metrics, "metrics") if metrics is not None else {}
    statuses = {key: m["status"] for key, m in mruns.items()}
    saved = {"dtype": run_dtypes(mruns), "status": statuses, "outcome": {k: run_outcome(m) for k, m in mruns.items()}}
    outcomes = {key: _before_outcome(mruns[key], key) for key in before if key in mruns}
    return {"saved": saved, "before": saved | {"outcome": outcomes}}


def _before_runs(before_rescale: Mapping[RunKey, PathLike] | None, runs: Mapping[RunKey, Any]) -> dict[RunKey, Any]:
    """The before-rescale analyses, each of a run that the table has (a ValueError names any other)."""
    before = load_runs(before_rescale or {}, "analysis")
    stray = sorted(set(before) - set(runs))
    if stray:
        raise ValueError(f"before-rescale analyses of runs without an analysis of their saved weights: {stray}")
    return before


def _rows(
    runs: Mapping[RunKey, Any],
    before: Mapping[RunKey, Any],
    order: Sequence[str],
    eps_log10: float,
    info: Mapping[str, Mapping[str, Mapping]],
) -> list[dict[str, Any]]:
    """The rows of every task × model × regime in table order, each rescaled regime's row of its ``before``
    analyses (:data:`BEFORE_RESCALE`) right after its own; ``info``: :func:`_run_info`."""
    before_groups = group_runs(before, order)
    rows = []
    for (task, model), by_regime in group_runs(runs, order).items():
        for regime, seeds in by_regime.items():
            rows.append(_row((task, model, regime), seeds, eps_log10, info["saved"]))
            if regime in before_groups.get((task, model), {}):
                row = _row((task, model, regime), before_groups[task, model][regime], eps_log10, info["before"])
                rows.append(row | {"regime": BEFORE_RESCALE.format(regime=regime), "before_final_rescale": True})
    for row in rows if before else ():
        row.setdefault("before_final_rescale", False)
    return rows


def table3_robustness(
    analysis: Mapping[RunKey, PathLike],
    eps_log10: float,
    *,
    metrics: Mapping[RunKey, PathLike] | None = None,
    regimes: Sequence[str] | None = None,
    before_rescale: Mapping[RunKey, PathLike] | None = None,
) -> pd.DataFrame:
    """Robustness scalars per task × model × regime (rows).

    Each run is reduced to one number per quantity over its matrices (gate blocks, both layers of the adding
    task): the **maximum** over blocks for the spectral radius, spectral norm, ε-pseudospectral radius ρ_ε,
    Kreiss lower bound and transient peak max_k ‖Wᵏ‖ (the least robust block), the **minimum** for the signed
    distance to instability (+d for a stable block, −d for an unstable one, 0 on the circle: the block closest to
    instability, or the one furthest beyond it). See :data:`TABLE3_QUANTITIES`. All are of the saved weights: for a
    stabilized run, after the final rescale.

    A run is **unstable** when its largest ρ is :func:`rnnrobust.layout.stability` ``"unstable"`` in the precision
    of its weights (``metrics.json`` ``hyperparameters.dtype``; float32, the default of Keras-faithful training,
    :data:`~rnnrobust.reporting.table_common.DEFAULT_DTYPE`, without metrics): its Kreiss bound is ∞ and its powers
    grow until the transient computation's overflow guard. A run whose largest ρ is within 4 machine epsilons of 1
    is **on the circle** (Algorithm 1's exact rescale in float32 lands there) and is not counted unstable. The CSV
    keeps the numbers; the printed table shows ``unstable_text`` in their place (:data:`UNSTABLE_QUANTITIES`).

    Parameters
    ----------
    analysis
        Run key -> analysis JSON; ρ_ε is read at ``summary["pseudospectral_radius"][eps_key(eps_log10)]``.
    eps_log10
        log10 ε of the reported ρ_ε (one of the analysis stage's levels; KeyError naming them otherwise).
    metrics
        Run key -> metrics.json: the precision of each run's weights, and the ``status``
        (:func:`~rnnrobust.reporting.outcomes.status_cell`) and ``outcome``
        (:func:`~rnnrobust.reporting.outcomes.outcome_cell`) columns, kept in the CSV only (Table 1 shows them).
    regimes
        The order of the regimes within a task × model (the config's); default: the order the runs first name them.
    before_rescale
        Run key -> the analysis JSON of the run's kernels before its final rescale
        (``analysis/<run>.before_rescale.json``; rescaled regimes only): each regime that has them gets a row
        :data:`BEFORE_RESCALE` (``"<regime>, before final rescale"``) right after its own, computed the same way
        (its outcome from ``test_before_final_rescale``). None or empty: no such rows.

    Returns
    -------
    DataFrame
        ``<quantity>_mean`` / ``_sd`` / ``_ci_low`` / ``_ci_high`` / ``_n`` over seeds, ``n`` runs, ``n_blocks``
        matrices per run, ``n_unstable`` (seeds with an unstable block), ``n_on_circle`` (seeds whose largest ρ is
        on the circle), ``unstable`` (every seed unstable), ``unstable_text`` (the printed override: ``"unstable"``,
        ``"1/3 unstable"``, ``"1/3 on circle"`` or ``""``), the hidden ``eps_log10``, and with ``before_rescale``
        the boolean ``before_final_rescale``.
    """
    runs = load_runs(analysis, "analysis")
    before = _before_runs(before_rescale, runs)
    info = _run_info(metrics, before)
    eps_log10 = float(eps_log10)
    rows = _rows(runs, before, regime_order(runs, regimes, strict=True), eps_log10, info)
    columns, headers, hidden = _columns(eps_log10, bool(info["saved"]["status"]), bool(before))
    text = {key: "unstable_text" for key in UNSTABLE_QUANTITIES}
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=_notes(rows, bool(before)))


def table3_robustness_caption(keys: Iterable[RunKey], eps_log10: float) -> str:
    """The caption written into the table's files; ``eps_log10``: the level of its ρ_ε."""
    return f"Robustness scalars (ε = {format_eps(eps_log10)}; worst matrix per run), {over_seeds(keys)}."


def table3_robustness_report_caption(
    metrics: Mapping[RunKey, PathLike],
    analysis: Mapping[RunKey, PathLike],
    eps_log10: float,
    before_rescale: Mapping[RunKey, PathLike] | None = None,
) -> str:
    """The table's caption in the workflow's report: what it shows at the level ``eps_log10`` the job was given,
    then its runs, how many have an unstable matrix (and how many one on the circle, in the precision of each run's
    weights) and the range of the Henrici numbers; with ``before_rescale`` (:func:`table3_robustness`) the regimes
    shown before their final rescale too."""
    description = (
        "Table 3 (``table3_robustness``, ``tables`` rule): spectral radius and norm, ρ_ε at log10 ε = "
        f"{float(eps_log10):g}, Kreiss lower bound, transient peak max_k ‖W^k‖₂ (maximum over a run's matrices) and "
        "signed distance to instability (minimum; negative for a matrix with ρ > 1, by its distance back to the unit "
        "circle; 0 for one on the circle, within 4 machine epsilons of 1 in the weights' precision); a run with a "
        'matrix of ρ > 1 shows "unstable" for the Kreiss bound and the transient peak, one on the circle "on circle".'
    )
    this_run = f"{runs_text(metrics)} {matrices_text(analysis, run_dtypes(metrics))}"
    if before_rescale:
        regimes = ", ".join(dict.fromkeys(key[2] for key in before_rescale))
        this_run += (
            f" Rows of {regimes} before the final rescale: {len(before_rescale)} runs' kernels before_rescale.pt, "
            "their outcome from the accuracy before it."
        )
    return report_caption(description, metrics, this_run)
