"""What the tables share: their runs loaded and grouped, the summary columns, the per-run scalars, the "unstable"
cells, and the parts of their captions that speak of seeds and runs.

Inputs are mappings ``RunKey -> path`` with ``RunKey = (task, model, regime, seed)``: ``metrics.json`` of a run
(``results/models/<run>/metrics.json``) and its analysis JSON (``results/analysis/<run>.json``, ``{"<layer>/<gate>":
summary}`` as written by ``rnnrobust.robustness.analysis.analyze_blocks``).

Each table is a :func:`rnnrobust.reporting.table_frame.table_frame` whose numeric columns stay machine readable:
every aggregate over seeds is a group ``<name>_mean``, ``<name>_sd`` (sample standard deviation, ddof = 1; NaN for a
single seed), ``<name>_ci_low`` / ``<name>_ci_high`` (95 % interval of the mean, Student's t for up to
:data:`rnnrobust.stats.T_INTERVAL_MAX_N` values, else the percentile bootstrap; NaN for a single seed) and
``<name>_n`` (the values counted), all from :func:`over_seeds_summary` (:func:`summary_columns` names them); paired
differences take the same interval (``paired_difference(..., interval="auto")``); ``n`` (or ``<regime>_n``) counts
the runs of a row. Infinite values (a Kreiss bound of a matrix with ρ > 1, the eigenvector condition of a defective
matrix) propagate: the mean is then ∞ and the sd and interval NaN; a printed table shows such cells as "unstable"
instead (:func:`unstable_text`, :func:`stability_text`). Per-seed values are ``{seed: value}`` dicts.
``rnnrobust.reporting.render.write_table`` writes a table as files; the paper's numbers come from
:mod:`rnnrobust.reporting.paper`.

**Regimes.** The columns (Tables 1 and 2) and rows (the others) of the regimes follow ``regimes`` when a table is
given it (the config's order), else the order in which the runs first name them
(:func:`rnnrobust.runs.regime_order`, strict: a run of a regime that ``regimes`` does not list is an error). A
regime "has a final rescale" when its runs' metrics record the accuracy before it (``test_before_final_rescale``).

**Which accuracy.** A run with an epoch-end rescale (the stabilized regime and its variants) is rescaled after its
last epoch's test evaluation too (protocol §3.5). Every accuracy of the tables is the test accuracy **after the
final rescale** (``metrics.json["test"]``, the weights that were saved and analysed); the accuracy **before** it
(``metrics.json["test_before_final_rescale"]``, the last row of ``history.csv``) is a separate column of
``table1_detail``. Baseline runs are never rescaled.

**Stable, on the circle, unstable.** A matrix is labelled by :func:`rnnrobust.layout.stability` in the precision of
its run's weights (:func:`run_dtype`: ``metrics.json["hyperparameters"]["dtype"]``): a spectral radius within 4
machine epsilons of that dtype from 1 is **on the circle** (Algorithm 1's exact rescale applies γ/ρ in float32 and
lands at 1 ± 7e-8, which the weights cannot tell from 1), neither stable nor unstable; only ``"unstable"`` counts as
unstable. A run is labelled by its largest radius (:func:`run_stability`). Where a table is given no metrics, its runs
are taken to have the weights of :data:`DEFAULT_DTYPE` (float32, the default of Keras-faithful training).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rnnrobust.config import TrainConfig
from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import ON_CIRCLE_ULPS, RunKey, eps_key, stability
from rnnrobust.reporting.formatting import format_value
from rnnrobust.runs import sort_runs
from rnnrobust.stats import T_INTERVAL_MAX_N, Summary, holm, interval_for, summarize

__all__ = [
    "DEFAULT_DTYPE",
    "SIGNED_DISTANCE",
    "SIGNED_DISTANCE_NOTE",
    "STATS_METHOD",
    "STATS_NOTE",
    "add_holm_columns",
    "group_runs",
    "load_runs",
    "matrices_text",
    "max_spectral_radius",
    "metrics_dtype",
    "on_circle_text",
    "over_seeds",
    "over_seeds_summary",
    "percent",
    "report_caption",
    "rescaled_regimes",
    "run_dtype",
    "run_dtypes",
    "run_scalar",
    "run_stability",
    "runs_text",
    "signed_distance",
    "stability_text",
    "summary_columns",
    "unstable_text",
]

#: The precision of a run's weights where its metrics are not given (or record none): the float32 of Keras-faithful
#: training, ``rnnrobust.config.TrainConfig``'s default ``dtype``.
DEFAULT_DTYPE: str = TrainConfig.dtype
#: The labels of :func:`rnnrobust.layout.stability` that a printed cell counts (:func:`stability_text`), in its order.
STATES = ("unstable", "on_circle")

#: How every aggregate over seeds is computed (the paired differences of Tables 5 and 7 too), and why.
STATS_METHOD = (
    f"sample sd (ddof = 1); 95 % interval of the mean: Student's t for up to {T_INTERVAL_MAX_N} values, the "
    "percentile bootstrap (10 000 seeded resamples) beyond; none for a single value. Why t: a percentile bootstrap "
    "cannot reach beyond the observed values, and for normal data its 95 % interval covers the mean only about 67 % "
    "of the time with 3 values and 84 % with 5 (simulated), where t keeps 95 %."
)
#: How every aggregate over seeds is computed, printed in the notes of each table.
STATS_NOTE = f"mean ± sd [95 % CI] over seeds: {STATS_METHOD}"


def over_seeds_summary(values: Iterable[float]) -> Summary:
    """The aggregate over seeds of every table: :func:`rnnrobust.stats.summarize` with the interval that suits the
    number of values (``interval="auto"``: Student's t up to :data:`rnnrobust.stats.T_INTERVAL_MAX_N`, see
    :data:`STATS_METHOD`).

    >>> s = over_seeds_summary([0.0, 1.0, 2.0])  # 1 ± t₂ · 1 / √3, t₂ = 4.303
    >>> round(s.ci_low, 3), round(s.ci_high, 3)
    (-1.484, 3.484)
    """
    return summarize(values, interval="auto")


def add_holm_columns(rows: Sequence[dict[str, Any]], names: Iterable[str]) -> dict[str, str]:
    """Give every row ``<name>_p_holm``, the rows' ``<name>_p`` adjusted together by :func:`rnnrobust.stats.holm`
    (one family per name; a NaN p is not counted and stays NaN), and ``<name>_p_text``, both as printed beside each
    other; returns the text overrides (``{"<name>_p": "<name>_p_text"}``) that print them in the p column.

    >>> rows = [{"x_p": 0.01}, {"x_p": 0.04}, {"x_p": float("nan")}]
    >>> add_holm_columns(rows, ["x"])
    {'x_p': 'x_p_text'}
    >>> [(round(row["x_p_holm"], 12), row["x_p_text"]) for row in rows]
    [(0.02, '0.01 (Holm 0.02)'), (0.04, '0.04 (Holm 0.04)'), (nan, '')]
    """
    text = {}
    for name in names:
        for row, adjusted in zip(rows, holm(row[f"{name}_p"] for row in rows), strict=True):
            row[f"{name}_p_holm"] = float(adjusted)
            p = format_value(row[f"{name}_p"])
            row[f"{name}_p_text"] = f"{p} (Holm {format_value(float(adjusted))})" if p else ""
        text[f"{name}_p"] = f"{name}_p_text"
    return text


def summary_columns(name: str) -> list[str]:
    """The columns of the aggregate ``name`` over seeds (:meth:`rnnrobust.stats.Summary.columns`).

    >>> summary_columns("accuracy")
    ['accuracy_mean', 'accuracy_sd', 'accuracy_ci_low', 'accuracy_ci_high', 'accuracy_n']
    """
    return [f"{name}_{part}" for part in ("mean", "sd", "ci_low", "ci_high", "n")]


def _count_text(flags: Sequence[bool], word: str) -> str:
    count = sum(bool(flag) for flag in flags)
    if not count:
        return ""
    return word if count == len(flags) else f"{count}/{len(flags)} {word}"


def unstable_text(unstable: Sequence[bool]) -> str:
    """The printed override of a cell whose seeds may be unstable: ``""`` when none is, ``"unstable"`` when every
    seed is, else the count.

    >>> unstable_text([False, False]), unstable_text([True, True]), unstable_text([True, False, False])
    ('', 'unstable', '1/3 unstable')
    """
    return _count_text(unstable, "unstable")


def stability_text(labels: Sequence[str]) -> str:
    """The printed override of a cell whose seeds are labelled by :func:`rnnrobust.layout.stability` (one label per
    seed, :func:`run_stability`): ``""`` when every seed is stable, else the unstable ones counted as
    :func:`unstable_text` counts them, then those on the circle.

    >>> stability_text(["stable", "stable"]), stability_text(["unstable"] * 2), stability_text(["on_circle"] * 3)
    ('', 'unstable', 'on circle')
    >>> stability_text(["unstable", "on_circle", "stable"])
    '1/3 unstable, 1/3 on circle'
    """
    parts = [_count_text([label == name for label in labels], name.replace("_", " ")) for name in STATES]
    return ", ".join(part for part in parts if part)


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


def metrics_dtype(metrics: Mapping[str, Any]) -> str:
    """The precision of a run's weights, from its loaded ``metrics.json`` (``hyperparameters.dtype``);
    :data:`DEFAULT_DTYPE` for metrics that record none (written before training recorded it).

    >>> metrics_dtype({"hyperparameters": {"dtype": "float64"}}), metrics_dtype({})
    ('float64', 'float32')
    """
    return str((metrics.get("hyperparameters") or {}).get("dtype") or DEFAULT_DTYPE)


def run_dtype(metrics_path: PathLike) -> str:
    """The precision of a run's weights, ``"float32"`` or ``"float64"``, from its ``metrics.json``
    (:func:`metrics_dtype`)."""
    return metrics_dtype(read_json(metrics_path))


def run_dtypes(metrics: Mapping[RunKey, PathLike | Mapping[str, Any]] | None) -> dict[RunKey, str]:
    """Run key -> the precision of its weights, from each run's ``metrics.json`` (a path, or the loaded JSON);
    ``{}`` without metrics. Look runs up with ``dtypes.get(run, DEFAULT_DTYPE)``: a run without metrics is taken to
    have float32 weights (:data:`DEFAULT_DTYPE`)."""
    if metrics is None:
        return {}
    return {
        (key[0], key[1], key[2], int(key[3])): metrics_dtype(m) if isinstance(m, Mapping) else run_dtype(m)
        for key, m in metrics.items()
    }


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


def run_stability(blocks: Mapping[str, Mapping[str, Any]], dtype: str) -> str:
    """``"stable"``, ``"on_circle"`` or ``"unstable"``: :func:`rnnrobust.layout.stability` of the largest spectral
    radius of a run's matrices (its analysis JSON) in the precision ``dtype`` of its weights (:func:`run_dtype`)."""
    return stability(max_spectral_radius(blocks), dtype)


#: The key of :func:`run_scalar` for :func:`signed_distance`, and the column name of Tables 3 and 5.
SIGNED_DISTANCE = "signed_distance_to_instability"
#: What the signed distance is, for the notes of the tables that show it.
SIGNED_DISTANCE_NOTE = (
    "Signed distance to instability: +d for a stable matrix (ρ < 1; d, the distance to instability, is the smallest "
    "‖ΔW‖₂ that puts an eigenvalue on the unit circle), −d for an unstable one (ρ > 1; d is then its distance back to "
    f"the circle), 0 for one on the circle (|ρ − 1| within {ON_CIRCLE_ULPS} machine epsilons of its weights' "
    "precision, where float32 weights cannot tell stable from unstable: Algorithm 1's exact rescale lands there); per "
    "run the minimum over its matrices, so a run with an unstable matrix is negative."
)


def signed_distance(block: Mapping[str, Any], dtype: str) -> float:
    """A block's distance to instability d (analysis JSON), signed by :func:`rnnrobust.layout.stability` of its
    spectral radius in the precision ``dtype`` of its weights: +d when stable, −d when unstable (d is then how far it
    lies from the unit circle), 0 on the circle, so that one scale orders every block from the most unstable to the
    most stable.

    >>> signed_distance({"distance_to_instability": 0.2, "spectral_radius": 0.9}, "float32")
    0.2
    >>> signed_distance({"distance_to_instability": 0.05, "spectral_radius": 1.05}, "float32")
    -0.05
    >>> block = {"distance_to_instability": 5e-8, "spectral_radius": 1 + 5e-8}
    >>> signed_distance(block, "float32"), signed_distance(block, "float64")
    (0.0, -5e-08)
    """
    d = float(block["distance_to_instability"])
    label = stability(float(block["spectral_radius"]), dtype)
    return {"stable": d, "unstable": -d}.get(label, 0.0)


def _radius_at(levels: Mapping[str, float], eps_log10: float, where: str) -> float:
    key = eps_key(eps_log10)
    if key not in levels:
        available = sorted(levels)
        raise KeyError(f"{where}: no pseudospectral radius at log10 eps = {eps_log10:g} (key {key!r}); has {available}")
    return float(levels[key])


def run_scalar(
    data: Mapping[str, Any],
    key: str,
    agg: str,
    run: RunKey,
    eps_log10: float | None = None,
    dtype: str | None = None,
) -> float:
    """One number per run: ``key`` of each of its blocks, reduced by ``agg`` (``"max"`` or ``"min"``) over blocks;
    the pseudospectral radius at ``eps_log10`` (a KeyError names the analysis' levels when it has no such one);
    :data:`SIGNED_DISTANCE`: :func:`signed_distance` of each block in the precision ``dtype`` of the run's weights
    (:func:`run_dtype`; required for it)."""
    if not data:
        raise ValueError(f"analysis of {run} has no matrices")
    if key == "pseudospectral_radius":
        if eps_log10 is None:
            raise ValueError("the pseudospectral radius needs eps_log10")
        values = [_radius_at(s[key], eps_log10, f"{run} {b}") for b, s in data.items()]
    elif key == SIGNED_DISTANCE:
        if dtype is None:
            raise ValueError(f"the signed distance of {run} needs the dtype of its weights (run_dtype)")
        values = [signed_distance(s, dtype) for s in data.values()]
    else:
        values = [float(s[key]) for s in data.values()]
    return max(values) if agg == "max" else min(values)


# --------------------------------------------------------------------------------------------------
# Captions: the seeds and runs a table shows.


def over_seeds(keys: Iterable[RunKey]) -> str:
    """How a table's cells aggregate the seeds of its runs, for its caption: the interval that
    :func:`over_seeds_summary` gives that many seeds.

    >>> over_seeds([("imdb", "rnn", "baseline", 1), ("imdb", "rnn", "baseline", 0)])
    'mean ± sd [95 % t CI] over 2 seeds (0, 1)'
    >>> over_seeds([("imdb", "rnn", "baseline", 0)])
    'one seed (0): no spread'
    """
    seeds = sorted({key[3] for key in keys})
    if len(seeds) > 1:
        kind = interval_for(len(seeds))
        return f"mean ± sd [95 % {kind} CI] over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
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


def on_circle_text(n_on_circle: int, n_runs: int) -> str:
    """The caption's sentence on the runs whose largest radius is on the unit circle (:func:`run_stability`);
    ``""`` when none is.

    >>> on_circle_text(0, 4)
    ''
    >>> on_circle_text(1, 4)[:57]
    '1 of 4 runs has a recurrent matrix on the unit circle (|ρ'
    """
    if not n_on_circle:
        return ""
    has = "has" if n_on_circle == 1 else "have"
    return (
        f"{n_on_circle} of {n_runs} runs {has} a recurrent matrix on the unit circle (|ρ − 1| within "
        f"{ON_CIRCLE_ULPS} machine epsilons of the weights' precision), counted neither stable nor unstable."
    )


def matrices_text(analysis: Mapping[RunKey, PathLike], dtypes: Mapping[RunKey, str] | None = None) -> str:
    """What a reader checks first of the runs' matrices: how many runs have an unstable one and how many one on the
    circle (:func:`run_stability` in the precision of each run's weights, ``dtypes`` as :func:`run_dtypes` gives
    them; :data:`DEFAULT_DTYPE` for a run it lacks), and the range of the Henrici numbers."""
    dtypes = dtypes or {}
    per_run = {run: read_json(path) for run, path in analysis.items()}
    labels = [run_stability(blocks, dtypes.get(run, DEFAULT_DTYPE)) for run, blocks in per_run.items()]
    henrici = [b["henrici"] for blocks in per_run.values() for b in blocks.values()]
    circle = on_circle_text(labels.count("on_circle"), len(per_run))
    return (
        f"{labels.count('unstable')} of {len(per_run)} runs have a recurrent matrix with ρ > 1 (unstable in the "
        f"weights' precision); {circle + ' ' if circle else ''}Henrici numbers range from {min(henrici):.3g} to "
        f"{max(henrici):.3g}."
    )


def report_caption(description: str, keys: Iterable[RunKey], this_run: str) -> str:
    """A table's caption in the workflow's report (its ``.caption.rst``): what it shows, how its files and cells are
    made, then the numbers of this run's data."""
    return (
        f"{description} As CSV (every number, full precision), Markdown and booktabs LaTeX; {over_seeds(keys)}, n "
        f"stated once per table or column.\n\nThis run:\n\n{this_run}\n"
    )
