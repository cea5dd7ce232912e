"""The conventions every figure of the report shares, and the helpers that draw and save them.

Every ``build_*_figure`` function of the ``figure_*`` modules returns a :class:`matplotlib.figure.Figure` made
without pyplot (so no global figure registry, no global style or backend change; the PNG/PDF writers are
Agg-based), and the matching ``plot_*`` function saves it with :func:`save_figure` as ``<out_stem>.png`` and
``<out_stem>.pdf`` atomically and returns the two paths. The data panels of a figure carry the artist label
``"panel:<name>"``; :func:`panel_axes` returns them (colour bars excluded), so the number of panels is checkable.

Conventions: one legend per figure, below the panels (:func:`legend_below`), never over the data; eigenvalues as
small outlined markers drawn above contours and the dashed unit circle; colour tells cells apart
(:data:`MODEL_COLOURS`) where it does not tell regimes apart (:func:`regime_colours`), and a line style tells
regimes apart (:func:`regime_styles`); log axes have plain labels (:func:`plain_log_axis`).

Each figure job writes its whole report caption (:func:`report_caption`: what the figure is, then the numbers of
the runs it shows) into its ``.caption.rst``, from the data's own records, never from the live config.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from rnnrobust.config import TrainConfig
from rnnrobust.io import PathLike, atomic_path
from rnnrobust.layout import CELLS, stability

__all__ = [
    "CIRCLE_STYLE",
    "EIGENVALUE_STYLE",
    "LINE_STYLES",
    "MARKERS",
    "MODEL_COLOURS",
    "PANEL_PREFIX",
    "colorbar_axes",
    "eigenvalues_outside",
    "legend_below",
    "model_colours",
    "one_seed_sentence",
    "panel_axes",
    "panel_count",
    "panel_grid",
    "plain_log_axis",
    "regime_colours",
    "regime_styles",
    "report_caption",
    "save_figure",
    "unit_circle",
]

#: Line colour per cell of the training curves (and marker colour of the eigenvalue figures).
MODEL_COLOURS = {cell: f"C{i}" for i, cell in enumerate(CELLS)}
#: Line styles of the regimes of the training curves, in the regimes' order (cycled beyond six regimes): the first
#: regime (the config's baseline) solid, the second dashed, as in the paper's two regimes.
LINE_STYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
#: Marker of each cell where a marker tells cells apart (Figure 8), in the cells' order.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
#: Label prefix of a figure's data panels (:func:`panel_axes`).
PANEL_PREFIX = "panel:"

#: Eigenvalues: small hollow black circles, above the contours and the unit circle.
EIGENVALUE_STYLE = dict(color="k", linestyle="None", marker="o", markersize=3.5, markerfacecolor="none",
                        markeredgewidth=0.8, zorder=3, label="eigenvalues")  # fmt: skip
#: The unit circle: dashed grey, below the eigenvalues.
CIRCLE_STYLE = dict(color="0.35", linestyle="--", linewidth=0.9, zorder=2, label="unit circle")


def panel_axes(fig: Figure) -> list[Axes]:
    """The data panels of a figure made here (not colour bars), in drawing order."""
    return [ax for ax in fig.axes if ax.get_label().startswith(PANEL_PREFIX)]


def panel_count(fig: Figure) -> int:
    """Number of data panels of a figure made here."""
    return len(panel_axes(fig))


def colorbar_axes(fig: Figure) -> list[Axes]:
    """The colour-bar axes of a figure (matplotlib labels them ``"<colorbar>"``)."""
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def save_figure(fig: Figure, out_stem: PathLike, formats: Sequence[str] = ("png", "pdf"), dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``<out_stem>.<format>`` for each format, each atomically; returns the paths."""
    stem = Path(out_stem)
    paths = []
    for fmt in formats:
        target = stem.parent / f"{stem.name}.{fmt}"
        # No creation date in the PDF, so that the same data give the same bytes.
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        with atomic_path(target, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata, bbox_inches="tight", pad_inches=0.08)
        paths.append(target)
    return paths


def regime_styles(regimes: Sequence[str]) -> dict[str, Any]:
    """Line style of each regime, in order, cycling through :data:`LINE_STYLES`.

    >>> regime_styles(["a", "b", "c"])
    {'a': '-', 'b': '--', 'c': '-.'}
    """
    order = list(dict.fromkeys(regimes))
    return {regime: LINE_STYLES[i % len(LINE_STYLES)] for i, regime in enumerate(order)}


def _free_colours() -> list[str]:
    """The colours after the cells' (:data:`MODEL_COLOURS`) in matplotlib's cycle."""
    return [f"C{i}" for i in range(len(MODEL_COLOURS), 10)]


def regime_colours(regimes: Sequence[str]) -> dict[str, str]:
    """Colour of each regime where colour tells regimes apart (the perturbation figures), in order: the colours
    after the cells' (:data:`MODEL_COLOURS`), so that a colour never means a cell in one figure and a regime in
    another; cycled beyond seven regimes.

    >>> regime_colours(["a", "b"])
    {'a': 'C3', 'b': 'C4'}
    """
    order = list(dict.fromkeys(regimes))
    free = _free_colours()
    return {regime: free[i % len(free)] for i, regime in enumerate(order)}


def model_colours(models: Iterable[str]) -> dict[str, str]:
    """Colour of each model: its cell's (:data:`MODEL_COLOURS`), else the next free colour (black when none is).

    >>> model_colours(["gru", "mystery", "rnn"])
    {'gru': 'C2', 'mystery': 'C3', 'rnn': 'C0'}
    """
    extra = iter(_free_colours())
    return {model: MODEL_COLOURS.get(model) or next(extra, "k") for model in dict.fromkeys(models)}


def panel_grid(fig: Figure, n: int, ncols: int | None) -> list[Axes]:
    """``n`` axes in a grid of ``ncols`` columns (default: one row up to 4 panels, else rows of 4)."""
    if n < 1:
        raise ValueError("a figure needs at least one panel")
    ncols = min(n, ncols or 4)
    nrows = math.ceil(n / ncols)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        fig.delaxes(ax)
    return axes[:n]


def legend_below(fig: Figure, handles: Sequence[Any], ncols: int | None = None, fontsize: float = 8) -> None:
    """One legend for the whole figure, below its panels (constrained layout makes room for it)."""
    fig.legend(handles=list(handles), loc="outside lower center", ncols=ncols or len(handles), fontsize=fontsize,
               frameon=False)  # fmt: skip


def unit_circle(ax: Axes) -> None:
    """The unit circle, dashed (:data:`CIRCLE_STYLE`)."""
    theta = np.linspace(0.0, 2.0 * np.pi, 721)
    ax.plot(np.cos(theta), np.sin(theta), **CIRCLE_STYLE)


def _plain(value: float, _pos: Any = None) -> str:
    """A log-axis tick label as a plain number: ``0.5``, ``2.31``, ``1e-05`` (never ``2.31 × 10⁰``)."""
    return f"{value:.3g}"


def plain_log_axis(ax: Axes, which: str = "y", low: float | None = None, high: float | None = None) -> None:
    """A log ``which`` axis (``"x"`` or ``"y"``) with plain tick labels (``0.001``, never ``10⁻³``) at the decades.

    Given the range ``low``–``high`` of the data and when it spans less than a decade, matplotlib puts its minor
    ticks inside the range; they are then labelled too, with as many decimals as their spacing needs.
    """
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(_plain))
    if low is None or high is None or not (high > 0 and low > 0 and high / low < 10.0):
        axis.set_minor_formatter(NullFormatter())
        return
    span = high - low if high > low else abs(high) or 1.0
    decimals = max(0, 1 - math.floor(math.log10(span)))
    axis.set_minor_formatter(FuncFormatter(lambda value, _pos: f"{value:.{decimals}f}"))


# --------------------------------------------------------------------------------------------------
# Captions.


def report_caption(description: str, summary: str) -> str:
    """A figure's whole report caption: what it shows, then the numbers of the runs it shows ("This run:").

    >>> print(report_caption("A figure.", "- one run.\\n"), end="")
    A figure.
    <BLANKLINE>
    This run:
    <BLANKLINE>
    - one run.
    """
    return f"{description.rstrip()}\n\nThis run:\n\n{summary}"


def one_seed_sentence(seeds: Iterable[int], where: str) -> str:
    """The sentence that says a figure shows one seed by design, and where the other seeds are.

    >>> one_seed_sentence([0], "``table3_robustness``")
    "One seed by design (config ``figures.seed``): seed 0; every seed's numbers are in ``table3_robustness``.\\n"
    """
    shown = ", ".join(str(seed) for seed in sorted(set(seeds)))
    return f"One seed by design (config ``figures.seed``): seed {shown}; every seed's numbers are in {where}.\n"


def eigenvalues_outside(eigenvalues: Iterable[Sequence[float]], dtype: str = TrainConfig.dtype) -> int:
    """How many eigenvalues (rows ``[re, im]``) lie outside the unit circle: :func:`rnnrobust.layout.stability`
    ``"unstable"`` in the precision ``dtype`` of the weights (default: the float32 of Keras-faithful training,
    ``rnnrobust.config.TrainConfig``'s), so that one within 4 machine epsilons of the circle is not counted.

    >>> eigenvalues_outside([[0.5, 0.0], [0.0, 1.2], [1.0, 0.0], [1 + 5e-8, 0.0]])
    1
    >>> eigenvalues_outside([[1 + 5e-8, 0.0]], "float64")
    1
    """
    return sum(1 for re, im in eigenvalues if stability(math.hypot(re, im), dtype) == "unstable")
