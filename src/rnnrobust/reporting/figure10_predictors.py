"""Figure 10 (``figure10_predictors`` rule): each predictor of Table 6 against the measured fragility, drawn; its
report caption.

One row per task, one column per predictor of :data:`~rnnrobust.robustness.predictors.FRAGILE_WHEN_LARGER` (all
nine, in that order, the linear-response baseline last, so that a column is one predictor in every row). A panel
(labelled ``"panel:<task>/<predictor>"``, :mod:`rnnrobust.reporting.figure_style`) has one marker per run with both
numbers: x the predictor's run value (the ``summary`` of its predictors record), y the run's measured log10 ε_flip5
of the Gaussian family (the median over its directions), colour by cell; open where that threshold is censored (a
bound at the grid's end). Rows share their y axis.

A predictor value of ±∞ (+∞: the Kreiss constant of an unstable block; −∞: ε_T of a block that grows already) is
drawn at the panel's edge as a triangle pointing out of it, beyond a dotted line marked ±∞; it ranks as the extreme
it is in ρ, as in Table 6. A predictor without a value (None: ``log_eps_pred`` of a run with no stable block) is
not drawn and not ranked; the caption counts both.

Each panel's title gives Spearman's ρ of the predictor with the Gaussian log10 ε_flip5, stratified by cell, its
95 % interval and n: the numbers of :func:`rnnrobust.reporting.table6_predictors.table6_predictors`, read from its
table and not computed again. The task's predictor of best agreement (Table 6's first row) has a bold title.

Artist ids that the tests read: ``measured/<cell>/<regime>/<seed>`` or ``censored/…`` per run, with ``/+inf`` or
``/-inf`` appended where the value is infinite (its x is then the edge's); ``edge/+inf`` and ``edge/-inf``, the
dotted lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rnnrobust.io import PathLike
from rnnrobust.layout import CELLS, RunKey
from rnnrobust.reporting.figure_style import PANEL_PREFIX, legend_below, model_colours, report_caption, save_figure
from rnnrobust.reporting.perturbation_text import FAMILY_LABELS
from rnnrobust.reporting.table6_predictors import (
    PREDICTOR_LABELS,
    TABLE6_FAMILIES,
    THRESHOLD_LABELS,
    table6_predictors,
)
from rnnrobust.robustness.perturbation.eps5 import PRIMARY, RunFragility
from rnnrobust.robustness.predictors import FRAGILE_WHEN_LARGER

__all__ = ["build_predictors_figure", "plot_predictors", "predictors_figure_caption"]

#: The measured family drawn: the one Table 6 sorts its rows by.
FAMILY = TABLE6_FAMILIES[0]
#: The linear-response baseline of Table 6, named in the caption beside each task's best predictor.
BASELINE = "log_eps_flip5_linear"
#: Marker of a finite value, and of a value at +∞ / −∞ (a triangle pointing out of the panel).
FINITE_MARKER = "o"
EDGE_MARKERS = {"+inf": ">", "-inf": "<"}
_EDGE_LINE = dict(color="0.55", linestyle=":", linewidth=0.9, zorder=1)
_EDGE_TEXT = dict(
    ha="center", va="top", fontsize=7, color="0.35", bbox=dict(facecolor="white", edgecolor="none", pad=0.5)
)


class _Point(NamedTuple):
    """One run in one panel: its key, predictor value (may be ±∞), measured log10 ε_flip5 and censoring."""

    key: RunKey
    x: float
    y: float
    censored: bool


def _paired(runs: Mapping[RunKey, RunFragility], predictors: Mapping[RunKey, Mapping[str, Any]]) -> list[RunKey]:
    """The runs with both records, as Table 6 takes them."""
    keys = sorted(set(runs) & set(predictors))
    if not keys:
        raise ValueError("no run has both a perturbation and a predictors record")
    return keys


def _predictor_value(summary: Mapping[str, Any], name: str) -> float:
    """The predictor's run value as Table 6 ranks it: None is NaN (not ranked), ±∞ stays."""
    value = summary.get(name)
    return math.nan if value is None else float(value)


def _points(
    runs: Mapping[RunKey, RunFragility],
    predictors: Mapping[RunKey, Mapping[str, Any]],
    keys: Sequence[RunKey],
    name: str,
) -> list[_Point]:
    """The panel's runs with a predictor value and a measured threshold (both not NaN)."""
    points = []
    for key in keys:
        threshold = runs[key].thresholds(PRIMARY).get(FAMILY)
        x = _predictor_value(predictors[key]["summary"], name)
        if threshold is None or math.isnan(threshold.log10) or math.isnan(x):
            continue
        points.append(_Point(key, x, threshold.log10, bool(threshold.censored)))
    return points


def _edges(points: Sequence[_Point]) -> tuple[dict[str, float], tuple[float, float]]:
    """Where ±∞ is drawn (only the signs present), and the panel's x limits around the finite values."""
    finite = [p.x for p in points if math.isfinite(p.x)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    pad = 0.08 * ((high - low) or max(abs(high), 1.0))
    edges = {}
    if any(p.x == math.inf for p in points):
        edges["+inf"] = high + 3 * pad
    if any(p.x == -math.inf for p in points):
        edges["-inf"] = low - 3 * pad
    return edges, (edges.get("-inf", low) - pad, edges.get("+inf", high) + pad)


def _draw_points(ax: Axes, points: Sequence[_Point], colours: Mapping[str, str]) -> set[str]:
    """One marker per run (open where censored; a triangle at the edge where infinite); the kinds drawn."""
    edges, limits = _edges(points)
    for sign, x in edges.items():
        ax.axvline(x, gid=f"edge/{sign}", **_EDGE_LINE)
        ax.text(x, 0.98, "+∞" if sign == "+inf" else "−∞", transform=ax.get_xaxis_transform(), **_EDGE_TEXT)
    kinds: set[str] = set()
    for point in points:
        sign = "" if math.isfinite(point.x) else ("+inf" if point.x > 0 else "-inf")
        state = "censored" if point.censored else "measured"
        kinds |= {state, sign} - {""}
        colour = colours[point.key[1]]
        cell, regime, seed = point.key[1:]
        ax.plot([edges[sign] if sign else point.x], [point.y], linestyle="None",
                marker=EDGE_MARKERS[sign] if sign else FINITE_MARKER, markersize=5, markeredgewidth=1.0,
                color=colour, markeredgecolor=colour, markerfacecolor="none" if point.censored else colour, alpha=0.85,
                zorder=3, gid=f"{state}/{cell}/{regime}/{seed}" + (f"/{sign}" if sign else ""))  # fmt: skip
    ax.set_xlim(*limits)
    return kinds


def _rho_title(row: Mapping[str, Any]) -> str:
    """``"ρ = −0.95 [−0.99, −0.80], n = 12"`` from Table 6's row (its Gaussian columns)."""
    rho, low, high = (row[f"rho_{FAMILY}_{part}"] for part in ("mean", "ci_low", "ci_high"))
    n = int(row[f"rho_{FAMILY}_n"])
    if math.isnan(rho):
        return f"ρ undefined, n = {n}"
    interval = "" if math.isnan(low) else f" [{low:.2f}, {high:.2f}]"
    return f"ρ = {rho:.2f}{interval}, n = {n}"


def _finish_panel(ax: Axes, task: str, name: str, row: Mapping[str, Any], best: bool, first_column: bool) -> None:
    """Title (Table 6's ρ, bold for the task's best agreement), labels, grid and the panel's label."""
    ax.set_title(_rho_title(row), fontsize=7.5, fontweight="bold" if best else "normal")
    sign = "expected −" if FRAGILE_WHEN_LARGER[name] else "expected +"
    ax.set_xlabel(f"{PREDICTOR_LABELS.get(name, name)}\n({sign})", fontsize=7.5)
    if first_column:
        ax.set_ylabel(f"{task}\nlog10 {THRESHOLD_LABELS[PRIMARY]}, {FAMILY_LABELS[FAMILY]}", fontsize=8)
    ax.tick_params(labelsize=6.5)
    ax.grid(alpha=0.3)
    ax.set_label(f"{PANEL_PREFIX}{task}/{name}")


def _handles(colours: Mapping[str, str], kinds: set[str]) -> list[Any]:
    """The legend: a patch per cell, then the marker kinds drawn (filled, open, at +∞, at −∞)."""
    handles: list[Any] = [Patch(color=colour, label=cell.upper()) for cell, colour in colours.items()]
    plain = dict(linestyle="None", color="0.3")
    if "measured" in kinds:
        handles.append(Line2D([], [], marker=FINITE_MARKER, label=f"{THRESHOLD_LABELS[PRIMARY]} measured", **plain))
    if "censored" in kinds:
        handles.append(Line2D([], [], marker=FINITE_MARKER, markerfacecolor="none",
                              label="open: censored, a bound at the grid's end", **plain))  # fmt: skip
    if "+inf" in kinds:
        handles.append(Line2D([], [], marker=EDGE_MARKERS["+inf"], label="predictor +∞ (unstable block), at the edge",
                              **plain))  # fmt: skip
    if "-inf" in kinds:
        handles.append(Line2D([], [], marker=EDGE_MARKERS["-inf"], label="predictor −∞, at the edge", **plain))
    return handles


def _cell_colours(keys: Sequence[RunKey]) -> dict[str, str]:
    """Colour per cell present (the cells' own colours, ``figure_style.MODEL_COLOURS``), in the cells' order."""
    present = {k[1] for k in keys}
    return model_colours([*(c for c in CELLS if c in present), *sorted(present - set(CELLS))])


def build_predictors_figure(
    runs: Mapping[RunKey, RunFragility],
    predictors: Mapping[RunKey, Mapping[str, Any]],
    *,
    title: str | None = None,
    panel_size: float = 2.2,
) -> Figure:
    """Figure 10 (module docstring): ``runs`` the perturbation stage's :class:`RunFragility`, ``predictors`` each
    run's predictors record; runs missing from either are left out, as in Table 6."""
    keys = _paired(runs, predictors)
    table = table6_predictors(runs, predictors)
    tasks, names = list(dict.fromkeys(k[0] for k in keys)), list(FRAGILE_WHEN_LARGER)
    colours = _cell_colours(keys)
    fig = Figure(figsize=(panel_size * len(names) + 0.6, panel_size * len(tasks) + 1.1), layout="constrained")
    grid = fig.subplots(len(tasks), len(names), squeeze=False, sharey="row")
    kinds: set[str] = set()
    for i, task in enumerate(tasks):
        rows = table[table["task"] == task].set_index("key")
        task_keys = [k for k in keys if k[0] == task]
        for j, name in enumerate(names):
            ax = grid[i][j]
            kinds |= _draw_points(ax, _points(runs, predictors, task_keys, name), colours)
            best = name == rows.index[0] and not math.isnan(rows[f"agreement_{FAMILY}"].iloc[0])
            _finish_panel(ax, task, name, rows.loc[name], best=best, first_column=j == 0)
    legend_below(fig, _handles(colours, kinds))
    measured = f"log10 {THRESHOLD_LABELS[PRIMARY]} ({FAMILY_LABELS[FAMILY]})"
    default = f"Which predictor ranks the measured fragility: each against {measured}; titles: Table 6's ρ within cells"
    fig.suptitle(title or default, fontsize=10)
    return fig


def plot_predictors(
    runs: Mapping[RunKey, RunFragility],
    predictors: Mapping[RunKey, Mapping[str, Any]],
    path: PathLike,
    *,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_predictors_figure`, saved as ``<path>.png`` and ``.pdf`` (``path`` the stem); returns the
    paths."""
    return save_figure(build_predictors_figure(runs, predictors, title=title), path)


# --------------------------------------------------------------------------------------------------
# Caption.


def _description() -> str:
    """Figure 10, what it is."""
    label = THRESHOLD_LABELS[PRIMARY]
    return (
        "Figure 10 (``figure10_predictors``): which predictor ranks the measured fragility, drawn. One row per "
        "task, one column per predictor of Table 6 (the linear-response threshold, a first-order prediction of the "
        f"measured quantity, last): x the run's predictor value, y its measured log10 {label} of Gaussian "
        "directions (the median over the directions), colour by cell. Open markers: censored thresholds (not "
        "reached within the grid), drawn at the grid's end. Triangles beyond a dotted line at a panel's edge: a "
        "predictor of ±∞ (+∞: the Kreiss constant of an unstable block; −∞: ε_T of a block that grows already), "
        "ranked as the extreme it is; a predictor without a value is not drawn. Each title: "
        "Spearman's ρ within cells pooled by Fisher's z, its 95 % interval (Bonett–Wright) and n, Table 6's numbers; "
        "a predictor that is large for a fragile run should have ρ < 0 (expected −), a threshold ρ > 0 (expected +); "
        "bold: the task's best agreement (ρ times the expected sign).\n"
    )


def _counts_text(
    keys: Sequence[RunKey], runs: Mapping[RunKey, RunFragility], predictors: Mapping[RunKey, Mapping[str, Any]]
) -> list[str]:
    """The runs drawn, censored and without a measured threshold; the predictors at ±∞ or without a value."""
    thresholds = [runs[k].thresholds(PRIMARY).get(FAMILY) for k in keys]
    measured = [t for t in thresholds if t is not None and not math.isnan(t.log10)]
    censored = sum(bool(t.censored) for t in measured)
    directions = sorted({t.n for t in measured}) or [0]
    span = str(directions[0]) if len(directions) == 1 else f"{directions[0]}–{directions[-1]}"
    seeds = ", ".join(str(s) for s in sorted({k[3] for k in keys}))
    lines = [
        f"- {len(keys)} runs with both records ({', '.join(dict.fromkeys(k[0] for k in keys))}; cells "
        f"{', '.join(sorted({k[1] for k in keys}))}; seeds {seeds}); {len(measured)} with a Gaussian "
        f"{THRESHOLD_LABELS[PRIMARY]} ({span} directions per run, the median), {censored} of them censored (open).",
    ]
    if len(measured) < len(keys):
        lines.append(f"- {len(keys) - len(measured)} runs without a Gaussian {THRESHOLD_LABELS[PRIMARY]}: not drawn.")
    for name in FRAGILE_WHEN_LARGER:
        values = [_predictor_value(predictors[k]["summary"], name) for k in keys]
        up, down, missing = (sum(v == math.inf for v in values), sum(v == -math.inf for v in values),
                             sum(math.isnan(v) for v in values))  # fmt: skip
        if up or down or missing:
            label = PREDICTOR_LABELS.get(name, name)
            lines.append(
                f"- {label}, runs at +∞: {up}, at −∞: {down} (drawn at the panel's edge, ranked as the extreme); "
                f"without a value: {missing} (not drawn, not ranked)."
            )
    return lines


def _task_text(task: str, rows: pd.DataFrame) -> str:
    """A task's best predictor and the baseline, with Table 6's ρ."""
    best = rows.iloc[0]
    baseline = f"baseline {PREDICTOR_LABELS[BASELINE]}, {_rho_title(rows.set_index('key').loc[BASELINE])}"
    if math.isnan(best[f"agreement_{FAMILY}"]):
        return f"- {task}: no predictor has a defined ρ; {baseline}."
    return f"- {task}: best agreement {best['predictor']}, {_rho_title(best)}; {baseline}."


def predictors_figure_caption(
    runs: Mapping[RunKey, RunFragility], predictors: Mapping[RunKey, Mapping[str, Any]]
) -> str:
    """Figure 10's report caption: what it shows, then "This run:" with the runs' numbers (counts, values at ±∞
    or missing, each task's best predictor and the baseline's ρ)."""
    keys = _paired(runs, predictors)
    table = table6_predictors(runs, predictors)
    lines = _counts_text(keys, runs, predictors)
    lines += [_task_text(task, table[table["task"] == task]) for task in dict.fromkeys(k[0] for k in keys)]
    return report_caption(_description(), "\n".join(lines) + "\n")
