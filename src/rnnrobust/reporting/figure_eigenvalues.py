"""Eigenvalue portraits (``figure_eigenvalues`` rule): the eigenvalues of every recurrent gate block of one task ×
regime as small multiples, and their report caption.

The figure shows one seed by design (the config's ``figures.seed``), which its caption says; the caption takes the
regime's stabilization settings from the runs' own metrics (``hyperparameters.stabilization``), so that a regime
that overrides them (an ablation such as ``stabilized_norm``) is captioned with its own. Conventions and helpers:
:mod:`rnnrobust.reporting.figure_style`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rnnrobust.config import TrainConfig
from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import CELLS
from rnnrobust.reporting.figure_style import (
    CIRCLE_STYLE,
    EIGENVALUE_STYLE,
    PANEL_PREFIX,
    eigenvalues_outside,
    legend_below,
    model_colours,
    one_seed_sentence,
    save_figure,
    unit_circle,
)
from rnnrobust.runs import block_rank, rank

__all__ = ["build_eigenvalues_figure", "eigenvalues_caption", "eigenvalues_description", "plot_eigenvalues"]

#: The options of a regime's stabilization that its caption names, in the caption's order.
_STABILIZATION_FIELDS = ("quantity", "gamma", "estimator", "n_iter")


def _analysis(value: PathLike | Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else read_json(value)


def _eigenvalue_rows(task: str, model: str, blocks: Sequence[str]) -> list[list[str]]:
    """A model's blocks in rows of at most 4 panels: one row when they fit, else one row per layer."""
    ordered = sorted(blocks, key=lambda b: block_rank(task, model, b))
    if len(ordered) <= 4:
        return [ordered]
    layers: dict[str, list[str]] = {}
    for block in ordered:
        layers.setdefault(block.split("/", 1)[0], []).append(block)
    return [row[i : i + 4] for row in layers.values() for i in range(0, len(row), 4)]


def _eigenvalues(summary: Mapping[str, Any]) -> np.ndarray:
    """A block's eigenvalues as rows ``[re, im]``."""
    return np.asarray(summary["eigenvalues"], dtype=float).reshape(-1, 2)


def _radius(eig: np.ndarray) -> float:
    return float(np.hypot(eig[:, 0], eig[:, 1]).max(initial=0.0))


def _marker_style(colour: str) -> dict[str, Any]:
    """The eigenvalue markers of one model: filled with its colour, outlined black."""
    return EIGENVALUE_STYLE | {"color": colour, "markerfacecolor": colour, "markeredgecolor": "k",
                               "markeredgewidth": 0.4}  # fmt: skip


def _draw_block(ax: Axes, model: str, block: str, eig: np.ndarray, colour: str, lim: float, first: bool) -> None:
    """One small panel: the unit circle, the block's eigenvalues, the shared square ±``lim``, ρ in the title."""
    unit_circle(ax)
    ax.plot(eig[:, 0], eig[:, 1], **(_marker_style(colour) | {"alpha": 0.85}))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("Re", fontsize=7, labelpad=1)
    if first:
        ax.set_ylabel("Im", fontsize=7, labelpad=1)
    ax.set_title(f"{model.upper()} · {block}, ρ = {_radius(eig):.4g}", fontsize=8)
    ax.set_label(f"{PANEL_PREFIX}{model}/{block}")


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
    models = sorted(analysis, key=lambda model: rank(model, CELLS))
    summaries = {model: _analysis(analysis[model]) for model in models}
    rows = [(model, row) for model in models for row in _eigenvalue_rows(task, model, list(summaries[model]))]
    if not rows:
        raise ValueError("a figure needs at least one panel")
    ncols = max(len(row) for _, row in rows)
    fig = Figure(figsize=(panel_size * ncols + 0.3, (panel_size + 0.15) * len(rows) + 0.7), layout="constrained")
    grid = fig.subplots(len(rows), ncols, squeeze=False)
    radius = max([1.0, *(_radius(_eigenvalues(s)) for model in models for s in summaries[model].values())])
    colours = model_colours(models)
    for r, (model, row) in enumerate(rows):
        for c in range(ncols):
            if c >= len(row):
                fig.delaxes(grid[r, c])
                continue
            eig = _eigenvalues(summaries[model][row[c]])
            _draw_block(grid[r, c], model, row[c], eig, colours[model], 1.08 * radius, first=c == 0)
    default = f"{task} · {regime}" + (f", seed {seed}" if seed is not None else "") + ": eigenvalues of each matrix"
    fig.suptitle(title or default, fontsize=10)
    handles = [Line2D([], [], **(_marker_style(colours[m]) | {"label": f"eigenvalues ({m.upper()})"})) for m in models]
    legend_below(fig, [*handles, Line2D([], [], **CIRCLE_STYLE)])
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


# --------------------------------------------------------------------------------------------------
# Caption.


def eigenvalues_caption(
    analyses: Mapping[str, PathLike], *, seed: int | None = None, dtypes: Mapping[str, str] | None = None
) -> str:
    """Eigenvalue figures, the numbers: per model the spectral radius of each gate block and the eigenvalues outside
    the unit circle (:func:`~rnnrobust.reporting.figure_style.eigenvalues_outside` in the precision of the model's
    weights, ``dtypes``: model -> ``metrics.json`` ``hyperparameters.dtype``; float32 for a model it lacks), then
    (when ``seed`` is given) the seed they show, one by design."""
    lines = []
    for model, path in analyses.items():
        data = read_json(path)
        blocks = ", ".join(f"{key} {value['spectral_radius']:.3g}" for key, value in data.items())
        dtype = (dtypes or {}).get(model, TrainConfig.dtype)
        outside = sum(eigenvalues_outside(v["eigenvalues"], dtype) for v in data.values())
        total = sum(len(value["eigenvalues"]) for value in data.values())
        lines.append(f"- {model}: ρ per block {blocks}; {outside} of {total} eigenvalues outside the unit circle.")
    tail = "\n" + one_seed_sentence([seed], "``table3_robustness``") if seed is not None else ""
    return "\n".join(lines) + "\n" + tail


def _stabilization_text(regime: str, metrics: Sequence[PathLike]) -> str:
    """What the weights of ``regime`` are, from the stabilization settings its runs recorded (``metrics.json``
    ``hyperparameters.stabilization``; none for a regime without a rescale)."""
    settings = [(read_json(path).get("hyperparameters") or {}).get("stabilization") for path in metrics]
    settings = [s for s in settings if s]
    if not settings:
        return f"The {regime} regime has no rescale: these are the weights as trained."
    value = {key: "/".join(dict.fromkeys(str(s.get(key)) for s in settings)) for key in _STABILIZATION_FIELDS}
    return (
        f"For the {regime} regime these are the weights after the final rescale, whose target is spectral "
        f"{value['quantity']} γ = {value['gamma']} per block as estimated by {value['estimator']} ({value['n_iter']} "
        "power iteration(s)); the exact ρ after the final rescale is in ``table1_detail``."
    )


def eigenvalues_description(metrics: Sequence[PathLike], *, regime: str, seed: int) -> str:
    """Eigenvalue figures, what they are: the seed shown, and what the weights of ``regime`` are, from its runs'
    own metrics (``metrics``: the ``metrics.json`` of the runs shown), never from the live config."""
    return (
        f"Eigenvalues of every recurrent gate block (``figure_eigenvalues`` rule), seed {seed}: one small panel per "
        "block, a row per model (one row per layer when a model has more than four blocks), all panels on the same "
        "axes, with the unit circle dashed; each title gives the block's spectral radius ρ. "
        f"{_stabilization_text(regime, metrics)}\n"
    )
