"""The paper's figures from the per-run files of the workflow: pseudospectra (Figures 1–6), training
curves and eigenvalue portraits.

Every ``build_*_figure`` function returns a :class:`matplotlib.figure.Figure` made without pyplot (so no
global figure registry, no global style or backend change; the PNG/PDF writers are Agg-based), and the
matching ``plot_*`` function saves it as ``<out_stem>.png`` and ``<out_stem>.pdf`` atomically and returns
the two paths. The data panels of a figure carry the artist label ``"panel:<name>"``; :func:`panel_axes`
returns them (colour bars excluded), so the number of panels is checkable.
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

from .io import atomic_path, load_npz, read_json
from .layout import CELLS, REGIMES, block_keys

PathLike = str | os.PathLike[str]

#: Line colour per cell and line style per regime (baseline solid, stabilized dashed) of the training curves.
MODEL_COLOURS = {cell: f"C{i}" for i, cell in enumerate(CELLS)}
REGIME_STYLES = dict(zip(REGIMES, ("-", "--"), strict=True))
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
    "panel_axes",
    "panel_count",
    "plot_eigenvalues",
    "plot_pseudospectra",
    "plot_training_curves",
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


def _unit_circle(ax: Axes) -> None:
    theta = np.linspace(0.0, 2.0 * np.pi, 721)
    ax.plot(np.cos(theta), np.sin(theta), color="0.35", linestyle="--", linewidth=0.9, label="unit circle")


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
) -> Figure:
    """EigTool-style pseudospectra, one panel per entry of ``panels``.

    Each panel draws the boundaries of Λ_ε = {z : σ_min(zI − W) ≤ ε} as contours of log10 σ_min, the
    eigenvalues as black dots and the unit circle dashed, at equal aspect; one colour bar "log10 ε" is shared
    by all panels (same colour = same ε in every panel).

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
    fig = Figure(figsize=(panel_size * cols + 1.2, panel_size * rows + (0.5 if title else 0.0)), layout="constrained")
    axes = _grid(fig, n, ncols)
    cache: dict[str, dict[str, np.ndarray]] = {}
    for ax, panel in zip(axes, panels, strict=True):
        x, y, sigma, eigs = _pseudospectrum_data(panel, cache)
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
                ax.contourf(x, y, field, levels=bounds, colors=[colour_map(norm(v)) for v in levels])
            else:
                ax.contour(x, y, field, levels=levels, cmap=colour_map, norm=norm, linewidths=1.2)
        eigs = np.asarray(eigs).astype(complex)
        ax.plot(eigs.real, eigs.imag, "k.", markersize=4, label="eigenvalues")
        _unit_circle(ax)
        ax.set_xlim(float(x[0]), float(x[-1]))
        ax.set_ylim(float(y[0]), float(y[-1]))
        ax.set_aspect("equal")
        ax.set_xlabel("Re")
        ax.set_ylabel("Im")
        ax.set_title(panel.title(), fontsize=9)
        ax.set_label(f"{PANEL_PREFIX}{panel.task}/{panel.model}/{panel.regime}/{panel.seed}/{panel.block}")

    mappable = ScalarMappable(norm=norm, cmap=colour_map)
    cbar = fig.colorbar(mappable, ax=axes, ticks=levels, shrink=0.9)
    cbar.set_label("log10 ε (relative: σ_min(zI − W) = ε·‖W‖₂)" if relative else "log10 ε")
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
) -> list[Path]:
    """:func:`build_pseudospectra_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    fig = build_pseudospectra_figure(
        panels, eps_log10=eps_log10, relative=relative, title=title, ncols=ncols, filled=filled
    )
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


def _diverged_note(paths: PathLike | Sequence[PathLike], model: str) -> str:
    """``" (diverged)"`` when every seed's metrics.json says diverged, ``" (k/n diverged)"`` when some do."""
    files = _seed_files(paths)
    statuses = []
    for path in files:
        data = read_json(path)
        # A metrics file paired with the wrong curve would label it wrongly: check that it is this model's.
        if data.get("model") not in (None, model):
            raise ValueError(f"{path} holds metrics of model {data.get('model')!r}, not {model!r}")
        statuses.append(data["status"])
    diverged = statuses.count("diverged")
    if diverged == 0:
        return ""
    return " (diverged)" if diverged == len(statuses) else f" ({diverged}/{len(statuses)} diverged)"


def _curve_label(column: str) -> str:
    label = column.removeprefix("test_").replace("_", " ")
    return f"test {label} (%)" if _is_percent(column) else f"test {label}"


def _is_percent(column: str) -> bool:
    return "accuracy" in column or "exact_match" in column


def build_training_curves_figure(
    histories: Mapping[tuple[str, str], PathLike | Sequence[PathLike]],
    *,
    task: str,
    metrics: Mapping[tuple[str, str], PathLike | Sequence[PathLike]] | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Test metrics against epoch (epoch 0 = initialisation) for one task, one panel per column.

    One line per key (model, regime): colour per model, solid baseline, dashed stabilized, with markers, so
    that a run that stopped after its first epoch still shows. Accuracies are in %, the loss on a log axis
    when it is positive throughout.

    Parameters
    ----------
    histories
        (model, regime) -> history.csv, or one per seed: the line is then the mean over seeds and a band
        spans min–max.
    task
        The task, for titles and the default columns.
    metrics
        (model, regime) -> metrics.json (or one per seed, as ``histories``): a diverged run is labelled
        "(diverged)" in the legend.
    columns
        History columns to plot; default ``test_accuracy`` and ``test_loss``, plus ``test_exact_match`` for the
        adding task.
    """
    if columns is None:
        columns = ("test_accuracy", "test_loss", *(("test_exact_match",) if task == "adding" else ()))
    keys = sorted(histories, key=lambda k: (_model_rank(k[0]), k[1] not in REGIME_STYLES, k[1]))
    missing = [k for k in keys if metrics is not None and k not in metrics]
    if missing:
        raise KeyError(f"no metrics for {missing}; metrics are given for {sorted(metrics or {})}")
    notes = {k: _diverged_note(metrics[k], k[0]) if metrics is not None else "" for k in keys}
    fig = Figure(figsize=(4.6 * len(columns), 3.6), layout="constrained")
    axes = _grid(fig, len(columns), len(columns))
    extra_colours = iter(f"C{i}" for i in range(len(MODEL_COLOURS), 10))
    colours = {m: MODEL_COLOURS.get(m) or next(extra_colours, "k") for m in dict.fromkeys(k[0] for k in keys)}
    for ax, column in zip(axes, columns, strict=True):
        positive = True
        for model, regime in keys:
            data = _history(histories[(model, regime)], column)
            if _is_percent(column):
                data = 100.0 * data
            mean = data.mean(axis=1)
            n = data.shape[1]
            label = f"{model.upper()} {regime}" + (f" (n={n})" if n > 1 else "") + notes[(model, regime)]
            style = REGIME_STYLES.get(regime, ":")
            ax.plot(
                mean.index,
                mean.to_numpy(),
                color=colours[model],
                linestyle=style,
                marker="o",
                markersize=3,
                markevery=max(1, len(mean) // _CURVE_MARKS),
                label=label,
            )
            if n > 1:
                ax.fill_between(mean.index, data.min(axis=1), data.max(axis=1), color=colours[model], alpha=0.15)
            finite = mean.to_numpy()[np.isfinite(mean.to_numpy())]
            positive = positive and bool(np.all(finite > 0))
        if "loss" in column and positive:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_curve_label(column))
        ax.set_title(f"{task}: {_curve_label(column)}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_label(f"{PANEL_PREFIX}{column}")
    axes[0].legend(fontsize=8)
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
) -> list[Path]:
    """:func:`build_training_curves_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    fig = build_training_curves_figure(histories, task=task, metrics=metrics, columns=columns, title=title)
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# Eigenvalues.


def _analysis(value: PathLike | Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else read_json(value)


def build_eigenvalues_figure(
    analysis: Mapping[str, PathLike | Mapping[str, Any]],
    *,
    task: str,
    regime: str,
    seed: int | None = None,
    title: str | None = None,
) -> Figure:
    """Eigenvalues of every gate block for one task × regime: one panel per model (key of ``analysis``:
    model → the run's analysis JSON, or its loaded dict), one marker and colour per block
    (``<layer>/<gate>``, legend), the unit circle dashed, equal aspect."""
    models = sorted(analysis, key=_model_rank)
    fig = Figure(figsize=(3.8 * min(len(models), 4) + 0.6, 3.9 * math.ceil(len(models) / 4)), layout="constrained")
    axes = _grid(fig, len(models), None)
    for ax, model in zip(axes, models, strict=True):
        summaries = _analysis(analysis[model])
        radius = 1.0
        for i, block in enumerate(sorted(summaries, key=lambda b: _block_rank(task, model, b))):
            eig = np.asarray(summaries[block]["eigenvalues"], dtype=float).reshape(-1, 2)
            radius = max(radius, float(np.hypot(eig[:, 0], eig[:, 1]).max(initial=0.0)))
            ax.scatter(eig[:, 0], eig[:, 1], s=14, marker=MARKERS[i % len(MARKERS)], color=f"C{i % 10}",
                       alpha=0.8, label=block, linewidths=0)  # fmt: skip
        _unit_circle(ax)
        lim = 1.1 * radius
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("Re")
        ax.set_ylabel("Im")
        ax.set_title(
            f"{task} · {model.upper()} · {regime}" + (f", seed {seed}" if seed is not None else ""), fontsize=9
        )
        ax.legend(fontsize=7, loc="upper right", markerscale=1.2)
        ax.set_label(f"{PANEL_PREFIX}{model}")
    if title:
        fig.suptitle(title)
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
