"""Table 6: which predictor ranks measured fragility, within a task, against the linear-response baseline.

For every task and every predictor of ``rnnrobust.robustness.predictors`` (the run-level ``summary`` of each run's
predictors record), Spearman's ρ between the predictor and the run's measured log10 ε_flip5 (the perturbation
stage's primary threshold, the median over a family's directions: ``rnnrobust.robustness.perturbation.eps5``) for
the Gaussian and the adversarial family, **stratified by cell** (``correlation.stratified_spearman``: within each cell,
pooled by Fisher's z), so that the difference between RNNs and GRUs does not pass for a correlation, over every
regime and seed of the cell. A predictor that says "fragile" when it is large should correlate negatively with
ε_flip5 (a fragile run flips at small ε); a threshold-like predictor positively: the column ``agreement`` is ρ times
that expected sign (1: ranks the runs as measured; 0: no better than chance; < 0: the wrong way round), and the
rows of a task are sorted by it (Gaussian family). The linear-response threshold ε_flip5,lin is the baseline: a
first-order prediction of the very quantity measured.

The CSV keeps every number: ``rho_<family>`` as an aggregate group (``_mean`` the pooled ρ, ``_ci_low`` /
``_ci_high`` its interval, ``_n`` the runs), ``agreement_<family>``, ``expected_sign``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.correlation import stratified_spearman
from rnnrobust.layout import RunKey
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.robustness.perturbation.eps5 import PRIMARY, RunFragility
from rnnrobust.robustness.predictors import FRAGILE_WHEN_LARGER
from rnnrobust.stats import Summary

__all__ = ["TABLE6_FAMILIES", "table6_predictors", "table6_predictors_caption", "table6_predictors_report_caption"]

#: The measured families the predictors are ranked against (Gaussian: typical directions; adversarial: the worst
#: found).
TABLE6_FAMILIES = ("gaussian", "adversarial")
#: Printed names of the measured thresholds (``eps5.THRESHOLD_NAMES``).
THRESHOLD_LABELS = {"flip5": "ε_flip5", "eps5": "ε₅", "eps5_normalized": "ε₅ (normalised)"}
#: Printed names of the predictors (``predictors.FRAGILE_WHEN_LARGER`` keys).
PREDICTOR_LABELS = {
    "log_norm": "log10 ‖W‖₂ (max)",
    "henrici_relative": "Henrici / ‖W‖_F (max)",
    "log_kreiss": "log10 Kreiss (max)",
    "log_transient_peak": "log10 transient peak (max)",
    "log_eps_pred": "log10 d/‖W‖₂ (min)",
    "log_eps_horizon": "log10 ε_T/‖W‖₂ (min)",
    "lambda_max": "Lyapunov λ₁ (max)",
    "n_positive": "positive exponents",
    "log_eps_flip5_linear": "log10 ε_flip5,lin (baseline)",
}


def _measured(run: RunFragility, family: str, threshold: str) -> float:
    values = run.thresholds(threshold)
    return values[family].log10 if family in values else math.nan


def _row(task: str, name: str, cell: Sequence[tuple[RunFragility, Mapping[str, Any]]], threshold: str) -> dict:
    """One task × predictor: its pooled ρ with each family's measured threshold, and the agreement."""
    sign = -1 if FRAGILE_WHEN_LARGER[name] else 1
    row: dict[str, Any] = {"task": task, "predictor": PREDICTOR_LABELS.get(name, name), "key": name}
    row["expected_sign"] = "+" if sign > 0 else "−"
    x = [_finite_or_nan(summary.get(name)) for _, summary in cell]
    strata = [run.run[1] for run, _ in cell]
    for family in TABLE6_FAMILIES:
        y = [_measured(run, family, threshold) for run, _ in cell]
        result = stratified_spearman(x, y, strata)
        row |= Summary(result.n, result.rho, math.nan, result.ci_low, result.ci_high).columns(f"rho_{family}")
        row[f"agreement_{family}"] = sign * result.rho
        row[f"rho_{family}_text"] = _rho_text(result.rho, result.ci_low, result.ci_high, result.n)
        row[f"agreement_{family}_text"] = "" if math.isnan(result.rho) else f"{sign * result.rho:+.2f}"
    return row


def _rho_text(rho: float, low: float, high: float, n: int) -> str:
    """ρ [interval] (n), or why there is none (fewer than 4 runs per cell, or constant ranks)."""
    if math.isnan(rho):
        return f"none (constant or too few runs, n = {n})"
    return f"{rho:+.2f} [{low:+.2f}, {high:+.2f}] (n = {n})"


def _sort_key(row: Mapping[str, Any]) -> float:
    """Rows by agreement with the first family, best first; a predictor without a value last."""
    agreement = row[f"agreement_{TABLE6_FAMILIES[0]}"]
    return math.inf if math.isnan(agreement) else -agreement


def _finite_or_nan(value: Any) -> float:
    """A predictor's value for ranking: ±∞ (an unstable block's Kreiss constant) ranks as the extreme it is."""
    return math.nan if value is None else float(value)


def table6_predictors(
    runs: Mapping[RunKey, RunFragility], predictors: Mapping[RunKey, Mapping[str, Any]], *, threshold: str = PRIMARY
) -> pd.DataFrame:
    """Table 6 (module docstring): ``runs`` the perturbation stage's :class:`RunFragility`, ``predictors`` each
    run's predictors record (its ``summary`` is read); runs missing from either are left out."""
    keys = sorted(set(runs) & set(predictors))
    rows = []
    for task in dict.fromkeys(key[0] for key in keys):
        cell = [(runs[k], predictors[k]["summary"]) for k in keys if k[0] == task]
        task_rows = [_row(task, name, cell, threshold) for name in FRAGILE_WHEN_LARGER]
        task_rows.sort(key=_sort_key)
        rows += task_rows
    columns = ["task", "predictor", "key", "expected_sign"]
    for family in TABLE6_FAMILIES:
        columns += [f"rho_{family}_{part}" for part in ("mean", "sd", "ci_low", "ci_high", "n")]
        columns += [f"agreement_{family}", f"rho_{family}_text", f"agreement_{family}_text"]
    headers = {"expected_sign": "expected sign"}
    for family in TABLE6_FAMILIES:
        headers |= {f"rho_{family}": f"ρ_s, {family}", f"agreement_{family}": f"agreement, {family}"}
    text = {f"{name}_{family}": f"{name}_{family}_text" for family in TABLE6_FAMILIES for name in ("rho", "agreement")}
    return table_frame(rows, columns, headers=headers, hidden=["key"], text=text, notes=_notes(keys, threshold))


def _notes(keys: Sequence[RunKey], threshold: str) -> list[str]:
    cells = sorted({k[1] for k in keys})
    return [
        f"Spearman's ρ between each predictor and the measured log10 {THRESHOLD_LABELS[threshold]} "
        "(the median over a family's directions; ε_flip5: 5 % of predictions differ from the unperturbed network's, "
        "bisected to 1/64 decade), within each cell "
        f"({', '.join(cells)}) over its regimes and seeds, pooled by Fisher's z weighted by n − 3; 95 % interval "
        "from the Bonett–Wright variance (approximate at these n). n: runs with both numbers.",
        "Expected sign: − for a predictor that is large when a network is fragile (it flips at a smaller ε), + for a "
        "threshold. Agreement: ρ × expected sign; rows of a task sorted by it (Gaussian). The linear-response "
        "threshold is the baseline: a first-order prediction of the measured quantity. A censored threshold (no "
        "flip up to the grid's end) ranks at the grid's end.",
    ]


def table6_predictors_caption() -> str:
    """The caption written into the table's files."""
    return (
        "Predictors of fragility ranked against the measured perturbation threshold ε_flip5, within task, "
        "stratified by cell: Spearman's ρ with intervals, for Gaussian and adversarial directions."
    )


def table6_predictors_report_caption(keys: Sequence[RunKey]) -> str:
    """The caption of the table in the workflow's report: what it shows, then the runs it has."""
    seeds = sorted({k[3] for k in keys})
    return (
        f"Table 6 (``table6_predictors``): {table6_predictors_caption()}\n\n"
        f"This run: {len(keys)} runs, seeds {', '.join(str(s) for s in seeds)}.\n"
    )
