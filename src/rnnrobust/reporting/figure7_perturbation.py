"""Figure 7 (``figure7_perturbation`` rule, one per task): what weight perturbations do to the trained networks,
beside the threshold the robustness numbers predict; and its report caption.

Against ε (log axis), per model two panel columns side by side: the change of test accuracy and the percentage of
predictions flipped (the flip rate, which defines the primary threshold ε_flip5; records before the stage measured
flips have the accuracy column only); one panel row per family of perturbations that the runs have curves of
(``layout.FAMILIES`` order: Gaussian, rank-matched Gaussian, towards instability, adversarial), one line per regime
(colour :func:`~rnnrobust.reporting.figure_style.regime_colours`, line style
:func:`~rnnrobust.reporting.figure_style.regime_styles`); the line is the mean over seeds (a run's curve of a family
with several directions: the mean over its samples first) and the band spans the seeds' minimum to maximum; a
vertical dotted line in the regime's colour marks its predicted threshold, 10^(mean over seeds of log10
``eps_pred_min``), and a horizontal line the 5-point drop that defines ε₅ (accuracy panels) or the 5 % of flips
that defines ε_flip5 (flip-rate panels). The curves are the grid's levels only (``eps5.run_fragility`` leaves out
the points the stage added to bisect thresholds).

The accuracy panels show its *change* (perturbed − unperturbed, percentage points) rather than the accuracy, so
that the 5-point drop is one line for every run; the unperturbed accuracies are in the caption and Table 4. Data
panels are labelled ``"panel:<family>/<model>/<measure>"`` with the measure ``accuracy`` or ``flip_rate``
(:mod:`rnnrobust.reporting.figure_style`); a regime's line has the gid ``"<measure>/<family>/<model>/<regime>"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rnnrobust.io import PathLike
from rnnrobust.layout import FAMILIES, RunKey
from rnnrobust.reporting.figure_style import (
    PANEL_PREFIX,
    legend_below,
    plain_log_axis,
    regime_colours,
    regime_styles,
    save_figure,
)
from rnnrobust.reporting.perturbation_captions import cells_text, comparisons_text, grid_text, n_eval_text
from rnnrobust.reporting.perturbation_text import FAMILY_LABELS, value_text
from rnnrobust.robustness.perturbation.comparisons import measured_families, reported_threshold
from rnnrobust.robustness.perturbation.eps5 import DROP, FLIP_RATE, PerturbationRecords, RunFragility, as_fragility
from rnnrobust.runs import regime_order, sort_runs

__all__ = [
    "build_perturbation_figure",
    "perturbation_figure_caption",
    "perturbation_figure_description",
    "plot_perturbation",
]


_LEVEL_STYLE = dict(color="0.55", linewidth=2.2, alpha=0.5, zorder=1)
_DROP_STYLE = _LEVEL_STYLE | dict(label=f"{100 * DROP:g}-point drop (defines ε₅; accuracy panels)")
_FLIP_STYLE = _LEVEL_STYLE | dict(linestyle="--", label=f"{100 * FLIP_RATE:g} % flipped (defines ε at 5 % flips)")
_PREDICTED_STYLE = dict(linestyle=":", linewidth=1.3, zorder=2)
_BAND_ALPHA = 0.18
#: The panels' measures: (y label, the level that defines a threshold (percent, points), its line's style).
_MEASURES = {
    "accuracy": ("Δ test accuracy (points)", -100.0 * DROP, _DROP_STYLE),
    "flip_rate": ("predictions flipped (%)", 100.0 * FLIP_RATE, _FLIP_STYLE),
}


def _seed_curves(runs: Sequence[RunFragility], family: str, measure: str = "accuracy") -> tuple[np.ndarray, np.ndarray]:
    """(levels, array seeds × levels) of the accuracy change in points (``measure`` ``"accuracy"``) or of the flip
    rate in percent (``"flip_rate"``); NaN where a run has no such level."""
    drawn = [
        (r.curves[family], r.reference_accuracy) if measure == "accuracy" else (r.flip_curves[family], 0.0)
        for r in runs
        if family in (r.curves if measure == "accuracy" else r.flip_curves)
    ]
    levels = np.asarray(sorted({x for curve, _ in drawn for x in curve}))
    rows = [[100.0 * (curve.get(x, math.nan) - offset) for x in levels] for curve, offset in drawn]
    return levels, np.asarray(rows, dtype=float).reshape(len(rows), len(levels))


def _measures(runs: Mapping[RunKey, RunFragility]) -> list[str]:
    """The panel columns of each model: the accuracy change, and the flip rate where some run has flip curves."""
    return ["accuracy", *(["flip_rate"] if any(r.flip_curves for r in runs.values()) else [])]


def _curve_families(runs: Mapping[RunKey, RunFragility]) -> list[str]:
    """The families some run has an accuracy curve of, in ``layout.FAMILIES`` order, then others (``worst`` of
    records before issue 19): the figure's rows."""
    present = {f for r in runs.values() for f in r.curves}
    return [f for f in FAMILIES if f in present] + sorted(present - set(FAMILIES))


def _task_runs(perturbation: PerturbationRecords, task: str) -> dict[RunKey, RunFragility]:
    """The runs of ``task``; none is a ValueError."""
    runs = {k: v for k, v in as_fragility(perturbation).items() if k[0] == task}
    if not runs:
        raise ValueError(f"no perturbation runs of task {task!r}")
    return runs


def _cells(runs: Mapping[RunKey, RunFragility], keys: Sequence[RunKey]) -> dict[tuple[str, str], list[RunFragility]]:
    """(model, regime) -> its runs, in the order of ``keys``."""
    cells: dict[tuple[str, str], list[RunFragility]] = {}
    for key in keys:
        cells.setdefault((key[1], key[2]), []).append(runs[key])
    return cells


@dataclass
class _Lines:
    """The regimes' lines of one figure: their order, colours, styles and runs, and the ranges the lines span (the
    y range per measure)."""

    order: list[str]
    cells: dict[tuple[str, str], list[RunFragility]]
    colours: dict[str, str] = field(init=False)
    styles: dict[str, Any] = field(init=False)
    xs: list[float] = field(default_factory=list)
    ys: dict[str, list[float]] = field(default_factory=lambda: {m: [0.0, y] for m, (_, y, _) in _MEASURES.items()})
    banded: bool = False

    def __post_init__(self) -> None:
        self.colours, self.styles = regime_colours(self.order), regime_styles(self.order)

    def draw(self, ax: Axes, family: str, model: str, regime: str, measure: str = "accuracy") -> None:
        """One regime's line in one panel: the mean over seeds, its band, and its predicted threshold."""
        cell = self.cells.get((model, regime), [])
        levels, data = _seed_curves(cell, family, measure)
        if not data.size:
            return
        colour, ys = self.colours[regime], self.ys[measure]
        with np.errstate(all="ignore"):
            mean = np.nanmean(data, axis=0)
        ax.plot(10.0**levels, mean, color=colour, linestyle=self.styles[regime], marker="o", markersize=3, zorder=3,
                gid=f"{measure}/{family}/{model}/{regime}")  # fmt: skip
        if data.shape[0] > 1:
            low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
            ax.fill_between(10.0**levels, low, high, color=colour, alpha=_BAND_ALPHA, linewidth=0)
            ys += [*low[np.isfinite(low)], *high[np.isfinite(high)]]
            self.banded = True
        ys += list(mean[np.isfinite(mean)])
        self.xs += list(levels)
        predicted = [r.predicted for r in cell if math.isfinite(r.predicted)]
        if predicted:
            x = float(np.mean(predicted))
            ax.axvline(10.0**x, color=colour, **_PREDICTED_STYLE, gid=f"predicted/{regime}")
            self.xs.append(x)

    def set_limits(self, axes: Mapping[str, Axes]) -> None:
        """The shared axes (one panel of each measure): log ε over the lines and thresholds (±0.2 decade), each
        measure's values padded by 6 %."""
        for measure, ax in axes.items():
            plain_log_axis(ax, "x")  # shared: every panel
            if self.xs:
                ax.set_xlim(10.0 ** (min(self.xs) - 0.2), 10.0 ** (max(self.xs) + 0.2))
            low, high = min(self.ys[measure]), max(self.ys[measure])
            pad = 0.06 * (high - low) if high > low else 1.0
            ax.set_ylim(low - pad, high + pad)

    def handles(self, models: Sequence[str], measures: Sequence[str]) -> list[Any]:
        """The legend: each regime drawn (with its seed count when it is the same for every model), the band, the
        predicted threshold and the threshold lines of the ``measures`` drawn."""
        handles: list[Any] = []
        for regime in self.order:
            counts = {len(self.cells[(m, regime)]) for m in models if (m, regime) in self.cells}
            if counts:
                n = counts.pop() if len(counts) == 1 else None
                label = regime + (f" (n = {n} seed{'s' * (n != 1)})" if n else "")
                handles.append(Line2D([], [], color=self.colours[regime], linestyle=self.styles[regime], marker="o",
                                      markersize=3, label=label))  # fmt: skip
        if self.banded:
            handles.append(Patch(color="0.5", alpha=0.3, linewidth=0, label="band: min–max over seeds"))
        handles.append(Line2D([], [], color="0.3", label="predicted threshold d/‖W‖₂ (mean of log10 over seeds)",
                              **_PREDICTED_STYLE))  # fmt: skip
        return handles + [Line2D([], [], **_MEASURES[m][2]) for m in measures]


def _label_panel(ax: Axes, family: str, model: str, measure: str, bottom: bool, left: bool) -> None:
    label, level, style = _MEASURES[measure]
    ax.axhline(level, **style)
    what = "accuracy" if measure == "accuracy" else "flips"
    ax.set_title(f"{model.upper()} · {FAMILY_LABELS.get(family, family)}: {what}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.set_label(f"{PANEL_PREFIX}{family}/{model}/{measure}")
    if bottom:
        ax.set_xlabel("ε = ‖ΔW‖₂ / ‖W‖₂")
    if left:
        ax.set_ylabel(label)


def build_perturbation_figure(
    perturbation: PerturbationRecords,
    *,
    task: str,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (3.0, 2.5),
) -> Figure:
    """Figure 7 of one task (module docstring): accuracy change and flip rate against ε, panels family × (model,
    measure).

    Parameters
    ----------
    perturbation
        Run key -> perturbation JSON (or :class:`~rnnrobust.robustness.perturbation.eps5.RunFragility`); runs of
        other tasks are ignored.
    task
        The task shown.
    regimes
        The regimes' order (the config's), which sets their colours and line styles.
    """
    runs = _task_runs(perturbation, task)
    order = regime_order(runs, regimes)
    keys = sort_runs(runs, order)
    models = list(dict.fromkeys(k[1] for k in keys))
    families, measures = _curve_families(runs), _measures(runs)
    columns = [(model, measure) for model in models for measure in measures]
    lines = _Lines(order, _cells(runs, keys))
    width, height = panel_size
    fig = Figure(figsize=(width * len(columns) + 0.4, height * len(families) + 1.2), layout="constrained")
    grid = fig.subplots(len(families), len(columns), squeeze=False, sharex=True)
    first = {measure: grid[0, measures.index(measure)] for measure in measures}
    for row, family in enumerate(families):
        for col, (model, measure) in enumerate(columns):
            ax = grid[row, col]
            if ax is not first[measure]:
                ax.sharey(first[measure])
            for regime in order:
                lines.draw(ax, family, model, regime, measure)
            _label_panel(ax, family, model, measure, bottom=row == len(families) - 1, left=col < len(measures))
    lines.set_limits(first)
    handles = lines.handles(models, measures)
    legend_below(fig, handles, ncols=min(len(handles), 4))
    what = "test accuracy and flipped predictions" if len(measures) > 1 else "test accuracy"
    fig.suptitle(title or f"{task}: {what} under weight perturbations", fontsize=10)
    return fig


def plot_perturbation(
    perturbation: PerturbationRecords,
    out_stem: PathLike,
    *,
    task: str,
    regimes: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_perturbation_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    return save_figure(build_perturbation_figure(perturbation, task=task, regimes=regimes, title=title), out_stem)


# --------------------------------------------------------------------------------------------------
# Caption.


def perturbation_figure_caption(
    perturbation: PerturbationRecords, *, task: str, regimes: Sequence[str] | None = None
) -> str:
    """Figure 7 of one task, the numbers: per model and regime its seeds, unperturbed accuracy, the reported
    threshold (``comparisons.reported_threshold``) of each family and the prediction; the task's paired comparisons
    with their verdicts; what the lines, bands and threshold lines are."""
    runs = {k: v for k, v in as_fragility(perturbation).items() if k[0] == task}
    if not runs:
        return f"No perturbation runs of {task}.\n"
    threshold = reported_threshold(runs.values())
    families = measured_families(runs.values(), threshold)
    lines = [grid_text(runs, threshold), ""]
    for (model, regime), cell in _cells(runs, sort_runs(runs, regimes)).items():
        seeds = ", ".join(str(r.run[3]) for r in cell)
        accuracy = value_text((100.0 * r.reference_accuracy for r in cell), " %")
        lines.append(
            f"- {model.upper()}, {regime} (seed{'s' * (len(cell) > 1)} {seeds}): unperturbed accuracy {accuracy}; "
            f"{cells_text({regime: cell}, families, threshold)}."
        )
    lines += ["", comparisons_text(runs, task, regimes, threshold), ""]
    measured, levels = "accuracy change", f"the {100 * DROP:g}-point drop"
    if "flip_rate" in _measures(runs):
        measured += " (left of each model's pair) and percentage of predictions flipped (right)"
        levels += f" and {100 * FLIP_RATE:g} % flipped (dashed)"
    lines.append(
        f"Lines: the mean over seeds of the {measured} on the grid's levels (a run's curve of a family with "
        "several directions is first the mean over them); bands: minimum to maximum over seeds; vertical dotted "
        f"lines: 10^(mean over seeds of log10 d/‖W‖₂) per regime; horizontal lines: {levels}."
    )
    return "\n".join(lines) + "\n"


def perturbation_figure_description(perturbation: PerturbationRecords, *, task: str) -> str:
    """Figure 7, what it is; the number of test examples from the task's perturbation records."""
    runs = {k: v for k, v in as_fragility(perturbation).items() if k[0] == task}
    families = _curve_families(runs)
    rows = "; ".join(FAMILY_LABELS.get(f, f) for f in families)
    if "adversarial" in families:
        rows += " (projected gradient ascent on the loss on training examples: a lower bound on the worst case)"
    accuracy = f"the change of test accuracy (points, perturbed − unperturbed, on {n_eval_text(runs)} test examples)"
    levels = f"the grey horizontal line the {100 * DROP:g}-point drop that defines ε₅"
    title = "Test accuracy"
    if "flip_rate" in _measures(runs):
        accuracy = (
            f"per model side by side, {accuracy} and the percentage of the predictions on them that differ from the "
            "unperturbed network's (flips)"
        )
        levels += f", the dashed one the {100 * FLIP_RATE:g} % of flips that defines ε at 5 % flips"
        title += " and flipped predictions"
    return (
        f"{title} under weight perturbations (``figure7_perturbation`` rule) for every model of one task: {accuracy} "
        f"against ε = ‖ΔW‖₂/‖W‖₂ on a log axis; one row per family of directions, top to bottom: {rows}; one line "
        "per regime (mean over seeds, band from their minimum to maximum); the dotted vertical line in a regime's "
        f"colour is its predicted threshold d/‖W‖₂, {levels}.\n"
    )
