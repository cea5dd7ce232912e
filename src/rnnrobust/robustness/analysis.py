"""Per-run analysis stages over a weights file: robustness scalars and pseudospectrum grids.

Both take the ``{"<layer>/<gate>": H × H array}`` mapping of a weights file (``rnnrobust.training.weights``)
and return plain data for JSON and npz files. No torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rnnrobust import spectra
from rnnrobust.layout import eps_key


def analyze_blocks(blocks: Mapping[str, np.ndarray], eps_log10: Sequence[float]) -> dict[str, dict]:
    """``spectra.robustness_summary`` of every gate block (eigenvalues, radius, norm, Henrici,
    eigenvector condition, distance to instability, ρ_ε per level, Kreiss bound, transient peak).

    ``pseudospectral_radius`` is keyed by ``layout.eps_key(log10 ε)``, e.g. ``"-2.0"``.
    """
    levels = [10.0 ** float(x) for x in eps_log10]
    out = {}
    for key, block in blocks.items():
        summary = spectra.robustness_summary(block, levels)
        by_linear = summary["pseudospectral_radius"]  # keyed by repr(ε)
        pairs = zip(eps_log10, levels, strict=True)
        summary["pseudospectral_radius"] = {eps_key(x): by_linear[repr(e)] for x, e in pairs}
        out[key] = summary
    return out


def grid_axes(eigenvalues: np.ndarray, resolution: int, margin: float, extent: float | None = None) -> np.ndarray:
    """Axis of a square grid [−r, r]² (same for Re and Im) that holds the unit disk and every eigenvalue.

    r = ``extent`` if given, else max(1, max |λ|)·(1 + ``margin``). The axis is symmetric about 0,
    so the conjugate symmetry of real matrices halves the work.
    """
    if resolution < 2:
        raise ValueError(f"pseudospectra resolution must be at least 2, got {resolution}")
    radius = extent if extent else max(1.0, float(np.abs(eigenvalues).max(initial=0.0))) * (1.0 + margin)
    return np.linspace(-radius, radius, resolution)


def pseudospectrum_grids(
    blocks: Mapping[str, np.ndarray],
    *,
    resolution: int,
    margin: float,
    extent: float | None = None,
    tol: float = 1e-10,
) -> dict[str, np.ndarray]:
    """For every block: ``<key>/x``, ``<key>/y`` (grid axes), ``<key>/sigma_min`` (len(y) × len(x),
    σ_min(zI − W) at z = x + iy) and ``<key>/eigenvalues``."""
    out: dict[str, np.ndarray] = {}
    for key, block in blocks.items():
        prepared = spectra.prepare(block)
        eigs = spectra.eigenvalues(prepared)
        axis = grid_axes(eigs, resolution, margin, extent)
        out[f"{key}/x"] = axis
        out[f"{key}/y"] = axis.copy()
        out[f"{key}/sigma_min"] = spectra.sigma_min_grid(prepared, axis, axis, tol=tol)
        out[f"{key}/eigenvalues"] = eigs
    return out
