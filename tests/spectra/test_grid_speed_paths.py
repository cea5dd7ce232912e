"""Correctness of the fast sigma_min paths: warm-started sweeps, the shared Ritz kernel, the levels mode.

No timing here: speed is measured by benchmarks/pseudospectra.py.  Every path is checked against dense SVDs
of zI - A with the bound of the spectra tests, |sigma - sigma_SVD| <= 1e-8 sigma_SVD + 1e-13 ||A||_2.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnrobust import spectra
from rnnrobust.spectra import _contours, _grid, _lanczos, _quasi, _ritz, _sweep

LEVELS = 10.0 ** np.array([-3.0, -2.5, -2.0, -1.5, -1.0])


def svd_ref(A, Z):
    eye = np.eye(A.shape[0])
    z = np.asarray(Z).ravel()
    out = np.array([np.linalg.svd(zz * eye - A, compute_uv=False)[-1] for zz in z])
    return out.reshape(np.shape(Z))


def assert_within_bound(got, ref, A):
    err = np.abs(got - ref)
    bound = 1e-8 * ref + 1e-13 * np.linalg.norm(A, 2)
    assert np.all(np.isfinite(got))
    assert np.all(err <= bound), f"max rel err {np.max(err / np.maximum(ref, 1e-300)):.3g}"


def random_matrix(n, seed=0, complex_=False):
    g = np.random.default_rng(seed)
    A = g.standard_normal((n, n)) + (1j * g.standard_normal((n, n)) if complex_ else 0)
    return A / np.sqrt(n)


def nearly_normal(n, coupling, seed=3):
    """Q (D + coupling N) Q*: eigenvalues in the unit disc, departure from normality ~ coupling."""
    g = np.random.default_rng(seed)
    lam = 0.9 * np.exp(2j * np.pi * g.uniform(size=n)) * np.sqrt(g.uniform(size=n))
    N = np.triu(g.standard_normal((n, n)) + 1j * g.standard_normal((n, n)), 1) / np.sqrt(2 * n)
    Q = np.linalg.qr(g.standard_normal((n, n)) + 1j * g.standard_normal((n, n)))[0]
    return Q @ (np.diag(lam) + coupling * N) @ Q.conj().T


def grcar(n, k=3):
    return -np.eye(n, k=-1) + sum(np.eye(n, k=j) for j in range(k + 1))


def grid_points(g, lo=-1.5, hi=1.5):
    x = np.linspace(lo, hi, g)
    return x, x, (x[None, :] + 1j * x[:, None])


def grid(g):
    """The points of a g x g grid on [-1.5, 1.5]^2, as a (g, g) array."""
    return grid_points(g)[2]


# ----------------------------------------------------------------------------------------------------
# warm-started sweeps


@pytest.mark.parametrize(
    "name",
    ["random complex", "normal up to 1e-9", "nearly normal", "moderately non-normal", "Grcar", "Jordan"],
)
def test_sweep_agrees_with_dense_svd(name):
    A = {
        "random complex": lambda: random_matrix(40, seed=1, complex_=True),
        "normal up to 1e-9": lambda: nearly_normal(40, 1e-9),
        "nearly normal": lambda: nearly_normal(40, 1e-4),
        "moderately non-normal": lambda: nearly_normal(40, 0.1),
        "Grcar": lambda: grcar(40) / 2.5,
        "Jordan": lambda: 0.3 * np.eye(40) + 0.8 * np.eye(40, k=1),
    }[name]()
    Z = grid(56)  # 3136 distinct points for a complex matrix: enough for a sweep
    prep = spectra.prepare(A.astype(complex))
    info = {}
    got = _grid.sigma_min_points(prep, Z.ravel(), tol=1e-10, info=info)
    assert info["method"] == "lanczos" and info["warm_started"] > 0
    assert_within_bound(got.reshape(Z.shape), svd_ref(A, Z), A)


def test_wrong_branches_of_a_normal_matrix_are_recomputed_cold():
    # For a normal matrix sigma_min is the distance to the nearest eigenvalue, whose singular vector jumps
    # where the nearest eigenvalue changes: a warm start there can settle on the old branch, too high.
    A = nearly_normal(40, 1e-9, seed=5)  # normal up to 1e-9: Lanczos runs (an exactly normal A would not)
    Z = grid(56)
    info = {}
    got = _grid.sigma_min_points(spectra.prepare(A), Z.ravel(), tol=1e-10, info=info)
    assert info["recomputed_cold"] > 0
    dist = np.min(np.abs(Z.ravel()[:, None] - np.linalg.eigvals(A)[None, :]), axis=1)
    assert_within_bound(got, dist, A)


@pytest.mark.parametrize("warm", [True, False])
@pytest.mark.parametrize("departure", [0.0, 1e-10])
def test_normal_matrices_are_exact_where_singular_values_nearly_coincide(departure, warm):
    # Near the lines where the nearest eigenvalue changes, sigma_min and the next singular value nearly
    # coincide and Lanczos converges slowly (before, such points of an orthogonal 64 x 64 matrix were off by up
    # to 7e-6); Lanczos values are clipped to the distance to the nearest eigenvalue, an upper bound of
    # sigma_min that is exact for normal A.
    A = nearly_normal(64, departure, seed=3)
    Z = grid(60)
    got = _grid.sigma_min_points(spectra.prepare(A), Z.ravel(), tol=1e-10, warm=warm)
    assert_within_bound(got.reshape(Z.shape), svd_ref(A, Z), A)


def test_orthogonal_matrix_grid_agrees_with_dense_svd():
    A = np.linalg.qr(np.random.default_rng(3).standard_normal((64, 64)))[0]
    x = np.linspace(-1.5, 1.5, 60)
    info = {}
    got = spectra.sigma_min_grid(A, x, x, info=info)
    assert info["method"] == "lanczos"
    assert_within_bound(got, svd_ref(A, grid_points(60)[2]), A)


def test_sweep_and_cold_starts_agree_and_sweep_needs_fewer_steps():
    A = random_matrix(48, seed=2, complex_=True)
    Z = grid(60)
    prep = spectra.prepare(A)
    warm, cold = {}, {}
    a = _grid.sigma_min_points(prep, Z.ravel(), tol=1e-10, info=warm)
    b = _grid.sigma_min_points(prep, Z.ravel(), tol=1e-10, info=cold, warm=False)
    assert cold["warm_started"] == 0 < warm["warm_started"]
    assert warm["mean_iterations"] < cold["mean_iterations"]
    assert_within_bound(a, b, A)


def test_small_or_scattered_point_sets_start_cold():
    g = np.random.default_rng(4)
    scattered = g.uniform(-1, 1, 3000) + 1j * g.uniform(-1, 1, 3000)
    assert _sweep.grid_columns(scattered) is None
    assert _sweep.grid_columns(grid_points(20)[2].ravel()) is None  # 400 points: too few to pay
    columns = _sweep.grid_columns(grid_points(50)[2].ravel())
    assert len(columns) == 50 and all(c.size == 50 for c in columns)


def test_ritz_vectors_are_singular_vectors():
    A = random_matrix(40, seed=6, complex_=True)
    prep = spectra.prepare(A)
    z = np.array([0.1 + 0.2j, -0.7j, 1.3, 0.05 - 0.4j])
    plan = _lanczos.Plan(prep.T)
    stats = {"iterations": 0}
    vals, vecs = _lanczos.lanczos_chunk(plan, z, prep.floor, 1e-12, 60, stats, ritz=True)
    assert_within_bound(vals, svd_ref(A, z), A)
    for j, zz in enumerate(z):
        v = vecs[:, j].astype(complex)
        residual = np.linalg.norm((prep.T - zz * np.eye(40)) @ v) / np.linalg.norm(v)
        assert residual == pytest.approx(vals[j], rel=1e-4)


# ----------------------------------------------------------------------------------------------------
# the real Schur plan (a real A: real coupling blocks, 2 x 2 diagonal blocks solved per shift)


@pytest.mark.parametrize("n", [3, 5, 40, 97])
def test_real_plan_solves_match_dense_solves(n):
    # the first seed whose matrix has both a real eigenvalue (a 1 x 1 block) and a complex pair (2 x 2)
    plan = next(
        p
        for p in (_quasi.RealPlan(random_matrix(n, seed=seed)) for seed in range(50))
        if {size for _, size in p.blocks} == {1, 2}
    )
    A = plan.S
    g = np.random.default_rng(1)
    z = np.concatenate([g.standard_normal(6) + 1j * g.standard_normal(6), plan.eigenvalues[:2] + 1e-3])
    B = g.standard_normal((n, z.size)) + 1j * g.standard_normal((n, z.size))
    D = plan.inverse_diagonal(z, 1e-14)
    upper, lower = B.copy(), B.copy()
    plan.solve_upper(upper, D)
    plan.solve_lower(lower, D.conj())
    for j, zz in enumerate(z):
        M = plan.S - zz * np.eye(n)
        np.testing.assert_allclose(upper[:, j], np.linalg.solve(M, B[:, j]), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(lower[:, j], np.linalg.solve(M.conj().T, B[:, j]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.sort_complex(plan.eigenvalues), np.sort_complex(np.linalg.eigvals(A)), atol=1e-12)


def test_real_plan_stays_finite_on_eigenvalues_and_gives_singular_vectors():
    A = random_matrix(40, seed=6)
    prep = spectra.prepare(A)
    plan = _quasi.RealPlan(A)
    # on an eigenvalue (both of a 2 x 2 block's pair, and a real one) the floor keeps the solves finite
    z = np.concatenate([plan.eigenvalues[:3], [0.1 + 0.2j, 1.3]])
    D = plan.inverse_diagonal(z, prep.floor)
    assert np.all(np.isfinite(D))
    vals, vecs = _lanczos.lanczos_chunk(plan, z, prep.floor, 1e-12, 60, {"iterations": 0}, ritz=True)
    assert_within_bound(vals, svd_ref(A, z), A)
    for j, zz in enumerate(z[3:], start=3):
        v = vecs[:, j].astype(complex)
        residual = np.linalg.norm((plan.S - zz * np.eye(40)) @ v) / np.linalg.norm(v)
        assert residual == pytest.approx(vals[j], rel=1e-4)


def test_real_and_complex_plans_give_the_same_grid():
    A = random_matrix(_grid._REAL_PLAN_MIN_N, seed=8)
    x, y = np.linspace(-1.4, 1.4, 60), np.linspace(0.0, 1.4, 50)
    prep = spectra.prepare(A)
    real = spectra.sigma_min_grid(prep, x, y)
    assert isinstance(_grid.solver_plan(prep), _quasi.RealPlan)
    assert isinstance(_grid.solver_plan(spectra.prepare(A + 0j)), _lanczos.Plan)
    assert isinstance(_grid.solver_plan(spectra.prepare(A[:-1, :-1])), _lanczos.Plan)
    prep = spectra.prepare(A)
    prep.cache["plan"] = _lanczos.Plan(prep.T)
    np.testing.assert_allclose(spectra.sigma_min_grid(prep, x, y), real, rtol=1e-8, atol=1e-13)


# ----------------------------------------------------------------------------------------------------
# the shared Ritz kernel


def test_top_ritz_matches_dense_eigenvalues_with_clustered_tops():
    g = np.random.default_rng(7)
    k, m = 9, 300
    alphas = g.uniform(0.5, 2.0, (k, m))
    betas = g.uniform(0.0, 1.0, (k, m))
    betas[:, :50] *= 1e-6  # nearly decoupled: clustered top eigenvalues, Newton's slow case
    theta = alphas[0] * 1.0
    for j in range(2, k + 1):
        theta = _ritz.top_ritz(np, alphas, betas, j, theta)
        H = np.zeros((m, j, j))
        i = np.arange(j)
        H[:, i, i] = alphas[:j].T
        H[:, i[:-1], i[1:]] = betas[: j - 1].T
        ref = np.linalg.eigvalsh(H, UPLO="U")[:, -1]
        assert np.allclose(theta, ref, rtol=1e-13, atol=0)


def test_tridiagonal_top_vectors_are_eigenvectors():
    g = np.random.default_rng(8)
    k, m = 7, 50
    alphas, betas = g.standard_normal((k, m)), g.uniform(0.1, 1.0, (k, m))
    H = np.zeros((m, k, k))
    i = np.arange(k)
    H[:, i, i] = alphas.T
    H[:, i[:-1], i[1:]] = betas[:-1].T
    w, V = np.linalg.eigh(H, UPLO="U")
    s = _lanczos._tridiagonal_top_vectors(alphas, betas, w[:, -1])
    assert np.allclose(np.abs(np.einsum("mk,km->m", V[:, :, -1], s)), 1.0, atol=1e-8)


# ----------------------------------------------------------------------------------------------------
# the levels mode


def assert_contours_identical(S_levels, S_exact, A):
    exact = np.abs(S_levels - S_exact) <= 1e-8 * S_exact + 1e-13 * np.linalg.norm(A, 2)
    for eps in LEVELS:
        above = S_exact > eps
        assert np.array_equal(S_levels > eps, above)
        for axis in (0, 1):
            a, e = np.moveaxis(above, axis, 0), np.moveaxis(exact, axis, 0)
            crossed = a[1:] != a[:-1]
            assert not np.any(crossed & ~(e[1:] & e[:-1])), f"a crossed edge at eps={eps} is not exact"


@pytest.mark.parametrize("name", ["random real", "random complex", "Grcar", "nearly normal"])
def test_levels_mode_draws_the_same_contours(name):
    A = {
        "random real": lambda: random_matrix(40, seed=9),
        "random complex": lambda: random_matrix(40, seed=10, complex_=True),
        "Grcar": lambda: grcar(40) / 2.5,
        "nearly normal": lambda: nearly_normal(40, 1e-3),
    }[name]()
    x = np.linspace(-1.5, 1.5, 61)
    y = np.linspace(-1.4, 1.5, 57)  # not symmetric: mirroring must not be assumed
    prep = spectra.prepare(A)
    info = {}
    got = _contours.sigma_min_levels(prep, x, y, LEVELS, tol=1e-10, info=info)
    assert got.shape == (57, 61)
    assert 0 < info["exact_points"] < info["grid_points"] == 57 * 61
    # screened to 1e-5 first, then the points a contour needs polished to tol (the check below fails without it)
    assert 0 < info["polished_points"] < info["exact_points"]
    assert_contours_identical(got, svd_ref(A, x[None, :] + 1j * y[:, None]), A)


def test_levels_mode_brackets_hold_at_every_point():
    A = random_matrix(40, seed=11)
    x, y, Z = grid_points(49)
    got = _contours.sigma_min_levels(spectra.prepare(A), x, y, LEVELS, tol=1e-10)
    exact = svd_ref(A, Z)
    # certified values are bracket interpolants: never further from the truth than a cell diagonal
    assert np.all(np.abs(got - exact) <= 8 * np.sqrt(2) * (x[1] - x[0]) + 1e-12)


def test_levels_mode_on_symmetric_grid_of_real_matrix_mirrors_rows():
    A = random_matrix(40, seed=12)
    x, y, Z = grid_points(50)
    prep = spectra.prepare(A)
    # rows below the real axis are evaluated by their mirror rows (conjugate points, same sigma_min)
    mirror = _contours._mirror_rows(y, prep)
    assert np.array_equal(mirror, np.where(y < 0, np.arange(50)[::-1], np.arange(50)))
    assert np.array_equal(_contours._mirror_rows(y, spectra.prepare(A + 0j)), np.arange(50))
    got = _contours.sigma_min_levels(prep, x, y, LEVELS, tol=1e-10)
    assert_contours_identical(got, svd_ref(A, Z), A)


def test_levels_mode_degenerate_grids_are_computed_in_full():
    A = random_matrix(40, seed=13)
    prep = spectra.prepare(A)
    x = np.linspace(-1, 1, 30)
    row = _contours.sigma_min_levels(prep, x, np.array([0.3]), LEVELS, tol=1e-10)
    assert_within_bound(row, svd_ref(A, x[None, :] + 0.3j), A)
    shuffled = np.random.default_rng(14).permutation(x)
    info = {}
    full = _contours.sigma_min_levels(prep, shuffled, x[:7], LEVELS, tol=1e-10, info=info)
    assert info["exact_points"] == full.size
    assert_within_bound(full, svd_ref(A, shuffled[None, :] + 1j * x[:7, None]), A)


def test_sigma_min_grid_with_levels_draws_the_full_grids_contours():
    """The public ``levels=`` keyword: every point on the same side of every level as the full grid's, and the
    points a contour passes next to computed exactly."""
    a = np.random.default_rng(7).standard_normal((24, 24)) / np.sqrt(24)
    x = np.linspace(-1.5, 1.5, 41)
    y = np.linspace(-1.5, 1.5, 37)
    levels = [1e-2, 1e-1]
    full = spectra.sigma_min_grid(a, x, y)
    info = {}
    fast = spectra.sigma_min_grid(a, x, y, levels=levels, info=info)
    assert fast.shape == full.shape
    for level in levels:
        assert np.array_equal(fast <= level, full <= level)
    assert 0 < info["exact_points"] < fast.size
    with pytest.raises(ValueError, match="levels="):
        spectra.sigma_min_grid(a, x, y, levels=levels, method="svd")


def test_eigenvalue_distance_is_the_distance_to_the_nearest_eigenvalue():
    rng = np.random.default_rng(4)
    d = rng.standard_normal(37) + 1j * rng.standard_normal(37)
    z = rng.uniform(-3, 3, 500) + 1j * rng.uniform(-3, 3, 500)
    z[:3] = d[:3]  # on an eigenvalue: distance 0
    brute = np.min(np.abs(z[:, None] - d[None, :]), axis=1)
    np.testing.assert_allclose(_lanczos.eigenvalue_distance(d, z), brute, rtol=1e-15, atol=0)
    assert _lanczos.eigenvalue_distance(d, z[:0]).shape == (0,)


def test_levels_mode_with_a_tolerance_as_coarse_as_the_screening_one_polishes_nothing():
    A = random_matrix(40, seed=9)
    x = np.linspace(-1.5, 1.5, 41)
    info = {}
    got = _contours.sigma_min_levels(spectra.prepare(A), x, x, LEVELS, tol=1e-4, info=info)
    assert info["polished_points"] == 0 and 0 < info["exact_points"]
    exact = svd_ref(A, x[None, :] + 1j * x[:, None])
    computed = np.isfinite(got)
    assert computed.all() and np.all(np.abs(got - exact) <= 8 * np.sqrt(2) * (x[1] - x[0]) + 1e-12)
