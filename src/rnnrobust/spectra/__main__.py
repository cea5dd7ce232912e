"""Command line: robustness scalars of the square matrices in a .npy or .npz file.

    python -m rnnrobust.spectra weights.npz [--eps 1e-3 1e-2 1e-1] [--json] [--no-refine] [--kmax K]

One table row per matrix (every square 2-D array of an .npz; other arrays are skipped with a note on
stderr).  ``--json`` prints {name: robustness_summary(...)} instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rnnrobust.networks.matrices import read_square_matrices as _load  # one reader for matrix files (torch-free)

from . import DEFAULT_EPS, robustness_summary

_COLUMNS = [
    ("n", "n", "d"),
    ("rho", "spectral_radius", ".4f"),
    ("||A||", "spectral_norm", ".4f"),
    ("dep", "henrici", ".4f"),
    ("dep/||A||F", "henrici_relative", ".4f"),
    ("kappa(V)", "eigenvector_condition", ".3g"),
    ("d_DT", "distance_to_instability", ".4g"),
    ("d_DT,R", "distance_to_instability_real", ".4g"),
]


def _format_cell(v, spec: str) -> str:
    if v is None:
        return "-"  # distance_to_instability_real of a complex matrix
    if isinstance(v, float) and not np.isfinite(v):
        return "inf" if v > 0 else str(v)
    return format(v, spec)


def _table(results: dict[str, dict], eps: list[float]) -> str:
    header = ["matrix"] + [c[0] for c in _COLUMNS] + [f"rho_eps({e:g})" for e in eps] + ["K_lb", "max||A^k||", "k*"]
    rows = []
    for name, s in results.items():
        row = [name] + [_format_cell(s[key], spec) for _, key, spec in _COLUMNS]
        row += [_format_cell(s["pseudospectral_radius"][repr(e)], ".4f") for e in eps]
        row += [_format_cell(s["kreiss_lower_bound"], ".4g"), _format_cell(s["transient_peak"], ".4g")]
        row.append(str(s["transient_peak_k"]))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        lines.append(
            "| "
            + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            + " |"
        )
    return "\n".join(lines)


def check_summary_arguments(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stop with the parser's usage error on ``--eps`` levels or a ``--kmax`` that robustness_summary refuses
    (shared with ``python -m rnnrobust.analyze``)."""
    if any(not (e > 0 and np.isfinite(e)) for e in args.eps):
        ap.error("--eps levels must be positive and finite")
    if args.kmax is not None and args.kmax < 0:
        ap.error("--kmax must be >= 0")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m rnnrobust.spectra",
        description="Spectral and pseudospectral robustness scalars of the square matrices in a .npy/.npz file.",
    )
    ap.add_argument("file", type=Path, help=".npy matrix or .npz of matrices (e.g. a weights file)")
    ap.add_argument("--eps", type=float, nargs="+", default=list(DEFAULT_EPS), help="eps levels for rho_eps")
    ap.add_argument("--json", action="store_true", help="print JSON {matrix: summary} instead of a table")
    ap.add_argument("--no-refine", action="store_true", help="grid-only (one-sided) estimates, faster")
    ap.add_argument("--kmax", type=int, default=None, help="largest power k for max_k ||A^k|| (default adaptive)")
    args = ap.parse_args(argv)
    check_summary_arguments(ap, args)
    try:
        matrices, skipped = _load(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    for note in skipped:
        print(f"skipped {note}", file=sys.stderr)
    if not matrices:
        print(f"error: no square matrix in {args.file}", file=sys.stderr)
        return 1
    results = {}
    for name, arr in matrices.items():
        try:
            results[name] = robustness_summary(arr, args.eps, refine=not args.no_refine, kmax=args.kmax)
        except ValueError as exc:
            print(f"skipped {name}: {exc}", file=sys.stderr)
    if not results:
        return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(_table(results, [float(e) for e in args.eps]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
