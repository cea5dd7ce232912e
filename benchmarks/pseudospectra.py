"""Benchmark: sigma_min(zI - A) on a 200 x 200 grid, per-point SVD vs batched SVD vs rnnrobust.spectra.

    python benchmarks/pseudospectra.py [--threads 1] [--quick] [--before DIR] [--grid 200] [--subset 400]
                                       [--tol 1e-10]

The test set: randn(n, n)/sqrt(n) (seed 0) at n = 64, 128, 256 on [-1.5, 1.5]^2, the Grcar matrix
(n = 128, k = 3) on [-1, 3] x [-3.5, 3.5], and a trained-like recurrent block (n = 128: an n x n block of
a row-orthonormal n x 4n matrix, Keras' orthogonal initialiser, plus a rank-4 update of norm 0.5 and small
dense noise) on [-1.25, 1.25]^2.  Everything runs in this one process with one BLAS thread count
(*_NUM_THREADS set before numpy is imported, and the library's own RNNROBUST_BLAS_THREADS).

Per matrix it times, side by side:
  * per-point SVD (scipy svdvals of zI - A, point by point) and batched SVD (numpy, 256 points per call) on a
    random subset of the grid, scaled linearly to the full grid (marked *), as their cost is the same at
    every point;
  * pseudopy (NonnormalMeshgrid, which is per-point SVD too) on a 20 x 20 grid over the same box, scaled, if
    pseudopy imports;
  * with --before DIR: the library's previous spectra package, copied to DIR/spectra_before, full grid;
  * ours, full grid (every point to full accuracy): ``spectra.sigma_min_grid``, Schur form included;
  * ours, levels mode (``sigma_min_levels``: exact where contours at log10 eps = -3, -2.5, ..., -1 need it,
    certified elsewhere), Schur form included.
``--tol`` is the Lanczos stopping tolerance of ours and before (the library's default, 1e-10, unless given;
the goal's accuracy, 1e-8 relative, is reached with --tol 1e-8, as the accuracy columns of that run show).
Accuracy: max relative error of ours against the per-point SVD on the subset (where sigma_SVD >= 1e-6 ||A||_2),
and whether |sigma - sigma_SVD| <= 1e-8 sigma_SVD + 1e-13 ||A||_2 holds there; at n = 64 also at every grid
point (batched dense SVDs of zI - A), for ours and for the previous package.  An orthogonal (normal) 64 x 64
matrix joins the test set as the hard case of Lanczos.  The levels mode is checked against our full grid (and
at n = 64 against the dense SVDs): the same side of every level at every point, and exact values (within the
bound) at both ends of every grid edge a contour crosses.

On machines that set OPENBLAS_CORETYPE (see the environment notes), unset it together with
OPENBLAS_L2_SIZE in the benchmark command only, e.g. ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python
benchmarks/pseudospectra.py``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import time
import warnings


def _parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for every method (default 1)")
    ap.add_argument("--quick", action="store_true", help="smoke run: n = 64 only, on a 40 x 40 grid")
    ap.add_argument("--before", default=None, help="directory holding spectra_before/, the previous package")
    ap.add_argument("--grid", type=int, default=200, help="grid points per axis (default 200)")
    ap.add_argument("--subset", type=int, default=400, help="grid points timed for the SVD baselines")
    ap.add_argument("--tol", type=float, default=1e-10, help="Lanczos tolerance of ours and before (default 1e-10)")
    return ap.parse_args()


ARGS = _parse()
_THREADS = str(ARGS.threads)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _THREADS
os.environ["RNNROBUST_BLAS_THREADS"] = _THREADS

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from rnnrobust import spectra  # noqa: E402
from rnnrobust.spectra._contours import sigma_min_levels  # noqa: E402

LEVELS = 10.0 ** np.array([-3.0, -2.5, -2.0, -1.5, -1.0])


# ----------------------------------------------------------------------------------------------------
# the test set


def grcar(n: int, k: int = 3) -> np.ndarray:
    """Grcar matrix: -1 on the subdiagonal, 1 on the diagonal and the first k superdiagonals."""
    return -np.eye(n, k=-1) + sum(np.eye(n, k=j) for j in range(k + 1))


def trained_like(n: int, seed: int = 0) -> np.ndarray:
    """A recurrent block as training leaves it: orthogonal-initialised block, low-rank update, noise."""
    g = np.random.default_rng(seed)
    rows = np.linalg.qr(g.standard_normal((4 * n, n)))[0].T  # n x 4n with orthonormal rows
    u = np.linalg.qr(g.standard_normal((n, 4)))[0]
    v = np.linalg.qr(g.standard_normal((n, 4)))[0]
    update = 0.5 * (u * np.array([1.0, 0.6, 0.4, 0.2])) @ v.T
    return 2.0 * rows[:, :n] + update + 0.02 * g.standard_normal((n, n)) / np.sqrt(n)


def test_set(quick: bool) -> list[tuple[str, np.ndarray, tuple[float, float, float, float]]]:
    """(name, matrix, box (x0, x1, y0, y1)) for every case.  The orthogonal (normal) matrix is the hard case
    for Lanczos: near the lines where the nearest eigenvalue changes, two singular values nearly coincide."""
    box = (-1.5, 1.5, -1.5, 1.5)
    cases = [(f"randn n={n}", np.random.default_rng(0).standard_normal((n, n)) / np.sqrt(n), box) for n in (64,)]
    if quick:
        return cases
    cases += [(f"randn n={n}", np.random.default_rng(0).standard_normal((n, n)) / np.sqrt(n), box) for n in (128, 256)]
    cases.append(("orthogonal n=64", np.linalg.qr(np.random.default_rng(3).standard_normal((64, 64)))[0], box))
    cases.append(("Grcar n=128", grcar(128), (-1.0, 3.0, -3.5, 3.5)))
    cases.append(("trained-like n=128", trained_like(128), (-1.25, 1.25, -1.25, 1.25)))
    return cases


# ----------------------------------------------------------------------------------------------------
# the methods


def per_point_svd(A, z):
    eye = np.eye(A.shape[0])
    t = time.perf_counter()
    out = np.array([scipy.linalg.svdvals(zz * eye - A)[-1] for zz in z])
    return out, time.perf_counter() - t


def batched_svd(A, z, batch=256):
    eye = np.eye(A.shape[0])
    out = np.empty(z.size)
    t = time.perf_counter()
    for s in range(0, z.size, batch):
        out[s : s + batch] = np.linalg.svd(z[s : s + batch, None, None] * eye - A, compute_uv=False)[:, -1]
    return out, time.perf_counter() - t


def pseudopy_seconds(A, box, g_full: int) -> float | None:
    """pseudopy's NonnormalMeshgrid (per-point SVD) on 20 x 20 points of the box, scaled to the full grid."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pseudopy
    except Exception:  # pseudopy 1.2.5 needs shapely < 2 and matplotlib; any import failure means "not run"
        return None
    t = time.perf_counter()
    pseudopy.NonnormalMeshgrid(A, box[0], box[1], 20, box[2], box[3], 20)
    return (time.perf_counter() - t) * g_full**2 / 400


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def ours_full(A, x, y):
    info = {}
    S, t = timed(lambda: spectra.sigma_min_grid(spectra.prepare(A), x, y, tol=ARGS.tol, info=info))
    return S, t, info


def ours_levels(A, x, y):
    info = {}

    @spectra_single_threaded
    def run():
        return sigma_min_levels(spectra.prepare(A), x, y, LEVELS, tol=ARGS.tol, info=info)

    S, t = timed(run)
    return S, t, info


def spectra_single_threaded(fn):
    from rnnrobust.spectra._blas import single_threaded

    return single_threaded(fn)


def before_full(before, A, x, y):
    if before is None:
        return None, None
    return timed(lambda: before.sigma_min_grid(before.prepare(A), x, y, tol=ARGS.tol))


def relative_error(got, ref, norm) -> float:
    """Max relative error where sigma_SVD >= 1e-6 ||A||_2 (below that only the absolute bound is meaningful)."""
    keep = ref >= 1e-6 * norm
    return float(np.max(np.abs(got - ref)[keep] / ref[keep])) if np.any(keep) else 0.0


# ----------------------------------------------------------------------------------------------------
# accuracy


def within_bound(got, ref, norm) -> bool:
    return bool(np.all(np.abs(got - ref) <= 1e-8 * ref + 1e-13 * norm))


def contours_agree(S_levels, S_full, norm) -> bool:
    """Same side of every level everywhere, and exact values at both ends of every crossed grid edge."""
    exact = np.abs(S_levels - S_full) <= 1e-8 * S_full + 1e-13 * norm
    for eps in LEVELS:
        above_l, above_f = S_levels > eps, S_full > eps
        if not np.array_equal(above_l, above_f):
            return False
        for axis in (0, 1):
            a = np.moveaxis(above_f, axis, 0)
            e = np.moveaxis(exact, axis, 0)
            crossed = a[1:] != a[:-1]
            if np.any(crossed & ~(e[1:] & e[:-1])):
                return False
    return True


def all_points_svd(A, Z) -> np.ndarray:
    return batched_svd(A, Z.ravel())[0].reshape(Z.shape)


# ----------------------------------------------------------------------------------------------------
# one case


def run_case(name, A, box, g, subset, before):
    x = np.linspace(box[0], box[1], g)
    y = np.linspace(box[2], box[3], g)
    Z = x[None, :] + 1j * y[:, None]
    idx = np.random.default_rng(1).choice(Z.size, size=min(subset, Z.size), replace=False)
    zs = Z.ravel()[idx]
    norm = float(np.linalg.norm(A, 2))
    S, t_ours, info = ours_full(A, x, y)
    L, t_lev, linfo = ours_levels(A, x, y)
    B, t_before = before_full(before, A, x, y)
    ref, t_pp = per_point_svd(A, zs)
    _, t_b = batched_svd(A, zs)
    t_pseudopy = pseudopy_seconds(A, box, g)
    scale = Z.size / zs.size
    got = S.ravel()[idx]
    row = {
        "case": name,
        "pp": t_pp * scale,
        "batched": t_b * scale,
        "pseudopy": t_pseudopy,
        "before": t_before,
        "ours": t_ours,
        "levels": t_lev,
        "steps": info.get("mean_iterations", float("nan")),
        "exact_frac": linfo["exact_points"] / linfo["grid_points"],
        "rel": relative_error(got, ref, norm),
        "ok": within_bound(got, ref, norm),
        "before_ok": None if B is None else within_bound(B.ravel()[idx], ref, norm),
        "contours": contours_agree(L, S, norm),
        "all_points": None,
    }
    if A.shape[0] <= 64:
        full_ref = all_points_svd(A, Z)
        row["all_points"] = (relative_error(S, full_ref, norm), within_bound(S, full_ref, norm))
        if B is not None:
            row["before_ok"] = within_bound(B, full_ref, norm)
        row["contours"] = row["contours"] and contours_agree(L, full_ref, norm)
    return row


# ----------------------------------------------------------------------------------------------------
# report


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def load_before(directory):
    if directory is None:
        return None
    sys.path.insert(0, os.path.abspath(directory))
    return importlib.import_module("spectra_before")


def yes_no(v) -> str:
    return "–" if v is None else ("yes" if v else "NO")


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def print_table(rows, g, subset):
    print(
        f"| matrix | per-point SVD* (s) | batched SVD* (s) | pseudopy* (s) | before (s) | ours (s) | ours, levels (s) "
        "| ours vs per-point | levels vs per-point | ours vs before | mean Lanczos steps | levels: exact points "
        f"| max rel err ({subset} pts) | bound holds | all {g}x{g} points (n = 64) | before: bound holds "
        "| contours identical |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        allp = "–" if r["all_points"] is None else f"{r['all_points'][0]:.1e}, {'yes' if r['all_points'][1] else 'NO'}"
        vs_before = "–" if r["before"] is None else f"{r['before'] / r['ours']:.2f}x"
        print(
            f"| {r['case']} | {r['pp']:.2f} | {r['batched']:.2f} | {fmt(r['pseudopy'], '.2f')} "
            f"| {fmt(r['before'], '.3f')} | {r['ours']:.3f} | {r['levels']:.3f} | {r['pp'] / r['ours']:.1f}x "
            f"| {r['pp'] / r['levels']:.1f}x | {vs_before} | {r['steps']:.2f} | {100 * r['exact_frac']:.0f}% "
            f"| {r['rel']:.1e} | {'yes' if r['ok'] else 'NO'} | {allp} | {yes_no(r['before_ok'])} "
            f"| {yes_no(r['contours'])} |"
        )


def print_goals(rows):
    goals = {"randn n=128": 100.0, "randn n=256": 200.0}
    for r in rows:
        goal = goals.get(r["case"])
        if goal is None:
            continue
        # the levels mode is accurate when its contours are the full grid's (exact at every crossed edge's ends)
        for label, t, ok in (
            ("full grid", r["ours"], r["ok"]),
            ("levels mode", r["levels"], r["ok"] and r["contours"]),
        ):
            sp = r["pp"] / t
            verdict = "met" if sp >= goal and ok else "NOT met"
            print(
                f"goal {r['case']} {label} (tol {ARGS.tol:g}): >= {goal:.0f}x faster than per-point SVD, within the"
                f" 1e-8 bound -> {sp:.1f}x {verdict}"
            )


def main():
    g = 40 if ARGS.quick else ARGS.grid
    subset = 60 if ARGS.quick else ARGS.subset
    before = load_before(ARGS.before)
    print(f"# sigma_min grid benchmark ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"machine: {machine()}; load average at start {load()}")
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, python {sys.version.split()[0]}")
    print(f"BLAS threads: {ARGS.threads} (*_NUM_THREADS and RNNROBUST_BLAS_THREADS set before numpy is imported)")
    print(f"before: {'not run' if before is None else os.path.abspath(ARGS.before)}; Lanczos tol {ARGS.tol:g}")
    rows = []
    for name, A, box in test_set(ARGS.quick):
        rows.append(run_case(name, A, box, g, subset if A.shape[0] < 256 else max(subset // 2, 10), before))
        print(f"  done {name}: ours {rows[-1]['ours']:.2f} s", file=sys.stderr, flush=True)
    print(f"load average at end {load()}")
    print()
    print_table(rows, g, subset)
    print()
    print(
        f"* timed on a random subset of {subset} grid points ({max(subset // 2, 10)} for n = 256; pseudopy: a 20 x 20"
        " grid) and scaled linearly to the full grid; ours and before: full grid, Schur form included."
    )
    print_goals(rows)


if __name__ == "__main__":
    main()
