"""The stability barrier (rnnrobust.training.barrier) and the per-step projections (rnnrobust.training.projection)."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from rnnrobust.config import RobustTraining
from rnnrobust.training.barrier import barrier, barrier_terms, stein_solution
from rnnrobust.training.projection import SAFEGUARD_MARGIN, certified, clip_singular_values_, pull_into_domain_
from rnnrobust.training.stabilize import spectral_norm, spectral_radius


def matrix_with_radius(n, radius, seed, nonnormal=1.0):
    """A non-normal n × n matrix with spectral radius ``radius`` (float64)."""
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(n, n, generator=generator, dtype=torch.float64)
    w = w + nonnormal * torch.triu(torch.randn(n, n, generator=generator, dtype=torch.float64), 1)
    return w * radius / spectral_radius(w)


def test_the_barrier_is_log_tr_of_the_stein_solution():
    w = matrix_with_radius(6, 0.9, 0)
    expected = scipy.linalg.solve_discrete_lyapunov((w / 0.95).numpy(), np.eye(6))  # P = A P Aᵀ + I
    assert np.allclose(stein_solution(w / 0.95).numpy(), expected, rtol=1e-10)
    value = float(barrier({"a": w, "b": 0.5 * w}, 0.95))
    other = scipy.linalg.solve_discrete_lyapunov((0.5 * w / 0.95).numpy(), np.eye(6))
    assert value == pytest.approx(math.log(np.trace(expected)) + math.log(np.trace(other)), rel=1e-12)


@pytest.mark.parametrize("radius", [0.3, 0.9, 0.99])
def test_the_barrier_gradient_matches_finite_differences_and_the_adjoint(radius):
    w = matrix_with_radius(5, radius, 1).requires_grad_(True)
    gamma = 1.0
    (grad,) = torch.autograd.grad(barrier({"h": w}, gamma), w)
    h = 1e-6
    numeric = torch.zeros_like(w)
    for i in range(5):
        for j in range(5):
            step = torch.zeros_like(w)
            step[i, j] = h
            up, down = (float(barrier({"h": (w + s).detach()}, gamma)) for s in (step, -step))
            numeric[i, j] = (up - down) / (2 * h)
    assert float((grad - numeric).norm() / numeric.norm()) < 1e-6
    # the adjoint Stein equation: dR/dA = 2 Q A P / tr P, Q = Aᵀ Q A + I
    a = w.detach().numpy() / gamma
    p = scipy.linalg.solve_discrete_lyapunov(a, np.eye(5))
    q = scipy.linalg.solve_discrete_lyapunov(a.T, np.eye(5))
    assert np.allclose(grad.numpy(), 2 * q @ a @ p / np.trace(p) / gamma, rtol=1e-8)


@pytest.mark.parametrize("radius", [1.0, 1.0 + 1e-9, 1.2, 30.0])
def test_the_barrier_is_infinite_at_and_beyond_gamma(radius):
    w = matrix_with_radius(6, radius, 2)
    assert math.isinf(float(barrier({"h": w}, 1.0))) and float(barrier({"h": w}, 1.0)) > 0
    value, solutions = barrier_terms({"ok": 0.5 * w / radius, "h": w}, 1.0)
    assert math.isinf(float(value)) and "h" not in solutions
    orthogonal = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))[0]  # ρ = 1 exactly: P = Σ I diverges
    assert math.isinf(float(barrier({"h": orthogonal}, 1.0)))
    assert math.isfinite(float(barrier({"h": orthogonal}, 1.0 + 1e-6)))


def test_the_safeguard_pulls_a_block_into_the_domain_and_certifies_the_rest():
    gamma, limit = 0.95, 0.95 * (1 - SAFEGUARD_MARGIN)
    outside = matrix_with_radius(6, 1.3, 3)
    assert pull_into_domain_(outside, gamma)
    assert spectral_radius(outside) == pytest.approx(limit, rel=1e-12)
    inside = matrix_with_radius(6, 0.5, 3)
    before = inside.clone()
    assert not pull_into_domain_(inside, gamma, stein_solution(inside / gamma))
    assert torch.equal(inside, before)
    assert certified(inside / limit, stein_solution(inside / gamma))
    assert not certified(outside * 1.01 / limit, stein_solution(inside / gamma))


def test_singular_value_clipping_is_the_norm_projection():
    w = matrix_with_radius(6, 1.5, 4)
    s = torch.linalg.svdvals(w)
    clip_singular_values_(w, 1.0)
    assert spectral_norm(w) == pytest.approx(1.0, rel=1e-12)
    assert torch.allclose(torch.linalg.svdvals(w), s.clamp(max=1.0), rtol=1e-12)
    small = 0.1 * w
    before = small.clone()
    clip_singular_values_(small, 1.0)
    assert torch.equal(small, before)  # already inside: untouched


def test_projection_options_are_checked():
    with pytest.raises(ValueError, match="projection would break"):
        RobustTraining(parametrization="schur", projection="norm")
