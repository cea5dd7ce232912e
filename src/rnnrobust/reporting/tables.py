"""The paper's tables from the per-run files of the workflow, with the published numbers beside ours.

Inputs are mappings ``RunKey -> path`` with ``RunKey = (task, model, regime, seed)``:

- :func:`table1_accuracy` (the paper's layout) and :func:`table1_detail` read ``results/models/<run>/metrics.json``
  (the detail table also the analysis JSON, for ρ after the final rescale);
- :func:`table2_henrici` and :func:`table3_robustness` read ``results/analysis/<run>.json``
  (``{"<layer>/<gate>": summary}`` as written by ``rnnrobust.robustness.analysis.analyze_blocks``);
- :func:`table5_paired` reads both, and pairs each regime's runs with the baseline runs of the same seeds.

Each returns a table (:func:`rnnrobust.reporting.render.table_frame`) whose numeric columns stay machine readable: every
aggregate over seeds is a group ``<name>_mean``, ``<name>_sd`` (sample standard deviation, ddof = 1; NaN for a
single seed), ``<name>_ci_low`` / ``<name>_ci_high`` (95 % percentile-bootstrap interval of the mean; NaN for a
single seed) and ``<name>_n`` (the values counted), all from :func:`rnnrobust.stats.summarize`; ``n`` (or
``<regime>_n``) counts the runs of a row. Infinite values (a Kreiss bound of a matrix with ρ > 1, the eigenvector
condition of a defective matrix) propagate: the mean is then ∞ and the sd and interval NaN; the printed Table 3
shows such cells as "unstable" instead (:func:`table3_robustness`). Per-seed values are ``{seed: value}`` dicts.
``rnnrobust.reporting.render.write_table`` writes them as files; the paper's numbers come from :mod:`rnnrobust.reporting.paper`.

**Regimes.** The columns (Tables 1 and 2) and rows (the others) of the regimes follow ``regimes`` when a table is
given it (the config's order), else the order in which the runs first name them; :data:`REFERENCE` (the paper's
plain training, ``layout.REGIMES[0]``) is the reference of :func:`table5_paired`. A regime "has a final rescale"
when its runs' metrics record the accuracy before it (``test_before_final_rescale``).

**Which accuracy.** A run with an epoch-end rescale (the stabilized regime and its variants) is rescaled after its
last epoch's test evaluation too (protocol §3.5). Every accuracy of these tables is the test accuracy **after the
final rescale** (``metrics.json["test"]``, the weights that were saved and analysed); the accuracy **before** it
(``metrics.json["test_before_final_rescale"]``, the last row of ``history.csv``) is a separate column of
:func:`table1_detail`. Baseline runs are never rescaled.

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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import (
    CELLS,
    GATES,
    REFERENCE,
    STATUSES,
    TASKS,
    UNSTABLE_RADIUS,
    RunKey,
    block_keys,
    eps_key,
)
from rnnrobust.reporting.paper import PAPER_TABLE1, PaperCell, paper_henrici
from rnnrobust.reporting.render import format_eps, table_frame
from rnnrobust.stats import PAIRED_TEST, min_p_value, paired_difference, summarize

__all__ = [
    "COLLAPSE_DROP",
    "LEARNED_FRACTION",
    "OUTCOMES",
    "OUTCOME_RULE",
    "PAIRED_QUANTITIES",
    "REFERENCE",
    "STATS_NOTE",
    "TABLE3_QUANTITIES",
    "UNSTABLE_RADIUS",
    "outcome_cell",
    "run_outcome",
    "status_cell",
    "table1_accuracy",
    "table1_detail",
    "table2_henrici",
    "table3_robustness",
    "table5_paired",
]

#: The regime every other regime is compared with, seed by seed (:func:`table5_paired`): plain training.

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

_STATS_METHOD = (
    "sample sd (ddof = 1); percentile bootstrap interval of the mean (every resample enumerated for up to 5 seeds, "
    "else 10 000 seeded resamples); none for a single seed. With few seeds the interval is too narrow (it cannot "
    "reach beyond the observed values): it describes the seeds, it does not promise coverage."
)
#: How every aggregate over seeds is computed, printed in the notes of each table.
STATS_NOTE = f"mean ± sd [95 % CI] over seeds: {_STATS_METHOD}"


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


def _summary(name: str, values: Iterable[float]) -> dict[str, float | int]:
    """The columns ``<name>_mean``, ``_sd``, ``_ci_low``, ``_ci_high``, ``_n`` of values over seeds (NaN: missing)."""
    return summarize(values).columns(name)


def _summary_columns(name: str) -> list[str]:
    return [f"{name}_{part}" for part in ("mean", "sd", "ci_low", "ci_high", "n")]


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


def _regime_order(keys: Iterable[RunKey], regimes: Sequence[str] | None = None) -> list[str]:
    """The regimes of the runs, in the order of ``regimes`` (a run of a regime it does not list: ValueError), else
    in the order the runs first name them."""
    present = list(dict.fromkeys(key[2] for key in keys))
    if regimes is None:
        return present
    order = list(dict.fromkeys(regimes))
    unknown = [r for r in present if r not in order]
    if unknown:
        raise ValueError(f"runs of regimes {unknown} that are not among the regimes given, {order}")
    return [r for r in order if r in present]


def _group(
    runs: Mapping[RunKey, Any], regimes: Sequence[str]
) -> dict[tuple[str, str], dict[str, list[tuple[int, Any]]]]:
    """(task, model) -> regime -> [(seed, data)] sorted by seed; tasks and models in canonical order, regimes in
    the order of ``regimes``."""
    groups: dict[tuple[str, str], dict[str, list[tuple[int, Any]]]] = {}
    for (task, model, regime, seed), data in runs.items():
        groups.setdefault((task, model), {}).setdefault(regime, []).append((seed, data))
    ordered = {}
    for tm in sorted(groups, key=lambda tm: (_rank(tm[0], TASKS), _rank(tm[1], CELLS))):
        ordered[tm] = {r: sorted(groups[tm][r], key=lambda s: s[0]) for r in regimes if r in groups[tm]}
    return ordered


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
    """Regimes with a final rescale: those whose runs' metrics record the accuracy before it."""
    return {r for (_, _, r, _), m in runs.items() if "test_before_final_rescale" in m}


def _rescaled_text(rescaled: Sequence[str]) -> str:
    return f"for {', '.join(rescaled)} after the final rescale" if rescaled else "no regime was rescaled"


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
        rescale** for a rescaled regime) and ``r_outcome`` (:func:`outcome_cell` of :func:`run_outcome`). Details
        (accuracy before the final rescale, exact match, chance, run status, per seed) are in :func:`table1_detail`.
    """
    runs = _load_runs(metrics, "metrics")
    order = _regime_order(runs, regimes)
    rescaled = _rescaled(runs)

    columns = ["task", "model", *_PAPER_COLUMNS]
    headers = {"paper_accuracy": "paper"}
    for r in order:
        columns += [f"{r}_n", *_summary_columns(f"{r}_accuracy"), f"{r}_outcome"]
        headers[f"{r}_accuracy"] = f"{r}, after final rescale (%)" if r in rescaled else f"{r} (%)"
        headers[f"{r}_outcome"] = f"{r} outcome"

    rows = []
    for (task, model), by_regime in _group(runs, order).items():
        row: dict[str, Any] = {"task": task, "model": model}
        _paper_columns(row, task, model)
        for r in order:
            seeds = by_regime.get(r, [])
            row[f"{r}_n"] = len(seeds)
            row |= _summary(f"{r}_accuracy", (_pct(m["test"]["accuracy"]) for _, m in seeds))
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


def _max_radius(data: Mapping[str, Any]) -> float:
    return max(float(s["spectral_radius"]) for s in data.values())


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
        ``radius_after_rescale_*`` (with ``analysis``); ``outcome`` (:func:`outcome_cell`), ``status``
        (:func:`status_cell` of the statuses training wrote) and per-seed dicts ``accuracy_per_seed``,
        ``before_rescale_accuracy_per_seed``, ``outcome_per_seed``. The three optional groups are left out when no
        run has them.
    """
    runs = _load_runs(metrics, "metrics")
    order = _regime_order(runs, regimes)
    rescaled = _rescaled(runs)
    radii = {key: _max_radius(data) for key, data in _load_runs(analysis, "analysis").items()} if analysis else {}
    has_exact = any("exact_match" in m["test"] for m in runs.values())

    columns = ["task", "model", "regime", "n", "chance_accuracy", *_summary_columns("accuracy")]
    if rescaled:
        columns += _summary_columns("before_rescale_accuracy")
    if has_exact:
        columns += _summary_columns("exact_match")
    if radii and rescaled:
        columns += _summary_columns("radius_after_rescale")
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
    for (task, model), by_regime in _group(runs, order).items():
        for regime, seeds in by_regime.items():
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "n": len(seeds)}
            row["chance_accuracy"] = summarize(_pct(m.get("chance_accuracy")) for _, m in seeds).mean
            acc = {seed: _pct(m["test"]["accuracy"]) for seed, m in seeds}
            row |= _summary("accuracy", acc.values())
            row["accuracy_per_seed"] = acc
            if rescaled:
                before = {}
                if regime in rescaled:
                    before = {s: _pct((m.get("test_before_final_rescale") or {}).get("accuracy")) for s, m in seeds}
                row |= _summary("before_rescale_accuracy", before.values())
                row["before_rescale_accuracy_per_seed"] = before
            if has_exact:
                row |= _summary("exact_match", (_pct(m["test"].get("exact_match")) for _, m in seeds))
            if radii and rescaled:
                values = []
                if regime in rescaled:
                    missing = [s for s, _ in seeds if (task, model, regime, s) not in radii]
                    if missing:
                        raise KeyError(f"no analysis of {task}/{model}/{regime} seeds {missing}")
                    values = [radii[(task, model, regime, s)] for s, _ in seeds]
                row |= _summary("radius_after_rescale", values)
            outcomes = {seed: run_outcome(m) for seed, m in seeds}
            row["outcome"] = outcome_cell(list(outcomes.values()))
            row["outcome_per_seed"] = outcomes
            row["status"] = status_cell([m["status"] for _, m in seeds])
            rows.append(row)
    notes = [
        f"Test accuracy, chance and exact match in %, {STATS_NOTE} After final rescale: metrics.json "
        "test, of the weights that were saved and analysed (a regime without a rescale: its final "
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
        Run key -> metrics.json; adds the ``<regime>_status`` columns (:func:`status_cell`).
    regimes
        The order of the regime column groups (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        Per regime: ``<regime>_n`` runs, ``<regime>_henrici_*`` (absolute ‖N‖_F of the Schur form, the paper's
        number) and ``<regime>_henrici_relative_*`` (‖N‖_F / ‖W‖_F), each ``_mean`` / ``_sd`` / ``_ci_low`` /
        ``_ci_high`` / ``_n`` over seeds; then ``paper_henrici`` (the value, ``"not reported"`` or
        ``"non-convergence"``), ``paper_henrici_value`` (number or NaN) and ``paper_note`` (see
        ``rnnrobust.reporting.paper.PAPER_TABLE2``); with ``metrics`` also ``<regime>_status`` and ``<regime>_outcome``
        (:func:`outcome_cell`). The counts, statuses, outcomes and paper notes are kept in the CSV and left out of
        the printed table (the outcomes are in Table 1).
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    outcomes = _outcomes(metrics)
    order = _regime_order(runs, regimes)
    groups = _group(runs, order)

    columns, headers = ["task", "model", "matrix"], {}
    for r in order:
        columns += [f"{r}_n", *_summary_columns(f"{r}_henrici")]
        headers |= {f"{r}_n": f"{r} n", f"{r}_henrici": f"{r} Henrici"}
    for r in order:
        columns += _summary_columns(f"{r}_henrici_relative")
        headers[f"{r}_henrici_relative"] = f"{r} Henrici / ‖W‖_F"
    if statuses:
        columns += [f"{r}_status" for r in order] + [f"{r}_outcome" for r in order]
        headers |= {f"{r}_status": f"{r} status" for r in order}
    columns += ["paper_henrici", "paper_henrici_value", "paper_note"]
    headers |= {"paper_henrici": "paper", "paper_note": "paper note"}

    rows = []
    for (task, model), by_regime in groups.items():
        blocks = {b for seeds in by_regime.values() for _, data in seeds for b in data}
        for block in sorted(blocks, key=lambda b: _block_rank(task, model, b)):
            row: dict[str, Any] = {"task": task, "model": model, "matrix": block}
            for r in order:
                present = [(seed, data[block]) for seed, data in by_regime.get(r, []) if block in data]
                row[f"{r}_n"] = len(present)
                for q in ("henrici", "henrici_relative"):
                    row |= _summary(f"{r}_{q}", (float(s[q]) for _, s in present))
                if statuses:
                    row[f"{r}_status"] = status_cell([statuses[(task, model, r, seed)] for seed, _ in present])
                    row[f"{r}_outcome"] = outcome_cell([outcomes[(task, model, r, seed)] for seed, _ in present])
            value, display, note = paper_henrici(task, model, block)
            row["paper_henrici"] = display
            row["paper_henrici_value"] = math.nan if value is None else value
            row["paper_note"] = note
            rows.append(row)
    hidden = [f"{r}_n" for r in order] + ["paper_henrici_value", "paper_note"]
    if statuses:
        hidden += [f"{r}_{c}" for c in ("status", "outcome") for r in order]
    notes = [
        "Henrici departure from normality ‖N‖_F of the complex Schur form T = D + N of each recurrent matrix, and "
        f"relative to ‖W‖_F; {STATS_NOTE} Of the saved weights (a rescaled regime: after the final rescale).",
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


def _run_scalar(data: Mapping[str, Any], key: str, agg: str, run: RunKey, eps_log10: float | None = None) -> float:
    """One number per run: ``key`` of each of its blocks, reduced by ``agg`` (``"max"`` or ``"min"``) over blocks."""
    if not data:
        raise ValueError(f"analysis of {run} has no matrices")
    if key == "pseudospectral_radius":
        if eps_log10 is None:
            raise ValueError("the pseudospectral radius needs eps_log10")
        values = [_radius_at(s[key], eps_log10, f"{run} {b}") for b, s in data.items()]
    else:
        values = [float(s[key]) for s in data.values()]
    return max(values) if agg == "max" else min(values)


def table3_robustness(
    analysis: Mapping[RunKey, PathLike],
    eps_log10: float,
    *,
    metrics: Mapping[RunKey, PathLike] | None = None,
    regimes: Sequence[str] | None = None,
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
    regimes
        The order of the regimes within a task × model (the config's); default: the order the runs first name them.

    Returns
    -------
    DataFrame
        ``<quantity>_mean`` / ``_sd`` / ``_ci_low`` / ``_ci_high`` / ``_n`` over seeds, ``n`` runs, ``n_blocks``
        matrices per run,
        ``n_unstable`` (seeds with an unstable block), ``unstable`` (every seed unstable), ``unstable_text`` (the
        printed override: ``"unstable"``, ``"1/3 unstable"`` or ``""``) and the hidden ``eps_log10``.
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    outcomes = _outcomes(metrics)
    groups = _group(runs, _regime_order(runs, regimes))
    eps_log10 = float(eps_log10)

    columns = ["task", "model", "regime", "n", "n_blocks", "eps_log10"]
    headers = {"n_blocks": "matrices"}
    for key, agg, label in TABLE3_QUANTITIES:
        columns += _summary_columns(key)
        if key == "pseudospectral_radius":
            label = f"{label}, ε = {format_eps(eps_log10)}"
        headers[key] = f"{label} ({agg})"
    columns += ["n_unstable", "unstable", "unstable_text"]
    if statuses:
        columns += ["status", "outcome"]

    rows = []
    for (task, model), by_regime in groups.items():
        for regime, seeds in by_regime.items():
            per_run = {
                key: [_run_scalar(data, key, agg, (task, model, regime, seed), eps_log10) for seed, data in seeds]
                for key, agg, _ in TABLE3_QUANTITIES
            }
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "eps_log10": eps_log10}
            row["n"] = len(seeds)
            row["n_blocks"] = max(len(data) for _, data in seeds)
            for key, _, _ in TABLE3_QUANTITIES:
                row |= _summary(key, per_run[key])
            radii = per_run["spectral_radius"]
            row["n_unstable"] = sum(r > UNSTABLE_RADIUS for r in radii)
            row["unstable"] = row["n_unstable"] == len(radii)
            row["unstable_text"] = _unstable_text(radii)
            if statuses:
                row["status"] = status_cell([statuses[(task, model, regime, seed)] for seed, _ in seeds])
                row["outcome"] = outcome_cell([outcomes[(task, model, regime, seed)] for seed, _ in seeds])
            rows.append(row)
    notes = [
        "Per run the maximum over its recurrent matrices (minimum for the distance to instability), then "
        f"{STATS_NOTE} Of the saved weights, i.e. for rescaled regimes after the final rescale.",
        "unstable (k/n unstable: k of n seeds): a matrix of the run has ρ > 1 (column ρ), so its Kreiss bound is ∞ "
        "and its powers grow without bound; the numbers (∞, or the overflow guard of the transient computation) "
        "are in the CSV only.",
    ]
    hidden = ["n", "n_blocks", "eps_log10", "n_unstable", "unstable"] + (["status", "outcome"] if statuses else [])
    text = {key: "unstable_text" for key in UNSTABLE_QUANTITIES}
    return table_frame(rows, columns, headers=headers, hidden=hidden, text=text, notes=notes)


# --------------------------------------------------------------------------------------------------
# Table 5: each regime against the baseline, seed by seed.

PAIRED_QUANTITIES: tuple[tuple[str, str, str, str], ...] = (
    ("accuracy", "", "Δ test accuracy (points)", "p (accuracy)"),
    ("henrici_relative", "max", "Δ Henrici / ‖W‖_F (max)", "p (Henrici)"),
    ("distance_to_instability", "min", "Δ distance to instability (min)", "p (distance)"),
)
"""(quantity, aggregation over a run's blocks, header, header of its p-value) of :func:`table5_paired`; the
accuracy is the run's test accuracy in % (metrics.json), the others come from the analysis JSON."""


def _seeds_text(seeds: Iterable[int]) -> str:
    return ", ".join(str(s) for s in sorted(seeds))


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
    over blocks) and the distance to instability of its matrix closest to instability (minimum over blocks, as
    Table 3). Of each: the mean, sd and 95 % bootstrap interval of the differences and the two-sided p-value of
    :data:`rnnrobust.stats.PAIRED_TEST` (:func:`rnnrobust.stats.paired_difference`). A run of a regime without a
    reference run of the same seed (task and model) is left out, and so is a reference run without a partner; the
    ``excluded`` column and a note name them.

    Parameters
    ----------
    metrics, analysis
        Run key -> metrics.json, and -> analysis JSON.
    regimes
        The order of the regimes (the config's); default: the order the runs first name them.
    reference
        The regime every other one is compared with (default :data:`REFERENCE`, the paper's plain training).

    Returns
    -------
    DataFrame
        ``task``, ``model``, ``regime``, ``reference``, ``n`` (seeds with both runs); per quantity ``q``:
        ``q_diff_mean`` / ``_sd`` / ``_ci_low`` / ``_ci_high`` / ``_n`` and ``q_p``; ``test`` (the test's name),
        ``excluded`` (the seeds left out and why; ``""`` when none). A task × model × regime without a single
        pair has no row (e.g. a config without the reference regime); the notes name its runs. The notes give the
        smallest p-value the test can reach with the table's n (:func:`rnnrobust.stats.min_p_value`: 0.25 with 3
        seeds).
    """
    mruns = _load_runs(metrics, "metrics")
    aruns = _load_runs(analysis, "analysis")
    keys = list(dict.fromkeys([*mruns, *aruns]))
    order = _regime_order(keys, regimes)
    per_run: dict[str, dict[RunKey, float]] = {"accuracy": {k: _pct(m["test"]["accuracy"]) for k, m in mruns.items()}}
    for key, agg, _, _ in PAIRED_QUANTITIES[1:]:
        per_run[key] = {run: _run_scalar(data, key, agg, run) for run, data in aruns.items()}
    seeds: dict[tuple[str, str, str], set[int]] = {}
    for task, model, regime, seed in keys:
        seeds.setdefault((task, model, regime), set()).add(seed)
    pairs = sorted({(t, m) for t, m, _, _ in keys}, key=lambda tm: (_rank(tm[0], TASKS), _rank(tm[1], CELLS)))

    columns = ["task", "model", "regime", "reference", "n"]
    headers: dict[str, str] = {}
    for key, _, label, p_label in PAIRED_QUANTITIES:
        columns += [*_summary_columns(f"{key}_diff"), f"{key}_p"]
        headers |= {f"{key}_diff": label, f"{key}_p": p_label}
    columns += ["test", "excluded"]

    rows, excluded, tested = [], [], 0
    for task, model in pairs:
        ref_seeds = seeds.get((task, model, reference), set())
        for regime in order:
            if regime == reference or (task, model, regime) not in seeds:
                continue
            own = seeds[(task, model, regime)]
            reasons = []
            if own - ref_seeds:
                reasons.append(f"{regime} seeds {_seeds_text(own - ref_seeds)}: no {reference} run of the seed")
            if ref_seeds - own:
                reasons.append(f"{reference} seeds {_seeds_text(ref_seeds - own)}: no {regime} run of the seed")
            excluded += [f"{task}/{model}: {reason}" for reason in reasons]
            if not own & ref_seeds:  # nothing to pair: no row, the note names the runs
                continue
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "reference": reference}
            row["n"] = len(own & ref_seeds)
            for key, _, _, _ in PAIRED_QUANTITIES:
                values = per_run[key]
                both = [
                    s
                    for s in sorted(own & ref_seeds)
                    if {(task, model, r, s) for r in (regime, reference)} <= set(values)
                ]
                diff = paired_difference(
                    {s: values[(task, model, regime, s)] for s in both},
                    {s: values[(task, model, reference, s)] for s in both},
                )
                row |= diff.summary().columns(f"{key}_diff")
                row[f"{key}_p"] = diff.p_value
                tested += diff.n > 0
            row["test"] = PAIRED_TEST
            row["excluded"] = "; ".join(reasons)
            rows.append(row)

    counts = sorted({row["n"] for row in rows if row["n"]})
    floor = ", ".join(f"{min_p_value(n):g} with {n} seeds" for n in counts)
    notes = [
        f"Differences regime − {reference} of runs of the same task, model and seed: test accuracy in percentage "
        "points (after the final rescale for a rescaled regime); Henrici / ‖W‖_F of the run's most non-normal "
        "matrix (maximum over blocks); distance to instability of its matrix closest to instability (minimum, as "
        f"table3_robustness). Mean ± sd [95 % CI] of the differences: {_STATS_METHOD}",
        f"p: {PAIRED_TEST} (every one of the 2^n sign assignments of the n differences; sampled beyond 16 pairs). "
        f"The smallest p it can give is 2^(1 − n) ({floor or 'no pairs'}): with fewer than 6 seeds no difference can "
        f"reach p < 0.05. The {tested} p-values are not corrected for multiple comparisons.",
    ]
    if excluded:
        notes.append("Left out (no partner of the same seed): " + "; ".join(excluded) + ".")
    if not rows:
        notes.append(f"No run has a {reference} partner: no paired differences.")
    hidden = ["reference", "n", "test", "excluded"]
    return table_frame(rows, columns, headers=headers, hidden=hidden, notes=notes)
