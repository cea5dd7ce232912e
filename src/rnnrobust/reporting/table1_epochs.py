"""Table 1 by epoch: per task × model × regime the final test accuracy beside the best epoch's and the accuracy at the
epoch of lowest test loss, with the paper's; its caption and its report caption.

The paper does not say which epoch it reports. The Keras examples it ran print the test ("validation") accuracy of
every epoch, so a number read off that log may be any epoch's. The **best epoch** is chosen on the test set itself:
an optimistic bound on what a reader of the log could have reported, not an estimate of generalisation. The epoch
of lowest test loss is the choice early stopping would make (on the test set, too). Both come from ``history.csv``,
whose test metrics are those of the epoch's validation, **before** that epoch's rescale for a rescaled regime (Keras
order); the final accuracy is ``metrics.json``'s (after the final rescale).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import RunKey
from rnnrobust.reporting.paper import PAPER_TABLE1, PaperCell
from rnnrobust.reporting.table_common import (
    STATS_NOTE,
    group_runs,
    load_runs,
    over_seeds,
    over_seeds_summary,
    percent,
    report_caption,
    runs_text,
    summary_columns,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.runs import regime_order

__all__ = ["epoch_choices", "table1_epochs", "table1_epochs_caption", "table1_epochs_report_caption"]

_HEADERS = {
    "final_accuracy": "final (%)",
    "best_accuracy": "best epoch (%)",
    "best_epochs": "best epoch per seed",
    "lowest_loss_accuracy": "at lowest test loss (%)",
    "lowest_loss_epochs": "lowest-loss epoch per seed",
    "paper_accuracy": "paper",
}


def epoch_choices(history_path: PathLike) -> dict[str, float]:
    """The best epoch (highest test accuracy; the earliest of ties) and the epoch of lowest test loss of one run's
    ``history.csv``, with their test accuracies; epoch 0 (the initial weights) and non-finite rows are skipped.

    >>> import tempfile, os
    >>> rows = "epoch,test_loss,test_accuracy\\n0,0.69,0.5\\n1,0.40,0.80\\n2,0.35,0.84\\n3,0.45,0.85\\n"
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write(rows)
    >>> epoch_choices(f.name)
    {'best_epoch': 3, 'best_accuracy': 0.85, 'lowest_loss_epoch': 2, 'lowest_loss_accuracy': 0.84}
    >>> os.unlink(f.name)
    """
    with open(history_path, newline="") as handle:
        rows = [
            (int(float(row["epoch"])), float(row["test_loss"]), float(row["test_accuracy"]))
            for row in csv.DictReader(handle)
        ]
    epochs = [row for row in rows if row[0] > 0 and math.isfinite(row[1]) and math.isfinite(row[2])]
    if not epochs:
        raise ValueError(f"{history_path}: no finished epoch with finite test metrics")
    best = max(epochs, key=lambda row: (row[2], -row[0]))
    lowest = min(epochs, key=lambda row: (row[1], row[0]))
    return {
        "best_epoch": best[0],
        "best_accuracy": best[2],
        "lowest_loss_epoch": lowest[0],
        "lowest_loss_accuracy": lowest[2],
    }


def _paper(task: str, model: str) -> str:
    return PAPER_TABLE1.get((task, model), PaperCell("not reported")).display


def table1_epochs(
    metrics: Mapping[RunKey, PathLike],
    histories: Mapping[RunKey, PathLike],
    *,
    regimes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per task × model × regime (rows): the final test accuracy, the best epoch's, the accuracy at the epoch of
    lowest test loss (each in %, over seeds), the epochs per seed and the paper's Table 1.

    Parameters
    ----------
    metrics, histories
        Run key -> the run's ``metrics.json`` / ``history.csv``; the same runs in both.
    regimes
        The order of the regimes (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        ``final_accuracy_*``, ``best_accuracy_*`` and ``lowest_loss_accuracy_*`` (mean, sd, CI, n over seeds),
        ``best_epochs`` and ``lowest_loss_epochs`` (per seed, in seed order) and ``paper_accuracy`` (as printed).
    """
    if set(metrics) != set(histories):
        raise ValueError("table1_epochs needs the metrics and the history of the same runs")
    runs = load_runs(metrics, "metrics")
    order = regime_order(runs, regimes, strict=True)
    choices = {(t, m, r, int(s)): epoch_choices(path) for (t, m, r, s), path in histories.items()}
    rows = []
    for (task, model), by_regime in group_runs(runs, order).items():
        for regime in order:
            seeds = by_regime.get(regime, [])
            if not seeds:
                continue
            chosen = [choices[(task, model, regime, seed)] for seed, _ in seeds]
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime}
            row |= over_seeds_summary(percent(m["test"]["accuracy"]) for _, m in seeds).columns("final_accuracy")
            row |= over_seeds_summary(percent(c["best_accuracy"]) for c in chosen).columns("best_accuracy")
            row["best_epochs"] = ", ".join(str(c["best_epoch"]) for c in chosen)
            row |= over_seeds_summary(percent(c["lowest_loss_accuracy"]) for c in chosen).columns(
                "lowest_loss_accuracy"
            )
            row["lowest_loss_epochs"] = ", ".join(str(c["lowest_loss_epoch"]) for c in chosen)
            row["paper_accuracy"] = _paper(task, model)
            rows.append(row)
    columns = ["task", "model", "regime", *summary_columns("final_accuracy"), *summary_columns("best_accuracy")]
    columns += ["best_epochs", *summary_columns("lowest_loss_accuracy"), "lowest_loss_epochs", "paper_accuracy"]
    notes = [
        f"Test-set accuracy (%), {STATS_NOTE}",
        "Final: metrics.json (after the final rescale for a rescaled regime). Best epoch: the highest test accuracy "
        "over epochs 1 to the last, chosen on the test set (optimistic); at lowest test loss: the epoch early "
        "stopping on the test loss would keep. Both from history.csv, whose accuracies precede each epoch's "
        "rescale (Keras' order).",
    ]
    return table_frame(rows, columns, headers=_HEADERS, notes=notes)


def table1_epochs_caption(keys: Iterable[RunKey]) -> str:
    """The caption written into the table's files."""
    return (
        f"Test-set accuracy (%) at the final, best and lowest-test-loss epochs, {over_seeds(keys)}, with the paper's "
        "Table 1; the best epoch is chosen on the test set (optimistic)."
    )


def table1_epochs_report_caption(metrics: Mapping[RunKey, PathLike]) -> str:
    """The table's caption in the workflow's report."""
    description = (
        "Table 1 by epoch (``table1_epochs``, ``tables`` rule): the paper does not say which epoch it reports, so "
        "beside the final accuracy stand the best epoch's (chosen on the test set: an optimistic bound) and the "
        "accuracy at the epoch of lowest test loss, each with its epoch per seed."
    )
    return report_caption(description, metrics, runs_text(metrics))
