"""The runs of the robust-training study as points: one row per run with its accuracy, fragility and spectral numbers.

Table 7 and Figure 9 (:mod:`rnnrobust.reporting.table7_pareto`, :mod:`rnnrobust.reporting.figure9_pareto`) read
the same rows, built here from the run's three files:

- ``accuracy``: test accuracy in % (``metrics.json``; after the final rescale for a rescaled regime, as Table 1),
  ``chance``: the task's majority-class accuracy in %;
- ``fragility``: log10 ε₅ of a family of weight perturbations (default ``gaussian``;
  :mod:`rnnrobust.robustness.perturbation.eps5`: the median over the run's directions), larger is more robust;
  ``fragility_censored`` says whether that median is a bound (``"above"``: at least half the directions cost no
  5 points on the grid). It is ε₅ of the **accuracy** (5 points down: ``RunFragility.eps5``), not the primary
  threshold ε_flip5 of Table 4, so that Table 7 keeps its meaning for the robust-training study, whose records
  predate the flip rate: their ``random`` family is read as ``gaussian`` (the same directions) and their ε₅
  interpolated on the grid, where newer records have it bisected;
- from the analysis JSON: ``henrici`` (the Henrici departure ‖N‖_F of the blocks of the run's figure gate,
  ``figures.gate``: for a Schur-parametrised run the parametrised block, where it equals the parameter ‖N‖_F; the
  maximum over its layers), and over all its blocks the largest ``spectral_radius``, ``kreiss`` (Kreiss lower
  bound) and ``transient_peak`` (max_k ‖Wᵏ‖₂), as Table 3 takes them;
- ``grid_low``: the smallest log10 ε of the run's perturbation grid (the hypervolume's reference).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import RunKey
from rnnrobust.reporting.table_common import load_runs, metrics_dtype, percent, run_scalar
from rnnrobust.robustness.pareto import regime_method
from rnnrobust.robustness.perturbation.eps5 import PerturbationRecords, as_fragility

__all__ = ["RUN_COLUMNS", "pareto_runs"]

#: The columns of :func:`pareto_runs`, in order.
RUN_COLUMNS = (
    "task", "model", "regime", "seed", "method", "accuracy", "chance", "fragility", "fragility_censored",
    "henrici", "spectral_radius", "dtype", "kreiss", "transient_peak", "grid_low",
)  # fmt: skip


def _gate_henrici(data: Mapping[str, Any], gate: str, run: RunKey) -> float:
    """The largest Henrici departure over the blocks ``<layer>/<gate>`` of a run's analysis."""
    values = [float(s["henrici"]) for block, s in data.items() if block.rsplit("/", 1)[-1] == gate]
    if not values:
        raise KeyError(f"analysis of {run} has no block of gate {gate!r}; it has {sorted(data)}")
    return max(values)


def pareto_runs(
    metrics: Mapping[RunKey, PathLike],
    analysis: Mapping[RunKey, PathLike],
    perturbation: PerturbationRecords,
    *,
    regimes: Mapping[str, Mapping[str, Any]],
    gates: Mapping[str, str],
    family: str = "gaussian",
) -> pd.DataFrame:
    """One row per run that has all three files (:data:`RUN_COLUMNS`; module docstring): ``fragility`` is log10 ε₅
    of the accuracy of ``family``.

    ``regimes``: each regime's settings (``config["regimes"]``), which name its method
    (:func:`rnnrobust.robustness.pareto.regime_method`); ``gates``: model -> the gate whose blocks give ``henrici``.
    """
    mruns, aruns = load_runs(metrics, "metrics"), load_runs(analysis, "analysis")
    fragility = as_fragility(perturbation)
    rows = []
    for key in [k for k in mruns if k in aruns and k in fragility]:
        task, model, regime, seed = key
        data, threshold = aruns[key], fragility[key].eps5.get(family)
        rows.append(
            {
                "task": task, "model": model, "regime": regime, "seed": seed,
                "method": regime_method(regime, regimes.get(regime, {})),
                "accuracy": percent(mruns[key]["test"]["accuracy"]),
                "chance": percent(mruns[key].get("chance_accuracy")),
                "fragility": math.nan if threshold is None else threshold.log10,
                "fragility_censored": "" if threshold is None else threshold.censored,
                "henrici": _gate_henrici(data, gates[model], key),
                "spectral_radius": run_scalar(data, "spectral_radius", "max", key),
                "dtype": metrics_dtype(mruns[key]),
                "kreiss": run_scalar(data, "kreiss_lower_bound", "max", key),
                "transient_peak": run_scalar(data, "transient_peak", "max", key),
                "grid_low": min(fragility[key].levels),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))
