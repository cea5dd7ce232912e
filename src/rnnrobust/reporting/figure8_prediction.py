"""Figure 8 (``figure8_prediction`` rule): predicted against measured fragility over all runs, and its report
caption.

Log–log: x the run's ``eps_pred_min``, y its measured threshold (by default the reported one,
:func:`~rnnrobust.robustness.perturbation.comparisons.reported_threshold`: ε_flip5, or ε₅ for records of the stage
before it bisected thresholds), one panel per family that has values (``layout.FAMILIES`` order), colour by regime,
marker by cell; a censored threshold is an open marker at the grid's bound; each panel's title gives Spearman's ρ
with its bootstrap interval (:func:`rnnrobust.robustness.perturbation.comparisons.prediction_correlation`: censored
values ranked as ties beyond the grid, and ρ over the uncensored runs alone). Data panels are labelled
``"panel:<family>"`` (:mod:`rnnrobust.reporting.figure_style`).
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
from rnnrobust.reporting.perturbation_captions import correlation_text, grid_text
from rnnrobust.reporting.perturbation_text import FAMILY_LABELS, THRESHOLD_LABELS, rho_text, value_text
from rnnrobust.robustness.perturbation.comparisons import measured_families, prediction_correlation, reported_threshold
from rnnrobust.robustness.perturbation.eps5 import PerturbationRecords, RunFragility, as_fragility
from rnnrobust.runs import regime_order, sort_runs

__all__ = [
    "build_prediction_figure",
    "plot_prediction",
    "prediction_figure_caption",
    "prediction_figure_description",
]


_DIAGONAL_STYLE = dict(color="0.4", linestyle=":", linewidth=1.0, zorder=1, label="measured = predicted ε")


def _draw_runs(ax: Axes, runs: Mapping[RunKey, RunFragility], keys: Sequence[RunKey], family: str, name: str,
               colours: Mapping[str, str], markers: Mapping[str, str]) -> tuple[list[float], bool]:  # fmt: skip
    """One marker per run with a prediction and a value of the threshold ``name`` (open where it is censored); the
    values drawn, and whether an open marker is among them."""
    values: list[float] = []
    censored_shown = False
    for key in keys:
        run = runs[key]
        threshold = run.thresholds(name).get(family)
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


def _finish_panel(ax: Axes, runs: Mapping[RunKey, RunFragility], family: str, name: str, values: list[float]) -> None:
    """The diagonal measured = predicted ε, square log–log axes over the values (±0.3 decade), Spearman's ρ of the
    threshold ``name`` in the title."""
    low, high = (min(values) - 0.3, max(values) + 0.3) if values else (-4.0, 0.0)
    line = np.array([10.0**low, 10.0**high])
    ax.plot(line, line, **_DIAGONAL_STYLE)
    plain_log_axis(ax, "x")
    plain_log_axis(ax, "y")
    ax.set_xlim(line[0], line[1])
    ax.set_ylim(line[0], line[1])
    ax.set_aspect("equal")
    corr = prediction_correlation(runs, family, name)
    label = FAMILY_LABELS.get(family, family)
    ax.set_title(f"{label}: Spearman {rho_text(corr.all)}\nuncensored runs only: {rho_text(corr.measured)}", fontsize=8)
    ax.set_xlabel("predicted ε = d/‖W‖₂ (min over stable blocks)")
    ax.set_ylabel(f"measured {THRESHOLD_LABELS[name]}, {label}")
    ax.grid(alpha=0.3, which="major")
    ax.set_label(f"{PANEL_PREFIX}{family}")


def _handles(order: Sequence[str], present: Sequence[str], colours: Mapping[str, str], markers: Mapping[str, str],
             censored_shown: bool, name: str) -> list[Any]:  # fmt: skip
    """The legend: a patch per regime drawn, a marker per cell, the open marker when one is drawn, the diagonal."""
    handles: list[Any] = [Patch(color=colours[r], label=r) for r in order if r in present]
    handles += [Line2D([], [], linestyle="None", marker=m, color="0.3", label=c.upper()) for c, m in markers.items()]
    if censored_shown:
        handles.append(Line2D([], [], linestyle="None", marker="o", color="0.3", markerfacecolor="none",
                              label=f"open: {THRESHOLD_LABELS[name]} censored, drawn at the grid's end"))  # fmt: skip
    handles.append(Line2D([], [], **_DIAGONAL_STYLE))
    return handles


def build_prediction_figure(
    perturbation: PerturbationRecords,
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
    panel_size: float = 3.8,
    threshold: str | None = None,
) -> Figure:
    """Figure 8 (module docstring): the measured ``threshold`` (``eps5.THRESHOLD_NAMES``; None: the reported one)
    against the predicted threshold over all runs, one panel per family that has values.

    Runs without a prediction (no stable block) or without a value are not drawn; the caption counts them.
    """
    runs = as_fragility(perturbation)
    if not runs:
        raise ValueError("no perturbation runs")
    name = threshold or reported_threshold(runs.values())
    order = regime_order(runs, regimes)
    colours = regime_colours(order)
    keys = sort_runs(runs, order)
    cells = list(dict.fromkeys([*(c for c in CELLS if any(k[1] == c for k in keys)), *(k[1] for k in keys)]))
    markers = {cell: MARKERS[i % len(MARKERS)] for i, cell in enumerate(cells)}
    families = measured_families(runs.values(), name)
    if not families:
        raise ValueError(f"no run has a value of the threshold {name!r}")
    columns = min(len(families), 2)  # two panels a row: the titles carry two intervals each
    rows = math.ceil(len(families) / columns)
    fig = Figure(figsize=(panel_size * columns + 0.4, panel_size * rows + 1.4), layout="constrained")
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for spare in axes[len(families) :]:
        fig.delaxes(spare)
    censored_shown = False
    for ax, family in zip(axes, families, strict=False):
        values, censored = _draw_runs(ax, runs, keys, family, name, colours, markers)
        censored_shown |= censored
        _finish_panel(ax, runs, family, name, values)
    present = list(dict.fromkeys(k[2] for k in keys))
    handles = _handles(order, present, colours, markers, censored_shown, name)
    legend_below(fig, handles, ncols=min(len(handles), 5))
    fig.suptitle(title or "Predicted against measured fragility, every run", fontsize=10)
    return fig


def plot_prediction(
    perturbation: PerturbationRecords,
    out_stem: PathLike,
    *,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
    threshold: str | None = None,
) -> list[Path]:
    """:func:`build_prediction_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    figure = build_prediction_figure(perturbation, regimes=regimes, title=title, threshold=threshold)
    return save_figure(figure, out_stem)


# --------------------------------------------------------------------------------------------------
# Caption.


def _gaps(runs: Sequence[RunFragility], family: str, name: str) -> list[float]:
    """measured − predicted log10 ε of the runs with an uncensored value of the threshold ``name`` and a
    prediction."""
    values = [(run.thresholds(name).get(family), run.predicted) for run in runs]
    return [t.log10 - x for t, x in values if t is not None and not t.censored and math.isfinite(x)]


def prediction_figure_caption(
    perturbation: PerturbationRecords, *, regimes: Sequence[str] | None = None, threshold: str | None = None
) -> str:
    """Figure 8, the numbers: Spearman's ρ per family (censored handling and runs left out counted), and per regime
    the measured − predicted log10 ε over its uncensored runs, of ``threshold`` (None: the reported one)."""
    runs = as_fragility(perturbation)
    name = threshold or reported_threshold(runs.values())
    label = THRESHOLD_LABELS[name]
    families = measured_families(runs.values(), name)
    keys = sort_runs(runs, regimes)
    lines = [grid_text(runs, name), ""]
    lines += [f"- {correlation_text(runs, f, name)}." for f in families]
    order = list(dict.fromkeys(k[2] for k in keys))
    for family in families:
        gaps = "; ".join(
            f"{regime} {value_text(_gaps([runs[k] for k in keys if k[2] == regime], family, name))}" for regime in order
        )
        lines.append(
            f"- log10 {label} − predicted log10 ε, {FAMILY_LABELS.get(family, family)}, uncensored runs: {gaps}."
        )
    lines += ["", f"Filled markers: measured {label}; open markers: censored, drawn at the grid's end; dotted: the "
              "measured threshold equals the predicted one."]  # fmt: skip
    return "\n".join(lines) + "\n"


def prediction_figure_description() -> str:
    """Figure 8, what it is."""
    return (
        "Predicted against measured fragility over every run (``figure8_prediction`` rule), log–log: x the predicted "
        "threshold d/‖W‖₂ (the run's stable block closest to instability), y the measured threshold, ε at 5 % flips "
        "(ε₅, the 5-point accuracy drop, for records of the stage before it bisected thresholds), one panel per "
        "family of directions with values (Gaussian, its rank-matched control, towards instability, adversarial: "
        "projected gradient ascent, a lower bound on the worst case); colour by regime, marker by cell; open markers "
        "are censored thresholds (not reached within the grid), drawn at the grid's end; each panel gives Spearman's "
        "ρ with its 95 % bootstrap interval.\n"
    )
