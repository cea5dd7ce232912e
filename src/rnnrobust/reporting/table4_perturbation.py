"""Table 4: what the perturbation stage measured, per task × model × regime, beside what the robustness numbers
predict (:mod:`rnnrobust.robustness.perturbation.eps5` defines every number; :mod:`rnnrobust.reporting.render` writes the files).

Like the tables of :mod:`rnnrobust.reporting.tables`, every aggregate over seeds is a group ``<name>_mean`` / ``_sd`` /
``_ci_low`` / ``_ci_high`` / ``_n`` from :func:`rnnrobust.stats.summarize`, and the per-seed values travel as
``{seed: value}`` dicts in the CSV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import RunKey
from rnnrobust.reporting.render import table_frame
from rnnrobust.reporting.tables import STATS_NOTE
from rnnrobust.robustness.perturbation.eps5 import (
    DROP,
    FAMILIES,
    RunFragility,
    as_fragility,
    censored_cell,
    family_summary,
    grid_bounds,
    ordered_keys,
)
from rnnrobust.stats import summarize

__all__ = ["TABLE4_HEADERS", "table4_perturbation"]

#: Printed headers of the aggregates of :func:`table4_perturbation` (all log10 but the accuracy).
TABLE4_HEADERS = {
    "reference_accuracy": "unperturbed accuracy (%)",
    "eps5_random": "log10 ε₅, random",
    "eps5_worst": "log10 ε₅, worst case",
    "predicted": "predicted log10 ε (d/‖W‖₂, min)",
    "amplification": "log10 state amplification (measured)",
    "transient_peak": "log10 transient peak (linear)",
}


def _summary_columns(name: str) -> list[str]:
    return [f"{name}_{part}" for part in ("mean", "sd", "ci_low", "ci_high", "n")]


def _unstable_text(runs: Sequence[RunFragility]) -> str:
    unstable = sum(r.linear_unstable for r in runs)
    if not unstable:
        return ""
    return "unstable" if unstable == len(runs) else f"{unstable}/{len(runs)} unstable"


def table4_perturbation(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility],
    *,
    regimes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Perturbation thresholds per task × model × regime (rows): measured ε₅ of both families beside the
    predicted threshold, and the measured state amplification beside its linear prediction.

    Per run (:mod:`rnnrobust.robustness.perturbation.eps5`): log10 ε₅ of the random family (the mean over the run's samples) and of
    the worst-case direction, found by log-linear interpolation on the ε grid; log10 ``eps_pred_min``; log10 of the
    state amplification of the run's most amplifying layer and of that layer's transient peak. Then over seeds,
    :func:`rnnrobust.stats.summarize` of each (mean ± sd [95 % CI], n).

    **Censored ε₅** (no 5-point drop within the grid, or one already at its smallest level) enter the mean at the
    grid's bound. The CSV has ``eps5_<family>_above`` / ``_below`` (runs censored each way) and the printed cell is
    :func:`rnnrobust.robustness.perturbation.eps5.censored_cell`: ``"≥ mean … (k/n above the grid)"`` (a lower bound of the mean), or
    ``"> max (n/n above the grid)"`` when no run fell, never a bare number at the grid's end.

    Parameters
    ----------
    perturbation
        Run key -> the run's perturbation JSON (``rnnrobust.robustness.perturbation.run``), or its :class:`~rnnrobust.robustness.perturbation.eps5.
        RunFragility`.
    regimes
        The order of the regimes within a task × model (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        ``task``, ``model``, ``regime``, ``n`` runs, ``seeds``; aggregates ``reference_accuracy`` (%),
        ``eps5_random`` (when any run has random samples), ``eps5_worst``, ``predicted``, ``reach`` (log10
        ``eps_worst_min``, CSV only), ``amplification``, ``transient_peak``; per family ``eps5_<f>_above``,
        ``_below``, ``_text`` (the printed override) and ``_per_seed``; ``predicted_per_seed``, ``unpredicted`` (runs
        without a stable block), ``amplification_layer`` (per seed), ``n_unstable_linear``, ``transient_peak_text``
        ("unstable" where the layer's linear block has ρ > 1), ``grid_log10`` (smallest and largest level),
        ``random_samples`` and ``n_eval``.
    """
    runs = as_fragility(perturbation)
    keys = ordered_keys(runs, regimes)
    if regimes is not None:
        unknown = sorted({k[2] for k in keys} - set(regimes))
        if unknown:
            raise ValueError(f"runs of regimes {unknown} that are not among the regimes given, {list(regimes)}")
    families = [f for f in FAMILIES if any(f in r.eps5 for r in runs.values())]
    cells: dict[tuple[str, str, str], list[RunFragility]] = {}
    for key in keys:
        cells.setdefault(key[:3], []).append(runs[key])

    columns = ["task", "model", "regime", "n", "seeds", *_summary_columns("reference_accuracy")]
    for family in families:
        columns += _summary_columns(f"eps5_{family}")
        columns += [f"eps5_{family}_above", f"eps5_{family}_below", f"eps5_{family}_text", f"eps5_{family}_per_seed"]
    columns += [*_summary_columns("predicted"), "predicted_per_seed", "unpredicted", *_summary_columns("reach")]
    columns += [*_summary_columns("amplification"), *_summary_columns("transient_peak"), "amplification_layer"]
    columns += ["n_unstable_linear", "transient_peak_text", "grid_log10", "random_samples", "n_eval"]

    rows = []
    for (task, model, regime), cell in cells.items():
        seeds = [r.run[3] for r in cell]
        row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "n": len(cell), "seeds": seeds}
        row |= summarize(100.0 * r.reference_accuracy for r in cell).columns("reference_accuracy")
        bounds = grid_bounds(cell)
        for family in families:
            summary, above, below = family_summary(cell, family)
            row |= summary.columns(f"eps5_{family}")
            row[f"eps5_{family}_above"], row[f"eps5_{family}_below"] = above, below
            row[f"eps5_{family}_text"] = censored_cell(summary, above, below, bounds)
            row[f"eps5_{family}_per_seed"] = {
                r.run[3]: r.eps5[family].log10 if family in r.eps5 else math.nan for r in cell
            }
        row |= summarize(r.predicted for r in cell).columns("predicted")
        row["predicted_per_seed"] = {r.run[3]: r.predicted for r in cell}
        row["unpredicted"] = sum(math.isnan(r.predicted) for r in cell)
        row |= summarize(r.reach for r in cell).columns("reach")
        row |= summarize(r.amplification for r in cell).columns("amplification")
        row |= summarize(r.transient_peak for r in cell).columns("transient_peak")
        row["amplification_layer"] = {r.run[3]: r.amplification_layer or "" for r in cell}
        row["n_unstable_linear"] = sum(r.linear_unstable for r in cell)
        row["transient_peak_text"] = _unstable_text(cell)
        row["grid_log10"] = list(bounds)
        row["random_samples"] = max(r.random_samples for r in cell)
        row["n_eval"] = max(r.n_eval for r in cell)
        rows.append(row)

    headers = {key: label for key, label in TABLE4_HEADERS.items() if key != "eps5_random" or "random" in families}
    text = {f"eps5_{family}": f"eps5_{family}_text" for family in families}
    text["transient_peak"] = "transient_peak_text"
    hidden = ["n", "seeds", *(f"eps5_{f}_{part}" for f in families for part in ("above", "below", "per_seed"))]
    hidden += ["predicted_per_seed", "unpredicted", "reach_mean", "amplification_layer", "n_unstable_linear"]
    hidden += ["grid_log10", "random_samples", "n_eval"]
    samples = sorted({r.random_samples for r in runs.values()})
    notes = [
        f"ε₅: the relative perturbation ‖ΔW‖₂/‖W‖₂ (every recurrent gate block at once) at which test accuracy first "
        f"falls {100 * DROP:g} percentage points below the unperturbed accuracy, interpolated linearly in log10 ε "
        "between the grid's levels; worst case: the direction towards instability of each block; random: the mean of "
        f"log10 ε₅ over the run's {'/'.join(map(str, samples))} Gaussian direction(s). Per run, then {STATS_NOTE}",
        "Censored: a run whose accuracy never fell by 5 points up to the largest ε of the grid has ε₅ beyond it; it "
        "enters the mean at the grid's largest level, so that a cell marked ≥ (k/n above the grid) is a lower bound "
        "of the mean, and > max when no run of the cell fell; ≤ marks runs that had fallen already at the smallest "
        "level (an upper bound).",
        "Predicted: d/‖W‖₂ of the run's stable block closest to instability (d: distance to instability), the "
        "smallest relative perturbation that can put an eigenvalue of a stable block on the unit circle. State "
        "amplification: the largest over lags k of the median over test sequences of σ₁, the largest singular value of "
        "the Jacobian of the final state with respect to the state k steps earlier, of the run's most amplifying "
        "recurrent layer; transient peak: max_k ‖Wᵏ‖₂ of that layer's block through which "
        "the state re-enters (its linear prediction); unstable: that block has ρ > 1, so its powers grow without "
        "bound (the number is in the CSV only).",
    ]
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=notes)
