"""Table 1 in detail: per task × model × regime the accuracy after and before the final rescale, exact match, chance,
ρ after the final rescale, outcome and run status; its caption and its report caption.

Reads ``metrics.json`` of every run and, for ρ, its analysis JSON (:mod:`rnnrobust.reporting.table_common`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import RunKey
from rnnrobust.reporting.outcomes import OUTCOME_RULE, outcome_cell, run_outcome, status_cell
from rnnrobust.reporting.table_common import (
    STATS_NOTE,
    group_runs,
    load_runs,
    max_spectral_radius,
    over_seeds,
    over_seeds_summary,
    percent,
    report_caption,
    rescaled_regimes,
    runs_text,
    summary_columns,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.runs import regime_order

__all__ = ["table1_detail", "table1_detail_caption", "table1_detail_report_caption"]

_HEADERS = {  # accuracies in % (the notes say so): the headers stay short enough for a page
    "chance_accuracy": "chance",
    "accuracy": "accuracy after final rescale",
    "before_rescale_accuracy": "accuracy before final rescale",
    "exact_match": "exact match",
    "radius_after_rescale": "ρ after final rescale (max)",
}
_NOTES = [
    f"Test accuracy, chance and exact match in %, {STATS_NOTE} After final rescale: metrics.json "
    "test, of the weights that were saved and analysed (a regime without a rescale: its final "
    "accuracy); before final rescale: metrics.json test_before_final_rescale, the last epoch's logged "
    "accuracy. Exact match: whole answers, after the final rescale. ρ: the largest spectral radius over the "
    "run's recurrent matrices, after the final rescale.",
    OUTCOME_RULE,
    "status (CSV only): the status training wrote (not converged = a < c + m).",
]
_HIDDEN = ["n", "status", "accuracy_per_seed", "outcome_per_seed", "before_rescale_accuracy_per_seed"]


def _columns(rescaled: bool, has_exact: bool, has_radii: bool) -> list[str]:
    columns = ["task", "model", "regime", "n", "chance_accuracy", *summary_columns("accuracy")]
    if rescaled:
        columns += summary_columns("before_rescale_accuracy")
    if has_exact:
        columns += summary_columns("exact_match")
    if has_radii and rescaled:
        columns += summary_columns("radius_after_rescale")
    columns += ["outcome", "status", "accuracy_per_seed", "outcome_per_seed"]
    if rescaled:
        columns.append("before_rescale_accuracy_per_seed")
    return columns


def _radii(run: tuple[str, str, str], seeds: list[tuple[int, Any]], radii: Mapping[RunKey, float]) -> list[float]:
    """ρ after the final rescale of each seed of a rescaled regime's cell."""
    task, model, regime = run
    missing = [s for s, _ in seeds if (task, model, regime, s) not in radii]
    if missing:
        raise KeyError(f"no analysis of {task}/{model}/{regime} seeds {missing}")
    return [radii[(task, model, regime, s)] for s, _ in seeds]


def _row(
    cell: tuple[str, str, str],
    seeds: list[tuple[int, Any]],
    rescaled: set[str],
    has_exact: bool,
    radii: Mapping[RunKey, float],
) -> dict[str, Any]:
    """One task × model × regime: ``seeds`` are its (seed, metrics) pairs."""
    task, model, regime = cell
    row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "n": len(seeds)}
    row["chance_accuracy"] = over_seeds_summary(percent(m.get("chance_accuracy")) for _, m in seeds).mean
    acc = {seed: percent(m["test"]["accuracy"]) for seed, m in seeds}
    row |= over_seeds_summary(acc.values()).columns("accuracy")
    row["accuracy_per_seed"] = acc
    if rescaled:
        before = {}
        if regime in rescaled:
            before = {s: percent((m.get("test_before_final_rescale") or {}).get("accuracy")) for s, m in seeds}
        row |= over_seeds_summary(before.values()).columns("before_rescale_accuracy")
        row["before_rescale_accuracy_per_seed"] = before
    if has_exact:
        row |= over_seeds_summary(percent(m["test"].get("exact_match")) for _, m in seeds).columns("exact_match")
    if radii and rescaled:
        values = _radii(cell, seeds, radii) if regime in rescaled else []
        row |= over_seeds_summary(values).columns("radius_after_rescale")
    outcomes = {seed: run_outcome(m) for seed, m in seeds}
    row["outcome"] = outcome_cell(list(outcomes.values()))
    row["outcome_per_seed"] = outcomes
    row["status"] = status_cell([m["status"] for _, m in seeds])
    return row


def table1_detail(
    metrics: Mapping[RunKey, PathLike],
    *,
    analysis: Mapping[RunKey, PathLike] | None = None,
    regimes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Details of Table 1 per task × model × regime (rows): accuracy after and before the final rescale, exact
    match, chance, ρ after the final rescale, outcome and run status.

    Parameters
    ----------
    metrics
        Run key -> the run's metrics.json; each file must record the run of its key.
    analysis
        Run key -> the run's analysis JSON; adds ``radius_after_rescale_*`` for rescaled regimes (the maximum over
        the run's blocks of the spectral radius of the saved weights, which are those after the final rescale).
    regimes
        The order of the regimes within a task × model (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        ``n`` runs, ``chance_accuracy`` (mean majority-class accuracy, %), then each as ``_mean`` / ``_sd`` /
        ``_ci_low`` / ``_ci_high`` / ``_n`` over seeds: ``accuracy_*`` (after the final rescale; a baseline run's
        final accuracy), ``before_rescale_accuracy_*`` (rescaled regimes: ``test_before_final_rescale``),
        ``exact_match_*`` (whole-answer exact match after the final rescale, adding task; NaN elsewhere),
        ``radius_after_rescale_*`` (with ``analysis``); ``outcome``
        (:func:`~rnnrobust.reporting.outcomes.outcome_cell`), ``status``
        (:func:`~rnnrobust.reporting.outcomes.status_cell` of the statuses training wrote) and per-seed dicts
        ``accuracy_per_seed``, ``before_rescale_accuracy_per_seed``, ``outcome_per_seed``. The three optional
        groups are left out when no run has them.
    """
    runs = load_runs(metrics, "metrics")
    order = regime_order(runs, regimes, strict=True)
    rescaled = rescaled_regimes(runs)
    blocks = load_runs(analysis, "analysis") if analysis else {}
    radii = {key: max_spectral_radius(data) for key, data in blocks.items()}
    has_exact = any("exact_match" in m["test"] for m in runs.values())
    columns = _columns(bool(rescaled), has_exact, bool(radii))
    rows = [
        _row((task, model, regime), seeds, rescaled, has_exact, radii)
        for (task, model), by_regime in group_runs(runs, order).items()
        for regime, seeds in by_regime.items()
    ]
    hidden = [h for h in _HIDDEN if h in columns]
    return table_frame(rows, columns, headers=_HEADERS, hidden=hidden, notes=_NOTES)


def table1_detail_caption(keys: Iterable[RunKey]) -> str:
    """The caption written into the table's files."""
    return (
        f"Table 1 in detail: test accuracy after and before the final rescale (%), {over_seeds(keys)}; outcome per "
        "seed."
    )


def table1_detail_report_caption(metrics: Mapping[RunKey, PathLike]) -> str:
    """The table's caption in the workflow's report: what it shows, then its runs and their statuses."""
    description = (
        "Table 1 in detail (``table1_detail``, ``tables`` rule): per task × model × regime, the test accuracy after "
        "and before the final rescale, exact match, chance, ρ after the final rescale and the outcome. Accuracies of "
        f"stabilized runs are those **after the final rescale** (of the saved, analysed weights). {OUTCOME_RULE}"
    )
    return report_caption(description, metrics, runs_text(metrics))
