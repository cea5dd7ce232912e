"""Figures 1–6 (``figure_pseudospectra`` rule): EigTool-style ε-pseudospectra of one recurrent matrix per panel,
and their report caption.

The panels of a figure share one axis range (unless ``zoom_per_panel``), each panel's title gives its matrix's
spectral radius ρ, and the figure shows one seed by design (the config's ``figures.seed``), which its caption says.
Conventions and helpers: :mod:`rnnrobust.reporting.figure_style`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rnnrobust.io import PathLike, load_npz, read_json
from rnnrobust.layout import RunKey, run_stem
from rnnrobust.reporting.figure_style import (
    CIRCLE_STYLE,
    EIGENVALUE_STYLE,
    PANEL_PREFIX,
    eigenvalues_outside,
    legend_below,
    one_seed_sentence,
    panel_grid,
    save_figure,
    unit_circle,
)

__all__ = [
    "Panel",
    "block_summary",
    "build_pseudospectra_figure",
    "plot_pseudospectra",
    "pseudospectra_caption",
    "pseudospectra_description",
]

_GRID_EDGE_STYLE = dict(color="0.6", linestyle=":", linewidth=0.8, zorder=2, label="edge of the computed grid")


@dataclass(frozen=True)
class Panel:
    """One pseudospectrum panel: block ``block`` (``"<layer>/<gate>"``) of the run (task, model, regime, seed),
    read from the pseudospectra file ``npz_path``.

    ‖W‖₂ is only needed for relative levels (``relative=True``) and is not stored in the npz: give it as
    ``spectral_norm``, or give ``analysis_path`` (the run's analysis JSON) to read ``spectral_norm`` there.
    """

    task: str
    model: str
    regime: str
    seed: int
    block: str
    npz_path: PathLike
    spectral_norm: float | None = None
    analysis_path: PathLike | None = None

    def norm(self) -> float:
        """‖W‖₂ of the block, from ``spectral_norm`` or else the analysis JSON."""
        if self.spectral_norm is not None:
            return float(self.spectral_norm)
        if self.analysis_path is None:
            raise ValueError(
                f"relative levels need ‖W‖₂ of {self.title()}: give Panel.spectral_norm or Panel.analysis_path"
            )
        summary = read_json(self.analysis_path)
        if self.block not in summary:
            raise KeyError(f"{self.analysis_path} has no block {self.block!r}; it has {sorted(summary)}")
        return float(summary[self.block]["spectral_norm"])

    def title(self) -> str:
        """Panel title: task, model, block; regime and seed."""
        return f"{self.task} · {self.model.upper()} · {self.block}\n{self.regime}, seed {self.seed}"


def _pseudospectrum_data(panel: Panel, cache: dict[str, dict[str, np.ndarray]]) -> tuple[np.ndarray, ...]:
    key = str(panel.npz_path)
    if key not in cache:
        cache[key] = load_npz(panel.npz_path)
    arrays = cache[key]
    names = [f"{panel.block}/{part}" for part in ("x", "y", "sigma_min", "eigenvalues")]
    missing = [n for n in names if n not in arrays]
    if missing:
        blocks = sorted({k.rsplit("/", 1)[0] for k in arrays})
        raise KeyError(f"{panel.npz_path} has no {missing}; its blocks are {blocks}")
    x, y, sigma, eigs = (arrays[n] for n in names)
    if sigma.shape != (len(y), len(x)):
        raise ValueError(f"{panel.npz_path}: {names[2]} has shape {sigma.shape}, not (len(y), len(x))")
    return x, y, sigma, eigs


@dataclass(frozen=True)
class _Contours:
    """How every panel of one figure draws its contours: the levels log10 ε, their colours, filled or lines."""

    levels: list[float]
    norm: Normalize
    colour_map: Colormap
    relative: bool
    filled: bool

    @classmethod
    def of(cls, eps_log10: Sequence[float], cmap: str, relative: bool, filled: bool) -> _Contours:
        levels = sorted(float(v) for v in eps_log10)
        if not levels:
            raise ValueError("eps_log10 needs at least one level")
        vmin, vmax = (levels[0], levels[-1]) if len(levels) > 1 else (levels[0] - 0.5, levels[0] + 0.5)
        return cls(levels, Normalize(vmin=vmin, vmax=vmax), colormaps[cmap], relative, filled)

    def draw(self, ax: Axes, panel: Panel, x: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> None:
        """Contours of log10 σ_min (relative: of log10(σ_min / ‖W‖₂)) at the levels."""
        field = np.log10(np.maximum(np.asarray(sigma, dtype=float), np.finfo(float).tiny))
        if self.relative:
            scale = panel.norm()
            if not scale > 0:
                raise ValueError(f"relative levels need ‖W‖₂ > 0, got {scale} for {panel.title()!r}")
            field = field - math.log10(scale)
        with warnings.catch_warnings():
            # A level that the grid never reaches draws nothing; matplotlib warns about it.
            warnings.simplefilter("ignore", UserWarning)
            if self.filled:
                # The band between levels ε_{k−1} and ε_k takes the colour of ε_k (the line colour of ∂Λ_{ε_k}),
                # and the region below the lowest level that of the lowest level.
                bounds = [min(float(field.min()), self.levels[0]) - 1.0, *self.levels]
                colours = [self.colour_map(self.norm(v)) for v in self.levels]
                ax.contourf(x, y, field, levels=bounds, colors=colours, zorder=1)
            else:
                ax.contour(x, y, field, levels=self.levels, cmap=self.colour_map, norm=self.norm, linewidths=1.1,
                           zorder=1)  # fmt: skip


def _draw_panel(
    ax: Axes, panel: Panel, data: tuple[np.ndarray, ...], contours: _Contours, shared: float | None
) -> bool:
    """One panel: contours, unit circle, eigenvalues, limits (``shared``: the square of every panel, else the
    panel's own grid) and title; whether the panel's grid is outlined inside the shared square."""
    x, y, sigma, eigs = data
    contours.draw(ax, panel, x, y, sigma)
    eigs = np.asarray(eigs).astype(complex)
    unit_circle(ax)
    ax.plot(eigs.real, eigs.imag, **EIGENVALUE_STYLE)
    x0, x1, y0, y1 = float(x[0]), float(x[-1]), float(y[0]), float(y[-1])
    outlined = False
    if shared is None:
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    else:
        ax.set_xlim(-shared, shared)
        ax.set_ylim(-shared, shared)
        if max(abs(x0), abs(x1), abs(y0), abs(y1)) < shared * (1 - 1e-9):
            ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], **_GRID_EDGE_STYLE)
            outlined = True
    ax.set_aspect("equal")
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    radius = float(np.abs(eigs).max(initial=0.0))
    ax.set_title(f"{panel.title()}, ρ = {radius:.4g}", fontsize=9)
    ax.set_label(f"{PANEL_PREFIX}{panel.task}/{panel.model}/{panel.regime}/{panel.seed}/{panel.block}")
    return outlined


def build_pseudospectra_figure(
    panels: Sequence[Panel],
    *,
    eps_log10: Sequence[float],
    relative: bool = False,
    title: str | None = None,
    ncols: int | None = None,
    filled: bool = False,
    cmap: str = "viridis",
    panel_size: float = 3.4,
    zoom_per_panel: bool = False,
) -> Figure:
    """EigTool-style pseudospectra, one panel per entry of ``panels``.

    Each panel draws the boundaries of Λ_ε = {z : σ_min(zI − W) ≤ ε} as contours of log10 σ_min, the
    eigenvalues as small hollow markers above the contours (so that the smallest contours around them stay
    visible) and the unit circle dashed, at equal aspect; its title gives the spectral radius ρ. One colour bar
    "log10 ε" is shared by all panels (same colour = same ε in every panel) and one legend below them names
    the markers and the unit circle.

    Parameters
    ----------
    panels
        The matrices to draw, in order; one row up to 4 panels, else rows of ``ncols`` (default 4).
    eps_log10
        Contour levels log10 ε (the config's ``analysis.eps_log10``).
    relative
        Draw the levels ε·‖W‖₂ of each block instead (contours of log10(σ_min / ‖W‖₂)), which makes matrices of
        different scale comparable (Λ_ε(W/c) = Λ_{cε}(W)/c, protocol §3); ‖W‖₂ comes from :meth:`Panel.norm`.
    filled
        Filled regions instead of lines.
    zoom_per_panel
        Each panel spans its own grid; by default every panel spans the same square, that of the largest grid,
        so that sizes compare across panels (a smaller grid is outlined, dotted: no contour is computed outside).
    """
    contours = _Contours.of(eps_log10, cmap, relative, filled)
    n = len(panels)
    cols = min(n, ncols or 4) if n else 1
    rows = math.ceil(n / cols) if n else 1
    height = panel_size * rows + (0.5 if title else 0.0) + 0.35  # + the legend below
    fig = Figure(figsize=(panel_size * cols + 1.2, height), layout="constrained")
    axes = panel_grid(fig, n, ncols)
    cache: dict[str, dict[str, np.ndarray]] = {}
    data = [_pseudospectrum_data(panel, cache) for panel in panels]
    shared = max((float(np.abs([x[0], x[-1], y[0], y[-1]]).max()) for x, y, _, _ in data), default=1.0)
    outlined = False
    for ax, panel, arrays in zip(axes, panels, data, strict=True):
        outlined |= _draw_panel(ax, panel, arrays, contours, None if zoom_per_panel else shared)

    mappable = ScalarMappable(norm=contours.norm, cmap=contours.colour_map)
    cbar = fig.colorbar(mappable, ax=axes, ticks=contours.levels, shrink=0.9)
    cbar.set_label("log10 ε (relative: σ_min(zI − W) = ε·‖W‖₂)" if relative else "log10 ε")
    handles = [Line2D([], [], **EIGENVALUE_STYLE), Line2D([], [], **CIRCLE_STYLE)]
    if outlined:
        handles.append(Line2D([], [], **_GRID_EDGE_STYLE))
    legend_below(fig, handles)
    if title:
        fig.suptitle(title)
    return fig


def plot_pseudospectra(
    panels: Sequence[Panel],
    out_stem: PathLike,
    *,
    eps_log10: Sequence[float],
    relative: bool = False,
    title: str | None = None,
    ncols: int | None = None,
    filled: bool = False,
    zoom_per_panel: bool = False,
) -> list[Path]:
    """:func:`build_pseudospectra_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    fig = build_pseudospectra_figure(
        panels, eps_log10=eps_log10, relative=relative, title=title, ncols=ncols, filled=filled,
        zoom_per_panel=zoom_per_panel,
    )  # fmt: skip
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# Caption.


def block_summary(summary: dict[str, Any]) -> str:
    """One matrix: ρ, ‖W‖₂, Henrici (absolute and relative), distance to instability, eigenvalues outside."""
    eigenvalues = summary["eigenvalues"]
    return (
        f"ρ = {summary['spectral_radius']:.3g}, ‖W‖₂ = {summary['spectral_norm']:.3g}, "
        f"Henrici {summary['henrici']:.3g} (relative {summary['henrici_relative']:.3g}), "
        f"distance to instability {summary['distance_to_instability']:.3g}, "
        f"{eigenvalues_outside(eigenvalues)} of {len(eigenvalues)} eigenvalues outside the unit circle"
    )


def pseudospectra_caption(panels: list[tuple[RunKey, str, PathLike]]) -> str:
    """Figures 1–6, the numbers: per panel (run, block ``<layer>/<gate>``, analysis JSON) the numbers of its
    matrix, then the seed they show (one, by design)."""
    lines = []
    for run, block, analysis in panels:
        summary = read_json(analysis)[block]
        lines.append(f"- {run_stem(*run)}, matrix {block}: {block_summary(summary)}.")
    return "\n".join(lines) + "\n\n" + one_seed_sentence([run[3] for run, _, _ in panels], "``table3_robustness``")


def pseudospectra_description(runs: Sequence[RunKey], *, eps_log10: Sequence[float]) -> str:
    """Figures 1–6, what they are: the panels of ``runs`` and their contour levels ``eps_log10`` (those the job
    drew, the config's ``analysis.eps_log10``), the seed from the runs themselves."""
    seeds = ", ".join(str(seed) for seed in sorted({run[3] for run in runs}))
    return (
        "ε-pseudospectra (``figure_pseudospectra`` rule) of the recurrent matrix chosen in ``figures`` of the config, "
        f"one panel per model, seed {seeds}: contours of log10 σ_min(zI − W) at log10 ε ∈ {list(eps_log10)} (colour "
        "bar), eigenvalues as small hollow circles drawn above the contours, the unit circle dashed. All panels of a "
        "figure share one axis range, that of the largest grid; a dotted square marks a smaller panel's grid, "
        "outside which nothing was computed. Each title gives the matrix's spectral radius ρ. Figures 1–3: after "
        "plain training (paper Figures 1–3); Figures 4–6: the weights after the final end-of-epoch rescale of the "
        "stabilized regime (paper Figures 4–6). ρ, ρ_ε, the distance to instability and the Kreiss bound of every "
        "run are in ``table3_robustness``.\n"
    )
