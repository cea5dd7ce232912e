"""One analysed network (``python -m rnnrobust.analyze --out``): an EigTool-style figure per recurrent layer and a
self-contained HTML page.

Each figure has one panel per gate block of the layer, all on the layer's grid (one square for all panels), drawn
as Figures 1–6 are (:mod:`rnnrobust.reporting.figure_pseudospectra`: contours of log10 σ_min(zI − W), one
colour bar of log10 ε for the figure, eigenvalues as small hollow circles above them, the unit circle dashed,
one legend below). matplotlib is imported only to draw (``pip install 'rnnrobust[plot]'``), so that the page
is written without it, saying so (:data:`MATPLOTLIB_MISSING`). The page holds each layer's table as the command
printed it and its figure as an embedded PNG (a data URI): one file, nothing to fetch.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnrobust.io import PathLike

__all__ = [
    "MATPLOTLIB_MISSING",
    "BlockPanel",
    "build_layer_figure",
    "file_stem",
    "layer_panels",
    "network_page",
    "plot_layer",
]

#: The one line that replaces the figures where matplotlib is not installed.
MATPLOTLIB_MISSING = "figures skipped: matplotlib is missing (pip install 'rnnrobust[plot]')"


@dataclass(frozen=True)
class BlockPanel:
    """One block's panel: its ``label`` (``<layer>/<gate> (project gate)``), the grid axes ``x`` and ``y``,
    ``sigma_min`` (len(y) × len(x)) and its eigenvalues."""

    label: str
    x: np.ndarray
    y: np.ndarray
    sigma_min: np.ndarray
    eigenvalues: np.ndarray


def layer_panels(grids: Mapping[str, np.ndarray], labels: Mapping[str, str]) -> list[BlockPanel]:
    """The panels of the blocks ``labels`` (key → label) from grids keyed ``<key>/x``, ``/y``, ``/sigma_min``,
    ``/eigenvalues`` (``rnnrobust.robustness.analysis.pseudospectrum_grids``), in the order of ``labels``."""
    return [
        BlockPanel(label, *(np.asarray(grids[f"{key}/{part}"]) for part in ("x", "y", "sigma_min", "eigenvalues")))
        for key, label in labels.items()
    ]


def file_stem(layer: str) -> str:
    """A file name for a layer's figure: its name with anything but letters, digits, ``.``, ``_`` and ``-``
    replaced by ``_``.

    >>> file_stem("encoder.lstm.l0_reverse"), file_stem("a/b c")
    ('encoder.lstm.l0_reverse', 'a_b_c')
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", layer).lstrip(".") or "layer"


def build_layer_figure(panels: Sequence[BlockPanel], title: str, eps_log10: Sequence[float], panel_size: float = 3.2):
    """The layer's figure (a :class:`matplotlib.figure.Figure`, made without pyplot): one panel per block."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from rnnrobust.reporting.figure_pseudospectra import _Contours  # Figures 1–6's contour drawing
    from rnnrobust.reporting.figure_style import (
        CIRCLE_STYLE,
        EIGENVALUE_STYLE,
        PANEL_PREFIX,
        legend_below,
        panel_grid,
        unit_circle,
    )  # fmt: skip

    contours = _Contours.of(eps_log10, "viridis", relative=False, filled=False)
    cols = min(len(panels), 4)
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(panel_size * cols + 1.2, panel_size * rows + 0.85), layout="constrained")
    axes = panel_grid(fig, len(panels), None)
    for ax, panel in zip(axes, panels, strict=True):
        contours.draw(ax, None, panel.x, panel.y, panel.sigma_min)  # absolute levels: no panel norm needed
        unit_circle(ax)
        eigs = np.asarray(panel.eigenvalues).astype(complex)
        ax.plot(eigs.real, eigs.imag, **EIGENVALUE_STYLE)
        ax.set_xlim(float(panel.x[0]), float(panel.x[-1]))
        ax.set_ylim(float(panel.y[0]), float(panel.y[-1]))
        ax.set_aspect("equal")
        ax.set_xlabel("Re")
        ax.set_ylabel("Im")
        ax.set_title(f"{panel.label}\nρ = {float(np.abs(eigs).max(initial=0.0)):.4g}", fontsize=9)
        ax.set_label(f"{PANEL_PREFIX}{panel.label}")
    bar = fig.colorbar(ScalarMappable(norm=contours.norm, cmap=contours.colour_map), ax=axes, ticks=contours.levels,
                       shrink=0.9)  # fmt: skip
    bar.set_label("log10 ε")
    legend_below(fig, [Line2D([], [], **EIGENVALUE_STYLE), Line2D([], [], **CIRCLE_STYLE)])
    fig.suptitle(title, fontsize=10)
    return fig


def plot_layer(panels: Sequence[BlockPanel], out_stem: PathLike, title: str, eps_log10: Sequence[float]) -> list[Path]:
    """:func:`build_layer_figure` saved as ``<out_stem>.png`` and ``.pdf`` (PNG first); returns the paths."""
    from rnnrobust.reporting.figure_style import save_figure

    return save_figure(build_layer_figure(panels, title, eps_log10), out_stem)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{font-size:0.8rem;overflow-x:auto;background:#f6f6f6;padding:0.6rem}img{max-width:100%}
.note{color:#555}dt{font-weight:600}"""

_MEANINGS = [
    ("rho", "spectral radius ρ(W): max |λ|; above 1 the linear recurrence grows"),
    ("||A||", "spectral norm ‖W‖₂: the largest one-step amplification"),
    ("dep, dep/||A||F", "Henrici departure from normality, absolute and relative to ‖W‖_F (0: normal)"),
    ("kappa(V)", "condition number of the eigenvector matrix (1: normal, inf: defective)"),
    ("d_DT", "distance to instability (discrete time): the smallest perturbation that puts an eigenvalue on |z| = 1"),
    ("rho_eps(ε)", "ε-pseudospectral radius: max |z| over the eigenvalues of every W + E with ‖E‖₂ ≤ ε"),
    ("K_lb", "a lower bound of the Kreiss constant: transient growth max_k ‖W^k‖ is at least this"),
    ("max||A^k||, k*", "the largest norm of a power of W, and the power k that attains it"),
]


def network_page(
    record: Mapping[str, Any], tables: Mapping[str, str], figures: Mapping[str, PathLike], notes: Sequence[str] = ()
) -> str:
    """The self-contained HTML page of an analysed network: per layer its heading, its table and its figure (PNG
    embedded as a data URI; ``figures`` maps layer name → PNG path, empty where none was drawn), then what each
    column means; ``notes`` are shown on top (e.g. :data:`MATPLOTLIB_MISSING`)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>rnnrobust · {esc(Path(record['file']).name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Robustness of {esc(Path(record['file']).name)}</h1>",
        f"<p>{esc(record['format'])}, read from <code>{esc(record['file'])}</code>; ε = "
        f"{esc(', '.join(f'{e:g}' for e in record['eps']))}; rnnrobust {esc(str(record['rnnrobust']))}.</p>",
    ]  # fmt: skip
    parts += [f'<p class="note">{esc(line)}</p>' for line in [*notes, *record.get("skipped", [])]]
    for layer in record["layers"]:
        parts.append(f"<h2>{esc(layer['heading'])}</h2>")
        if layer["note"]:
            parts.append(f'<p class="note">{esc(layer["note"])}</p>')
        parts.append(f"<pre>{esc(tables[layer['name']])}</pre>")
        if layer["name"] in figures:
            data = base64.b64encode(Path(figures[layer["name"]]).read_bytes()).decode("ascii")
            parts.append(f'<img alt="pseudospectra of {esc(layer["name"])}" src="data:image/png;base64,{data}">')
    parts.append("<h2>What the numbers mean</h2><dl>")
    parts += [f"<dt>{esc(name)}</dt><dd>{esc(meaning)}</dd>" for name, meaning in _MEANINGS]
    parts.append("</dl></body></html>")
    return "\n".join(parts) + "\n"
