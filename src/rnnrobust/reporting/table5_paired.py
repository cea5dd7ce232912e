"""Table 5: each regime against the reference regime (plain training), seed by seed; its caption and its report
caption.

Reads ``metrics.json`` and the analysis JSON of every run (:mod:`rnnrobust.reporting.table_common`) and pairs each
regime's runs with the reference runs of the same task, model and seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike
from rnnrobust.layout import REFERENCE, RunKey
from rnnrobust.reporting.table_common import (
    DEFAULT_DTYPE,
    SIGNED_DISTANCE,
    SIGNED_DISTANCE_NOTE,
    STATS_METHOD,
    add_holm_columns,
    load_runs,
    on_circle_text,
    percent,
    report_caption,
    run_dtypes,
    run_scalar,
    run_stability,
    runs_text,
    summary_columns,
)
from rnnrobust.reporting.table_frame import table_frame
from rnnrobust.runs import regime_order, sort_runs
from rnnrobust.stats import PAIRED_TEST, interval_for, min_p_value, paired_difference

__all__ = ["PAIRED_QUANTITIES", "table5_paired", "table5_paired_caption", "table5_paired_report_caption"]

PAIRED_QUANTITIES: tuple[tuple[str, str, str, str], ...] = (
    ("accuracy", "", "Δ test accuracy (points)", "p (accuracy)"),
    ("henrici_relative", "max", "Δ Henrici / ‖W‖_F (max)", "p (Henrici)"),
    (SIGNED_DISTANCE, "min", "Δ signed distance to instability (min; < 0: unstable)", "p (distance)"),
)
"""(quantity, aggregation over a run's blocks, header, header of its p-value) of :func:`table5_paired`; the
accuracy is the run's test accuracy in % (metrics.json), the others come from the analysis JSON (the distance to
instability signed by stability in the precision of the run's weights, metrics.json's ``hyperparameters.dtype``:
:func:`~rnnrobust.reporting.table_common.signed_distance`, as Table 3)."""


def _seeds_text(seeds: Iterable[int]) -> str:
    return ", ".join(str(s) for s in sorted(seeds))


def _columns() -> tuple[list[str], dict[str, str]]:
    columns = ["task", "model", "regime", "reference", "n"]
    headers: dict[str, str] = {}
    for key, _, label, p_label in PAIRED_QUANTITIES:
        columns += [*summary_columns(f"{key}_diff"), f"{key}_p", f"{key}_p_holm", f"{key}_p_text"]
        headers |= {f"{key}_diff": label, f"{key}_p": p_label}
    return [*columns, "test", "excluded"], headers


def _excluded(regime: str, reference: str, own: set[int], ref_seeds: set[int]) -> list[str]:
    """Why seeds of a regime or of the reference have no partner."""
    reasons = []
    if own - ref_seeds:
        reasons.append(f"{regime} seeds {_seeds_text(own - ref_seeds)}: no {reference} run of the seed")
    if ref_seeds - own:
        reasons.append(f"{reference} seeds {_seeds_text(ref_seeds - own)}: no {regime} run of the seed")
    return reasons


def _row(
    cell: tuple[str, str, str], reference: str, seeds: Sequence[int], per_run: Mapping[str, Mapping[RunKey, float]]
) -> tuple[dict[str, Any], int]:
    """One regime of a task × model against the reference over its paired ``seeds``; the number of p-values."""
    task, model, regime = cell
    row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "reference": reference, "n": len(seeds)}
    tested = 0
    for key, _, _, _ in PAIRED_QUANTITIES:
        values = per_run[key]
        both = [s for s in seeds if {(task, model, r, s) for r in (regime, reference)} <= set(values)]
        diff = paired_difference(
            {s: values[(task, model, regime, s)] for s in both},
            {s: values[(task, model, reference, s)] for s in both},
            interval="auto",  # Student's t for up to 10 pairs, as every aggregate over seeds (table_common)
        )
        row |= diff.summary().columns(f"{key}_diff")
        row[f"{key}_p"] = diff.p_value
        tested += diff.n > 0
    row["test"] = PAIRED_TEST
    return row, tested


def _notes(rows: Sequence[Mapping[str, Any]], reference: str, tested: int, excluded: Sequence[str]) -> list[str]:
    counts = sorted({row["n"] for row in rows if row["n"]})
    floor = ", ".join(f"{min_p_value(n):g} with {n} seeds" for n in counts)
    notes = [
        f"Differences regime − {reference} of runs of the same task, model and seed: test accuracy in percentage "
        "points (after the final rescale for a rescaled regime); Henrici / ‖W‖_F of the run's most non-normal "
        "matrix (maximum over blocks); signed distance to instability of its matrix closest to (or furthest beyond) "
        f"instability (minimum, as table3_robustness). Mean ± sd [95 % CI] of the differences: {STATS_METHOD}",
        SIGNED_DISTANCE_NOTE,
        f"p: {PAIRED_TEST} (every one of the 2^n sign assignments of the n differences; sampled beyond 16 pairs). "
        f"The smallest p it can give is 2^(1 − n) ({floor or 'no pairs'}): with fewer than 6 seeds no difference can "
        f"reach p < 0.05. Beside each p (Holm …): the quantity's p-values adjusted over the table's {len(rows)} rows "
        "by Holm's step-down method (a row without a p is not counted), so that rejecting those below α holds the "
        f"chance of any false rejection among them at α ({tested} p-values in all; CSV: <quantity>_p_holm).",
    ]
    if excluded:
        notes.append("Left out (no partner of the same seed): " + "; ".join(excluded) + ".")
    if not rows:
        notes.append(f"No run has a {reference} partner: no paired differences.")
    return notes


def _per_run(
    mruns: Mapping[RunKey, Any], aruns: Mapping[RunKey, Any], dtypes: Mapping[RunKey, str]
) -> dict[str, dict[RunKey, float]]:
    """Quantity -> run -> its value (:data:`PAIRED_QUANTITIES`); ``dtypes``: run -> the precision of its weights."""
    per_run = {"accuracy": {k: percent(m["test"]["accuracy"]) for k, m in mruns.items()}}
    for key, agg, _, _ in PAIRED_QUANTITIES[1:]:
        per_run[key] = {
            run: run_scalar(data, key, agg, run, dtype=dtypes.get(run, DEFAULT_DTYPE)) for run, data in aruns.items()
        }
    return per_run


def _on_circle(aruns: Mapping[RunKey, Any], dtypes: Mapping[RunKey, str]) -> str:
    """The sentence on the runs whose largest ρ is on the circle (``""`` when none is)."""
    labels = [run_stability(data, dtypes.get(run, DEFAULT_DTYPE)) for run, data in aruns.items()]
    return on_circle_text(labels.count("on_circle"), len(labels))


def _paired_rows(
    keys: Sequence[RunKey], order: Sequence[str], reference: str, per_run: Mapping[str, Mapping[RunKey, float]]
) -> tuple[list[dict[str, Any]], list[str], int]:
    """The rows of every regime of every task × model (``keys`` in table order) that has a partner of the same
    seed among the reference's runs; the seeds left out, and why; the number of p-values."""
    seeds: dict[tuple[str, str, str], set[int]] = {}
    for task, model, regime, seed in keys:
        seeds.setdefault((task, model, regime), set()).add(seed)
    rows, excluded, tested = [], [], 0
    for task, model in dict.fromkeys(key[:2] for key in keys):
        ref_seeds = seeds.get((task, model, reference), set())
        for regime in order:
            if regime == reference or (task, model, regime) not in seeds:
                continue
            own = seeds[(task, model, regime)]
            reasons = _excluded(regime, reference, own, ref_seeds)
            excluded += [f"{task}/{model}: {reason}" for reason in reasons]
            if not own & ref_seeds:  # nothing to pair: no row, the note names the runs
                continue
            row, count = _row((task, model, regime), reference, sorted(own & ref_seeds), per_run)
            rows.append(row | {"excluded": "; ".join(reasons)})
            tested += count
    return rows, excluded, tested


def table5_paired(
    metrics: Mapping[RunKey, PathLike],
    analysis: Mapping[RunKey, PathLike],
    *,
    regimes: Sequence[str] | None = None,
    reference: str = REFERENCE,
) -> pd.DataFrame:
    """Each regime against the reference regime, paired by seed: per task × model × regime (rows, the reference
    excluded) the differences regime − reference of runs of the same seed.

    Three quantities per run (:data:`PAIRED_QUANTITIES`): the test accuracy (%, after the final rescale for a
    rescaled regime, as Table 1), the relative Henrici number ‖N‖_F / ‖W‖_F of its most non-normal matrix (maximum
    over blocks) and the signed distance to instability (minimum over blocks, as Table 3; negative for an unstable
    matrix). Of each: the mean, sd and 95 % interval of the differences (Student's t for up to 10 pairs, as
    :func:`~rnnrobust.reporting.table_common.over_seeds_summary`), the two-sided p-value of
    :data:`rnnrobust.stats.PAIRED_TEST` (:func:`rnnrobust.stats.paired_difference`) and that p adjusted by
    :func:`rnnrobust.stats.holm` over the table's rows, per quantity. A run of a regime without a
    reference run of the same seed (task and model) is left out, and so is a reference run without a partner; the
    ``excluded`` column and a note name them.

    Parameters
    ----------
    metrics, analysis
        Run key -> metrics.json (the accuracy, and the precision of the weights that signs the distance), and ->
        analysis JSON.
    regimes
        The order of the regimes (the config's); default: the order the runs first name them.
    reference
        The regime every other one is compared with (default ``layout.REFERENCE``, the paper's plain training).

    Returns
    -------
    DataFrame
        ``task``, ``model``, ``regime``, ``reference``, ``n`` (seeds with both runs); per quantity ``q``:
        ``q_diff_mean`` / ``_sd`` / ``_ci_low`` / ``_ci_high`` / ``_n``, ``q_p``, ``q_p_holm`` and ``q_p_text``
        (both as printed in the p column); ``test`` (the test's name),
        ``excluded`` (the seeds left out and why; ``""`` when none). A task × model × regime without a single
        pair has no row (e.g. a config without the reference regime); the notes name its runs. The notes give the
        smallest p-value the test can reach with the table's n (:func:`rnnrobust.stats.min_p_value`: 0.25 with 3
        seeds).
    """
    mruns = load_runs(metrics, "metrics")
    aruns = load_runs(analysis, "analysis")
    keys = list(dict.fromkeys([*mruns, *aruns]))
    order = regime_order(keys, regimes, strict=True)
    dtypes = run_dtypes(mruns)
    rows, excluded, tested = _paired_rows(sort_runs(keys, order), order, reference, _per_run(mruns, aruns, dtypes))
    # Holm over the table's rows, one family per quantity, printed in the p column: "0.25 (Holm 0.75)".
    text = add_holm_columns(rows, [key for key, _, _, _ in PAIRED_QUANTITIES])
    columns, headers = _columns()
    circle = _on_circle(aruns, dtypes)
    notes = _notes(rows, reference, tested, excluded) + ([circle] if circle else [])
    hidden = ["reference", "n", "test", "excluded", *(f"{key}_p_holm" for key, _, _, _ in PAIRED_QUANTITIES)]
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=notes)


def table5_paired_caption(reference: str = REFERENCE) -> str:
    """The caption written into the table's files."""
    return (
        f"Each regime − {reference}, paired by seed: test accuracy, Henrici / ‖W‖_F and signed distance to "
        f"instability; mean ± sd [95 % CI] of the differences and the {PAIRED_TEST}, Holm-adjusted beside."
    )


def _pairs_text(metrics: Mapping[RunKey, PathLike], reference: str) -> str:
    runs = set(metrics)
    others = [run for run in runs if run[2] != reference]
    paired = [run for run in others if (*run[:2], reference, run[3]) in runs]
    left = len(others) - len(paired)
    text = f"{len(paired)} runs of other regimes have a {reference} run of the same seed to be compared with"
    return text + (f"; left out for want of one: {left}." if left else ".")


def table5_paired_report_caption(
    metrics: Mapping[RunKey, PathLike],
    reference: str = REFERENCE,
    *,
    analysis: Mapping[RunKey, PathLike] | None = None,
) -> str:
    """The table's caption in the workflow's report: what it shows, then its runs and how many have a partner; with
    ``analysis``, how many runs have a matrix on the unit circle (signed distance 0), when any has."""
    n = len({key[3] for key in metrics})
    description = (
        f"Table 5 (``table5_paired``, ``tables`` rule): each regime against the {reference} run of the same seed: "
        "the paired difference of test accuracy (after the final rescale for stabilized runs), of the relative "
        "Henrici number (largest over a run's matrices) and of the signed distance to instability (smallest; "
        f"negative for ρ > 1, 0 on the circle), with its 95 % {interval_for(n)} CI and the {PAIRED_TEST} (p ≥ "
        f"2^(1−n): {min_p_value(n):g} with {n} seed{'s' * (n != 1)}), its p Holm-adjusted over the table's rows."
    )
    this_run = f"{runs_text(metrics)} {_pairs_text(metrics, reference)}"
    if analysis is not None:
        circle = _on_circle(load_runs(analysis, "analysis"), run_dtypes(metrics))
        this_run += f" {circle}" if circle else ""
    return report_caption(description, metrics, this_run)
