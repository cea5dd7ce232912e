"""Command line: the robustness of every recurrent gate block of a saved network (PyTorch, Keras or NumPy).

    python -m rnnrobust.analyze PATH [--out DIR] [--eps 1e-3 1e-2 1e-1] [--format table|json]
                                     [--no-refine] [--kmax K] [--grid N]

PATH is anything :func:`rnnrobust.networks.read.read_network` reads: a PyTorch ``state_dict`` or checkpoint,
this project's ``model.pt``, Keras ``.weights.h5`` / ``.keras`` / Keras 2 ``.h5``, or ``.npz``/``.npy``
matrices. For every layer it prints one line (framework, cell, H) and the table of
``python -m rnnrobust.spectra`` with one row per gate block, named ``<layer>/<source gate> (project gate)``;
``--format json`` prints the JSON record instead. ``--out DIR`` writes ``analysis.json`` (the record:
``spectra.robustness_summary`` per block with its source and project gate names and framework),
``pseudospectra.npz`` (σ_min(zI − W) on a grid per block: ``<key>/x``, ``/y``, ``/sigma_min``, ``/eigenvalues``),
one EigTool-style figure per layer (``<layer>.png`` and ``.pdf``) and ``index.html`` (tables and figures in one
self-contained page). Figures need matplotlib (``pip install 'rnnrobust[plot]'``); without it, the rest is
written and one line says so. A file that cannot be read as a network exits with status 2 and one line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from rnnrobust import __version__, spectra
from rnnrobust.io import save_npz, write_json, write_text
from rnnrobust.networks.blocks import Network, NetworkFileError, RecurrentLayer
from rnnrobust.networks.read import read_network
from rnnrobust.reporting import network_report
from rnnrobust.robustness.analysis import grid_axes, pseudospectrum_grids
from rnnrobust.spectra.__main__ import _table as robustness_table  # the table of `python -m rnnrobust.spectra`
from rnnrobust.spectra.__main__ import check_summary_arguments

#: The pseudospectrum grid: points per axis and the margin around max(1, ρ) (the workflow's defaults).
GRID_RESOLUTION = 200
GRID_MARGIN = 0.25


def block_label(key: str, gate: str | None) -> str:
    """A table row's name: the block's key, and this project's gate name beside it where there is one.

    >>> block_label("lstm.l0/g", "c"), block_label("grcar", None)
    ('lstm.l0/g (c)', 'grcar')
    """
    return f"{key} ({gate})" if gate else key


def layer_heading(layer: RecurrentLayer) -> str:
    """One line per layer: name, framework, cell, H and, for a GRU, reset_after (the layer's note comes apart).

    >>> from rnnrobust.networks.blocks import layer_of
    >>> layer_heading(layer_of("l0", "PyTorch", "gru", [np.eye(2)] * 3, reset_after=True))
    'l0: PyTorch GRU, H = 2, reset_after=True'
    """
    if layer.cell is None:  # matrices of any sizes: the table's column n gives each one's
        return f"{layer.name}: {layer.framework} matrices"
    gru = "" if layer.reset_after is None else f", reset_after={layer.reset_after}"
    return f"{layer.name}: {layer.framework} {layer.cell.upper()}, H = {layer.hidden_size}{gru}"


def analyze_network(network: Network, eps: list[float], *, refine: bool = True, kmax: int | None = None) -> dict:
    """The JSON record of a network: file, format, ε levels, and per layer its blocks' robustness summaries.

    A block that the spectra refuse (non-finite weights, say) is left out with a line in ``skipped``.

    >>> from rnnrobust.networks.blocks import layer_of
    >>> layer = layer_of("m", "NumPy", None, [0.5 * np.eye(2)], source_gates=["A"])
    >>> record = analyze_network(Network(Path("m.npz"), "NumPy arrays", (layer,)), [0.1])
    >>> block = record["layers"][0]["blocks"][0]
    >>> block["key"], block["summary"]["spectral_radius"], block["summary"]["pseudospectral_radius"]["0.1"]
    ('m/A', 0.5, 0.6)
    """
    layers, skipped = [], list(network.skipped)
    for layer in network.layers:
        blocks = []
        for block in layer.blocks:
            try:
                summary = spectra.robustness_summary(block.matrix, eps, refine=refine, kmax=kmax)
            except ValueError as exc:
                skipped.append(f"skipped {block.key}: {exc}")
                continue
            blocks.append({"key": block.key, "source_gate": block.source_gate, "gate": block.gate, "summary": summary})
        if blocks:
            layers.append({
                "name": layer.name, "framework": layer.framework, "cell": layer.cell,
                "hidden_size": layer.hidden_size if layer.cell else None,
                "reset_after": layer.reset_after, "note": layer.note, "heading": layer_heading(layer), "blocks": blocks,
            })  # fmt: skip
    return {
        "file": str(network.path), "format": network.format, "eps": eps, "rnnrobust": __version__,
        "skipped": skipped, "layers": layers,
    }  # fmt: skip


def layer_tables(record: dict) -> dict[str, str]:
    """Each layer's robustness table, as ``python -m rnnrobust.spectra`` prints it, by layer name."""
    tables = {}
    for layer in record["layers"]:
        results = {block_label(b["key"], b["gate"]): b["summary"] for b in layer["blocks"]}
        tables[layer["name"]] = robustness_table(results, record["eps"])
    return tables


def contour_levels(eps: list[float]) -> list[float]:
    """log10 ε of the figures' contours: half decades over the ε levels' decades (EigTool style).

    >>> contour_levels([1e-3, 1e-2, 1e-1])
    [-3.0, -2.5, -2.0, -1.5, -1.0]
    """
    low, high = math.floor(math.log10(min(eps)) + 1e-9), math.ceil(math.log10(max(eps)) - 1e-9)
    return [low + 0.5 * i for i in range(2 * (high - low) + 1)] if high > low else [float(low)]


def layer_grids(layer: RecurrentLayer, resolution: int) -> dict[str, np.ndarray]:
    """σ_min(zI − W) of every block of a layer on one square grid, shared by the layer's panels: the square that
    holds the unit disk and every eigenvalue of the layer (``robustness.analysis.grid_axes``)."""
    blocks = {block.key: block.matrix for block in layer.blocks}
    eigenvalues = np.concatenate([spectra.eigenvalues(matrix) for matrix in blocks.values()])
    extent = float(grid_axes(eigenvalues, resolution, GRID_MARGIN)[-1])
    return pseudospectrum_grids(blocks, resolution=resolution, margin=GRID_MARGIN, extent=extent)


def analysed_layers(network: Network, record: dict) -> list[RecurrentLayer]:
    """The network's layers with the blocks that the record holds (none the spectra refused)."""
    kept = {block["key"] for layer in record["layers"] for block in layer["blocks"]}
    layers = [replace(layer, blocks=tuple(b for b in layer.blocks if b.key in kept)) for layer in network.layers]
    return [layer for layer in layers if layer.blocks]


def write_outputs(network: Network, record: dict, out: Path, resolution: int) -> tuple[list[Path], list[str]]:
    """``analysis.json``, ``pseudospectra.npz``, a figure per layer and ``index.html`` in ``out``: the files
    written, and the notes (figures need matplotlib)."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "analysis.json", record)
    layers = analysed_layers(network, record)
    grids = {layer.name: layer_grids(layer, resolution) for layer in layers}
    save_npz(out / "pseudospectra.npz", {key: value for grid in grids.values() for key, value in grid.items()})
    written, notes, figures = [out / "analysis.json", out / "pseudospectra.npz"], [], {}
    try:
        for layer in layers:
            labels = {block.key: block_label(block.key, block.gate) for block in layer.blocks}
            panels = network_report.layer_panels(grids[layer.name], labels)
            stem = out / network_report.file_stem(layer.name)
            paths = network_report.plot_layer(panels, stem, layer_heading(layer), contour_levels(record["eps"]))
            figures[layer.name] = paths[0]
            written += paths
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "matplotlib":
            raise
        notes.append(network_report.MATPLOTLIB_MISSING)
        figures = {}
    write_text(out / "index.html", network_report.network_page(record, layer_tables(record), figures, notes))
    return [*written, out / "index.html"], notes


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m rnnrobust.analyze",
        description="Robustness scalars and pseudospectra of every recurrent gate block of a PyTorch, Keras or "
        "NumPy file.",
    )
    ap.add_argument("path", type=Path, help="state_dict/checkpoint (.pt), .weights.h5, .keras, Keras 2 .h5, .npz/.npy")
    ap.add_argument("--out", type=Path, help="write analysis.json, pseudospectra.npz, figures and index.html here")
    ap.add_argument("--eps", type=float, nargs="+", default=list(spectra.DEFAULT_EPS), help="eps levels for rho_eps")
    ap.add_argument("--format", choices=("table", "json"), default="table", help="what to print (default: table)")
    ap.add_argument("--no-refine", action="store_true", help="grid-only (one-sided) estimates, faster")
    ap.add_argument("--kmax", type=int, default=None, help="largest power k for max_k ||A^k|| (default adaptive)")
    ap.add_argument("--grid", type=int, default=GRID_RESOLUTION, help="pseudospectrum grid points per axis")
    args = ap.parse_args(argv)
    check_summary_arguments(ap, args)
    if args.grid < 2:
        ap.error("--grid must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command on ``argv`` (default: the process's arguments); returns the exit status: 0, 1 when no
    block could be analysed, 2 for a file that is not a network (one line on stderr)."""
    args = _arguments(argv)
    try:
        network = read_network(args.path)
    except NetworkFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    eps = [float(e) for e in args.eps]
    record = analyze_network(network, eps, refine=not args.no_refine, kmax=args.kmax)
    for note in record["skipped"]:
        print(note, file=sys.stderr)
    if not record["layers"]:
        print(f"error: {args.path}: no gate block could be analysed", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(record, indent=2))
    else:
        tables = layer_tables(record)
        notes = {layer["name"]: f"# {layer['note']}\n" if layer["note"] else "" for layer in record["layers"]}
        print("\n\n".join(f"# {la['heading']}\n{notes[la['name']]}{tables[la['name']]}" for la in record["layers"]))
    if args.out is not None:
        written, notes = write_outputs(network, record, args.out, args.grid)
        for note in notes:
            print(note, file=sys.stderr)
        print(f"wrote {', '.join(path.name for path in written)} in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
