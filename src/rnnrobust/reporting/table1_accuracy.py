"""Table 1 in the paper's layout: test accuracy per task × model, the paper's beside ours, one group of columns per
regime; its caption and its report caption.

Reads ``metrics.json`` of every run (:mod:`rnnrobust.reporting.table_common` says how runs are loaded, ordered and
aggregated); the paper's numbers are :data:`rnnrobust.reporting.paper.PAPER_TABLE1`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import RunKey
from rnnrobust.reporting.outcomes import OUTCOME_RULE, outcome_cell, run_outcome
from rnnrobust.reporting.paper import PAPER_TABLE1, PaperCell
from rnnrobust.reporting.table_common import (
    STATS_NOTE,
    group_runs,
    load_runs,
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

__all__ = ["table1_accuracy", "table1_accuracy_caption", "table1_accuracy_report_caption"]

_PAPER_COLUMNS = ["paper_accuracy", "paper_accuracy_low", "paper_accuracy_high", "paper_note"]
_PAPER_NOTE = (
    "paper: Table 1 of Sengupta & Friston (2018), as printed; the adding task's accuracy is per character; "
    "MNIST GRU is a range over initialisations."
)


def _paper_columns(task: str, model: str) -> dict[str, Any]:
    paper = PAPER_TABLE1.get((task, model), PaperCell("not reported"))
    numbers = [v for v in paper.values if v is not None]
    return {
        "paper_accuracy": paper.display,
        "paper_accuracy_low": min(numbers, default=math.nan),
        "paper_accuracy_high": max(numbers, default=math.nan),
        "paper_note": paper.note,
    }


def _rescaled_text(rescaled: Sequence[str]) -> str:
    return f"for {', '.join(rescaled)} after the final rescale" if rescaled else "no regime was rescaled"


def table1_accuracy(metrics: Mapping[RunKey, PathLike], *, regimes: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 1 in the paper's layout: test accuracy (%) per task × model (rows), the paper's beside ours, one group
    of columns per regime.

    Parameters
    ----------
    metrics
        Run key -> the run's metrics.json; each file must record the run of its key.
    regimes
        The order of the regime column groups (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        ``paper_accuracy`` (as printed), ``paper_accuracy_low`` / ``_high`` (equal unless the paper gave a range;
        NaN for non-convergence) and ``paper_note``; then per regime ``r``: ``r_n`` runs, ``r_accuracy_mean`` /
        ``_sd`` / ``_ci_low`` / ``_ci_high`` / ``_n`` over seeds (every seed counts; the accuracy **after the final
        rescale** for a rescaled regime) and ``r_outcome`` (:func:`~rnnrobust.reporting.outcomes.outcome_cell` of
        :func:`~rnnrobust.reporting.outcomes.run_outcome`). Details (accuracy before the final rescale, exact match,
        chance, run status, per seed) are in :func:`rnnrobust.reporting.table1_detail.table1_detail`.
    """
    runs = load_runs(metrics, "metrics")
    order = regime_order(runs, regimes, strict=True)
    rescaled = rescaled_regimes(runs)

    columns = ["task", "model", *_PAPER_COLUMNS]
    headers = {"paper_accuracy": "paper"}
    for r in order:
        columns += [f"{r}_n", *summary_columns(f"{r}_accuracy"), f"{r}_outcome"]
        headers[f"{r}_accuracy"] = f"{r}, after final rescale (%)" if r in rescaled else f"{r} (%)"
        headers[f"{r}_outcome"] = f"{r} outcome"

    rows = []
    for (task, model), by_regime in group_runs(runs, order).items():
        row: dict[str, Any] = {"task": task, "model": model, **_paper_columns(task, model)}
        for r in order:
            seeds = by_regime.get(r, [])
            row[f"{r}_n"] = len(seeds)
            row |= over_seeds_summary(percent(m["test"]["accuracy"]) for _, m in seeds).columns(f"{r}_accuracy")
            row[f"{r}_outcome"] = outcome_cell([run_outcome(m) for _, m in seeds])
        rows.append(row)
    notes = [
        f"Test accuracy (%), {STATS_NOTE} Accuracies {_rescaled_text([r for r in order if r in rescaled])}, i.e. of "
        "the saved and analysed weights (the accuracy before it: table1_detail).",
        OUTCOME_RULE,
        _PAPER_NOTE,
    ]
    hidden = [f"{r}_n" for r in order] + ["paper_accuracy_low", "paper_accuracy_high", "paper_note"]
    return table_frame(rows, columns, headers=headers, hidden=hidden, notes=notes)


def table1_accuracy_caption(keys: Iterable[RunKey]) -> str:
    """The caption written into the table's files."""
    return (
        f"Test accuracy (%), {over_seeds(keys)}, with the paper's Table 1; rescaled regimes: after the final rescale."
    )


def table1_accuracy_report_caption(metrics: Mapping[RunKey, PathLike]) -> str:
    """The table's caption in the workflow's report: what it shows, then its runs and their statuses."""
    description = (
        "Table 1 in the paper's layout (``table1_accuracy``, ``tables`` rule): per task × model our test accuracy "
        "beside the paper's, with each regime's outcome. Accuracies of stabilized runs are those **after the final "
        f"rescale** (of the saved, analysed weights). {OUTCOME_RULE}"
    )
    return report_caption(description, metrics, runs_text(metrics))
