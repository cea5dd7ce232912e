"""What the tables share: their runs loaded and grouped, the summary columns, the per-run scalars, the "unstable"
cells, and the parts of their captions that speak of seeds and runs.

Inputs are mappings ``RunKey -> path`` with ``RunKey = (task, model, regime, seed)``: ``metrics.json`` of a run
(``results/models/<run>/metrics.json``) and its analysis JSON (``results/analysis/<run>.json``, ``{"<layer>/<gate>":
summary}`` as written by ``rnnrobust.robustness.analysis.analyze_blocks``).

Each table is a :func:`rnnrobust.reporting.table_frame.table_frame` whose numeric columns stay machine readable:
every aggregate over seeds is a group ``<name>_mean``, ``<name>_sd`` (sample standard deviation, ddof = 1; NaN for a
single seed), ``<name>_ci_low`` / ``<name>_ci_high`` (95 % percentile-bootstrap interval of the mean; NaN for a
single seed) and ``<name>_n`` (the values counted), all from :func:`rnnrobust.stats.summarize`
(:func:`summary_columns` names them); ``n`` (or ``<regime>_n``) counts the runs of a row. Infinite values (a Kreiss
bound of a matrix with ρ > 1, the eigenvector condition of a defective matrix) propagate: the mean is then ∞ and the
sd and interval NaN; a printed table shows such cells as "unstable" instead (:func:`unstable_text`). Per-seed values
are ``{seed: value}`` dicts. ``rnnrobust.reporting.render.write_table`` writes a table as files; the paper's numbers
come from :mod:`rnnrobust.reporting.paper`.

**Regimes.** The columns (Tables 1 and 2) and rows (the others) of the regimes follow ``regimes`` when a table is
given it (the config's order), else the order in which the runs first name them
(:func:`rnnrobust.runs.regime_order`, strict: a run of a regime that ``regimes`` does not list is an error). A
regime "has a final rescale" when its runs' metrics record the accuracy before it (``test_before_final_rescale``).

**Which accuracy.** A run with an epoch-end rescale (the stabilized regime and its variants) is rescaled after its
last epoch's test evaluation too (protocol §3.5). Every accuracy of the tables is the test accuracy **after the
final rescale** (``metrics.json["test"]``, the weights that were saved and analysed); the accuracy **before** it
(``metrics.json["test_before_final_rescale"]``, the last row of ``history.csv``) is a separate column of
``table1_detail``. Baseline runs are never rescaled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import UNSTABLE_RADIUS, RunKey, eps_key
from rnnrobust.runs import sort_runs

__all__ = [
    "STATS_METHOD",
    "STATS_NOTE",
    "group_runs",
    "load_runs",
    "matrices_text",
    "max_spectral_radius",
    "over_seeds",
    "percent",
    "report_caption",
    "rescaled_regimes",
    "run_scalar",
    "runs_text",
    "summary_columns",
    "unstable_text",
]

#: How every aggregate over seeds is computed (the differences of Table 5 too).
STATS_METHOD = (
    "sample sd (ddof = 1); percentile bootstrap interval of the mean (every resample enumerated for up to 5 seeds, "
    "else 10 000 seeded resamples); none for a single seed. With few seeds the interval is too narrow (it cannot "
    "reach beyond the observed values): it describes the seeds, it does not promise coverage."
)
#: How every aggregate over seeds is computed, printed in the notes of each table.
STATS_NOTE = f"mean ± sd [95 % CI] over seeds: {STATS_METHOD}"


def summary_columns(name: str) -> list[str]:
    """The columns of the aggregate ``name`` over seeds (:meth:`rnnrobust.stats.Summary.columns`).

    >>> summary_columns("accuracy")
    ['accuracy_mean', 'accuracy_sd', 'accuracy_ci_low', 'accuracy_ci_high', 'accuracy_n']
    """
    return [f"{name}_{part}" for part in ("mean", "sd", "ci_low", "ci_high", "n")]


def unstable_text(unstable: Sequence[bool]) -> str:
    """The printed override of a cell whose seeds may be unstable: ``""`` when none is, ``"unstable"`` when every
    seed is, else the count.

    >>> unstable_text([False, False]), unstable_text([True, True]), unstable_text([True, False, False])
    ('', 'unstable', '1/3 unstable')
    """
    count = sum(bool(flag) for flag in unstable)
    if not count:
        return ""
    return "unstable" if count == len(unstable) else f"{count}/{len(unstable)} unstable"


def load_runs(paths: Mapping[RunKey, PathLike], kind: str) -> dict[RunKey, Any]:
    """Run key -> the loaded JSON of its ``kind`` file (``"metrics"`` or ``"analysis"``); a metrics file that
    records another run than its key is a ValueError."""
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


def group_runs(
    runs: Mapping[RunKey, Any], regimes: Sequence[str]
) -> dict[tuple[str, str], dict[str, list[tuple[int, Any]]]]:
    """(task, model) -> regime -> [(seed, data)] sorted by seed; tasks and models in the project's order, regimes
    in the order of ``regimes`` (:func:`rnnrobust.runs.sort_runs`)."""
    groups: dict[tuple[str, str], dict[str, list[tuple[int, Any]]]] = {}
    for key in sort_runs(runs, regimes):
        task, model, regime, seed = key
        groups.setdefault((task, model), {}).setdefault(regime, []).append((seed, runs[key]))
    return groups


def percent(x: float | None) -> float:
    """A fraction in %, NaN for None."""
    return math.nan if x is None else 100.0 * float(x)


def rescaled_regimes(runs: Mapping[RunKey, Any]) -> set[str]:
    """Regimes with a final rescale: those whose runs' metrics record the accuracy before it."""
    return {r for (_, _, r, _), m in runs.items() if "test_before_final_rescale" in m}


def max_spectral_radius(blocks: Mapping[str, Mapping[str, Any]]) -> float:
    """The largest spectral radius over a run's recurrent matrices (its analysis JSON)."""
    return max(float(summary["spectral_radius"]) for summary in blocks.values())


def _radius_at(levels: Mapping[str, float], eps_log10: float, where: str) -> float:
    key = eps_key(eps_log10)
    if key not in levels:
        available = sorted(levels)
        raise KeyError(f"{where}: no pseudospectral radius at log10 eps = {eps_log10:g} (key {key!r}); has {available}")
    return float(levels[key])


def run_scalar(data: Mapping[str, Any], key: str, agg: str, run: RunKey, eps_log10: float | None = None) -> float:
    """One number per run: ``key`` of each of its blocks, reduced by ``agg`` (``"max"`` or ``"min"``) over blocks;
    the pseudospectral radius at ``eps_log10`` (a KeyError names the analysis' levels when it has no such one)."""
    if not data:
        raise ValueError(f"analysis of {run} has no matrices")
    if key == "pseudospectral_radius":
        if eps_log10 is None:
            raise ValueError("the pseudospectral radius needs eps_log10")
        values = [_radius_at(s[key], eps_log10, f"{run} {b}") for b, s in data.items()]
    else:
        values = [float(s[key]) for s in data.values()]
    return max(values) if agg == "max" else min(values)


# --------------------------------------------------------------------------------------------------
# Captions: the seeds and runs a table shows.


def over_seeds(keys: Iterable[RunKey]) -> str:
    """How a table's cells aggregate the seeds of its runs, for its caption.

    >>> over_seeds([("imdb", "rnn", "baseline", 1), ("imdb", "rnn", "baseline", 0)])
    'mean ± sd [95 % bootstrap CI] over 2 seeds (0, 1)'
    >>> over_seeds([("imdb", "rnn", "baseline", 0)])
    'one seed (0): no spread'
    """
    seeds = sorted({key[3] for key in keys})
    if len(seeds) > 1:
        return f"mean ± sd [95 % bootstrap CI] over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
    return f"one seed ({seeds[0]}): no spread"


def runs_text(metrics: Mapping[RunKey, PathLike]) -> str:
    """The runs of a table and the statuses training wrote, e.g. ``"8 runs (seeds 0, 1): 7 converged, 1 diverged."``"""
    seeds = sorted({run[3] for run in metrics})
    statuses: dict[str, int] = {}
    for path in metrics.values():
        status = read_json(path)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return f"{len(metrics)} runs (seeds {', '.join(map(str, seeds))}): {counts}."


def matrices_text(analysis: Mapping[RunKey, PathLike]) -> str:
    """What a reader checks first of the runs' matrices: how many runs have an unstable one, and the range of the
    Henrici numbers."""
    per_run = {run: read_json(path) for run, path in analysis.items()}
    unstable = [run for run, blocks in per_run.items() if max_spectral_radius(blocks) > UNSTABLE_RADIUS]
    henrici = [b["henrici"] for blocks in per_run.values() for b in blocks.values()]
    return (
        f"{len(unstable)} of {len(per_run)} runs have a recurrent matrix with ρ > 1; "
        f"Henrici numbers range from {min(henrici):.3g} to {max(henrici):.3g}."
    )


def report_caption(description: str, keys: Iterable[RunKey], this_run: str) -> str:
    """A table's caption in the workflow's report (its ``.caption.rst``): what it shows, how its files and cells are
    made, then the numbers of this run's data."""
    return (
        f"{description} As CSV (every number, full precision), Markdown and booktabs LaTeX; {over_seeds(keys)}, n "
        f"stated once per table or column.\n\nThis run:\n\n{this_run}\n"
    )
