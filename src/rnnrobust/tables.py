"""The paper's tables from the per-run files of the workflow, with the published numbers beside ours.

Inputs are mappings ``RunKey -> path`` with ``RunKey = (task, model, regime, seed)``:

- :func:`table1_accuracy` (the paper's layout) and :func:`table1_detail` read ``results/models/<run>/metrics.json``
  (the detail table also the analysis JSON, for ρ after the final rescale);
- :func:`table2_henrici` and :func:`table3_robustness` read ``results/analysis/<run>.json``
  (``{"<layer>/<gate>": summary}`` as written by ``rnnrobust.analysis.analyze_blocks``).

Each returns a table (:func:`rnnrobust.render.table_frame`) whose numeric columns stay machine readable: every
aggregate is a ``<name>_mean`` / ``<name>_std`` pair (mean and *sample* standard deviation, ddof = 1, over seeds;
the std is NaN for a single seed) and ``n`` counts the seeds. Infinite values (a Kreiss bound of a matrix with
ρ > 1, the eigenvector condition of a defective matrix) propagate: the mean is then ∞ and the std NaN; the
printed Table 3 shows such cells as "unstable" instead (:func:`table3_robustness`). Per-seed values are
``{seed: value}`` dicts. ``rnnrobust.render.write_table`` writes them as files; the paper's numbers come from
:mod:`rnnrobust.paper`.

**Which accuracy.** A stabilized run is rescaled after its last epoch's test evaluation (protocol §3.5). Every
accuracy of these tables is the test accuracy **after the final rescale** (``metrics.json["test"]``, the weights
that were saved and analysed); the accuracy **before** it (``metrics.json["test_before_final_rescale"]``, the last
row of ``history.csv``) is a separate column of :func:`table1_detail`. Baseline runs are never rescaled.

**Outcome of a run** (:func:`run_outcome`; the tables' reader-facing label; ``metrics.json["status"]`` stays as
training wrote it and is kept in the CSVs as ``status``). With *a* the accuracy after the final rescale, *c* the
chance accuracy and *m* the run's ``convergence_margin`` (0.05), in this order:

- ``diverged``: training stopped on a non-finite loss or weights (status ``diverged``);
- ``collapsed at rescale``: a rescaled run whose accuracy fell by more than :data:`COLLAPSE_DROP` (10 percentage
  points) at the final rescale;
- ``near chance``: *a* < *c* + *m* (training's ``not_converged``);
- ``learned``: *a* ≥ *c* + :data:`LEARNED_FRACTION` · (1 − *c*), i.e. the run closed at least half of the gap
  between chance and 100 %;
- ``above chance``: otherwise (e.g. 38 % on the adding task, whose chance is 33 %).

A cell of several seeds counts them: ``"3/3 learned"``, ``"2/3 learned, 1/3 near chance"`` (:func:`outcome_cell`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .io import read_json
from .layout import CELLS, GATES, REGIMES, STATUSES, TASKS, UNSTABLE_RADIUS, RunKey, block_keys, eps_key
from .paper import PAPER_TABLE1, PaperCell, paper_henrici
from .render import format_eps, table_frame

PathLike = str | os.PathLike[str]

__all__ = [
    "COLLAPSE_DROP",
    "LEARNED_FRACTION",
    "OUTCOMES",
    "OUTCOME_RULE",
    "TABLE3_QUANTITIES",
    "UNSTABLE_RADIUS",
    "outcome_cell",
    "run_outcome",
    "status_cell",
    "table1_accuracy",
    "table1_detail",
    "table2_henrici",
    "table3_robustness",
]

#: Reader-facing outcomes of a run, best first (see the module docstring for the rule).
OUTCOMES = ("learned", "above chance", "near chance", "collapsed at rescale", "diverged")
#: "learned": the accuracy closes at least this fraction of the gap between chance and 100 %.
LEARNED_FRACTION = 0.5
#: "collapsed at rescale": the final rescale cost more than this accuracy (a fraction: 10 percentage points).
COLLAPSE_DROP = 0.10
#: Margin over chance of "near chance" when a run's metrics do not record ``convergence_margin``.
DEFAULT_MARGIN = 0.05

#: The outcome rule in one sentence, printed in the notes of Table 1.
OUTCOME_RULE = (
    "Outcome per seed, from the accuracy a after the final rescale, chance c and margin m = 0.05: "
    "diverged (non-finite loss or weights); collapsed at rescale (the final rescale cost more than "
    f"{100 * COLLAPSE_DROP:g} points); near chance (a < c + m); learned (a ≥ c + {LEARNED_FRACTION:g}·(1 − c), "
    "half the gap from chance to 100 %); above chance otherwise."
)


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


def _outcomes(metrics: Mapping[RunKey, PathLike] | None) -> dict[RunKey, str]:
    if metrics is None:
        return {}
    return {key: run_outcome(data) for key, data in _load_runs(metrics, "metrics").items()}


def _pct(x: float | None) -> float:
    return math.nan if x is None else 100.0 * float(x)


def run_outcome(metrics: Mapping[str, Any]) -> str:
    """The reader-facing outcome of one run (one of :data:`OUTCOMES`) from its metrics.json.

    The rule is the module docstring's: ``diverged``, then ``collapsed at rescale`` (the accuracy fell by more
    than :data:`COLLAPSE_DROP` at the final rescale), ``near chance`` (accuracy after the final rescale below
    chance + ``convergence_margin``), ``learned`` (at least :data:`LEARNED_FRACTION` of the way from chance to
    100 %), else ``above chance``.

    >>> run_outcome({"status": "converged", "test": {"accuracy": 0.38}, "chance_accuracy": 0.33})
    'above chance'
    >>> run_outcome({"status": "converged", "test": {"accuracy": 0.60}, "chance_accuracy": 0.33,
    ...              "test_before_final_rescale": {"accuracy": 0.95}})
    'collapsed at rescale'
    """
    status = metrics["status"]
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {STATUSES}")
    if status == "diverged":
        return "diverged"
    after = float(metrics["test"]["accuracy"])
    before = (metrics.get("test_before_final_rescale") or {}).get("accuracy")
    if before is not None and float(before) - after > COLLAPSE_DROP:
        return "collapsed at rescale"
    chance = float(metrics.get("chance_accuracy") or 0.0)
    margin = (metrics.get("hyperparameters") or {}).get("convergence_margin")
    margin = DEFAULT_MARGIN if margin is None else float(margin)
    if after < chance + margin:
        return "near chance"
    if after >= chance + LEARNED_FRACTION * (1.0 - chance):
        return "learned"
    return "above chance"


def outcome_cell(outcomes: Sequence[str]) -> str:
    """Outcomes of a cell of seeds, counted in the order of :data:`OUTCOMES`; ``""`` for no seeds.

    >>> outcome_cell(["learned"] * 3), outcome_cell(["near chance", "learned", "learned"])
    ('3/3 learned', '2/3 learned, 1/3 near chance')
    """
    unknown = set(outcomes) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"unknown outcome {sorted(unknown)}; expected one of {OUTCOMES}")
    n = len(outcomes)
    return ", ".join(f"{outcomes.count(o)}/{n} {o}" for o in OUTCOMES if o in outcomes)


def _rescaled(runs: Mapping[RunKey, Any]) -> set[str]:
    """Regimes with a final rescale: those whose runs record the accuracy before it (and ``stabilized``)."""
    return {r for (_, _, r, _), m in runs.items() if "test_before_final_rescale" in m} | (
        {REGIMES[1]} & {key[2] for key in runs}
    )


def _paper_columns(row: dict[str, Any], task: str, model: str) -> None:
    paper = PAPER_TABLE1.get((task, model), PaperCell("not reported"))
    numbers = [v for v in paper.values if v is not None]
    row["paper_accuracy"] = paper.display
    row["paper_accuracy_low"] = min(numbers, default=math.nan)
    row["paper_accuracy_high"] = max(numbers, default=math.nan)
    row["paper_note"] = paper.note


_PAPER_COLUMNS = ["paper_accuracy", "paper_accuracy_low", "paper_accuracy_high", "paper_note"]
_PAPER_NOTE = (
    "paper: Table 1 of Sengupta & Friston (2018), as printed; the adding task's accuracy is per character; "
    "MNIST GRU is a range over initialisations."
)


# --------------------------------------------------------------------------------------------------
# Table 1: accuracy.


def table1_accuracy(metrics: Mapping[RunKey, PathLike]) -> pd.DataFrame:
    """Table 1 in the paper's layout: test accuracy (%) per task × model (rows), the paper's beside ours, one group
    of columns per regime.

    Parameters
    ----------
    metrics
        Run key -> the run's metrics.json; each file must record the run of its key.

    Returns
    -------
    DataFrame
        ``paper_accuracy`` (as printed), ``paper_accuracy_low`` / ``_high`` (equal unless the paper gave a range;
        NaN for non-convergence) and ``paper_note``; then per regime ``r``: ``r_n`` seeds, ``r_accuracy_mean`` /
        ``_std`` over seeds (every seed counts; the accuracy **after the final rescale** for a rescaled regime)
        and ``r_outcome`` (:func:`outcome_cell` of :func:`run_outcome`). Details (accuracy before the final rescale,
        exact match, chance, run status, per seed) are in :func:`table1_detail`.
    """
    runs = _load_runs(metrics, "metrics")
    regimes = _regimes(runs)
    rescaled = _rescaled(runs)

    columns = ["task", "model", *_PAPER_COLUMNS]
    headers = {"paper_accuracy": "paper"}
    for r in regimes:
        columns += [f"{r}_n", f"{r}_accuracy_mean", f"{r}_accuracy_std", f"{r}_outcome"]
        headers[f"{r}_accuracy"] = f"{r}, after final rescale (%)" if r in rescaled else f"{r} (%)"
        headers[f"{r}_outcome"] = f"{r} outcome"

    rows = []
    for (task, model), by_regime in _group(runs).items():
        row: dict[str, Any] = {"task": task, "model": model}
        _paper_columns(row, task, model)
        for r in regimes:
            seeds = by_regime.get(r, [])
            acc = [_pct(m["test"]["accuracy"]) for _, m in seeds]
            row[f"{r}_accuracy_mean"], row[f"{r}_accuracy_std"], row[f"{r}_n"] = _mean_std(acc)
            row[f"{r}_outcome"] = outcome_cell([run_outcome(m) for _, m in seeds])
        rows.append(row)
    notes = [
        "Test accuracy (%), mean ± std over seeds; for the stabilized regime after the final rescale, i.e. of the "
        "saved and analysed weights (the accuracy before it: table1_detail).",
        OUTCOME_RULE,
        _PAPER_NOTE,
    ]
    hidden = [f"{r}_n" for r in regimes] + ["paper_accuracy_low", "paper_accuracy_high", "paper_note"]
    return table_frame(rows, columns, headers=headers, hidden=hidden, notes=notes)


def _max_radius(data: Mapping[str, Any]) -> float:
    return max(float(s["spectral_radius"]) for s in data.values())


def table1_detail(
    metrics: Mapping[RunKey, PathLike], *, analysis: Mapping[RunKey, PathLike] | None = None
) -> pd.DataFrame:
    """Details of Table 1 per task × model × regime (rows): accuracy after and before the final rescale, exact
    match, chance, ρ after the final rescale, outcome and run status.

    Parameters
    ----------
    metrics
        Run key -> the run's metrics.json; each file must record the run of its key.
    analysis
        Run key -> the run's analysis JSON; adds ``radius_after_rescale_mean`` / ``_std`` for rescaled regimes (the
        maximum over the run's blocks of the spectral radius of the saved weights, which are those after the
        final rescale).

    Returns
    -------
    DataFrame
        ``n`` seeds, ``chance_accuracy`` (mean majority-class accuracy, %), ``accuracy_mean`` / ``_std`` (after the
        final rescale; a baseline run's final accuracy), ``before_rescale_accuracy_mean`` / ``_std`` (rescaled
        regimes: ``test_before_final_rescale``), ``exact_match_mean`` / ``_std`` (whole-answer exact match after the
        final rescale, adding task; NaN elsewhere), ``radius_after_rescale_mean`` / ``_std`` (with ``analysis``),
        ``outcome`` (:func:`outcome_cell`), ``status`` (:func:`status_cell` of the statuses training wrote) and
        per-seed dicts ``accuracy_per_seed``, ``before_rescale_accuracy_per_seed``, ``outcome_per_seed``. The
        three optional pairs are left out when no run has them.
    """
    runs = _load_runs(metrics, "metrics")
    rescaled = _rescaled(runs)
    radii = {key: _max_radius(data) for key, data in _load_runs(analysis, "analysis").items()} if analysis else {}
    has_exact = any("exact_match" in m["test"] for m in runs.values())

    columns = ["task", "model", "regime", "n", "chance_accuracy", "accuracy_mean", "accuracy_std"]
    if rescaled:
        columns += ["before_rescale_accuracy_mean", "before_rescale_accuracy_std"]
    if has_exact:
        columns += ["exact_match_mean", "exact_match_std"]
    if radii and rescaled:
        columns += ["radius_after_rescale_mean", "radius_after_rescale_std"]
    columns += ["outcome", "status", "accuracy_per_seed", "outcome_per_seed"]
    if rescaled:
        columns.append("before_rescale_accuracy_per_seed")
    headers = {  # accuracies in % (the notes say so): the headers stay short enough for a page
        "chance_accuracy": "chance",
        "accuracy": "accuracy after final rescale",
        "before_rescale_accuracy": "accuracy before final rescale",
        "exact_match": "exact match",
        "radius_after_rescale": "ρ after final rescale (max)",
    }

    rows = []
    for (task, model), by_regime in _group(runs).items():
        for regime, seeds in by_regime.items():
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "n": len(seeds)}
            row["chance_accuracy"] = _mean_std(_pct(m.get("chance_accuracy")) for _, m in seeds)[0]
            acc = {seed: _pct(m["test"]["accuracy"]) for seed, m in seeds}
            row["accuracy_mean"], row["accuracy_std"], _ = _mean_std(acc.values())
            row["accuracy_per_seed"] = acc
            if rescaled:
                before = {}
                if regime in rescaled:
                    before = {s: _pct((m.get("test_before_final_rescale") or {}).get("accuracy")) for s, m in seeds}
                row["before_rescale_accuracy_mean"], row["before_rescale_accuracy_std"], _ = _mean_std(
                    v for v in before.values() if not math.isnan(v)
                )
                row["before_rescale_accuracy_per_seed"] = before
            if has_exact:
                exact = [_pct(m["test"].get("exact_match")) for _, m in seeds]
                row["exact_match_mean"], row["exact_match_std"], _ = _mean_std(exact)
            if radii and rescaled:
                values = []
                if regime in rescaled:
                    missing = [s for s, _ in seeds if (task, model, regime, s) not in radii]
                    if missing:
                        raise KeyError(f"no analysis of {task}/{model}/{regime} seeds {missing}")
                    values = [radii[(task, model, regime, s)] for s, _ in seeds]
                row["radius_after_rescale_mean"], row["radius_after_rescale_std"], _ = _mean_std(values)
            outcomes = {seed: run_outcome(m) for seed, m in seeds}
            row["outcome"] = outcome_cell(list(outcomes.values()))
            row["outcome_per_seed"] = outcomes
            row["status"] = status_cell([m["status"] for _, m in seeds])
            rows.append(row)
    notes = [
        "Test accuracy, chance and exact match in %, mean ± std over seeds. After final rescale: metrics.json "
        "test, of the weights that were saved and analysed (baseline runs are never rescaled: their final "
        "accuracy); before final rescale: metrics.json test_before_final_rescale, the last epoch's logged "
        "accuracy. Exact match: whole answers, after the final rescale. ρ: the largest spectral radius over the "
        "run's recurrent matrices, after the final rescale.",
        OUTCOME_RULE,
        "status (CSV only): the status training wrote (not converged = a < c + m).",
    ]
    hidden = ["n", "status", "accuracy_per_seed", "outcome_per_seed", "before_rescale_accuracy_per_seed"]
    return table_frame(rows, columns, headers=headers, hidden=[h for h in hidden if h in columns], notes=notes)


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
        (number or NaN) and ``paper_note`` (see ``rnnrobust.paper.PAPER_TABLE2``); with ``metrics`` also
        ``<regime>_status`` and ``<regime>_outcome`` (:func:`outcome_cell`). The counts, statuses, outcomes and
        paper notes are kept in the CSV and left out of the printed table (the outcomes are in Table 1).
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    outcomes = _outcomes(metrics)
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
        columns += [f"{r}_status" for r in regimes] + [f"{r}_outcome" for r in regimes]
        headers |= {f"{r}_status": f"{r} status" for r in regimes}
    columns += ["paper_henrici", "paper_henrici_value", "paper_note"]
    headers |= {"paper_henrici": "paper", "paper_note": "paper note"}

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
                    row[f"{r}_outcome"] = outcome_cell([outcomes[(task, model, r, seed)] for seed, _ in present])
            value, display, note = paper_henrici(task, model, block)
            row["paper_henrici"] = display
            row["paper_henrici_value"] = math.nan if value is None else value
            row["paper_note"] = note
            rows.append(row)
    hidden = [f"{r}_n" for r in regimes] + ["paper_henrici_value", "paper_note"]
    if statuses:
        hidden += [f"{r}_{c}" for c in ("status", "outcome") for r in regimes]
    notes = [
        "Henrici departure from normality ‖N‖_F of the complex Schur form T = D + N of each recurrent matrix, and "
        "relative to ‖W‖_F; mean ± std over seeds, of the saved weights (stabilized: after the final rescale).",
        "paper: Table 2 of Sengupta & Friston (2018); the assignment of the adding row to encoder and decoder and "
        f"the gate order (Keras order: {', '.join(GATES['lstm'])} and {', '.join(GATES['gru'])}) are inferred; "
        "not reported: lost from the paper's text.",
    ]
    return table_frame(rows, columns, headers=headers, hidden=hidden, notes=notes)


# --------------------------------------------------------------------------------------------------
# Table 3: robustness scalars.

TABLE3_QUANTITIES: tuple[tuple[str, str, str], ...] = (
    ("spectral_radius", "max", "spectral radius ρ"),
    ("spectral_norm", "max", "spectral norm ‖W‖₂"),
    ("pseudospectral_radius", "max", "ρ_ε"),
    ("kreiss_lower_bound", "max", "Kreiss bound"),
    ("transient_peak", "max", "transient peak ‖Wᵏ‖"),
    ("distance_to_instability", "min", "distance to instability"),
)
"""(summary key, aggregation over a run's blocks, header) of the columns of :func:`table3_robustness`."""

#: Quantities that have no finite meaning for an unstable matrix (∞, or growth capped at an overflow guard):
#: the printed Table 3 shows "unstable" instead of their numbers (ρ is in its own column).
UNSTABLE_QUANTITIES = ("kreiss_lower_bound", "transient_peak")


def _radius_at(levels: Mapping[str, float], eps_log10: float, where: str) -> float:
    key = eps_key(eps_log10)
    if key not in levels:
        available = sorted(levels)
        raise KeyError(f"{where}: no pseudospectral radius at log10 eps = {eps_log10:g} (key {key!r}); has {available}")
    return float(levels[key])


def _unstable_text(radii: Sequence[float]) -> str:
    """Display of the unstable-sensitive cells from the worst-block radius of each seed: ``""`` when every seed
    is stable, ``"unstable"`` when every seed is, else ``"2/3 unstable"`` (the radii are the row's ρ column)."""
    unstable = sum(r > UNSTABLE_RADIUS for r in radii)
    if not unstable:
        return ""
    return "unstable" if unstable == len(radii) else f"{unstable}/{len(radii)} unstable"


def table3_robustness(
    analysis: Mapping[RunKey, PathLike], eps_log10: float, *, metrics: Mapping[RunKey, PathLike] | None = None
) -> pd.DataFrame:
    """Robustness scalars per task × model × regime (rows).

    Each run is reduced to one number per quantity over its matrices (gate blocks, both layers of the adding
    task): the **maximum** over blocks for the spectral radius, spectral norm, ε-pseudospectral radius ρ_ε,
    Kreiss lower bound and transient peak max_k ‖Wᵏ‖ (the least robust block), the **minimum** for the
    distance to instability (the block closest to instability). See :data:`TABLE3_QUANTITIES`. All are of the
    saved weights: for a stabilized run, after the final rescale.

    A run is **unstable** when one of its blocks has ρ > 1 (:data:`UNSTABLE_RADIUS`): its Kreiss bound is ∞ and
    its powers grow until the transient computation's overflow guard. The CSV keeps those numbers; the printed
    table shows ``unstable_text`` in their place (:data:`UNSTABLE_QUANTITIES`).

    Parameters
    ----------
    analysis
        Run key -> analysis JSON; ρ_ε is read at ``summary["pseudospectral_radius"][eps_key(eps_log10)]``.
    eps_log10
        log10 ε of the reported ρ_ε (one of the analysis stage's levels; KeyError naming them otherwise).
    metrics
        Run key -> metrics.json; adds the ``status`` (:func:`status_cell`) and ``outcome`` (:func:`outcome_cell`)
        columns, kept in the CSV only (Table 1 shows the outcomes).

    Returns
    -------
    DataFrame
        ``<quantity>_mean`` / ``<quantity>_std`` over seeds, ``n`` seeds, ``n_blocks`` matrices per run,
        ``n_unstable`` (seeds with an unstable block), ``unstable`` (every seed unstable), ``unstable_text`` (the
        printed override: ``"unstable"``, ``"1/3 unstable"`` or ``""``) and the hidden ``eps_log10``.
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    outcomes = _outcomes(metrics)
    groups = _group(runs)
    eps_log10 = float(eps_log10)

    columns = ["task", "model", "regime", "n", "n_blocks", "eps_log10"]
    headers = {"n_blocks": "matrices"}
    for key, agg, label in TABLE3_QUANTITIES:
        columns += [f"{key}_mean", f"{key}_std"]
        if key == "pseudospectral_radius":
            label = f"{label}, ε = {format_eps(eps_log10)}"
        headers[key] = f"{label} ({agg})"
    columns += ["n_unstable", "unstable", "unstable_text"]
    if statuses:
        columns += ["status", "outcome"]

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
            radii = per_run["spectral_radius"]
            row["n_unstable"] = sum(r > UNSTABLE_RADIUS for r in radii)
            row["unstable"] = row["n_unstable"] == len(radii)
            row["unstable_text"] = _unstable_text(radii)
            if statuses:
                row["status"] = status_cell([statuses[(task, model, regime, seed)] for seed, _ in seeds])
                row["outcome"] = outcome_cell([outcomes[(task, model, regime, seed)] for seed, _ in seeds])
            rows.append(row)
    notes = [
        "Per run the maximum over its recurrent matrices (minimum for the distance to instability), then mean ± std "
        "over seeds; of the saved weights, i.e. for stabilized runs after the final rescale.",
        "unstable (k/n unstable: k of n seeds): a matrix of the run has ρ > 1 (column ρ), so its Kreiss bound is ∞ "
        "and its powers grow without bound; the numbers (∞, or the overflow guard of the transient computation) "
        "are in the CSV only.",
    ]
    hidden = ["n", "n_blocks", "eps_log10", "n_unstable", "unstable"] + (["status", "outcome"] if statuses else [])
    text = {key: "unstable_text" for key in UNSTABLE_QUANTITIES}
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=notes)
