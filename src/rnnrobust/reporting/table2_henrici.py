"""Table 2: the Henrici departure from normality of every recurrent matrix, per regime, beside the paper's Table 2;
its caption and its report caption.

Reads the analysis JSON of every run (``metrics.json`` for the status and outcome columns; see
:mod:`rnnrobust.reporting.table_common`); the paper's numbers are :data:`rnnrobust.reporting.paper.PAPER_TABLE2`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import GATES, RunKey
from rnnrobust.reporting.outcomes import outcome_cell, run_outcomes, run_statuses, status_cell
from rnnrobust.reporting.paper import paper_henrici
from rnnrobust.reporting.table_common import (
    STATS_NOTE,
    group_runs,
    load_runs,
    matrices_text,
    over_seeds,
    over_seeds_summary,
    report_caption,
    run_dtypes,
    runs_text,
    summary_columns,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.runs import block_rank, regime_order

__all__ = ["table2_henrici", "table2_henrici_caption", "table2_henrici_report_caption"]

_NOTES = [
    "Henrici departure from normality ‖N‖_F of the complex Schur form T = D + N of each recurrent matrix, and "
    f"relative to ‖W‖_F; {STATS_NOTE} Of the saved weights (a rescaled regime: after the final rescale).",
    "paper: Table 2 of Sengupta & Friston (2018); the assignment of the adding row to encoder and decoder and "
    f"the gate order (Keras order: {', '.join(GATES['lstm'])} and {', '.join(GATES['gru'])}) are inferred; "
    "not reported: lost from the paper's text.",
]


def _columns(order: Sequence[str], with_metrics: bool) -> tuple[list[str], dict[str, str]]:
    """The columns of the table and their printed headers."""
    columns, headers = ["task", "model", "matrix"], {}
    for r in order:
        columns += [f"{r}_n", *summary_columns(f"{r}_henrici")]
        headers |= {f"{r}_n": f"{r} n", f"{r}_henrici": f"{r} Henrici"}
    for r in order:
        columns += summary_columns(f"{r}_henrici_relative")
        headers[f"{r}_henrici_relative"] = f"{r} Henrici / ‖W‖_F"
    if with_metrics:
        columns += [f"{r}_status" for r in order] + [f"{r}_outcome" for r in order]
        headers |= {f"{r}_status": f"{r} status" for r in order}
    columns += ["paper_henrici", "paper_henrici_value", "paper_note"]
    headers |= {"paper_henrici": "paper", "paper_note": "paper note"}
    return columns, headers


def _row(
    matrix: tuple[str, str, str],
    by_regime: Mapping[str, list[tuple[int, Any]]],
    order: Sequence[str],
    statuses: Mapping[RunKey, str],
    outcomes: Mapping[RunKey, str],
) -> dict[str, Any]:
    """One matrix (task, model, block) of every regime; ``by_regime``: regime -> [(seed, analysis)]."""
    task, model, block = matrix
    row: dict[str, Any] = {"task": task, "model": model, "matrix": block}
    for r in order:
        present = [(seed, data[block]) for seed, data in by_regime.get(r, []) if block in data]
        row[f"{r}_n"] = len(present)
        for q in ("henrici", "henrici_relative"):
            row |= over_seeds_summary(float(s[q]) for _, s in present).columns(f"{r}_{q}")
        if statuses:
            row[f"{r}_status"] = status_cell([statuses[(task, model, r, seed)] for seed, _ in present])
            row[f"{r}_outcome"] = outcome_cell([outcomes[(task, model, r, seed)] for seed, _ in present])
    value, display, note = paper_henrici(task, model, block)
    row["paper_henrici"] = display
    row["paper_henrici_value"] = math.nan if value is None else value
    row["paper_note"] = note
    return row


def table2_henrici(
    analysis: Mapping[RunKey, PathLike],
    *,
    metrics: Mapping[RunKey, PathLike] | None = None,
    regimes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Henrici departure from normality per task × model × matrix (rows; ``matrix`` = block ``<layer>/<gate>``).

    Parameters
    ----------
    analysis
        Run key -> the run's analysis JSON.
    metrics
        Run key -> metrics.json; adds the ``<regime>_status`` columns
        (:func:`~rnnrobust.reporting.outcomes.status_cell`).
    regimes
        The order of the regime column groups (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        Per regime: ``<regime>_n`` runs, ``<regime>_henrici_*`` (absolute ‖N‖_F of the Schur form, the paper's
        number) and ``<regime>_henrici_relative_*`` (‖N‖_F / ‖W‖_F), each ``_mean`` / ``_sd`` / ``_ci_low`` /
        ``_ci_high`` / ``_n`` over seeds; then ``paper_henrici`` (the value, ``"not reported"`` or
        ``"non-convergence"``), ``paper_henrici_value`` (number or NaN) and ``paper_note`` (see
        ``rnnrobust.reporting.paper.PAPER_TABLE2``); with ``metrics`` also ``<regime>_status`` and
        ``<regime>_outcome`` (:func:`~rnnrobust.reporting.outcomes.outcome_cell`). The counts, statuses, outcomes
        and paper notes are kept in the CSV and left out of the printed table (the outcomes are in Table 1).
    """
    runs = load_runs(analysis, "analysis")
    statuses = run_statuses(metrics)
    outcomes = run_outcomes(metrics)
    order = regime_order(runs, regimes, strict=True)
    columns, headers = _columns(order, bool(statuses))
    rows = []
    for (task, model), by_regime in group_runs(runs, order).items():
        blocks = {b for seeds in by_regime.values() for _, data in seeds for b in data}
        for block in sorted(blocks, key=lambda b: block_rank(task, model, b)):
            rows.append(_row((task, model, block), by_regime, order, statuses, outcomes))
    hidden = [f"{r}_n" for r in order] + ["paper_henrici_value", "paper_note"]
    if statuses:
        hidden += [f"{r}_{c}" for c in ("status", "outcome") for r in order]
    return table_frame(rows, columns, headers=headers, hidden=hidden, notes=_NOTES)


def table2_henrici_caption(keys: Iterable[RunKey]) -> str:
    """The caption written into the table's files."""
    return f"Henrici departure from normality per recurrent matrix, {over_seeds(keys)}, with the paper's Table 2."


def table2_henrici_report_caption(metrics: Mapping[RunKey, PathLike], analysis: Mapping[RunKey, PathLike]) -> str:
    """The table's caption in the workflow's report: what it shows, then its runs, how many have an unstable
    matrix and the range of the Henrici numbers."""
    description = (
        "Table 2 (``table2_henrici``, ``tables`` rule): the Henrici departure from normality ‖N‖_F of the complex "
        "Schur factor for every recurrent gate block, absolute and relative to ‖W‖_F, with the paper's Table 2; of "
        "the saved weights (for stabilized runs after the final rescale)."
    )
    return report_caption(description, metrics, f"{runs_text(metrics)} {matrices_text(analysis, run_dtypes(metrics))}")
