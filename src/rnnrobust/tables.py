"""The paper's tables from the per-run files of the workflow, with the published numbers beside ours.

Inputs are mappings ``RunKey -> path`` with ``RunKey = (task, model, regime, seed)``:

- :func:`table1_accuracy` reads ``results/models/<run>/metrics.json``;
- :func:`table2_henrici` and :func:`table3_robustness` read ``results/analysis/<run>.json``
  (``{"<layer>/<gate>": summary}`` as written by ``rnnrobust.analysis.analyze_blocks``).

Each returns a table (:func:`rnnrobust.render.table_frame`) whose numeric columns stay machine readable: every
aggregate is a ``<name>_mean`` / ``<name>_std`` pair (mean and *sample* standard deviation, ddof = 1, over seeds;
the std is NaN for a single seed) and ``<regime>_n`` counts the seeds. Infinite values (a Kreiss bound of a matrix
with ρ > 1, the eigenvector condition of a defective matrix) propagate: the mean is then ∞ and the std NaN.
Per-seed values are ``{seed: value}`` dicts. ``rnnrobust.render.write_table`` writes them as files; the paper's
numbers come from :mod:`rnnrobust.paper`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .io import read_json
from .layout import CELLS, REGIMES, STATUSES, TASKS, RunKey, block_keys, eps_key
from .paper import PAPER_TABLE1, PaperCell, paper_henrici
from .render import format_eps, table_frame

PathLike = str | os.PathLike[str]

__all__ = [
    "TABLE3_QUANTITIES",
    "status_cell",
    "table1_accuracy",
    "table2_henrici",
    "table3_robustness",
]


# --------------------------------------------------------------------------------------------------
# Aggregation helpers.


def _rank(value: str, canonical: Sequence[str]) -> tuple[int, str]:
    return (canonical.index(value) if value in canonical else len(canonical), value)


def _block_rank(task: str, model: str, block: str) -> tuple[int, str]:
    try:
        order = block_keys(task, model)
    except KeyError:  # a task or cell the project does not know: its blocks sort by name
        order = ()
    return _rank(block, order)


def _mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean and sample std (ddof = 1; NaN for fewer than 2 values) and the count. ∞ propagates to the mean."""
    arr = np.asarray(list(values), dtype=float)
    n = int(arr.size)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(arr.mean()) if n else math.nan
        std = float(arr.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def _load_runs(paths: Mapping[RunKey, PathLike], kind: str) -> dict[RunKey, Any]:
    runs = {}
    for key, path in paths.items():
        if len(key) != 4:
            raise ValueError(f"run keys are (task, model, regime, seed), got {key!r}")
        task, model, regime, seed = key
        data = read_json(path)
        if kind == "metrics":
            # A metrics file records its own run: a key paired with the wrong file must not pass unnoticed.
            recorded = (data.get("task"), data.get("model"), data.get("seed"))
            if recorded != (task, model, seed):
                raise ValueError(f"{path}: metrics of {recorded}, but the run key is {key!r}")
            hp_regime = (data.get("hyperparameters") or {}).get("regime")
            if hp_regime is not None and hp_regime != regime:
                raise ValueError(f"{path}: hyperparameters say regime {hp_regime!r}, but the run key is {key!r}")
        runs[(task, model, regime, int(seed))] = data
    return runs


def _group(runs: Mapping[RunKey, Any]) -> dict[tuple[str, str], dict[str, list[tuple[int, Any]]]]:
    """(task, model) -> regime -> [(seed, data)] sorted by seed, both levels in canonical order."""
    groups: dict[tuple[str, str], dict[str, list[tuple[int, Any]]]] = {}
    for (task, model, regime, seed), data in runs.items():
        groups.setdefault((task, model), {}).setdefault(regime, []).append((seed, data))
    ordered = {}
    for tm in sorted(groups, key=lambda tm: (_rank(tm[0], TASKS), _rank(tm[1], CELLS))):
        ordered[tm] = {r: sorted(groups[tm][r], key=lambda s: s[0]) for r in sorted(groups[tm], key=_regime_rank)}
    return ordered


def _regime_rank(regime: str) -> tuple[int, str]:
    return _rank(regime, REGIMES)


def _regimes(runs: Mapping[RunKey, Any]) -> list[str]:
    return sorted({key[2] for key in runs}, key=_regime_rank)


def status_cell(statuses: Sequence[str]) -> str:
    """Status of a cell of seeds.

    Returns
    -------
    str
        ``"converged"`` when every seed converged, ``"non-convergence (…)"`` when none did (counts of not
        converged and diverged seeds), else the counts such as ``"1/3 not converged"``; ``""`` for no seeds.
    """
    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown run status {sorted(unknown)}; expected one of {STATUSES}")
    n = len(statuses)
    if n == 0:
        return ""
    failures = [s for s in STATUSES if s != "converged"]
    counts = [(statuses.count(s), s.replace("_", " ")) for s in failures]
    parts = ", ".join(f"{c}/{n} {label}" for c, label in counts if c)
    failed = sum(c for c, _ in counts)
    if failed == 0:
        return "converged"
    if failed == n:
        return f"non-convergence ({parts})"
    return parts


def _statuses(metrics: Mapping[RunKey, PathLike] | None) -> dict[RunKey, str]:
    if metrics is None:
        return {}
    return {key: data["status"] for key, data in _load_runs(metrics, "metrics").items()}


def _pct(x: float | None) -> float:
    return math.nan if x is None else 100.0 * float(x)


# --------------------------------------------------------------------------------------------------
# Table 1: accuracy.


def table1_accuracy(metrics: Mapping[RunKey, PathLike]) -> pd.DataFrame:
    """Test accuracy per task × model (rows), in %, one group of columns per regime.

    Parameters
    ----------
    metrics
        Run key -> the run's metrics.json; each file must record the run of its key.

    Returns
    -------
    DataFrame
        Per regime ``r``: ``r_n`` seeds, ``r_accuracy_mean`` / ``_std`` over seeds (every seed counts, converged
        or not), ``r_accuracy_per_seed`` (``{seed: accuracy}``), ``r_exact_match_mean`` / ``_std`` (whole-answer
        exact match, adding task; NaN elsewhere), ``r_before_rescale_accuracy_mean`` / ``_std`` (where a run of
        the regime records ``test_before_final_rescale``) and ``r_status`` (:func:`status_cell`); then
        ``chance_accuracy`` (mean majority-class accuracy), ``paper_accuracy`` (as printed),
        ``paper_accuracy_low`` / ``_high`` (equal unless the paper gave a range; NaN for non-convergence) and
        ``paper_note``.
    """
    runs = _load_runs(metrics, "metrics")
    regimes = _regimes(runs)
    groups = _group(runs)
    has_exact = {r for (_, _, r, _), m in runs.items() if "exact_match" in m["test"]}
    has_before = {r for (_, _, r, _), m in runs.items() if "test_before_final_rescale" in m}

    columns, headers = ["task", "model"], {}
    for r in regimes:
        columns += [f"{r}_n", f"{r}_accuracy_mean", f"{r}_accuracy_std", f"{r}_accuracy_per_seed"]
        headers |= {f"{r}_n": f"{r} n", f"{r}_accuracy": f"{r} accuracy (%)"}
        headers[f"{r}_accuracy_per_seed"] = f"{r} per seed (%)"
        if r in has_exact:
            columns += [f"{r}_exact_match_mean", f"{r}_exact_match_std"]
            headers[f"{r}_exact_match"] = f"{r} exact match (%)"
        if r in has_before:
            columns += [f"{r}_before_rescale_accuracy_mean", f"{r}_before_rescale_accuracy_std"]
            headers[f"{r}_before_rescale_accuracy"] = f"{r} before final rescale (%)"
        columns.append(f"{r}_status")
        headers[f"{r}_status"] = f"{r} status"
    columns += ["chance_accuracy", "paper_accuracy", "paper_accuracy_low", "paper_accuracy_high", "paper_note"]
    headers |= {"chance_accuracy": "chance (%)", "paper_accuracy": "paper", "paper_note": "paper note"}

    rows = []
    for (task, model), by_regime in groups.items():
        row: dict[str, Any] = {"task": task, "model": model}
        chance = []
        for r in regimes:
            seeds = by_regime.get(r, [])
            acc = {seed: _pct(m["test"]["accuracy"]) for seed, m in seeds}
            row[f"{r}_accuracy_mean"], row[f"{r}_accuracy_std"], row[f"{r}_n"] = _mean_std(acc.values())
            row[f"{r}_accuracy_per_seed"] = acc
            if r in has_exact:
                exact = [_pct(m["test"].get("exact_match")) for _, m in seeds]
                row[f"{r}_exact_match_mean"], row[f"{r}_exact_match_std"], _ = _mean_std(exact)
            if r in has_before:
                before = [_pct((m.get("test_before_final_rescale") or {}).get("accuracy")) for _, m in seeds]
                row[f"{r}_before_rescale_accuracy_mean"], row[f"{r}_before_rescale_accuracy_std"], _ = _mean_std(before)
            row[f"{r}_status"] = status_cell([m["status"] for _, m in seeds])
            chance += [_pct(m.get("chance_accuracy")) for _, m in seeds]
        row["chance_accuracy"] = _mean_std(chance)[0]
        paper = PAPER_TABLE1.get((task, model), PaperCell("not reported"))
        numbers = [v for v in paper.values if v is not None]
        row["paper_accuracy"] = paper.display
        row["paper_accuracy_low"] = min(numbers, default=math.nan)
        row["paper_accuracy_high"] = max(numbers, default=math.nan)
        row["paper_note"] = paper.note
        rows.append(row)
    return table_frame(rows, columns, headers=headers, hidden=["paper_accuracy_low", "paper_accuracy_high"])


# --------------------------------------------------------------------------------------------------
# Table 2: Henrici departure from normality.


def table2_henrici(
    analysis: Mapping[RunKey, PathLike], *, metrics: Mapping[RunKey, PathLike] | None = None
) -> pd.DataFrame:
    """Henrici departure from normality per task × model × matrix (rows; ``matrix`` = block ``<layer>/<gate>``).

    Parameters
    ----------
    analysis
        Run key -> the run's analysis JSON.
    metrics
        Run key -> metrics.json; adds the ``<regime>_status`` columns (:func:`status_cell`).

    Returns
    -------
    DataFrame
        Per regime: ``<regime>_n``, ``<regime>_henrici_mean`` / ``_std`` (absolute ‖N‖_F of the Schur form, the
        paper's number) and ``<regime>_henrici_relative_mean`` / ``_std`` (‖N‖_F / ‖W‖_F) over seeds; then
        ``paper_henrici`` (the value, ``"not reported"`` or ``"non-convergence"``), ``paper_henrici_value``
        (number or NaN) and ``paper_note`` (see ``rnnrobust.paper.PAPER_TABLE2``).
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    regimes = _regimes(runs)
    groups = _group(runs)

    columns, headers = ["task", "model", "matrix"], {}
    for r in regimes:
        columns += [f"{r}_n", f"{r}_henrici_mean", f"{r}_henrici_std"]
        headers |= {f"{r}_n": f"{r} n", f"{r}_henrici": f"{r} Henrici"}
    for r in regimes:
        columns += [f"{r}_henrici_relative_mean", f"{r}_henrici_relative_std"]
        headers[f"{r}_henrici_relative"] = f"{r} Henrici / ‖W‖_F"
    if statuses:
        columns += [f"{r}_status" for r in regimes]
        headers |= {f"{r}_status": f"{r} status" for r in regimes}
    columns += ["paper_henrici", "paper_henrici_value", "paper_note"]
    headers |= {"paper_henrici": "paper Henrici", "paper_note": "paper note"}

    rows = []
    for (task, model), by_regime in groups.items():
        blocks = {b for seeds in by_regime.values() for _, data in seeds for b in data}
        for block in sorted(blocks, key=lambda b: _block_rank(task, model, b)):
            row: dict[str, Any] = {"task": task, "model": model, "matrix": block}
            for r in regimes:
                present = [(seed, data[block]) for seed, data in by_regime.get(r, []) if block in data]
                for q in ("henrici", "henrici_relative"):
                    row[f"{r}_{q}_mean"], row[f"{r}_{q}_std"], row[f"{r}_n"] = _mean_std(s[q] for _, s in present)
                if statuses:
                    row[f"{r}_status"] = status_cell([statuses[(task, model, r, seed)] for seed, _ in present])
            value, display, note = paper_henrici(task, model, block)
            row["paper_henrici"] = display
            row["paper_henrici_value"] = math.nan if value is None else value
            row["paper_note"] = note
            rows.append(row)
    return table_frame(rows, columns, headers=headers, hidden=["paper_henrici_value"])


# --------------------------------------------------------------------------------------------------
# Table 3: robustness scalars.

TABLE3_QUANTITIES: tuple[tuple[str, str, str], ...] = (
    ("spectral_radius", "max", "spectral radius ρ"),
    ("spectral_norm", "max", "spectral norm ‖W‖₂"),
    ("pseudospectral_radius", "max", "ρ_ε"),
    ("kreiss_lower_bound", "max", "Kreiss bound"),
    ("transient_peak", "max", "transient peak max_k ‖W^k‖"),
    ("distance_to_instability", "min", "distance to instability"),
)
"""(summary key, aggregation over a run's blocks, header) of the columns of :func:`table3_robustness`."""


def _radius_at(levels: Mapping[str, float], eps_log10: float, where: str) -> float:
    key = eps_key(eps_log10)
    if key not in levels:
        available = sorted(levels)
        raise KeyError(f"{where}: no pseudospectral radius at log10 eps = {eps_log10:g} (key {key!r}); has {available}")
    return float(levels[key])


def table3_robustness(
    analysis: Mapping[RunKey, PathLike], eps_log10: float, *, metrics: Mapping[RunKey, PathLike] | None = None
) -> pd.DataFrame:
    """Robustness scalars per task × model × regime (rows).

    Each run is reduced to one number per quantity over its matrices (gate blocks, both layers of the adding
    task): the **maximum** over blocks for the spectral radius, spectral norm, ε-pseudospectral radius ρ_ε,
    Kreiss lower bound and transient peak max_k ‖W^k‖ (the least robust block), the **minimum** for the
    distance to instability (the block closest to instability). See :data:`TABLE3_QUANTITIES`.

    Parameters
    ----------
    analysis
        Run key -> analysis JSON; ρ_ε is read at ``summary["pseudospectral_radius"][eps_key(eps_log10)]``.
    eps_log10
        log10 ε of the reported ρ_ε (one of the analysis stage's levels; KeyError naming them otherwise).
    metrics
        Run key -> metrics.json; adds the ``status`` column (:func:`status_cell`).

    Returns
    -------
    DataFrame
        ``<quantity>_mean`` / ``<quantity>_std`` over seeds, ``n`` seeds, ``n_blocks`` matrices per run and the
        hidden ``eps_log10``.
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    groups = _group(runs)
    eps_log10 = float(eps_log10)

    columns = ["task", "model", "regime", "n", "n_blocks", "eps_log10"]
    headers = {"n_blocks": "matrices"}
    for key, agg, label in TABLE3_QUANTITIES:
        columns += [f"{key}_mean", f"{key}_std"]
        if key == "pseudospectral_radius":
            label = f"{label}, ε = {format_eps(eps_log10)}"
        headers[key] = f"{label} ({agg})"
    if statuses:
        columns.append("status")

    rows = []
    for (task, model), by_regime in groups.items():
        for regime, seeds in by_regime.items():
            per_run: dict[str, list[float]] = {key: [] for key, _, _ in TABLE3_QUANTITIES}
            for seed, data in seeds:
                run = (task, model, regime, seed)
                if not data:
                    raise ValueError(f"analysis of {run} has no matrices")
                for key, agg, _ in TABLE3_QUANTITIES:
                    if key == "pseudospectral_radius":
                        values = [_radius_at(s[key], eps_log10, f"{run} {b}") for b, s in data.items()]
                    else:
                        values = [float(s[key]) for s in data.values()]
                    per_run[key].append(max(values) if agg == "max" else min(values))
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "eps_log10": eps_log10}
            row["n"] = len(seeds)
            row["n_blocks"] = max(len(data) for _, data in seeds)
            for key, _, _ in TABLE3_QUANTITIES:
                row[f"{key}_mean"], row[f"{key}_std"], _ = _mean_std(per_run[key])
            if statuses:
                row["status"] = status_cell([statuses[(task, model, regime, seed)] for seed, _ in seeds])
            rows.append(row)
    return table_frame(rows, columns, headers=headers, hidden=["eps_log10"])
