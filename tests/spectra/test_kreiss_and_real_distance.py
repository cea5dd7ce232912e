"""The Kreiss lower bound by its 1-D search in eps, and the real structured distance to instability.

Each against a closed form or a brute-force search that shares no code with the library's: dense SVDs on
fine grids, the 2-D search the library used before (kept here as a cross-check), the characterisation of a
real 2 x 2 matrix with eigenvalues e^{+-i theta} (trace 2 cos theta, determinant 1), and the smallest real E
mapping a complex vector x to (zI - A) x.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.optimize

from rnnrobust import spectra
from rnnrobust.spectra._instability import _real_instability_search


def dense_sigma_min(A, z):
    """sigma_min(zI - A) by a dense SVD of the original matrix at every point (batched)."""
    z = np.asarray(z, dtype=complex).ravel()
    M = z[:, None, None] * np.eye(A.shape[0]) - np.asarray(A)[None, :, :]
    return np.linalg.svd(M, compute_uv=False)[:, -1]


def grcar(n, scale):
    G = np.diag(-np.ones(n - 1), -1) + sum(np.diag(np.ones(n - k), k) for k in range(4))
    return scale * G / np.abs(np.linalg.eigvals(G)).max()


# a real 5 x 5 matrix with its eigenvalues on the real axis (angles 0 and pi) and a large coupling: its
# Kreiss ratio peaks at z ~ 2.2 (far from every eigenvalue) at a modulus the 2-D search's t-grid skips, and
# the 2-D search ends 0.6 % low at a smaller peak on the other side (z ~ -2.2)
FAR_PEAK = np.array(
    [
        [-0.594, 0.03, -0.574, -0.433, 1.131],
        [0.0, 0.051, 1.221, 0.598, 2.306],
        [0.0, 0.0, -0.227, 1.885, 1.727],
        [0.0, 0.0, 0.0, -0.017, 0.748],
        [0.0, 0.0, 0.0, 0.0, -0.486],
    ]
)


# ----------------------------------------------------------------------------------------------------
# references for the Kreiss constant


def kreiss_polar_search(A):
    """The library's former 2-D search: a polar grid of (|z| - 1) / sigma_min, then Nelder-Mead in
    (log t, theta) from the best three grid points (z = (1 + t) e^{i theta})."""
    A = np.asarray(A)
    lam = np.linalg.eigvals(A)
    real = not np.iscomplexobj(A)
    norm = np.linalg.norm(A, 2)
    th = np.linspace(0, np.pi if real else 2 * np.pi, 64 if real else 128, endpoint=real)
    extra = np.mod(np.angle(lam[np.argsort(-np.abs(lam))[:32]]), 2 * np.pi)
    th = np.unique(np.concatenate((th, np.where(extra > np.pi, 2 * np.pi - extra, extra) if real else extra)))
    t_hi = 10.0 * (norm + 1.0)
    TH, TT = np.meshgrid(th, np.logspace(-7, np.log10(t_hi), 20), indexing="ij")
    sig = spectra.sigma_min(A, ((1.0 + TT) * np.exp(1j * TH)).ravel())
    floor = 1e-8 * (norm + 1.0)
    ratio = np.where(sig >= floor, TT.ravel() / np.maximum(sig, floor), 0.0)
    best = max(1.0, float(ratio.max()))

    def neg(p):
        tt = np.exp(min(max(p[0], np.log(1e-7)), np.log(t_hi)))
        sv = dense_sigma_min(A, (1.0 + tt) * np.exp(1j * p[1]))[0]
        return -tt / sv if sv >= floor else 0.0

    for j in np.argsort(-ratio)[:3]:
        p0 = [np.log(TT.ravel()[j]), TH.ravel()[j]]
        opts = {"xatol": 1e-9, "fatol": 1e-13 * best, "maxiter": 400}
        best = max(best, -scipy.optimize.minimize(neg, p0, method="Nelder-Mead", options=opts).fun)
    return best


def kreiss_brute_force(A, n_theta=721, n_t=400, starts=6):
    """Dense polar grid of (|z| - 1) / sigma_min(zI - A) by SVD over the whole plane outside the unit
    circle (t in [1e-6, 30]), then Nelder-Mead in (log t, theta) from the best local maxima of the grid."""
    A = np.asarray(A)
    th = np.linspace(0.0, 2 * np.pi, n_theta, endpoint=False)
    ts = np.geomspace(1e-6, 30.0, n_t)
    TH, TT = np.meshgrid(th, ts, indexing="ij")
    ratio = (TT / dense_sigma_min(A, (1.0 + TT) * np.exp(1j * TH)).reshape(TH.shape)).ravel()

    def neg(p):
        t = np.exp(p[0])
        return -t / dense_sigma_min(A, (1.0 + t) * np.exp(1j * p[1]))[0]

    best = max(1.0, float(ratio.max()))
    for j in np.argsort(-ratio)[: starts * 40 : 40]:  # spread over different peaks
        p0 = [np.log(TT.ravel()[j]), TH.ravel()[j]]
        opts = {"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000}
        best = max(best, -scipy.optimize.minimize(neg, p0, method="Nelder-Mead", options=opts).fun)
    return best


def golden_max(f, lo, hi, iters=200):
    g = (math.sqrt(5) - 1) / 2
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


# ----------------------------------------------------------------------------------------------------
# Kreiss constant


def test_kreiss_of_normal_matrices_is_one():
    # for normal A with rho < 1, rho_eps = rho + eps, so (rho_eps - 1) / eps = 1 - (1 - rho) / eps -> 1
    g = np.random.default_rng(30)
    Q = np.linalg.qr(g.standard_normal((12, 12)) + 1j * g.standard_normal((12, 12)))[0]
    lam = 0.95 * np.sqrt(g.uniform(0, 1, 12)) * np.exp(2j * np.pi * g.uniform(0, 1, 12))
    A = Q @ np.diag(lam) @ Q.conj().T
    rho = np.abs(lam).max()
    for eps in (1e-3, 0.1, 10.0):
        ratio = (spectra.pseudospectral_radius(A, eps) - 1.0) / eps
        assert ratio == pytest.approx(1.0 - (1.0 - rho) / eps, rel=1e-10, abs=1e-10)
    assert spectra.kreiss_constant(A) == pytest.approx(1.0, rel=1e-12)
    assert spectra.kreiss_constant(A, refine=False) <= 1.0 + 1e-12


@pytest.mark.parametrize("c", [1.5, 2.5, 3.0, 10.0, 50.0])
def test_kreiss_of_nilpotent_2x2_closed_form(c):
    # rho_eps([[0, c], [0, 0]]) = sqrt(eps (eps + c)); the maximum of (rho_eps - 1) / eps is (c^2 + 4) / (4c)
    # at eps = 4c / (c^2 - 4) for c > 2, and 1 (as eps -> inf) for c <= 2
    A = np.array([[0.0, c], [0.0, 0.0]])
    expected = (c * c + 4.0) / (4.0 * c) if c > 2 else 1.0
    assert spectra.kreiss_constant(A) == pytest.approx(expected, rel=1e-10)
    assert kreiss_polar_search(A) == pytest.approx(expected, rel=1e-6)  # the 2-D search is exact here


@pytest.mark.parametrize("lam,c", [(0.5, 2.0), (-0.3 + 0.4j, 1.5), (0.9, 0.5), (0.2, 6.0)])
def test_kreiss_of_jordan_2x2_against_brute_force(lam, c):
    # Lambda_eps([[lam, c], [0, lam]]) is the disc about lam of radius sqrt(eps (eps + c)): F(eps) in closed
    # form, maximised over a fine grid in log eps and polished by golden section; and a dense z grid
    A = np.array([[lam, c], [0.0, lam]])

    def F(log_eps):
        eps = math.exp(log_eps)
        return (abs(lam) + math.sqrt(eps * (eps + c)) - 1.0) / eps

    grid = np.linspace(math.log(1e-8), math.log(1e4), 4001)
    i = int(np.argmax([F(s) for s in grid]))
    k_eps = max(1.0, golden_max(F, grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]))
    k_z = kreiss_brute_force(A, n_theta=181, n_t=300, starts=2)
    K = spectra.kreiss_constant(A)
    assert K == pytest.approx(k_eps, rel=1e-10)
    assert K == pytest.approx(k_z, rel=1e-8)
    assert kreiss_polar_search(A) == pytest.approx(K, rel=1e-6)  # the 2-D search is exact on these too


def test_kreiss_of_grcar_like_matrix_against_brute_force():
    A = grcar(16, 0.9)  # rho = 0.9, highly non-normal
    K = spectra.kreiss_constant(A)
    assert K == pytest.approx(kreiss_brute_force(A, n_theta=360, n_t=200, starts=4), rel=1e-8)
    assert K >= kreiss_polar_search(A) * (1 - 1e-12)
    tg = spectra.transient_growth(A)
    assert K <= tg.peak * (1 + 1e-9) and tg.peak <= math.e * A.shape[0] * K  # Kreiss matrix theorem


def test_kreiss_maximiser_far_from_the_eigenvalue_angles():
    K = spectra.kreiss_constant(FAR_PEAK)
    brute = kreiss_brute_force(FAR_PEAK)
    assert K == pytest.approx(brute, rel=1e-8)
    old = kreiss_polar_search(FAR_PEAK)
    assert old < K * (1 - 3e-3)  # the 2-D search misses this maximum; the 1-D search does not
    # the maximiser: z ~ 2.2 on the positive real axis, more than 1.5 from every eigenvalue
    th = np.linspace(-0.3, 0.3, 61)
    r = np.linspace(1.5, 3.5, 201)
    R, TH = np.meshgrid(r, th)
    z = (R * np.exp(1j * TH)).ravel()
    z_max = z[np.argmax((np.abs(z) - 1) / dense_sigma_min(FAR_PEAK, z))]
    assert abs(z_max - 2.2) < 0.1
    assert np.min(np.abs(np.linalg.eigvals(FAR_PEAK) - z_max)) > 1.5


@pytest.mark.parametrize("seed", range(6))
def test_kreiss_one_dimensional_search_is_never_below_the_two_dimensional_one(seed):
    g = np.random.default_rng(40 + seed)
    n = 4 + 3 * seed
    A = g.standard_normal((n, n)) + (1j * g.standard_normal((n, n)) if seed % 2 else 0.0)
    A = np.triu(A, 1) * g.uniform(0.3, 3.0) + np.diag(np.diag(A))
    A *= 0.97 / np.abs(np.linalg.eigvals(A)).max()
    K, K_grid = spectra.kreiss_constant(A), spectra.kreiss_constant(A, refine=False)
    assert 1.0 <= K_grid <= K * (1 + 1e-12)
    assert K >= kreiss_polar_search(A) * (1 - 1e-10)
    tg = spectra.transient_growth(A)
    assert K <= tg.peak * (1 + 1e-9)


# ----------------------------------------------------------------------------------------------------
# references for the real structured distance


def tau_real_golden(A, thetas, iters=80):
    """sup over gamma in (0, 1] of sigma_{2n-1}([[Re M, -g Im M], [Im M / g, Re M]]), M = e^{i theta} I - A,
    by golden section in log gamma on [-25, 0] (the function is unimodal in gamma), for all thetas at once."""
    n = A.shape[0]
    M = np.exp(1j * np.asarray(thetas))[:, None, None] * np.eye(n) - A

    def f(log_gamma):
        g = np.exp(log_gamma)[:, None, None]
        P = np.block([[M.real, -g * M.imag], [M.imag / g, M.real]])
        return np.linalg.svd(P, compute_uv=False)[:, -2]

    lo, hi = np.full(len(thetas), -25.0), np.zeros(len(thetas))
    r = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - r * (hi - lo), lo + r * (hi - lo)
    f1, f2 = f(x1), f(x2)
    for _ in range(iters):
        left = f1 < f2  # the maximum lies right of x1
        lo, hi = np.where(left, x1, lo), np.where(left, hi, x2)
        x1, x2 = np.where(left, x2, hi - r * (hi - lo)), np.where(left, lo + r * (hi - lo), x1)
        f1, f2 = f(x1), f(x2)
    return np.maximum(np.maximum(f1, f2), f(np.zeros(len(thetas))))


def smallest_real_map(A, theta, starts=8, seed=0):
    """min over complex x of ||E||_2 for the smallest real E with (A + E) x = e^{i theta} x: E X = Y with
    X = [Re x, Im x] and Y = [Re Mx, Im Mx] (M = e^{i theta} I - A), whose smallest solution is Y X^+.
    Returns (the norm, E)."""
    n = A.shape[0]
    M = np.exp(1j * theta) * np.eye(n) - A

    def real_map(p):
        x = p[:n] + 1j * p[n:]
        Mx = M @ x
        return np.column_stack([Mx.real, Mx.imag]) @ np.linalg.pinv(np.column_stack([x.real, x.imag]))

    g = np.random.default_rng(seed)
    best = (np.inf, None)
    for _ in range(starts):
        res = scipy.optimize.minimize(
            lambda p: np.linalg.norm(real_map(p), 2),
            g.standard_normal(2 * n),
            method="Nelder-Mead",
            options={"xatol": 1e-13, "fatol": 1e-15, "maxiter": 40000},
        )
        if res.fun < best[0]:
            best = (float(res.fun), real_map(res.x))
    return best


def real_2x2_brute_force(A, starts=12, seed=0):
    """Smallest ||E||_2 over real 2 x 2 E with an eigenvalue of A + E on the unit circle: a real eigenvalue
    +-1 costs sigma_min(+-I - A); a pair e^{+-i theta} needs trace 2 cos theta and determinant 1.  The latter
    as min t over (E, t) with G = t^2 I - E^T E positive semidefinite (trace and determinant >= 0: smooth),
    det(A + E) = 1 and trace(A + E)^2 <= 4, by SLSQP with exact gradients from random starts."""

    def cofactor(M):  # d det(M) = <cofactor(M), dM> for 2 x 2 M
        return np.array([[M[1, 1], -M[1, 0]], [-M[0, 1], M[0, 0]]])

    def parts(p):
        E, t = p[:4].reshape(2, 2), p[4]
        return E, t, A + E, t * t * np.eye(2) - E.T @ E

    def gram_det_jac(p):
        E, t, _, G = parts(p)
        C = cofactor(G)  # dG = 2t dt I - dE^T E - E^T dE
        return np.append((-E @ (C + C.T)).ravel(), 2 * t * np.trace(C))

    cons = [
        {
            "type": "eq",
            "fun": lambda p: np.linalg.det(parts(p)[2]) - 1.0,
            "jac": lambda p: np.append(cofactor(parts(p)[2]).ravel(), 0.0),
        },
        {
            "type": "ineq",
            "fun": lambda p: 4.0 - np.trace(parts(p)[2]) ** 2,
            "jac": lambda p: -2 * np.trace(parts(p)[2]) * np.array([1.0, 0, 0, 1, 0]),
        },
        {"type": "ineq", "fun": lambda p: np.trace(parts(p)[3]), "jac": lambda p: np.append(-2 * p[:4], 4 * p[4])},
        {"type": "ineq", "fun": lambda p: np.linalg.det(parts(p)[3]), "jac": gram_det_jac},
    ]
    best = min(dense_sigma_min(A, [1.0, -1.0]))
    g = np.random.default_rng(seed)
    for _ in range(starts):
        res = scipy.optimize.minimize(
            lambda p: p[4],
            np.append(g.standard_normal(4), 3.0),
            jac=lambda p: np.array([0.0, 0, 0, 0, 1]),
            method="SLSQP",
            constraints=cons,
            options={"ftol": 1e-15, "maxiter": 500},
        )
        B = parts(res.x)[2]
        if res.success and abs(np.linalg.det(B) - 1) < 1e-10 and np.trace(B) ** 2 <= 4 + 1e-10:
            best = min(best, float(np.linalg.norm(parts(res.x)[0], 2)))
    return float(best)


# ----------------------------------------------------------------------------------------------------
# real structured distance to instability


@pytest.mark.parametrize(
    "A,expected",
    [
        (np.diag([0.8, -0.3, 0.1]), 0.2),  # real eigenvalues: 1 - max |lambda|, at z = 1
        (np.diag([0.2, -0.9]), 0.1),  # at z = -1
        (0.7 * np.array([[math.cos(1.1), -math.sin(1.1)], [math.sin(1.1), math.cos(1.1)]]), 0.3),  # E = 0.3 R
        (np.array([[0.5]]), 0.5),
        (np.array([[-0.25]]), 0.75),
        (np.zeros((3, 3)), 1.0),
    ],
)
def test_real_distance_closed_forms(A, expected):
    # for a real normal A a real E reaches the circle as cheaply as a complex one: scaling a real eigenvalue
    # to +-1 or a rotation block r R(phi) to R(phi); so d_R = d = 1 - max |lambda|
    assert spectra.real_distance_to_instability(A) == pytest.approx(expected, rel=1e-10)
    assert spectra.distance_to_instability(A) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_real_distance_2x2_against_the_trace_determinant_characterisation(seed):
    g = np.random.default_rng(50 + seed)
    A = g.standard_normal((2, 2)) * 0.6
    d_R = spectra.real_distance_to_instability(A)
    assert d_R == pytest.approx(real_2x2_brute_force(A), rel=1e-7)
    assert d_R >= spectra.distance_to_instability(A) * (1 - 1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_real_distance_3x3_dense_scan_and_its_real_perturbation(seed):
    g = np.random.default_rng(60 + seed)
    A = g.standard_normal((3, 3)) * 0.6
    d_R, theta = _real_instability_search(spectra.prepare(A), refine=True)
    assert d_R == pytest.approx(spectra.real_distance_to_instability(A), rel=1e-14)
    # dense scan: tau_R by golden section in gamma at 2000 angles, its minimum over them and z = +-1
    scan = float(tau_real_golden(A, np.linspace(0.0, np.pi, 2001)[1:-1]).min())
    dense = min(scan, *dense_sigma_min(A, [1.0, -1.0]))
    assert d_R <= dense * (1 + 1e-9)
    assert d_R >= dense * (1 - 1e-5)  # the angle grid's resolution
    # the smallest real E with an eigenvector at e^{i theta*}: its norm is d_R and A + E has that eigenvalue
    if 0.0 < theta < np.pi:
        norm, E = smallest_real_map(A, theta)
        assert norm == pytest.approx(d_R, rel=1e-7)
    else:  # z = +-1: with (zI - A) v = sigma u (u, v real), E = sigma u v^T gives (A + E) v = z v
        U, S, Vt = np.linalg.svd(math.cos(theta) * np.eye(3) - A)
        E = S[-1] * np.outer(U[:, -1], Vt[-1])
    assert np.isrealobj(E) and np.linalg.norm(E, 2) == pytest.approx(d_R, rel=1e-7)
    assert dense_sigma_min(A + E, np.exp(1j * theta))[0] < 1e-6


@pytest.mark.parametrize("n,seed", [(2, 0), (5, 1), (12, 2), (30, 3), (40, 4)])
def test_real_distance_is_at_least_the_complex_one(n, seed):
    g = np.random.default_rng(70 + seed)
    A = g.standard_normal((n, n)) / math.sqrt(n)
    A *= g.uniform(0.6, 0.98) / np.abs(np.linalg.eigvals(A)).max()
    d, d_R = spectra.distance_to_instability(A), spectra.real_distance_to_instability(A)
    assert d_R >= d * (1 - 1e-12)
    # and at most the cheaper of the real points z = +-1, where a real rank-1 E suffices
    assert d_R <= min(dense_sigma_min(A, [1.0, -1.0])) * (1 + 1e-12)
    assert spectra.real_distance_to_instability(A, refine=False) >= d_R * (1 - 1e-5)


def test_real_distance_of_non_normal_matrix_exceeds_the_complex_one():
    # a complex pair -0.70 +- 0.45i of a non-normal real matrix: the complex E that moves one eigenvalue to
    # the circle is not real, and a real one, which moves both, costs about 1.7 times as much
    A = np.array([[-0.461, -2.558], [0.101, -0.933]])
    d, d_R = spectra.distance_to_instability(A), spectra.real_distance_to_instability(A)
    assert d_R > 1.5 * d
    assert d_R == pytest.approx(real_2x2_brute_force(A), rel=1e-7)


def test_real_distance_rejects_complex_matrices_and_summary_records_it():
    with pytest.raises(ValueError, match="real matrix"):
        spectra.real_distance_to_instability(np.array([[0.5j]]))
    A = np.array([[0.5, 1.0], [0.0, -0.2]])
    s = spectra.robustness_summary(A, [0.1])
    assert s["distance_to_instability_real"] == pytest.approx(spectra.real_distance_to_instability(A), rel=1e-12)
    assert s["distance_to_instability_real"] >= s["distance_to_instability"] * (1 - 1e-12)
    assert json.loads(json.dumps(s)) == s
    c = spectra.robustness_summary(A + 0j, [0.1])
    assert c["distance_to_instability_real"] is None
