"""Figures 7 and 8: what weight perturbations do to the trained networks, beside what the robustness numbers predict.

- :func:`build_perturbation_figure` (Figure 7, one per task): the change of test accuracy against ε (log axis), one
  panel column per model and one panel row per family of perturbations (random above, worst case below), one line
  per regime (colour :func:`~rnnrobust.reporting.figures.regime_colours`, line style :func:`~rnnrobust.reporting.figures.regime_styles`);
  the line is the mean over seeds (a run's random curve: the mean over its samples first) and the band spans the
  seeds' minimum to maximum; a vertical dotted line in the regime's colour marks its predicted threshold,
  10^(mean over seeds of log10 ``eps_pred_min``), and a horizontal line the 5-point drop that defines ε₅.
- :func:`build_prediction_figure` (Figure 8): predicted against measured fragility over all runs, log–log: x the
  run's ``eps_pred_min``, y its ε₅ (worst case left, random right), colour by regime, marker by cell; a censored ε₅
  is an open marker at the grid's bound; each panel's title gives Spearman's ρ with its bootstrap interval
  (:func:`rnnrobust.robustness.perturbation.eps5.prediction_correlation`: censored values ranked as ties beyond the grid, and ρ over
  the uncensored runs alone).

The y axis of Figure 7 is accuracy *change* (perturbed − unperturbed, percentage points) rather than accuracy, so
that the 5-point drop is one line for every run; the unperturbed accuracies are in the caption and Table 4.
Figures are built without pyplot (:mod:`rnnrobust.reporting.figures`' conventions: one legend below the panels, data panels
labelled ``"panel:<family>/<model>"`` and ``"panel:<family>"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from rnnrobust.io import PathLike
from rnnrobust.layout import CELLS, RunKey
from rnnrobust.reporting.figures import MARKERS, PANEL_PREFIX, legend_below, regime_colours, regime_styles, save_figure
from rnnrobust.robustness.perturbation.eps5 import (
    DROP,
    FAMILIES,
    FAMILY_LABELS,
    RunFragility,
    as_fragility,
    ordered_keys,
    prediction_correlation,
    regime_order,
    rho_text,
)

__all__ = ["build_perturbation_figure", "build_prediction_figure", "plot_perturbation", "plot_prediction"]

_DROP_STYLE = dict(color="0.55", linewidth=2.2, alpha=0.5, zorder=1, label=f"{100 * DROP:g}-point drop (defines ε₅)")
_PREDICTED_STYLE = dict(linestyle=":", linewidth=1.3, zorder=2)
_BAND_ALPHA = 0.18
_DIAGONAL_STYLE = dict(color="0.4", linestyle=":", linewidth=1.0, zorder=1, label="ε₅ = predicted ε")


def _plain_log(ax: Axes, which: str) -> None:
    """A log axis with plain tick labels (``0.001``, never ``10⁻³``)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:.3g}"))
    axis.set_minor_formatter(NullFormatter())


def _seed_curves(runs: Sequence[RunFragility], family: str) -> tuple[np.ndarray, np.ndarray]:
    """(levels, array seeds × levels) of the accuracy change in points; NaN where a run has no such level."""
    levels = np.asarray(sorted({x for r in runs if family in r.curves for x in r.curves[family]}))
    rows = [
        [100.0 * (r.curves[family].get(x, math.nan) - r.reference_accuracy) for x in levels]
        for r in runs
        if family in r.curves
    ]
    return levels, np.asarray(rows, dtype=float).reshape(len(rows), len(levels))


def build_perturbation_figure(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility],
    *,
    task: str,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (3.4, 2.8),
) -> Figure:
    """Figure 7 of one task (module docstring): accuracy change against ε, panels family × model.

    Parameters
    ----------
    perturbation
        Run key -> perturbation JSON (or :class:`~rnnrobust.robustness.perturbation.eps5.RunFragility`); runs of other tasks are
        ignored.
    task
        The task shown.
    regimes
        The regimes' order (the config's), which sets their colours and line styles.
    """
    runs = {k: v for k, v in as_fragility(perturbation).items() if k[0] == task}
    if not runs:
        raise ValueError(f"no perturbation runs of task {task!r}")
    order = regime_order(runs, regimes)
    colours, styles = regime_colours(order), regime_styles(order)
    keys = ordered_keys(runs, order)
    models = list(dict.fromkeys(k[1] for k in keys))
    families = [f for f in FAMILIES if any(f in r.curves for r in runs.values())]
    cells: dict[tuple[str, str], list[RunFragility]] = {}
    for key in keys:
        cells.setdefault((key[1], key[2]), []).append(runs[key])

    width, height = panel_size
    fig = Figure(figsize=(width * len(models) + 0.4, height * len(families) + 1.2), layout="constrained")
    grid = fig.subplots(len(families), len(models), squeeze=False, sharex=True, sharey=True)
    xs: list[float] = []
    ys: list[float] = [0.0, -100.0 * DROP]
    banded = False
    for row, family in enumerate(families):
        for col, model in enumerate(models):
            ax = grid[row, col]
            for regime in order:
                cell = cells.get((model, regime), [])
                levels, data = _seed_curves(cell, family)
                if not data.size:
                    continue
                with np.errstate(all="ignore"):
                    mean = np.nanmean(data, axis=0)
                ax.plot(10.0**levels, mean, color=colours[regime], linestyle=styles[regime], marker="o",
                        markersize=3, zorder=3, gid=f"{family}/{model}/{regime}")  # fmt: skip
                if data.shape[0] > 1:
                    low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
                    ax.fill_between(10.0**levels, low, high, color=colours[regime], alpha=_BAND_ALPHA, linewidth=0)
                    ys += [*low[np.isfinite(low)], *high[np.isfinite(high)]]
                    banded = True
                ys += list(mean[np.isfinite(mean)])
                xs += list(levels)
                predicted = [r.predicted for r in cell if math.isfinite(r.predicted)]
                if predicted:
                    x = float(np.mean(predicted))
                    ax.axvline(10.0**x, color=colours[regime], **_PREDICTED_STYLE, gid=f"predicted/{regime}")
                    xs.append(x)
            ax.axhline(-100.0 * DROP, **_DROP_STYLE)
            ax.set_title(f"{model.upper()} · {FAMILY_LABELS.get(family, family)}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.set_label(f"{PANEL_PREFIX}{family}/{model}")
            if row == len(families) - 1:
                ax.set_xlabel("ε = ‖ΔW‖₂ / ‖W‖₂")
            if col == 0:
                ax.set_ylabel("Δ test accuracy (points)")
    ax0 = grid[0, 0]
    _plain_log(ax0, "x")  # shared: every panel
    if xs:
        ax0.set_xlim(10.0 ** (min(xs) - 0.2), 10.0 ** (max(xs) + 0.2))
    low, high = min(ys), max(ys)
    pad = 0.06 * (high - low) if high > low else 1.0
    ax0.set_ylim(low - pad, high + pad)

    counts = {r: {len(cells[(m, r)]) for m in models if (m, r) in cells} for r in order}
    handles: list = []
    for regime in order:
        if counts[regime]:
            n = counts[regime].pop() if len(counts[regime]) == 1 else None
            label = regime + (f" (n = {n} seed{'s' * (n != 1)})" if n else "")
            handles.append(Line2D([], [], color=colours[regime], linestyle=styles[regime], marker="o", markersize=3,
                                  label=label))  # fmt: skip
    if banded:
        handles.append(Patch(color="0.5", alpha=0.3, linewidth=0, label="band: min–max over seeds"))
    handles.append(Line2D([], [], color="0.3", label="predicted threshold d/‖W‖₂ (mean of log10 over seeds)",
                          **_PREDICTED_STYLE))  # fmt: skip
    handles.append(Line2D([], [], **_DROP_STYLE))
    legend_below(fig, handles, ncols=min(len(handles), 4))
    fig.suptitle(title or f"{task}: test accuracy under weight perturbations", fontsize=10)
    return fig


def plot_perturbation(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility],
    out_stem: PathLike,
    *,
    task: str,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_perturbation_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    return save_figure(build_perturbation_figure(perturbation, task=task, regimes=regimes, title=title), out_stem)


def build_prediction_figure(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility],
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
    panel_size: float = 3.8,
) -> Figure:
    """Figure 8 (module docstring): measured ε₅ against the predicted threshold over all runs, one panel per family.

    Runs without a prediction (no stable block) or without ε₅ are not drawn; the caption counts them.
    """
    runs = as_fragility(perturbation)
    if not runs:
        raise ValueError("no perturbation runs")
    order = regime_order(runs, regimes)
    colours = regime_colours(order)
    keys = ordered_keys(runs, order)
    cells = list(dict.fromkeys([*(c for c in CELLS if any(k[1] == c for k in keys)), *(k[1] for k in keys)]))
    markers = {cell: MARKERS[i % len(MARKERS)] for i, cell in enumerate(cells)}
    families = [f for f in ("worst", "random") if any(f in r.eps5 for r in runs.values())]
    fig = Figure(figsize=(panel_size * len(families) + 0.4, panel_size + 1.4), layout="constrained")
    axes = fig.subplots(1, len(families), squeeze=False)[0]
    open_shown = False
    for ax, family in zip(axes, families, strict=True):
        values: list[float] = []
        for key in keys:
            run = runs[key]
            threshold = run.eps5.get(family)
            if threshold is None or not math.isfinite(run.predicted) or not math.isfinite(threshold.log10):
                continue
            censored = bool(threshold.censored)
            open_shown |= censored
            colour = colours[key[2]]
            ax.plot([10.0**run.predicted], [10.0**threshold.log10], linestyle="None", marker=markers[key[1]],
                    markersize=6, markeredgewidth=1.1, color=colour, markeredgecolor=colour,
                    markerfacecolor="none" if censored else colour, alpha=0.9, zorder=3,
                    gid=f"{'censored' if censored else 'measured'}/{key[2]}/{key[1]}")  # fmt: skip
            values += [run.predicted, threshold.log10]
        low, high = (min(values) - 0.3, max(values) + 0.3) if values else (-4.0, 0.0)
        line = np.array([10.0**low, 10.0**high])
        ax.plot(line, line, **_DIAGONAL_STYLE)
        _plain_log(ax, "x")
        _plain_log(ax, "y")
        ax.set_xlim(line[0], line[1])
        ax.set_ylim(line[0], line[1])
        ax.set_aspect("equal")
        corr = prediction_correlation(runs, family)
        ax.set_title(
            f"{FAMILY_LABELS.get(family, family)}: Spearman {rho_text(corr.all)}\n"
            f"uncensored runs only: {rho_text(corr.measured)}",
            fontsize=8,
        )
        ax.set_xlabel("predicted ε = d/‖W‖₂ (min over stable blocks)")
        ax.set_ylabel(f"measured ε₅, {FAMILY_LABELS.get(family, family)}")
        ax.grid(alpha=0.3, which="major")
        ax.set_label(f"{PANEL_PREFIX}{family}")
    present = list(dict.fromkeys(k[2] for k in keys))
    handles: list = [Patch(color=colours[r], label=r) for r in order if r in present]
    handles += [Line2D([], [], linestyle="None", marker=markers[c], color="0.3", label=c.upper()) for c in cells]
    if open_shown:
        handles.append(Line2D([], [], linestyle="None", marker="o", color="0.3", markerfacecolor="none",
                              label="open: ε₅ censored, drawn at the grid's end"))  # fmt: skip
    handles.append(Line2D([], [], **_DIAGONAL_STYLE))
    legend_below(fig, handles, ncols=min(len(handles), 5))
    fig.suptitle(title or "Predicted against measured fragility, every run", fontsize=10)
    return fig


def plot_prediction(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility],
    out_stem: PathLike,
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_prediction_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    return save_figure(build_prediction_figure(perturbation, regimes=regimes, title=title), out_stem)
