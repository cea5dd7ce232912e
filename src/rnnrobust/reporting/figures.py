"""The paper's figures from the per-run files of the workflow: pseudospectra (Figures 1–6), training
curves and eigenvalue portraits.

Every ``build_*_figure`` function returns a :class:`matplotlib.figure.Figure` made without pyplot (so no
global figure registry, no global style or backend change; the PNG/PDF writers are Agg-based), and the
matching ``plot_*`` function saves it as ``<out_stem>.png`` and ``<out_stem>.pdf`` atomically and returns
the two paths. The data panels of a figure carry the artist label ``"panel:<name>"``; :func:`panel_axes`
returns them (colour bars excluded), so the number of panels is checkable.

Conventions: one legend per figure, below the panels (``fig.legends``), never over the data; eigenvalues as
small outlined markers drawn above contours and the dashed unit circle; the panels of a figure share one axis
range (pseudospectra: unless ``zoom_per_panel``); each panel's title gives its matrix's spectral radius ρ;
epochs are integer ticks and log axes have plain labels. For rescaled runs the training curves show the
accuracy logged before each rescale and a star for the value after the final rescale (Table 1's number).

Seeds: a training curve of several seeds is their mean with a band from their minimum to their maximum, and its
values after the final rescale are drawn per seed as well as their mean; the pseudospectra and eigenvalue figures
show one seed by design (the config's ``figures.seed``), and their captions (``rnnrobust.reporting.captions``) say so.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from rnnrobust.io import PathLike, atomic_path, load_npz, read_json
from rnnrobust.layout import CELLS, block_keys

#: Line colour per cell of the training curves.
MODEL_COLOURS = {cell: f"C{i}" for i, cell in enumerate(CELLS)}
#: Line styles of the regimes of the training curves, in the regimes' order (cycled beyond six regimes): the first
#: regime (the config's baseline) solid, the second dashed, as in the paper's two regimes.
LINE_STYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
PANEL_PREFIX = "panel:"
# Markers on at most about this many epochs per curve: a one-epoch history shows, a 200-epoch one stays legible.
_CURVE_MARKS = 25

__all__ = [
    "Panel",
    "build_eigenvalues_figure",
    "build_pseudospectra_figure",
    "build_training_curves_figure",
    "colorbar_axes",
    "legend_below",
    "panel_axes",
    "panel_count",
    "plot_eigenvalues",
    "plot_pseudospectra",
    "plot_training_curves",
    "regime_colours",
    "regime_styles",
    "save_figure",
]


# --------------------------------------------------------------------------------------------------
# Shared helpers.


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


def regime_colours(regimes: Sequence[str]) -> dict[str, str]:
    """Colour of each regime where colour tells regimes apart (the perturbation figures), in order: the colours
    after the cells' (:data:`MODEL_COLOURS`), so that a colour never means a cell in one figure and a regime in
    another; cycled beyond seven regimes.

    >>> regime_colours(["a", "b"])
    {'a': 'C3', 'b': 'C4'}
    """
    order = list(dict.fromkeys(regimes))
    free = [f"C{i}" for i in range(len(MODEL_COLOURS), 10)]
    return {regime: free[i % len(free)] for i, regime in enumerate(order)}


def _grid(fig: Figure, n: int, ncols: int | None) -> list[Axes]:
    """``n`` axes in a grid of ``ncols`` columns (default: one row up to 4 panels, else rows of 4)."""
    if n < 1:
        raise ValueError("a figure needs at least one panel")
    ncols = min(n, ncols or 4)
    nrows = math.ceil(n / ncols)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        fig.delaxes(ax)
    return axes[:n]


# Eigenvalues: small hollow black circles, above the contours and the unit circle; the unit circle dashed grey.
_EIGENVALUE_STYLE = dict(color="k", linestyle="None", marker="o", markersize=3.5, markerfacecolor="none",
                         markeredgewidth=0.8, zorder=3, label="eigenvalues")  # fmt: skip
_CIRCLE_STYLE = dict(color="0.35", linestyle="--", linewidth=0.9, zorder=2, label="unit circle")
_CHANCE_STYLE = dict(color="0.45", linestyle=":", linewidth=1.0, zorder=1, label="chance (majority class)")
_GRID_EDGE_STYLE = dict(color="0.6", linestyle=":", linewidth=0.8, zorder=2, label="edge of the computed grid")


def _unit_circle(ax: Axes) -> None:
    theta = np.linspace(0.0, 2.0 * np.pi, 721)
    ax.plot(np.cos(theta), np.sin(theta), **_CIRCLE_STYLE)


def _block_rank(task: str, model: str, block: str) -> tuple[int, str]:
    try:
        order = block_keys(task, model)
    except KeyError:  # a task or cell the project does not know: its blocks sort by name
        order = ()
    return (order.index(block) if block in order else len(order), block)


def _model_rank(model: str) -> tuple[int, str]:
    return (CELLS.index(model) if model in CELLS else len(CELLS), model)


# --------------------------------------------------------------------------------------------------
# Pseudospectra.


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


def legend_below(fig: Figure, handles: Sequence[Any], ncols: int | None = None, fontsize: float = 8) -> None:
    """One legend for the whole figure, below its panels (constrained layout makes room for it)."""
    fig.legend(handles=list(handles), loc="outside lower center", ncols=ncols or len(handles), fontsize=fontsize,
               frameon=False)  # fmt: skip


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
    levels = sorted(float(v) for v in eps_log10)
    if not levels:
        raise ValueError("eps_log10 needs at least one level")
    vmin, vmax = (levels[0], levels[-1]) if len(levels) > 1 else (levels[0] - 0.5, levels[0] + 0.5)
    norm = Normalize(vmin=vmin, vmax=vmax)
    colour_map = colormaps[cmap]

    n = len(panels)
    cols = min(n, ncols or 4) if n else 1
    rows = math.ceil(n / cols) if n else 1
    height = panel_size * rows + (0.5 if title else 0.0) + 0.35  # + the legend below
    fig = Figure(figsize=(panel_size * cols + 1.2, height), layout="constrained")
    axes = _grid(fig, n, ncols)
    cache: dict[str, dict[str, np.ndarray]] = {}
    data = [_pseudospectrum_data(panel, cache) for panel in panels]
    shared = max((float(np.abs([x[0], x[-1], y[0], y[-1]]).max()) for x, y, _, _ in data), default=1.0)
    outlined = False
    for ax, panel, (x, y, sigma, eigs) in zip(axes, panels, data, strict=True):
        field = np.log10(np.maximum(np.asarray(sigma, dtype=float), np.finfo(float).tiny))
        if relative:
            scale = panel.norm()
            if not scale > 0:
                raise ValueError(f"relative levels need ‖W‖₂ > 0, got {scale} for {panel.title()!r}")
            field = field - math.log10(scale)
        with warnings.catch_warnings():
            # A level that the grid never reaches draws nothing; matplotlib warns about it.
            warnings.simplefilter("ignore", UserWarning)
            if filled:
                # The band between levels ε_{k−1} and ε_k takes the colour of ε_k (the line colour of ∂Λ_{ε_k}),
                # and the region below the lowest level that of the lowest level.
                bounds = [min(float(field.min()), levels[0]) - 1.0, *levels]
                ax.contourf(x, y, field, levels=bounds, colors=[colour_map(norm(v)) for v in levels], zorder=1)
            else:
                ax.contour(x, y, field, levels=levels, cmap=colour_map, norm=norm, linewidths=1.1, zorder=1)
        eigs = np.asarray(eigs).astype(complex)
        _unit_circle(ax)
        ax.plot(eigs.real, eigs.imag, **_EIGENVALUE_STYLE)
        x0, x1, y0, y1 = float(x[0]), float(x[-1]), float(y[0]), float(y[-1])
        if zoom_per_panel:
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

    mappable = ScalarMappable(norm=norm, cmap=colour_map)
    cbar = fig.colorbar(mappable, ax=axes, ticks=levels, shrink=0.9)
    cbar.set_label("log10 ε (relative: σ_min(zI − W) = ε·‖W‖₂)" if relative else "log10 ε")
    handles = [Line2D([], [], **_EIGENVALUE_STYLE), Line2D([], [], **_CIRCLE_STYLE)]
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
# Training curves.


def _seed_files(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [paths] if isinstance(paths, str | os.PathLike) else list(paths)


def _history(paths: PathLike | Sequence[PathLike], column: str) -> pd.DataFrame:
    """epoch -> one column per seed file (NaN where a run has no such epoch, e.g. after divergence)."""
    series = {}
    for i, path in enumerate(_seed_files(paths)):
        df = pd.read_csv(path)
        if column not in df.columns:
            raise KeyError(f"{path} has no column {column!r}; it has {list(df.columns)}")
        series[i] = df.set_index("epoch")[column].astype(float)
    return pd.DataFrame(series).sort_index()


def _has_rescale_columns(paths: PathLike | Sequence[PathLike]) -> bool:
    """Whether a history logs an epoch-end rescale (``radius_after/<block>`` columns, ``rnnrobust.training.stabilize``)."""
    return any(c.startswith("radius_after/") for path in _seed_files(paths) for c in pd.read_csv(path, nrows=0).columns)


def _metrics_files(paths: PathLike | Sequence[PathLike], model: str) -> list[dict[str, Any]]:
    """The metrics of each seed; a file of another model is refused (it would label the curve wrongly)."""
    out = []
    for path in _seed_files(paths):
        data = read_json(path)
        if data.get("model") not in (None, model):
            raise ValueError(f"{path} holds metrics of model {data.get('model')!r}, not {model!r}")
        out.append(data)
    return out


def _diverged_note(metrics: Sequence[Mapping[str, Any]]) -> str:
    """``" (diverged)"`` when every seed's metrics say diverged, ``" (k/n diverged)"`` when some do."""
    statuses = [m["status"] for m in metrics]
    diverged = statuses.count("diverged")
    if diverged == 0:
        return ""
    return " (diverged)" if diverged == len(statuses) else f" ({diverged}/{len(statuses)} diverged)"


def _after_final_rescale(metrics: Sequence[Mapping[str, Any]], column: str) -> list[float]:
    """Per seed ``metrics["test"][<column without "test_">]``, the value after the final rescale (NaN if absent)."""
    name = column.removeprefix("test_")
    return [float((m.get("test") or {}).get(name, math.nan)) for m in metrics]


def _curve_label(column: str) -> str:
    label = column.removeprefix("test_").replace("_", " ")
    return f"test {label} (%)" if _is_percent(column) else f"test {label}"


def _is_percent(column: str) -> bool:
    return "accuracy" in column or "exact_match" in column


def _plain(value: float, _pos: Any = None) -> str:
    """A log-axis tick label as a plain number: ``0.5``, ``2.31``, ``1e-05`` (never ``2.31 × 10⁰``)."""
    return f"{value:.3g}"


def _plain_log_axis(ax: Axes, low: float, high: float) -> None:
    """Log y axis with plain labels: decades always; when the data span less than a decade, matplotlib puts
    its minor ticks inside the range, and they are labelled with as many decimals as their spacing needs."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    if not (high > 0 and low > 0 and high / low < 10.0):
        ax.yaxis.set_minor_formatter(NullFormatter())
        return
    span = high - low if high > low else abs(high) or 1.0
    decimals = max(0, 1 - math.floor(math.log10(span)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _pos: f"{value:.{decimals}f}"))


_BAND_STYLE = dict(color="0.5", alpha=0.2, linewidth=0, label="band: min–max over seeds")


def build_training_curves_figure(
    histories: Mapping[tuple[str, str], PathLike | Sequence[PathLike]],
    *,
    task: str,
    metrics: Mapping[tuple[str, str], PathLike | Sequence[PathLike]] | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    regimes: Sequence[str] | None = None,
) -> Figure:
    """Test metrics against epoch (epoch 0 = initialisation) for one task, one panel per column.

    One line per key (model, regime): colour per model, line style per regime in the regimes' order
    (:func:`regime_styles`: the first solid, the second dashed, …), with markers, so that a run that stopped after
    its first epoch still shows. Accuracies are in %, the loss on a log axis (plain tick labels) when it is positive
    throughout; epochs are integers.

    **Seeds.** With several seeds per key the line is their mean and a band of the line's colour spans their
    minimum to maximum at each epoch (the legend says so); the legend gives n. An epoch that some seeds did not
    reach (a run that diverged) is the mean of those that did.

    **Rescaled regimes.** A regime has a final rescale when its metrics record the accuracy before it
    (``test_before_final_rescale``) or its history logs ``radius_after/<block>`` columns (``rnnrobust.training.stabilize``).
    Such a run is rescaled after each epoch's test evaluation (protocol §3.5): its line is the accuracy logged
    **before** each rescale (legend "…, before rescale"), and with ``metrics`` a star at its last epoch marks the
    mean value **after the final rescale** (``metrics.json["test"]``, the number of Table 1; legend "…, after final
    rescale"), with one small dot per seed when there are several.

    Parameters
    ----------
    histories
        (model, regime) -> history.csv, or one per seed.
    task
        The task, for titles and the default columns.
    metrics
        (model, regime) -> metrics.json (or one per seed, as ``histories``): a diverged run is labelled
        "(diverged)" in the legend, and a rescaled run gets its after-final-rescale star.
    columns
        History columns to plot; default ``test_accuracy`` and ``test_loss``, plus ``test_exact_match`` for the
        adding task.
    regimes
        The regimes' order (the config's), which sets their line styles; default: the order of ``histories``.
    """
    if columns is None:
        columns = ("test_accuracy", "test_loss", *(("test_exact_match",) if task == "adding" else ()))
    present = list(dict.fromkeys(k[1] for k in histories))
    order = list(dict.fromkeys([*(regimes or ()), *present]))
    styles = regime_styles(order)  # from the whole order, so that a regime keeps its style in every figure
    keys = sorted(histories, key=lambda k: (_model_rank(k[0]), order.index(k[1])))
    missing = [k for k in keys if metrics is not None and k not in metrics]
    if missing:
        raise KeyError(f"no metrics for {missing}; metrics are given for {sorted(metrics or {})}")
    run_metrics = {k: _metrics_files(metrics[k], k[0]) if metrics is not None else [] for k in keys}
    rescaled = {
        k: any("test_before_final_rescale" in m for m in run_metrics[k]) or _has_rescale_columns(histories[k])
        for k in keys
    }
    fig = Figure(figsize=(4.6 * len(columns), 4.3), layout="constrained")
    axes = _grid(fig, len(columns), len(columns))
    extra_colours = iter(f"C{i}" for i in range(len(MODEL_COLOURS), 10))
    colours = {m: MODEL_COLOURS.get(m) or next(extra_colours, "k") for m in dict.fromkeys(k[0] for k in keys)}
    banded = False
    for ax, column in zip(axes, columns, strict=True):
        shown: list[float] = []
        for model, regime in keys:
            key = (model, regime)
            data = _history(histories[key], column)
            scale = 100.0 if _is_percent(column) else 1.0
            data = scale * data
            mean = data.mean(axis=1)
            n = data.shape[1]
            label = f"{model.upper()} {regime}" + (f" (n={n})" if n > 1 else "") + _diverged_note(run_metrics[key])
            ax.plot(
                mean.index,
                mean.to_numpy(),
                color=colours[model],
                linestyle=styles[regime],
                marker="o",
                markersize=3,
                markevery=max(1, len(mean) // _CURVE_MARKS),
                label=label + (", before rescale" if rescaled[key] else ""),
                gid=model,
            )
            if n > 1:
                low, high = data.min(axis=1), data.max(axis=1)
                ax.fill_between(mean.index, low, high, **(_BAND_STYLE | {"color": colours[model], "label": None}))
                shown += list(low.to_numpy()) + list(high.to_numpy())
                banded = True
            shown += list(mean.to_numpy())
            after = [scale * v for v in _after_final_rescale(run_metrics[key], column)] if rescaled[key] else []
            finite = [v for v in after if math.isfinite(v)]
            if finite and len(mean):
                if len(after) > 1:  # every seed's value, at the epoch it ended
                    ends = [data[i].last_valid_index() for i in data.columns]
                    xs = [x if x is not None else mean.index[-1] for x in ends]
                    ax.plot(xs, after, linestyle="None", marker="o", markersize=3.5, color=colours[model],
                            markeredgecolor="k", markeredgewidth=0.4, zorder=4, gid=f"{model}/seeds",
                            label=f"{model.upper()} {regime}, after final rescale, per seed")  # fmt: skip
                ax.plot([mean.index[-1]], [float(np.mean(finite))], linestyle="None", marker="*", markersize=9,
                        color=colours[model], markeredgecolor="k", markeredgewidth=0.6, zorder=5,
                        label=f"{model.upper()} {regime}, after final rescale", gid=model)  # fmt: skip
                shown += finite
        if column == "test_accuracy" and any(run_metrics.values()):
            chance = [100.0 * float(m["chance_accuracy"]) for ms in run_metrics.values() for m in ms
                      if m.get("chance_accuracy") is not None]  # fmt: skip
            if chance:
                ax.axhline(float(np.mean(chance)), **_CHANCE_STYLE)
                shown.append(float(np.mean(chance)))
        finite = np.asarray([v for v in shown if math.isfinite(v)])
        if "loss" in column and finite.size and bool(np.all(finite > 0)):
            _plain_log_axis(ax, float(finite.min()), float(finite.max()))
        if _is_percent(column) and finite.size:
            low, high = float(finite.min()), float(finite.max())
            if high - low < 1.0:  # a flat curve: a 10-point window, not a zoom on rounding noise
                low, high = low - 5.0, high + 5.0
            pad = 0.05 * (high - low)
            ax.set_ylim(max(low - pad, -0.5), min(high + pad, 100.5))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(_curve_label(column))
        ax.set_title(f"{task}: {_curve_label(column)}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_label(f"{PANEL_PREFIX}{column}")
    # One legend column per model (its regimes, then its after-final-rescale stars), the chance line and the band
    # last.
    groups = [[line for line in axes[0].get_lines() if line.get_gid() == model] for model in colours]
    groups += [[*(line for line in axes[0].get_lines() if line.get_gid() is None), *([Patch(**_BAND_STYLE)] if banded
               else [])]]  # fmt: skip
    groups = [group for group in groups if group]
    depth = max(len(group) for group in groups)
    blank = {"linestyle": "None", "label": " "}
    handles = [h for group in groups for h in [*group, *(Line2D([], [], **blank) for _ in range(depth - len(group)))]]
    legend_below(fig, handles, ncols=len(groups))
    if title:
        fig.suptitle(title)
    return fig


def plot_training_curves(
    histories: Mapping[tuple[str, str], PathLike | Sequence[PathLike]],
    out_stem: PathLike,
    *,
    task: str,
    metrics: Mapping[tuple[str, str], PathLike | Sequence[PathLike]] | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    regimes: Sequence[str] | None = None,
) -> list[Path]:
    """:func:`build_training_curves_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    fig = build_training_curves_figure(
        histories, task=task, metrics=metrics, columns=columns, title=title, regimes=regimes
    )
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# Eigenvalues.


def _analysis(value: PathLike | Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else read_json(value)


def _eigenvalue_rows(task: str, model: str, blocks: Sequence[str]) -> list[list[str]]:
    """A model's blocks in rows of at most 4 panels: one row when they fit, else one row per layer."""
    ordered = sorted(blocks, key=lambda b: _block_rank(task, model, b))
    if len(ordered) <= 4:
        return [ordered]
    layers: dict[str, list[str]] = {}
    for block in ordered:
        layers.setdefault(block.split("/", 1)[0], []).append(block)
    return [row[i : i + 4] for row in layers.values() for i in range(0, len(row), 4)]


def build_eigenvalues_figure(
    analysis: Mapping[str, PathLike | Mapping[str, Any]],
    *,
    task: str,
    regime: str,
    seed: int | None = None,
    title: str | None = None,
    panel_size: float = 2.2,
) -> Figure:
    """Eigenvalues of every gate block for one task × regime, as small multiples: one small panel per block
    (``<layer>/<gate>``), rows per model (a model with more than 4 blocks, e.g. the adding task's LSTM with 8,
    takes one row per layer), every panel on the same square axes holding the unit disk and every eigenvalue.

    ``analysis`` maps model → the run's analysis JSON, or its loaded dict. Each panel draws the block's
    eigenvalues as small outlined markers in the model's colour above the dashed unit circle, and gives its
    spectral radius ρ in the title; one legend below the panels names the markers and the circle.
    """
    models = sorted(analysis, key=_model_rank)
    summaries = {model: _analysis(analysis[model]) for model in models}
    rows = [(model, row) for model in models for row in _eigenvalue_rows(task, model, list(summaries[model]))]
    if not rows:
        raise ValueError("a figure needs at least one panel")
    ncols = max(len(row) for _, row in rows)
    fig = Figure(figsize=(panel_size * ncols + 0.3, (panel_size + 0.15) * len(rows) + 0.7), layout="constrained")
    grid = fig.subplots(len(rows), ncols, squeeze=False)
    radius = 1.0
    for model in models:
        for summary in summaries[model].values():
            eig = np.asarray(summary["eigenvalues"], dtype=float).reshape(-1, 2)
            radius = max(radius, float(np.hypot(eig[:, 0], eig[:, 1]).max(initial=0.0)))
    lim = 1.08 * radius
    extra_colours = iter(f"C{i}" for i in range(len(MODEL_COLOURS), 10))
    colours = {m: MODEL_COLOURS.get(m) or next(extra_colours, "k") for m in models}
    for r, (model, row) in enumerate(rows):
        for c in range(ncols):
            ax = grid[r, c]
            if c >= len(row):
                fig.delaxes(ax)
                continue
            block = row[c]
            eig = np.asarray(summaries[model][block]["eigenvalues"], dtype=float).reshape(-1, 2)
            rho = float(np.hypot(eig[:, 0], eig[:, 1]).max(initial=0.0))
            _unit_circle(ax)
            ax.plot(eig[:, 0], eig[:, 1], **(_EIGENVALUE_STYLE | {"color": colours[model], "markeredgecolor": "k",
                    "markerfacecolor": colours[model], "markeredgewidth": 0.4, "alpha": 0.85}))  # fmt: skip
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            ax.set_xlabel("Re", fontsize=7, labelpad=1)
            if c == 0:
                ax.set_ylabel("Im", fontsize=7, labelpad=1)
            ax.set_title(f"{model.upper()} · {block}, ρ = {rho:.4g}", fontsize=8)
            ax.set_label(f"{PANEL_PREFIX}{model}/{block}")
    default = f"{task} · {regime}" + (f", seed {seed}" if seed is not None else "") + ": eigenvalues of each matrix"
    fig.suptitle(title or default, fontsize=10)
    handles = [Line2D([], [], **(_EIGENVALUE_STYLE | {"color": colours[m], "markerfacecolor": colours[m],
               "markeredgecolor": "k", "markeredgewidth": 0.4, "label": f"eigenvalues ({m.upper()})"}))
               for m in models]  # fmt: skip
    legend_below(fig, [*handles, Line2D([], [], **_CIRCLE_STYLE)])
    return fig


def plot_eigenvalues(
    analysis: Mapping[str, PathLike | Mapping[str, Any]],
    out_stem: PathLike,
    *,
    task: str,
    regime: str,
    seed: int | None = None,
    title: str | None = None,
) -> list[Path]:
    """:func:`build_eigenvalues_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    return save_figure(build_eigenvalues_figure(analysis, task=task, regime=regime, seed=seed, title=title), out_stem)
