"""Report captions written from the data: numbers of the runs a figure or table shows, no adjectives.

Each figure and table job writes ``<output>.caption.rst`` beside its output; the report's caption
(``workflow/report/*.rst``) describes what the item is and includes that file, so no caption can
claim what its run contradicts. Torch-free; inputs are the per-run files (``rnnrobust.runs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .io import read_json
from .layout import UNSTABLE_RADIUS, RunKey, run_stem

PathLike = str | Path


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def _outside(eigenvalues: list[list[float]]) -> int:
    return sum(1 for re, im in eigenvalues if (re * re + im * im) ** 0.5 > UNSTABLE_RADIUS)


def max_radius(blocks: Mapping[str, Mapping[str, Any]]) -> float:
    """The largest spectral radius over a run's recurrent matrices (its analysis JSON)."""
    return max(summary["spectral_radius"] for summary in blocks.values())


def block_summary(summary: Mapping[str, Any]) -> str:
    """One matrix: ρ, ‖W‖₂, Henrici (absolute and relative), distance to instability, eigenvalues outside."""
    eigenvalues = summary["eigenvalues"]
    return (
        f"ρ = {summary['spectral_radius']:.3g}, ‖W‖₂ = {summary['spectral_norm']:.3g}, "
        f"Henrici {summary['henrici']:.3g} (relative {summary['henrici_relative']:.3g}), "
        f"distance to instability {summary['distance_to_instability']:.3g}, "
        f"{_outside(eigenvalues)} of {len(eigenvalues)} eigenvalues outside the unit circle"
    )


def pseudospectra_caption(panels: list[tuple[RunKey, str, PathLike]]) -> str:
    """Figures 1–6: per panel (run, block ``<layer>/<gate>``, analysis JSON) the numbers of its matrix."""
    lines = []
    for run, block, analysis in panels:
        summary = read_json(analysis)[block]
        lines.append(f"- {run_stem(*run)}, matrix {block}: {block_summary(summary)}.")
    return "\n".join(lines) + "\n"


def eigenvalues_caption(analyses: Mapping[str, PathLike]) -> str:
    """Eigenvalue figures: per model the spectral radius of each gate block and the eigenvalues outside."""
    lines = []
    for model, path in analyses.items():
        data = read_json(path)
        blocks = ", ".join(f"{key} {value['spectral_radius']:.3g}" for key, value in data.items())
        outside = sum(_outside(value["eigenvalues"]) for value in data.values())
        total = sum(len(value["eigenvalues"]) for value in data.values())
        lines.append(f"- {model}: ρ per block {blocks}; {outside} of {total} eigenvalues outside the unit circle.")
    return "\n".join(lines) + "\n"


def training_caption(metrics: Mapping[tuple[str, str], PathLike]) -> str:
    """Training figures: per (model, regime) curve the final test accuracy, before and after the final
    rescale for stabilized runs, with the epochs completed, chance level and status."""
    lines = []
    for (model, regime), path in metrics.items():
        m = read_json(path)
        before = m.get("test_before_final_rescale", {}).get("accuracy")
        rescale = f" after the final rescale ({_pct(before)} before it)" if before is not None else ""
        lines.append(
            f"- {model}, {regime}: test accuracy {_pct(m['test']['accuracy'])}{rescale} after "
            f"{m['epochs_completed']} epochs; chance {_pct(m['chance_accuracy'])}; status {m['status']}."
        )
    return "\n".join(lines) + "\n"


def _runs_text(metrics: Mapping[RunKey, PathLike]) -> str:
    seeds = sorted({run[3] for run in metrics})
    statuses: dict[str, int] = {}
    for path in metrics.values():
        status = read_json(path)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return f"{len(metrics)} runs (seeds {', '.join(map(str, seeds))}): {counts}."


def table_caption(name: str, metrics: Mapping[RunKey, PathLike], analysis: Mapping[RunKey, PathLike]) -> str:
    """A table's runs and the figures a reader checks first (unstable matrices, the range of Henrici numbers)."""
    lines = [_runs_text(metrics)]
    if name in ("table2_henrici", "table3_robustness"):
        per_run = {run: read_json(path) for run, path in analysis.items()}
        unstable = [run for run, blocks in per_run.items() if max_radius(blocks) > UNSTABLE_RADIUS]
        henrici = [b["henrici"] for blocks in per_run.values() for b in blocks.values()]
        lines.append(
            f"{len(unstable)} of {len(per_run)} runs have a recurrent matrix with ρ > 1; "
            f"Henrici numbers range from {min(henrici):.3g} to {max(henrici):.3g}."
        )
    return " ".join(lines) + "\n"
