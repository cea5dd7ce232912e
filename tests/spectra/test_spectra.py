"""Tests of rnnrobust.spectra: closed forms, agreement with dense SVD, edge cases, scalars, CLI."""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize

import rnnrobust
from rnnrobust import spectra

SRC = str(Path(rnnrobust.__file__).resolve().parents[1])


# ----------------------------------------------------------------------------------------------------
# helpers


def rng(seed=0):
    return np.random.default_rng(seed)


def random_matrix(n, complex_=False, seed=0):
    g = rng(seed)
    A = g.standard_normal((n, n))
    if complex_:
        A = A + 1j * g.standard_normal((n, n))
    return A / np.sqrt(n)


def unitary(n, seed=1):
    g = rng(seed)
    Q, R = np.linalg.qr(g.standard_normal((n, n)) + 1j * g.standard_normal((n, n)))
    return Q * (np.diag(R) / np.abs(np.diag(R)))


def svd_ref(A, z):
    """sigma_min(zI - A) by a dense SVD of the original matrix at every point."""
    z = np.atleast_1d(np.asarray(z, dtype=complex))
    eye = np.eye(A.shape[0])
    return np.array([np.linalg.svd(zz * eye - A, compute_uv=False)[-1] for zz in z.ravel()]).reshape(z.shape)


def assert_within_bound(got, ref, A):
    """|sigma - sigma_SVD| <= 1e-8 sigma_SVD + 1e-13 ||A||_2 at every point, and finite."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape
    assert np.all(np.isfinite(got))
    norm = np.linalg.norm(A, 2)
    err = np.abs(got - ref)
    bound = 1e-8 * ref + 1e-13 * norm
    assert np.all(err <= bound), (
        f"max excess {np.max(err - bound):.3g}, max rel err {np.max(err / np.maximum(ref, 1e-300)):.3g}"
    )


def sigma_2x2(a, b, c, z):
    """Closed form sigma_min(zI - [[a, c], [0, b]])."""
    p = np.abs(z - a) * np.abs(z - b)
    s = np.abs(z - a) ** 2 + np.abs(z - b) ** 2 + abs(c) ** 2
    return np.sqrt(2 * p**2 / (s + np.sqrt(s**2 - 4 * p**2)))


def jordan(n, lam=0.0, c=1.0):
    return lam * np.eye(n) + c * np.diag(np.ones(n - 1), 1)


# ----------------------------------------------------------------------------------------------------
# Schur form, Henrici departure, eigen quantities


@pytest.mark.parametrize("complex_", [False, True])
def test_schur_is_complex_schur_form(complex_):
    A = random_matrix(12, complex_, seed=3)
    T, Z = spectra.schur(A)
    assert T.dtype == np.complex128 and Z.dtype == np.complex128
    assert np.allclose(np.tril(T, -1), 0)
    assert np.allclose(Z.conj().T @ Z, np.eye(12), atol=1e-13)
    assert np.allclose(Z @ T @ Z.conj().T, A, atol=1e-13)
    lam = np.linalg.eigvals(A)
    assert np.max(np.min(np.abs(np.diag(T)[:, None] - lam[None, :]), axis=1)) < 1e-12


@pytest.mark.parametrize("n", [2, 3, 5, 9])
def test_henrici_of_jordan_block(n):
    J = jordan(n, lam=0.4)
    assert spectra.henrici(J) == pytest.approx(math.sqrt(n - 1), rel=1e-14)
    assert spectra.henrici(J.T) == pytest.approx(math.sqrt(n - 1), rel=1e-12)
    assert spectra.henrici(J, relative=True) == pytest.approx(math.sqrt(n - 1) / np.linalg.norm(J), rel=1e-14)


def test_henrici_uses_complex_not_real_schur():
    # real Schur keeps the 2x2 block [[0, 2], [-0.5, 0]] (strictly upper part 2); the complex Schur
    # factor has off-diagonal 1.5 = sqrt(||A||_F^2 - sum |lambda|^2) = sqrt(4.25 - 2)
    A = np.array([[0.0, 2.0], [-0.5, 0.0]])
    assert spectra.henrici(A) == pytest.approx(1.5, rel=1e-14)


def test_henrici_nearly_normal_does_not_cancel():
    # sqrt(||A||_F^2 - sum|lambda|^2) loses everything here; the Schur factor does not
    A = np.diag([1e8, 2.0, 3.0])
    A[1, 2] = 1e-4
    assert spectra.henrici(A) == pytest.approx(1e-4, rel=1e-10)
    dep_formula = math.sqrt(max(np.linalg.norm(A) ** 2 - np.sum(np.abs(np.linalg.eigvals(A)) ** 2), 0.0))
    assert abs(dep_formula - 1e-4) > 1e-5  # the formula the library must not use is wrong here


def test_henrici_normal_invariances_and_zero():
    Q = unitary(10)
    N = Q @ np.diag(rng(2).standard_normal(10) + 1j) @ Q.conj().T
    assert spectra.henrici(N) < 1e-13 * np.linalg.norm(N)
    A = random_matrix(10, seed=4)
    assert spectra.henrici(Q @ A @ Q.conj().T) == pytest.approx(spectra.henrici(A), rel=1e-12)
    assert spectra.henrici(A.T) == pytest.approx(spectra.henrici(A), rel=1e-12)
    assert spectra.henrici(np.zeros((4, 4))) == 0.0
    assert spectra.henrici(np.zeros((4, 4)), relative=True) == 0.0


def test_eigenvalues_radius_norm():
    A = np.array([[0.5, 3.0], [0.0, -0.8]])
    lam = spectra.eigenvalues(A)
    assert np.allclose(lam, [-0.8, 0.5])
    assert spectra.spectral_radius(A) == pytest.approx(0.8)
    assert spectra.spectral_norm(A) == pytest.approx(np.linalg.norm(A, 2), rel=1e-14)
    assert spectra.spectral_radius(np.array([[2.0]])) == 2.0


def test_eigenvector_condition():
    Q = unitary(8)
    N = Q @ np.diag(np.arange(1, 9) + 0.5j) @ Q.conj().T
    assert spectra.eigenvector_condition(N) == pytest.approx(1.0, rel=1e-10)
    # 2x2 closed form: unit eigenvectors at angle phi, kappa = sqrt((1 + |cos phi|) / (1 - |cos phi|))
    a, b, c = 1.0, 2.0, 3.0
    cosphi = abs(c) / math.hypot(c, b - a)
    assert spectra.eigenvector_condition([[a, c], [0, b]]) == pytest.approx(
        math.sqrt((1 + cosphi) / (1 - cosphi)), rel=1e-12
    )
    assert spectra.eigenvector_condition(jordan(4, 0.3)) == math.inf
    assert spectra.eigenvector_condition([[5.0]]) == 1.0


# ----------------------------------------------------------------------------------------------------
# sigma_min: closed forms and agreement with SVD


def test_sigma_min_normal_is_distance_to_spectrum():
    n = 40
    g = rng(5)
    lam = g.standard_normal(n) + 1j * g.standard_normal(n)
    Q = unitary(n)
    A = Q @ np.diag(lam) @ Q.conj().T
    z = g.uniform(-3, 3, 300) + 1j * g.uniform(-3, 3, 300)
    info = {}
    got = spectra.sigma_min(A, z, info=info)
    assert info["method"] == "lanczos"
    expected = np.min(np.abs(z[:, None] - lam[None, :]), axis=1)
    assert_within_bound(got, expected, A)


@pytest.mark.parametrize("abc", [(0.3, -0.5, 2.0), (0.1 + 0.2j, 0.1 - 0.7j, 0.05), (0.0, 0.0, 1.0)])
def test_sigma_min_2x2_upper_triangular(abc):
    a, b, c = abc
    A = np.array([[a, c], [0, b]], dtype=complex)
    x = np.linspace(-1.2, 1.2, 13)
    y = np.linspace(-1.1, 1.0, 11)
    got = spectra.sigma_min_grid(A, x, y)
    expected = sigma_2x2(a, b, c, x[None, :] + 1j * y[:, None])
    assert_within_bound(got, expected, A)
    for method in ("lanczos", "svd"):
        assert_within_bound(spectra.sigma_min_grid(A, x, y, method=method), expected, A)


@pytest.mark.parametrize("n", [1, 5, 40, 70])
@pytest.mark.parametrize("complex_", [False, True])
def test_sigma_min_grid_agrees_with_svd(n, complex_):
    A = random_matrix(n, complex_, seed=n)
    x = np.linspace(-1.5, 1.5, 17)
    y = np.linspace(-1.5, 1.5, 16)
    info = {}
    got = spectra.sigma_min_grid(A, x, y, info=info)
    assert got.shape == (16, 17)
    if n >= 40:
        assert info["method"] == "lanczos"
    expected = svd_ref(A, x[None, :] + 1j * y[:, None])
    assert_within_bound(got, expected, A)


def test_lanczos_forced_on_small_matrix_and_point_shapes():
    A = random_matrix(6, True, seed=8)
    z = rng(9).standard_normal((3, 4)) + 1j * rng(10).standard_normal((3, 4))
    got = spectra.sigma_min(A, z, method="lanczos")
    assert got.shape == (3, 4)
    assert_within_bound(got, svd_ref(A, z), A)
    assert isinstance(spectra.sigma_min(A, 0.3 + 0.1j), float)


def test_grid_conjugate_symmetry_mirrors_rows_for_real_matrices():
    A = random_matrix(40, seed=11)
    x = np.linspace(-1.5, 1.5, 12)
    y = np.linspace(-1.5, 1.5, 20)  # symmetric up to rounding
    info = {}
    got = spectra.sigma_min_grid(A, x, y, info=info)
    assert info["mirrored_rows"] == 10
    assert np.array_equal(got, got[::-1])
    assert_within_bound(got, svd_ref(A, x[None, :] + 1j * y[:, None]), A)
    # a complex matrix has no such symmetry and nothing may be mirrored
    info_c = {}
    B = random_matrix(40, True, seed=11)
    got_c = spectra.sigma_min_grid(B, x, y, info=info_c)
    assert info_c["mirrored_rows"] == 0
    assert_within_bound(got_c, svd_ref(B, x[None, :] + 1j * y[:, None]), B)


def test_plotting_tolerance_is_close():
    A = random_matrix(40, seed=12)
    x = y = np.linspace(-1.5, 1.5, 9)
    fast = spectra.sigma_min_grid(A, x, y, tol=1e-5)
    ref = svd_ref(A, x[None, :] + 1j * y[:, None])
    assert np.max(np.abs(fast - ref) / ref) < 1e-4


# ----------------------------------------------------------------------------------------------------
# edge cases


@pytest.mark.parametrize("complex_", [False, True])
def test_points_exactly_on_eigenvalues(complex_):
    A = random_matrix(40, complex_, seed=13)
    for lam in (np.linalg.eigvals(A), np.diag(spectra.schur(A)[0])):
        got = spectra.sigma_min(A, lam)
        assert np.all(np.isfinite(got)) and np.all(got >= 0)
        assert np.all(got <= 1e-12 * np.linalg.norm(A, 2))
        assert_within_bound(got, svd_ref(A, lam), A)


def test_repeated_and_defective_eigenvalues():
    n = 40
    Q = np.linalg.qr(rng(14).standard_normal((n, n)))[0]
    # repeated (diagonalisable): eigenvalue 0.5 ten times, 0 ten times
    D = np.diag(np.repeat([0.5, 0.0, -0.3 + 0.2j, -0.3 - 0.2j], 10))
    A_rep = Q @ D @ Q.T
    # defective: a Jordan block of size 40 at 0.3, as given and in a rotated basis
    J = jordan(n, 0.3, 0.8)
    for A in (A_rep, J, Q @ J @ Q.T):
        x = np.concatenate((np.linspace(-1, 1, 9), [0.3, 0.5, 0.0]))
        y = np.array([-0.2, 0.0, 0.2, 0.7])
        got = spectra.sigma_min_grid(A, x, y)
        assert_within_bound(got, svd_ref(A, x[None, :] + 1j * y[:, None]), A)


def test_overflow_falls_back_to_svd():
    # (J - zI)^-1 of a 70-block overflows near its eigenvalue: those points must come from the SVD
    J = jordan(70, 0.0, 1.0)
    z = np.array([0.0, 1e-6, 1e-3j, 0.05, 0.5 + 0.5j])
    info = {}
    got = spectra.sigma_min(J, z, info=info)
    assert info["fallback_svd"] >= 1
    assert_within_bound(got, svd_ref(J, z), J)


def test_singular_zero_and_scalar_matrices():
    A = random_matrix(40, seed=15)
    A[:, 0] = A[:, 1]  # singular
    assert_within_bound(spectra.sigma_min(A, [0.0, 0.1]), svd_ref(A, [0.0, 0.1]), A)
    Z = np.zeros((40, 40))
    z = np.array([0.0, 0.3 - 0.4j, 2.0])
    assert np.array_equal(spectra.sigma_min(Z, z), np.abs(z))
    assert spectra.sigma_min(Z, 0.0) == 0.0
    one = np.array([[0.7 - 0.2j]])
    assert np.allclose(spectra.sigma_min(one, [0.7 - 0.2j, 1.0]), [0.0, abs(1.0 - 0.7 + 0.2j)], atol=1e-16)
    assert spectra.sigma_min_grid([[2.0]], [2.0, 3.0], [0.0]).tolist() == [[0.0, 1.0]]


# ----------------------------------------------------------------------------------------------------
# invariances


def test_transpose_unitary_similarity_and_scale_equivariance():
    A = random_matrix(40, seed=16)
    x = np.linspace(-1.4, 1.3, 10)
    y = np.linspace(-1.2, 1.5, 9)
    base = spectra.sigma_min_grid(A, x, y)
    assert_within_bound(spectra.sigma_min_grid(A.T, x, y), base, A)
    Q = unitary(40, seed=17)
    assert_within_bound(spectra.sigma_min_grid(Q @ A @ Q.conj().T, x, y), base, A)
    z = x[None, :] + 1j * y[:, None]
    for c in (2.5, -0.3 + 0.7j):
        scaled = spectra.sigma_min(c * A, z)
        expected = abs(c) * spectra.sigma_min(A, z / c)
        assert np.allclose(scaled, expected, rtol=1e-8, atol=1e-13 * abs(c) * np.linalg.norm(A, 2))


# ----------------------------------------------------------------------------------------------------
# torch back end


def test_torch_path_on_cpu_matches_numpy():
    pytest.importorskip("torch")
    for A in (random_matrix(40, seed=18), random_matrix(70, True, seed=19), jordan(40, 0.3, 0.8)):
        x = np.linspace(-1.5, 1.5, 11)
        y = np.linspace(-1.5, 1.5, 10)
        info = {}
        got = spectra.sigma_min_grid(A, x, y, device="cpu", info=info)
        assert info["method"].startswith("lanczos-torch")
        assert_within_bound(got, svd_ref(A, x[None, :] + 1j * y[:, None]), A)
    lam = np.linalg.eigvals(A)
    assert_within_bound(spectra.sigma_min(A, lam, device="cpu"), svd_ref(A, lam), A)


def test_import_does_not_load_torch():
    code = (
        "import sys, rnnrobust.spectra as s; s.sigma_min_grid([[1.0, 2.0], [0.0, 3.0]], [0.0], [0.0]); "
        "s.robustness_summary([[0.5]]); print('torch' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def _spectra_imports(tree: ast.Module, modules: set[str]) -> tuple[set[str], set[str]]:
    """(spectra modules a module imports anywhere, top-level packages it imports outside any def/class).

    ``from . import name`` of a name that is not a module reads it from the package, i.e. from __init__.
    """
    internal, top_level = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                internal.add(node.module)
            else:
                internal |= {a.name if a.name in modules else "__init__" for a in node.names}

    def walk_module_level(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.Import):
                top_level.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top_level.add(node.module.split(".")[0])
            for block in ("body", "orelse", "finalbody", "handlers"):
                walk_module_level(getattr(node, block, []))

    walk_module_level(tree.body)
    return internal, top_level


def test_spectra_modules_have_no_import_cycle_and_no_module_level_torch():
    files = {path.stem: path for path in sorted(Path(spectra.__file__).parent.glob("*.py"))}
    graph = {}
    for mod, path in files.items():
        internal, top_level = _spectra_imports(ast.parse(path.read_text(encoding="utf-8")), set(files))
        assert "torch" not in top_level, f"{path.name} imports torch at module level"
        assert internal <= set(files), f"{path.name} imports a module that does not exist: {internal - set(files)}"
        graph[mod] = internal
    # depth-first search over every import, the lazy ones inside functions included
    state = dict.fromkeys(graph, "new")

    def visit(mod, chain):
        state[mod] = "open"
        for dep in sorted(graph[mod]):
            assert state[dep] != "open", "import cycle: " + " -> ".join([*chain, mod, dep])
            if state[dep] == "new":
                visit(dep, [*chain, mod])
        state[mod] = "done"

    for mod in graph:
        if state[mod] == "new":
            visit(mod, [])


# ----------------------------------------------------------------------------------------------------
# scalars


@pytest.mark.parametrize("a,c", [(0.0, 1.0), (0.3, 2.0), (-0.4 + 0.2j, 0.5)])
@pytest.mark.parametrize("eps", [1e-3, 1e-1])
def test_pseudospectral_radius_and_abscissa_2x2_closed_form(a, c, eps):
    # Lambda_eps([[a, c], [0, a]]) is the disc about a of radius sqrt(eps (eps + c))
    A = np.array([[a, c], [0, a]])
    r = math.sqrt(eps * (eps + c))
    rho_ref, alpha_ref = abs(a) + r, np.real(a) + r
    assert spectra.pseudospectral_radius(A, eps) == pytest.approx(rho_ref, rel=1e-12)
    assert spectra.pseudospectral_abscissa(A, eps) == pytest.approx(alpha_ref, rel=1e-12, abs=1e-14)
    g_rho = spectra.pseudospectral_radius(A, eps, refine=False)
    g_alpha = spectra.pseudospectral_abscissa(A, eps, refine=False)
    assert g_rho <= rho_ref * (1 + 1e-12) and g_rho >= rho_ref * (1 - 1e-2)
    assert g_alpha <= alpha_ref + 1e-12 and g_alpha >= alpha_ref - 1e-2 * abs(alpha_ref)


def test_scalars_of_normal_matrices():
    n = 30
    g = rng(20)
    lam = 0.9 * np.sqrt(g.uniform(0, 1, n)) * np.exp(2j * np.pi * g.uniform(0, 1, n))
    Q = unitary(n, seed=21)
    A = Q @ np.diag(lam) @ Q.conj().T
    rho, alpha = np.abs(lam).max(), lam.real.max()
    for eps in (1e-3, 0.05):
        assert spectra.pseudospectral_radius(A, eps) == pytest.approx(rho + eps, rel=1e-10)
        assert spectra.pseudospectral_abscissa(A, eps) == pytest.approx(alpha + eps, rel=1e-10)
    assert spectra.distance_to_instability(A) == pytest.approx(1 - rho, rel=1e-9)
    stable = A - 1.2 * np.eye(n)  # all Re(lambda) < 0
    assert spectra.distance_to_instability(stable, "continuous") == pytest.approx(-(alpha - 1.2), rel=1e-9)
    assert spectra.kreiss_constant(A) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("a,c", [(0.5, 1.0), (-0.2, 3.0)])
def test_distance_to_instability_2x2_closed_form(a, c):
    A = np.array([[a, c], [0.0, a]])
    d = 1 - abs(a)  # sigma_min grows with |z - a|, so the nearest point of the circle is optimal
    assert spectra.distance_to_instability(A) == pytest.approx(sigma_2x2(a, a, c, a / abs(a)), rel=1e-9)
    assert sigma_2x2(a, a, c, a / abs(a)) == pytest.approx(sigma_2x2(a, a, c, a + d), rel=1e-14)
    assert spectra.distance_to_instability(A, refine=False) >= spectra.distance_to_instability(A) * (1 - 1e-12)
    B = A - 1.0 * np.eye(2)  # continuous time: eigenvalue a - 1 < 0, nearest axis point is i*0
    assert spectra.distance_to_instability(B, "continuous") == pytest.approx(sigma_2x2(a - 1, a - 1, c, 0.0), rel=1e-9)


def test_scalars_against_mpmath_references():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30

    def smin(a, b, c, z):
        p = abs(z - a) * abs(z - b)
        s = abs(z - a) ** 2 + abs(z - b) ** 2 + c**2
        return mp.sqrt(2 * p**2 / (s + mp.sqrt(s**2 - 4 * p**2)))

    def golden_max(f, lo, hi, iters=160):
        g = (mp.sqrt(5) - 1) / 2
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = f(x1), f(x2)
        for _ in range(iters):
            if f1 < f2:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + g * (hi - lo)
                f2 = f(x2)
            else:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - g * (hi - lo)
                f1 = f(x1)
        return max(f1, f2)

    # Kreiss constant of the nilpotent [[0, c], [0, 0]]: sigma_min depends on |z| only
    c = mp.mpf(3)
    kref = golden_max(lambda r: (r - 1) / smin(0, 0, c, r), mp.mpf("1.0000001"), mp.mpf(50))
    A = np.array([[0.0, 3.0], [0.0, 0.0]])
    assert spectra.kreiss_constant(A) == pytest.approx(float(kref), rel=1e-6)
    assert spectra.kreiss_constant(A, refine=False) <= float(kref) * (1 + 1e-12)

    # rho_eps of [[a, c], [0, b]] with a != b: max over angles of the outer boundary radius.  Points within
    # eps of the eigenvalue a are inside, so for |t - arg a| <= eps/|a| the ray crosses the boundary in
    # (|a|, 1.3); the maximum lies in that angular window for these matrices.
    cases = [(("0.6", "0"), ("-0.3", "0"), "0.8", "0.05"), (("0.5", "0.3"), ("-0.2", "-0.4"), "0.7", "0.05")]
    for a, b, cc, eps in cases:
        a, b, cc, eps = mp.mpc(*a), mp.mpc(*b), mp.mpf(cc), mp.mpf(eps)

        def outer_radius(t, a=a, b=b, cc=cc, eps=eps):
            w = mp.expj(t)
            return mp.findroot(lambda r: smin(a, b, cc, r * w) - eps, (abs(a), mp.mpf("1.3")), solver="anderson")

        half = eps / abs(a) * mp.mpf("0.95")
        rho_ref = golden_max(outer_radius, mp.arg(a) - half, mp.arg(a) + half, iters=60)
        B = np.array([[complex(a), float(cc)], [0.0, complex(b)]])
        if not B.imag.any():
            B = B.real
        assert spectra.pseudospectral_radius(B, float(eps)) == pytest.approx(float(rho_ref), rel=1e-9)
        assert spectra.pseudospectral_radius(B, float(eps), refine=False) <= float(rho_ref) * (1 + 1e-12)


def test_grcar_published_values():
    # Grcar(100) (-1 below the diagonal, 1 on it and on 3 superdiagonals), eps = 1e-4: rho_eps = 2.85216,
    # alpha_eps = 2.41276 (Guglielmi & Overton, SIAM J. Matrix Anal. Appl. 32 (2011); Pseudospectra.jl tests)
    n = 100
    G = np.diag(-np.ones(n - 1), -1) + sum(np.diag(np.ones(n - k), k) for k in range(4))
    assert spectra.pseudospectral_radius(G, 1e-4) == pytest.approx(2.85216, abs=6e-6)
    assert spectra.pseudospectral_abscissa(G, 1e-4) == pytest.approx(2.41276, abs=6e-6)


@pytest.mark.parametrize("complex_", [False, True])
def test_grid_only_scalars_are_one_sided(complex_):
    A = random_matrix(14, complex_, seed=22)
    A *= 0.9 / np.abs(np.linalg.eigvals(A)).max()
    for eps in (1e-3, 1e-2, 1e-1):
        r_ref, r_grid = spectra.pseudospectral_radius(A, eps), spectra.pseudospectral_radius(A, eps, refine=False)
        a_ref, a_grid = spectra.pseudospectral_abscissa(A, eps), spectra.pseudospectral_abscissa(A, eps, refine=False)
        assert r_grid <= r_ref * (1 + 1e-12) and r_grid >= r_ref * (1 - 1e-2)
        assert a_grid <= a_ref + 1e-12 and a_grid >= a_ref - 1e-2 * abs(a_ref)
        # the refined radius is attained: minimising sigma_min over the circle of that radius reaches eps
        th = np.linspace(0, 2 * np.pi, 4001)
        t0 = th[np.argmin(spectra.sigma_min(A, r_ref * np.exp(1j * th)))]
        res = scipy.optimize.minimize_scalar(
            lambda t, r_ref=r_ref: svd_ref(A, r_ref * np.exp(1j * t))[0],
            bounds=(t0 - 2e-3, t0 + 2e-3),
            method="bounded",
            options={"xatol": 1e-12},
        )
        assert res.fun <= eps * (1 + 1e-7)
    d_ref, d_grid = spectra.distance_to_instability(A), spectra.distance_to_instability(A, refine=False)
    assert d_ref <= d_grid * (1 + 1e-12)
    th = np.linspace(0, 2 * np.pi, 20001)
    assert np.min(spectra.sigma_min(A, np.exp(1j * th))) >= d_ref * (1 - 1e-9)
    dc_ref, dc_grid = (
        spectra.distance_to_instability(A, "continuous"),
        spectra.distance_to_instability(A, "continuous", refine=False),
    )
    assert dc_ref <= dc_grid * (1 + 1e-12)
    k_ref, k_grid = spectra.kreiss_constant(A), spectra.kreiss_constant(A, refine=False)
    assert 1.0 <= k_grid <= k_ref * (1 + 1e-12)
    tg = spectra.transient_growth(A)
    assert k_ref <= tg.peak * (1 + 1e-9) and tg.peak <= math.e * A.shape[0] * k_ref  # Kreiss matrix theorem


@pytest.mark.parametrize(
    "A,rho_eps,alpha_eps,d_disc,d_cont",
    [
        (np.array([[0.5]]), 0.6, 0.6, 0.5, 0.5),
        (np.array([[0.3 + 0.4j]]), 0.6, 0.4, 0.5, 0.3),
        (np.zeros((3, 3)), 0.1, 0.1, 1.0, 0.0),
        (np.eye(5), 1.1, 1.1, 0.0, 1.0),
        (0.9 * np.array([[0.0, -1.0], [1.0, 0.0]]), 1.0, 0.1, 0.1, 0.0),
        (np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.5]]), None, None, 0.5, 0.0),
    ],
)
def test_scalars_edge_cases(A, rho_eps, alpha_eps, d_disc, d_cont):
    if rho_eps is not None:
        assert spectra.pseudospectral_radius(A, 0.1) == pytest.approx(rho_eps, rel=1e-12)
        assert spectra.pseudospectral_radius(A, 0.1, refine=False) == pytest.approx(rho_eps, rel=1e-12)
        assert spectra.pseudospectral_abscissa(A, 0.1) == pytest.approx(alpha_eps, rel=1e-12)
    assert spectra.distance_to_instability(A) == pytest.approx(d_disc, rel=1e-12, abs=1e-15)
    assert spectra.distance_to_instability(A, "continuous") == pytest.approx(d_cont, rel=1e-12, abs=1e-15)
    assert spectra.kreiss_constant(A) == pytest.approx(1.0, rel=1e-6)
    assert spectra.transient_growth(A).peak_k == 0


def test_orthogonal_matrix_is_not_called_unstable():
    Q = np.linalg.qr(rng(25).standard_normal((30, 30)))[0]
    assert spectra.kreiss_constant(Q) == pytest.approx(1.0, rel=1e-6)  # not inf, despite |lambda| = 1 +- rounding
    tg = spectra.transient_growth(Q)
    assert tg.peak == pytest.approx(1.0, rel=1e-12) and tg.peak_k == 0
    assert spectra.distance_to_instability(Q) < 1e-13
    assert spectra.henrici(Q) < 1e-13


def test_kreiss_infinite_when_unstable():
    assert spectra.kreiss_constant(np.diag([1.1, 0.2])) == math.inf
    assert spectra.kreiss_constant(np.eye(3)) == pytest.approx(1.0)


def test_transient_growth_closed_form():
    a, c = 0.9, 2.0
    A = np.array([[a, c], [0, a]])
    tg = spectra.transient_growth(A, kmax=60)
    expected = [np.linalg.norm(np.array([[a**k, k * a ** (k - 1) * c if k else 0.0], [0, a**k]]), 2) for k in range(61)]
    assert np.allclose(tg.norms, expected, rtol=1e-12)
    assert tg.peak == pytest.approx(max(expected), rel=1e-12)
    assert tg.peak_k == int(np.argmax(expected))
    auto = spectra.transient_growth(A)
    assert auto.peak_k == tg.peak_k and auto.norms[-1] <= 1e-3 * auto.peak
    assert spectra.transient_growth(np.zeros((3, 3))).peak_k == 0
    assert spectra.transient_growth(A, kmax=0).norms.tolist() == [1.0]


def test_robustness_summary_is_plain_json():
    A = random_matrix(16, seed=23) * 0.8
    s = spectra.robustness_summary(A, [1e-3, 0.1])
    for key in (
        "eigenvalues",
        "spectral_radius",
        "spectral_norm",
        "henrici",
        "henrici_relative",
        "eigenvector_condition",
        "distance_to_instability",
        "pseudospectral_radius",
        "kreiss_lower_bound",
        "transient_peak",
        "transient_peak_k",
    ):
        assert key in s
    assert set(s["pseudospectral_radius"]) == {"0.001", "0.1"}
    assert len(s["eigenvalues"]) == 16 and all(len(p) == 2 for p in s["eigenvalues"])
    assert all(type(v) is float for v in s["pseudospectral_radius"].values())
    assert type(s["transient_peak_k"]) is int and type(s["henrici"]) is float
    assert json.loads(json.dumps(s)) == s
    assert s["henrici"] == pytest.approx(spectra.henrici(A))
    assert s["pseudospectral_radius"]["0.1"] == pytest.approx(spectra.pseudospectral_radius(A, 0.1))


# ----------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "bad,word",
    [
        (np.ones((2, 3)), "square"),
        (np.ones((0, 0)), "empty"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "inf"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
        ([[1, "x"], [2, 3]], "numeric"),
        (np.ones(3), "2-D"),
        (np.ones((2, 2, 2)), "2-D"),
        (None, "numeric"),
    ],
)
def test_bad_matrix_raises_value_error(bad, word):
    for fn in (
        spectra.henrici,
        spectra.schur,
        spectra.eigenvalues,
        spectra.spectral_radius,
        spectra.kreiss_constant,
        spectra.robustness_summary,
    ):
        with pytest.raises(ValueError, match=word):
            fn(bad)
    with pytest.raises(ValueError, match=word):
        spectra.sigma_min_grid(bad, [0.0], [0.0])


def test_bad_options_raise_value_error():
    A = np.eye(3)
    with pytest.raises(ValueError, match="eps"):
        spectra.pseudospectral_radius(A, 0.0)
    with pytest.raises(ValueError, match="eps"):
        spectra.pseudospectral_abscissa(A, -1.0)
    with pytest.raises(ValueError, match="kind"):
        spectra.distance_to_instability(A, "sideways")
    with pytest.raises(ValueError, match="tol"):
        spectra.sigma_min(A, [0.0], tol=2.0)
    with pytest.raises(ValueError, match="method"):
        spectra.sigma_min(A, [0.0], method="qr")
    with pytest.raises(ValueError, match="kmax"):
        spectra.transient_growth(A, kmax=-1)
    with pytest.raises(ValueError, match="NaN"):
        spectra.sigma_min(A, [np.nan])
    with pytest.raises(ValueError, match="x"):
        spectra.sigma_min_grid(A, [[0.0]], [0.0])
    with pytest.raises(ValueError, match="eps_levels"):
        spectra.robustness_summary(A, [])


# ----------------------------------------------------------------------------------------------------
# command line


def _run_cli(*args):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "rnnrobust.spectra", *map(str, args)], capture_output=True, text=True, env=env
    )


def test_cli_table_and_json(tmp_path):
    g = rng(24)
    path = tmp_path / "weights.npz"
    np.savez(
        path, **{"rnn/h": g.standard_normal((8, 8)) / 3, "encoder/i": np.eye(5) * 0.5, "dense/kernel": np.ones((8, 3))}
    )
    out = _run_cli(path, "--eps", "0.01", "0.1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("| matrix") and "rho_eps(0.01)" in lines[0]
    assert len(lines) == 4 and any(line.startswith("| rnn/h") for line in lines)
    assert "dense/kernel" in out.stderr
    out = _run_cli(path, "--json", "--eps", "0.1")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"rnn/h", "encoder/i"}
    assert data["encoder/i"]["pseudospectral_radius"]["0.1"] == pytest.approx(0.6, rel=1e-10)
    assert data["encoder/i"]["henrici"] == 0.0

    npy = tmp_path / "m.npy"
    np.save(npy, np.array([[0.5, 1.0], [0.0, 0.5]]))
    out = _run_cli(npy, "--json")
    assert out.returncode == 0 and "m" in json.loads(out.stdout)
    assert _run_cli(tmp_path / "missing.npz").returncode == 2
