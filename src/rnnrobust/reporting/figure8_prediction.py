"""Figure 8 (``figure8_prediction`` rule): predicted against measured fragility over all runs, and its report
caption.

Log–log: x the run's ``eps_pred_min``, y its ε₅ (worst case left, random right), colour by regime, marker by cell; a
censored ε₅ is an open marker at the grid's bound; each panel's title gives Spearman's ρ with its bootstrap interval
(:func:`rnnrobust.robustness.perturbation.comparisons.prediction_correlation`: censored values ranked as ties beyond the
grid, and ρ over the uncensored runs alone). Data panels are labelled ``"panel:<family>"``
(:mod:`rnnrobust.reporting.figure_style`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rnnrobust.io import PathLike
from rnnrobust.layout import CELLS, RunKey
from rnnrobust.reporting.figure_style import (
    MARKERS,
    PANEL_PREFIX,
    legend_below,
    plain_log_axis,
    regime_colours,
    save_figure,
)
from rnnrobust.reporting.perturbation_captions import correlation_text, grid_text, measured_families
from rnnrobust.reporting.perturbation_text import FAMILY_LABELS, rho_text, value_text
from rnnrobust.robustness.perturbation.comparisons import prediction_correlation
from rnnrobust.robustness.perturbation.eps5 import DROP, PerturbationRecords, RunFragility, as_fragility
from rnnrobust.runs import regime_order, sort_runs

__all__ = [
    "build_prediction_figure",
    "plot_prediction",
    "prediction_figure_caption",
    "prediction_figure_description",
]


#: The panels' families, left to right: the worst case, then random directions.
_PANEL_FAMILIES = ("worst", "random")
_DIAGONAL_STYLE = dict(color="0.4", linestyle=":", linewidth=1.0, zorder=1, label="ε₅ = predicted ε")


def _draw_runs(ax: Axes, runs: Mapping[RunKey, RunFragility], keys: Sequence[RunKey], family: str,
               colours: Mapping[str, str], markers: Mapping[str, str]) -> tuple[list[float], bool]:  # fmt: skip
    """One marker per run with a prediction and an ε₅ (open where ε₅ is censored); the values drawn, and whether
    an open marker is among them."""
    values: list[float] = []
    censored_shown = False
    for key in keys:
        run = runs[key]
        threshold = run.eps5.get(family)
        if threshold is None or not math.isfinite(run.predicted) or not math.isfinite(threshold.log10):
            continue
        censored = bool(threshold.censored)
        censored_shown |= censored
        colour = colours[key[2]]
        ax.plot([10.0**run.predicted], [10.0**threshold.log10], linestyle="None", marker=markers[key[1]],
                markersize=6, markeredgewidth=1.1, color=colour, markeredgecolor=colour,
                markerfacecolor="none" if censored else colour, alpha=0.9, zorder=3,
                gid=f"{'censored' if censored else 'measured'}/{key[2]}/{key[1]}")  # fmt: skip
        values += [run.predicted, threshold.log10]
    return values, censored_shown


def _finish_panel(ax: Axes, runs: Mapping[RunKey, RunFragility], family: str, values: list[float]) -> None:
    """The diagonal ε₅ = ε, square log–log axes over the values (±0.3 decade), Spearman's ρ in the title."""
    low, high = (min(values) - 0.3, max(values) + 0.3) if values else (-4.0, 0.0)
    line = np.array([10.0**low, 10.0**high])
    ax.plot(line, line, **_DIAGONAL_STYLE)
    plain_log_axis(ax, "x")
    plain_log_axis(ax, "y")
    ax.set_xlim(line[0], line[1])
    ax.set_ylim(line[0], line[1])
    ax.set_aspect("equal")
    corr = prediction_correlation(runs, family)
    label = FAMILY_LABELS.get(family, family)
    ax.set_title(f"{label}: Spearman {rho_text(corr.all)}\nuncensored runs only: {rho_text(corr.measured)}", fontsize=8)
    ax.set_xlabel("predicted ε = d/‖W‖₂ (min over stable blocks)")
    ax.set_ylabel(f"measured ε₅, {label}")
    ax.grid(alpha=0.3, which="major")
    ax.set_label(f"{PANEL_PREFIX}{family}")


def _handles(order: Sequence[str], present: Sequence[str], colours: Mapping[str, str], markers: Mapping[str, str],
             censored_shown: bool) -> list[Any]:  # fmt: skip
    """The legend: a patch per regime drawn, a marker per cell, the open marker when one is drawn, the diagonal."""
    handles: list[Any] = [Patch(color=colours[r], label=r) for r in order if r in present]
    handles += [Line2D([], [], linestyle="None", marker=m, color="0.3", label=c.upper()) for c, m in markers.items()]
    if censored_shown:
        handles.append(Line2D([], [], linestyle="None", marker="o", color="0.3", markerfacecolor="none",
                              label="open: ε₅ censored, drawn at the grid's end"))  # fmt: skip
    handles.append(Line2D([], [], **_DIAGONAL_STYLE))
    return handles


def build_prediction_figure(
    perturbation: PerturbationRecords,
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
    keys = sort_runs(runs, order)
    cells = list(dict.fromkeys([*(c for c in CELLS if any(k[1] == c for k in keys)), *(k[1] for k in keys)]))
    markers = {cell: MARKERS[i % len(MARKERS)] for i, cell in enumerate(cells)}
    families = [f for f in _PANEL_FAMILIES if any(f in r.eps5 for r in runs.values())]
    fig = Figure(figsize=(panel_size * len(families) + 0.4, panel_size + 1.4), layout="constrained")
    axes = fig.subplots(1, len(families), squeeze=False)[0]
    censored_shown = False
    for ax, family in zip(axes, families, strict=True):
        values, censored = _draw_runs(ax, runs, keys, family, colours, markers)
        censored_shown |= censored
        _finish_panel(ax, runs, family, values)
    present = list(dict.fromkeys(k[2] for k in keys))
    handles = _handles(order, present, colours, markers, censored_shown)
    legend_below(fig, handles, ncols=min(len(handles), 5))
    fig.suptitle(title or "Predicted against measured fragility, every run", fontsize=10)
    return fig


def plot_prediction(
    perturbation: PerturbationRecords,
    out_stem: PathLike,
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_prediction_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    return save_figure(build_prediction_figure(perturbation, regimes=regimes, title=title), out_stem)


# --------------------------------------------------------------------------------------------------
# Caption.


def _gaps(runs: Mapping[RunKey, RunFragility], keys: Sequence[RunKey], family: str, regime: str) -> list[float]:
    """measured − predicted log10 ε of the regime's runs with an uncensored ε₅ and a prediction."""
    return [
        runs[k].eps5[family].log10 - runs[k].predicted
        for k in keys
        if k[2] == regime
        and family in runs[k].eps5
        and not runs[k].eps5[family].censored
        and math.isfinite(runs[k].predicted)
    ]


def prediction_figure_caption(perturbation: PerturbationRecords, *, regimes: Sequence[str] | None = None) -> str:
    """Figure 8, the numbers: Spearman's ρ per family (censored handling and runs left out counted), and per regime
    the measured − predicted log10 ε over its uncensored runs."""
    runs = as_fragility(perturbation)
    families = measured_families(runs)
    keys = sort_runs(runs, regimes)
    lines = [grid_text(runs), ""]
    lines += [f"- {correlation_text(runs, f)}." for f in families]
    order = list(dict.fromkeys(k[2] for k in keys))
    for family in families:
        gaps = "; ".join(f"{regime} {value_text(_gaps(runs, keys, family, regime))}" for regime in order)
        lines.append(f"- log10 ε₅ − predicted log10 ε, {FAMILY_LABELS.get(family, family)}, uncensored runs: {gaps}.")
    lines += ["", "Filled markers: measured ε₅; open markers: censored ε₅ drawn at the grid's end; dotted: ε₅ = ε."]
    return "\n".join(lines) + "\n"


def prediction_figure_description() -> str:
    """Figure 8, what it is."""
    return (
        "Predicted against measured fragility over every run (``figure8_prediction`` rule), log–log: x the predicted "
        "threshold d/‖W‖₂ (the run's stable block closest to instability), y the measured ε₅ (worst-case direction "
        "left, random right); colour by regime, marker by cell; open markers are censored ε₅ (no "
        f"{100 * DROP:g}-point drop within the grid), drawn at the grid's end; each panel gives Spearman's ρ with "
        "its 95 % bootstrap interval.\n"
    )
