"""Figure 7 (``figure7_perturbation`` rule, one per task): what weight perturbations do to the trained networks,
beside the threshold the robustness numbers predict; and its report caption.

The change of test accuracy against ε (log axis), one panel column per model and one panel row per family of
perturbations that the runs have curves of (``layout.FAMILIES`` order: Gaussian, rank-matched Gaussian, towards
instability, adversarial), one line per regime (colour :func:`~rnnrobust.reporting.figure_style.regime_colours`,
line style :func:`~rnnrobust.reporting.figure_style.regime_styles`); the line is the mean over seeds (a run's curve
of a family with several directions: the mean over its samples first) and the band spans the seeds' minimum to
maximum; a vertical dotted line in the regime's colour marks its predicted threshold, 10^(mean over seeds of log10
``eps_pred_min``), and a horizontal line the 5-point drop that defines ε₅. The curves are the grid's levels only
(``eps5.run_fragility`` leaves out the points the stage added to bisect thresholds). The flip rate, which defines
the primary threshold ε_flip5, is not drawn: ``RunFragility`` carries accuracy curves only; the captions give
ε_flip5.

The y axis is accuracy *change* (perturbed − unperturbed, percentage points) rather than accuracy, so that the
5-point drop is one line for every run; the unperturbed accuracies are in the caption and Table 4. Data panels are
labelled ``"panel:<family>/<model>"`` (:mod:`rnnrobust.reporting.figure_style`).
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
from rnnrobust.robustness.perturbation.eps5 import DROP, PerturbationRecords, RunFragility, as_fragility
from rnnrobust.runs import regime_order, sort_runs

__all__ = [
    "build_perturbation_figure",
    "perturbation_figure_caption",
    "perturbation_figure_description",
    "plot_perturbation",
]


_DROP_STYLE = dict(color="0.55", linewidth=2.2, alpha=0.5, zorder=1, label=f"{100 * DROP:g}-point drop (defines ε₅)")
_PREDICTED_STYLE = dict(linestyle=":", linewidth=1.3, zorder=2)
_BAND_ALPHA = 0.18


def _seed_curves(runs: Sequence[RunFragility], family: str) -> tuple[np.ndarray, np.ndarray]:
    """(levels, array seeds × levels) of the accuracy change in points; NaN where a run has no such level."""
    levels = np.asarray(sorted({x for r in runs if family in r.curves for x in r.curves[family]}))
    rows = [
        [100.0 * (r.curves[family].get(x, math.nan) - r.reference_accuracy) for x in levels]
        for r in runs
        if family in r.curves
    ]
    return levels, np.asarray(rows, dtype=float).reshape(len(rows), len(levels))


def _curve_families(runs: Mapping[RunKey, RunFragility]) -> list[str]:
    """The families some run has an accuracy curve of, in ``layout.FAMILIES`` order: the figure's rows."""
    return [f for f in FAMILIES if any(f in r.curves for r in runs.values())]


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
    """The regimes' lines of one figure: their order, colours, styles and runs, and the range the lines span."""

    order: list[str]
    cells: dict[tuple[str, str], list[RunFragility]]
    colours: dict[str, str] = field(init=False)
    styles: dict[str, Any] = field(init=False)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=lambda: [0.0, -100.0 * DROP])
    banded: bool = False

    def __post_init__(self) -> None:
        self.colours, self.styles = regime_colours(self.order), regime_styles(self.order)

    def draw(self, ax: Axes, family: str, model: str, regime: str) -> None:
        """One regime's line in one panel: the mean over seeds, its band, and its predicted threshold."""
        cell = self.cells.get((model, regime), [])
        levels, data = _seed_curves(cell, family)
        if not data.size:
            return
        colour = self.colours[regime]
        with np.errstate(all="ignore"):
            mean = np.nanmean(data, axis=0)
        ax.plot(10.0**levels, mean, color=colour, linestyle=self.styles[regime], marker="o", markersize=3, zorder=3,
                gid=f"{family}/{model}/{regime}")  # fmt: skip
        if data.shape[0] > 1:
            low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
            ax.fill_between(10.0**levels, low, high, color=colour, alpha=_BAND_ALPHA, linewidth=0)
            self.ys += [*low[np.isfinite(low)], *high[np.isfinite(high)]]
            self.banded = True
        self.ys += list(mean[np.isfinite(mean)])
        self.xs += list(levels)
        predicted = [r.predicted for r in cell if math.isfinite(r.predicted)]
        if predicted:
            x = float(np.mean(predicted))
            ax.axvline(10.0**x, color=colour, **_PREDICTED_STYLE, gid=f"predicted/{regime}")
            self.xs.append(x)

    def set_limits(self, ax: Axes) -> None:
        """The shared axes: log ε over the lines and thresholds (±0.2 decade), the changes padded by 6 %."""
        plain_log_axis(ax, "x")  # shared: every panel
        if self.xs:
            ax.set_xlim(10.0 ** (min(self.xs) - 0.2), 10.0 ** (max(self.xs) + 0.2))
        low, high = min(self.ys), max(self.ys)
        pad = 0.06 * (high - low) if high > low else 1.0
        ax.set_ylim(low - pad, high + pad)

    def handles(self, models: Sequence[str]) -> list[Any]:
        """The legend: each regime drawn (with its seed count when it is the same for every model), the band, the
        predicted threshold and the drop."""
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
        handles.append(Line2D([], [], **_DROP_STYLE))
        return handles


def _label_panel(ax: Axes, family: str, model: str, bottom: bool, left: bool) -> None:
    ax.axhline(-100.0 * DROP, **_DROP_STYLE)
    ax.set_title(f"{model.upper()} · {FAMILY_LABELS.get(family, family)}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.set_label(f"{PANEL_PREFIX}{family}/{model}")
    if bottom:
        ax.set_xlabel("ε = ‖ΔW‖₂ / ‖W‖₂")
    if left:
        ax.set_ylabel("Δ test accuracy (points)")


def build_perturbation_figure(
    perturbation: PerturbationRecords,
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
    families = _curve_families(runs)
    lines = _Lines(order, _cells(runs, keys))
    width, height = panel_size
    fig = Figure(figsize=(width * len(models) + 0.4, height * len(families) + 1.2), layout="constrained")
    grid = fig.subplots(len(families), len(models), squeeze=False, sharex=True, sharey=True)
    for row, family in enumerate(families):
        for col, model in enumerate(models):
            for regime in order:
                lines.draw(grid[row, col], family, model, regime)
            _label_panel(grid[row, col], family, model, bottom=row == len(families) - 1, left=col == 0)
    lines.set_limits(grid[0, 0])
    handles = lines.handles(models)
    legend_below(fig, handles, ncols=min(len(handles), 4))
    fig.suptitle(title or f"{task}: test accuracy under weight perturbations", fontsize=10)
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
    with their verdicts; what the lines and bands are."""
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
    lines.append(
        "Lines: the mean over seeds of the accuracy change on the grid's levels (a run's curve of a family with "
        "several directions is first the mean over them); bands: minimum to maximum over seeds; vertical dotted "
        f"lines: 10^(mean over seeds of log10 d/‖W‖₂) per regime; horizontal line: the {100 * DROP:g}-point drop."
    )
    return "\n".join(lines) + "\n"


def perturbation_figure_description(perturbation: PerturbationRecords, *, task: str) -> str:
    """Figure 7, what it is; the number of test examples from the task's perturbation records."""
    runs = {k: v for k, v in as_fragility(perturbation).items() if k[0] == task}
    families = _curve_families(runs)
    rows = "; ".join(FAMILY_LABELS.get(f, f) for f in families)
    if "adversarial" in families:
        rows += " (projected gradient ascent on the loss on training examples: a lower bound on the worst case)"
    return (
        "Test accuracy under weight perturbations (``figure7_perturbation`` rule) for every model of one task: the "
        f"change of test accuracy (points, perturbed − unperturbed, on {n_eval_text(runs)} test examples) against "
        f"ε = ‖ΔW‖₂/‖W‖₂ on a log axis; one row per family of directions, top to bottom: {rows}; one line per "
        "regime (mean over seeds, band from their minimum to maximum); the dotted vertical line in a regime's colour "
        f"is its predicted threshold d/‖W‖₂, the grey horizontal line the {100 * DROP:g}-point drop that defines ε₅.\n"
    )
