"""Figure 9 (``figure9_pareto`` rule): test accuracy against fragility per run of the robust-training study, each
method's front and each arm's mean; its report caption.

Reads the rows of :func:`rnnrobust.reporting.pareto_runs.pareto_runs` (one per run), as Table 7
(:mod:`rnnrobust.reporting.table7_pareto`) does. One panel per task × model (labelled ``"panel:<task>/<model>"``,
:mod:`rnnrobust.reporting.figure_style`): x the run's log10 ε₅ of random directions (larger is more robust), y its
test accuracy in %, both to be maximised. Colour tells methods apart
(:func:`rnnrobust.robustness.pareto.regime_method`), a marker the arms (regimes) of one method. Drawn, with the
artist ids that the tests read:

- ``run/<regime>``: every run with both numbers, a small translucent marker; open where ε₅ is censored (its value
  is the grid's end, a bound);
- ``front/<method>``: the method's front in the panel (:func:`rnnrobust.robustness.pareto.front`) as a staircase
  through its points, the boundary of the area they dominate;
- ``mean/<regime>``: the arm's mean, with Student-t 95 % intervals of both means (``ci/<regime>/x`` and
  ``ci/<regime>/y``; none for fewer than two runs);
- ``chance``: the panel's chance accuracy, dotted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rnnrobust.io import PathLike
from rnnrobust.reporting.figure_style import (
    MARKERS,
    PANEL_PREFIX,
    legend_below,
    panel_grid,
    regime_colours,
    save_figure,
)
from rnnrobust.robustness.pareto import METHODS, front
from rnnrobust.runs import regime_order
from rnnrobust.stats import summarize

__all__ = [
    "build_pareto_figure",
    "pareto_figure_caption",
    "pareto_figure_description",
    "plot_pareto",
]

X_LABEL = "log10 ε₅ (random directions; larger = more robust)"
Y_LABEL = "test accuracy (%)"
_CHANCE_STYLE = dict(color="0.45", linestyle=":", linewidth=1.0, zorder=1, label="chance accuracy")
#: Panels per row.
_NCOLS = 2


class _Styles(NamedTuple):
    """How the runs are told apart: colour per method, marker per regime, and the regimes' order."""

    colours: dict[str, str]
    markers: dict[str, str]
    regimes: list[str]
    method_of: dict[str, str]


def _method_order(methods: Sequence[str]) -> list[str]:
    """The methods present, those of :data:`~rnnrobust.robustness.pareto.METHODS` in its order, then the others
    (ablations named after their regime) sorted.

    >>> _method_order(["z", "Schur parametrisation", "a", "plain training"])
    ['plain training', 'Schur parametrisation', 'a', 'z']
    """
    present = set(methods)
    return [m for m in METHODS if m in present] + sorted(present - set(METHODS))


def _styles(runs: pd.DataFrame, regimes: Sequence[str] | None) -> _Styles:
    """Colours of the methods present and markers of the regimes present: a regime's marker is its place among
    its method's regimes (in the order of ``regimes``), so that each method starts again at the first marker and
    the arms of one method, which share a colour, differ in their marker."""
    keys = [tuple(k) for k in runs[["task", "model", "regime", "seed"]].to_numpy()]
    present = set(runs["regime"])
    order = [r for r in regime_order(keys, regimes) if r in present]
    method_of = {regime: str(method) for regime, method in zip(runs["regime"], runs["method"], strict=True)}
    # Only the methods present take a colour, so that up to seven methods never share one.
    colours = regime_colours(_method_order(list(method_of.values())))
    markers: dict[str, str] = {}
    for regime in order:
        place = sum(method_of[other] == method_of[regime] for other in markers)
        markers[regime] = MARKERS[place % len(MARKERS)]
    return _Styles(colours, markers, order, method_of)


def _drawable(runs: pd.DataFrame) -> pd.Series:
    """The runs that are points: both the accuracy and the fragility are numbers."""
    return runs["accuracy"].notna() & runs["fragility"].notna()


def _is_censored(runs: pd.DataFrame) -> pd.Series:
    """The runs whose fragility is a bound (``fragility_censored`` non-empty)."""
    return runs["fragility_censored"].fillna("").astype(str) != ""


def _draw_runs(ax: Axes, cell: pd.DataFrame, styles: _Styles) -> bool:
    """One small translucent marker per run with both numbers, open where its ε₅ is censored; whether an open
    marker is among them."""
    points = cell[_drawable(cell)]
    censored = _is_censored(points)
    for (_, run), bound in zip(points.iterrows(), censored, strict=True):
        colour = styles.colours[styles.method_of[run["regime"]]]
        ax.plot([run["fragility"]], [run["accuracy"]], linestyle="None", marker=styles.markers[run["regime"]],
                markersize=5, markeredgewidth=0.9, color=colour, markeredgecolor=colour,
                markerfacecolor="none" if bound else colour, alpha=0.5, zorder=3,
                gid=f"run/{run['regime']}")  # fmt: skip
    return bool(censored.any())


def _front_points(runs: pd.DataFrame) -> np.ndarray:
    """The front of ``runs`` as rows (fragility, accuracy), fragility ascending (so accuracy descending)."""
    points = runs[["fragility", "accuracy"]].to_numpy(dtype=float)
    points = points[front(points)]
    return points[np.lexsort((-points[:, 1], points[:, 0]))]


def _draw_fronts(ax: Axes, cell: pd.DataFrame, styles: _Styles) -> None:
    """Each method's front over its runs in the panel, as a staircase through the front's points.

    ``steps-pre`` goes down from each point to the next one's accuracy, then right to it: the outline of the area
    that the points dominate, which never passes a corner that no run reaches.
    """
    for method in [m for m in styles.colours if (cell["method"] == m).any()]:
        points = _front_points(cell[cell["method"] == method])
        if not len(points):
            continue
        ax.step(points[:, 0], points[:, 1], where="pre", color=styles.colours[method], linewidth=1.3, alpha=0.85,
                zorder=2, gid=f"front/{method}")  # fmt: skip


def _error_bar(ax: Axes, x: float, y: float, low: float, high: float, axis: str, colour: str, gid: str) -> None:
    """A Student-t interval [low, high] of one mean, about the point (x, y) along ``axis`` (``"x"`` or ``"y"``)."""
    centre = x if axis == "x" else y
    err = [[centre - low], [high - centre]]
    bars = ax.errorbar([x], [y], **{f"{axis}err": err}, fmt="none", ecolor=colour, elinewidth=1.1, capsize=2.5,
                       zorder=4)  # fmt: skip
    # An errorbar container is no artist; its bar collection carries the id.
    for collection in bars.lines[2]:
        collection.set_gid(gid)


def _draw_means(ax: Axes, cell: pd.DataFrame, styles: _Styles) -> None:
    """Each arm's mean (accuracy and fragility each over its runs with a number, as in Table 7), a large
    black-edged marker with Student-t 95 % intervals in both directions (none where fewer than two runs)."""
    for regime in [r for r in styles.regimes if (cell["regime"] == r).any()]:
        arm = cell[cell["regime"] == regime]
        sx, sy = summarize(arm["fragility"], interval="t"), summarize(arm["accuracy"], interval="t")
        if not (math.isfinite(sx.mean) and math.isfinite(sy.mean)):
            continue
        colour = styles.colours[styles.method_of[regime]]
        for axis, s in (("x", sx), ("y", sy)):
            if math.isfinite(s.ci_low) and math.isfinite(s.ci_high):
                _error_bar(ax, sx.mean, sy.mean, s.ci_low, s.ci_high, axis, colour, f"ci/{regime}/{axis}")
        ax.plot([sx.mean], [sy.mean], linestyle="None", marker=styles.markers[regime], markersize=9,
                markerfacecolor=colour, markeredgecolor="k", markeredgewidth=1.0, zorder=5,
                gid=f"mean/{regime}")  # fmt: skip


def _finish_panel(ax: Axes, cell: pd.DataFrame, task: str, model: str) -> None:
    """The chance line, labels, title and the panel's label."""
    chance = cell["chance"].mean()
    if math.isfinite(chance):
        ax.axhline(chance, gid="chance", **_CHANCE_STYLE)
    ax.set_title(f"{task} / {model.upper()}", fontsize=9)
    ax.set_xlabel(X_LABEL, fontsize=8)
    ax.set_ylabel(Y_LABEL, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.set_label(f"{PANEL_PREFIX}{task}/{model}")


def _handles(styles: _Styles, censored_shown: bool) -> list[Any]:
    """The legend: a patch per method, a marker per regime (in its method's colour), the open marker when one is
    drawn, then what the front, the mean and the chance line are."""
    handles: list[Any] = [Patch(color=colour, label=method) for method, colour in styles.colours.items()]
    for regime in styles.regimes:
        colour = styles.colours[styles.method_of[regime]]
        handles.append(Line2D([], [], linestyle="None", marker=styles.markers[regime], color=colour, label=regime))
    if censored_shown:
        handles.append(Line2D([], [], linestyle="None", marker="o", color="0.3", markerfacecolor="none",
                              label="open: ε₅ censored, drawn at the grid's end"))  # fmt: skip
    handles += [
        Line2D([], [], color="0.3", drawstyle="steps-pre", label="front of a method"),
        Line2D([], [], color="0.3", marker="o", markersize=7, markeredgecolor="k", label="arm mean ± 95 % t-interval"),
        Line2D([], [], **_CHANCE_STYLE),
    ]
    return handles


def _panels(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """The task × model pairs present: tasks in the order they first appear, models likewise."""
    tasks, models = list(dict.fromkeys(runs["task"])), list(dict.fromkeys(runs["model"]))
    present = set(zip(runs["task"], runs["model"], strict=True))
    return [(task, model) for task in tasks for model in models if (task, model) in present]


def build_pareto_figure(
    runs: pd.DataFrame,
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
    panel_size: float = 3.6,
) -> Figure:
    """Figure 9 (module docstring): accuracy against log10 ε₅, one panel per task × model.

    Parameters
    ----------
    runs
        One row per run (:data:`rnnrobust.reporting.pareto_runs.RUN_COLUMNS`). Runs without an accuracy or a
        fragility are not drawn (:func:`pareto_figure_caption` counts them).
    regimes
        The regimes' order (the config's) for their markers and the legend; default: the order they first appear.
    title
        The figure's title; default a plain description.
    panel_size
        Width and height of a panel in inches.
    """
    if runs.empty:
        raise ValueError("no runs")
    styles = _styles(runs, regimes)
    panels = _panels(runs)
    ncols = min(len(panels), _NCOLS)
    nrows = math.ceil(len(panels) / ncols)
    legend_rows = math.ceil((len(styles.colours) + len(styles.regimes) + 4) / 4)
    fig = Figure(figsize=(panel_size * ncols + 0.4, panel_size * nrows + 0.6 + 0.22 * legend_rows),
                 layout="constrained")  # fmt: skip
    censored_shown = False
    for ax, (task, model) in zip(panel_grid(fig, len(panels), ncols=_NCOLS), panels, strict=True):
        cell = runs[(runs["task"] == task) & (runs["model"] == model)]
        censored_shown |= _draw_runs(ax, cell, styles)
        _draw_fronts(ax, cell, styles)
        _draw_means(ax, cell, styles)
        _finish_panel(ax, cell, task, model)
    legend_below(fig, _handles(styles, censored_shown), ncols=4)
    fig.suptitle(title or "Accuracy against robustness per run: each method's front and each arm's mean", fontsize=10)
    return fig


def plot_pareto(
    runs: pd.DataFrame,
    out_stem: PathLike,
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_pareto_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    return save_figure(build_pareto_figure(runs, regimes=regimes, title=title), out_stem)


# --------------------------------------------------------------------------------------------------
# Caption.


#: What each kind of censored ε₅ (``fragility_censored``) means, for the caption.
_CENSORED_TEXT = {
    "above": "above the grid, a lower bound",
    "below": "below the grid, an upper bound",
    "both": "censored either way in different directions",
}


def _censored_counts(runs: pd.DataFrame) -> Mapping[str, int]:
    """How many drawn runs carry each kind of censored ε₅ (``"above"``, ``"below"``, ``"both"``)."""
    points = runs[_drawable(runs)]
    kinds = points.loc[_is_censored(points), "fragility_censored"].astype(str)
    return {kind: int(count) for kind, count in kinds.value_counts().sort_index().items()}


def pareto_figure_caption(runs: pd.DataFrame) -> str:
    """Figure 9, the numbers: the runs, arms, methods and seeds drawn; the runs drawn open (censored ε₅) and the
    runs left out (no accuracy or no fragility); each panel's chance accuracy."""
    arms = runs.groupby(["task", "model", "regime"]).ngroups
    seeds = ", ".join(str(s) for s in sorted(set(runs["seed"])))
    methods = _method_order(list(runs["method"].astype(str)))
    drawn = int(_drawable(runs).sum())
    lines = [
        f"- {len(runs)} runs in {arms} arms (task × model × regime) of {len(methods)} methods "
        f"({', '.join(methods)}), seeds {seeds or 'none'}; {drawn} drawn.",
    ]
    censored = _censored_counts(runs)
    if censored:
        kinds = "; ".join(f"{count} {_CENSORED_TEXT.get(kind, kind)}" for kind, count in censored.items())
        lines.append(
            f"- {sum(censored.values())} drawn runs have a censored ε₅ ({kinds}), drawn open: their log10 ε₅ is a "
            "bound at the grid's end, and so is the mean of an arm that has one."
        )
    else:
        lines.append("- No drawn run has a censored ε₅.")
    left_out = len(runs) - drawn
    if left_out:
        missing = int(runs["fragility"].isna().sum())
        lines.append(
            f"- {left_out} runs not drawn ({missing} without a fragility, NaN; the others without an accuracy); "
            "they are not in the fronts, and the arms' means leave out only the missing number."
        )
    chance = [f"{t}/{m} {runs.loc[(runs['task'] == t) & (runs['model'] == m), 'chance'].mean():.1f} %"
              for t, m in _panels(runs)]  # fmt: skip
    lines.append(f"- Chance accuracy (dotted): {'; '.join(chance) or 'none'}.")
    return "\n".join(lines) + "\n"


def pareto_figure_description() -> str:
    """Figure 9, what it is."""
    return (
        "Figure 9 (``figure9_pareto``): the robust-training study's accuracy–robustness trade-off, one panel per "
        "task × model (docs/robust-training.md): x log10 ε₅ of random weight directions (the relative perturbation "
        "at which test accuracy falls 5 points; larger is more robust), y test accuracy (%). Colour by training "
        "method, marker by arm (regime) within its method. Small translucent markers are the runs, one per run "
        "(open: ε₅ censored, drawn at the grid's end); the staircase of a method's colour is its front, the runs of "
        "the method that no other of its runs beats on both counts; large black-edged markers are the arms' means "
        "with Student-t 95 % intervals of both means (wide with few seeds); the dotted line is chance accuracy. "
        "Table 7 gives the same arms' numbers and the fronts' hypervolumes.\n"
    )
