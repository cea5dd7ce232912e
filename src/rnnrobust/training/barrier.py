"""The smooth stability barrier R(W) = Σ_b log tr P_b, P_b the solution of P = (W_b/γ) P (W_b/γ)ᵀ + I.

The Stein equation has a positive definite solution iff ρ(W_b) < γ, namely P = Σ_k A^k (A^k)ᵀ with
A = W_b/γ, so R is finite exactly on the stable set and grows without bound at its edge. Since
‖A^k‖₂² ≤ ‖P‖₂ ≤ tr P for every k, √tr P bounds the transient peak max_k ‖A^k‖₂ and the Kreiss constant of
A: R is the discrete smoothed spectral abscissa (Vanbiervliet et al., SIAM J. Optim. 2009).

P is computed in float64 by Smith doubling, P ← P + A_j P A_jᵀ, A_j ← A_j² (after j doublings P holds
the first 2^j terms of the series), until a doubling adds less than float64's ε to tr P; its gradient is
autograd's through those doublings (the adjoint Stein equation, dR/dA = 2QAP/tr P with Q = AᵀQA + I, gives
the same, ``tests/training/test_barrier.py``). Where ρ(A) ≥ 1 the series never converges: after
:data:`MAX_DOUBLINGS` doublings (2^48 terms), or as soon as tr P is no longer finite, the barrier is +∞.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

#: Doublings before the series counts as divergent: ρ(W_b/γ) within about 1e-13 of 1 reads as +∞.
MAX_DOUBLINGS = 48


def stein_solution(a: Tensor) -> Tensor | None:
    """P = Σ_k A^k (A^k)ᵀ, the solution of P = A P Aᵀ + I, by Smith doubling (float64, differentiable);
    None where ρ(A) ≥ 1 (the series does not converge)."""
    a = a.to(torch.float64)
    p = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    power = a
    eps = torch.finfo(a.dtype).eps
    for _ in range(MAX_DOUBLINGS):
        increment = power @ p @ power.T
        p = p + increment
        added, total = float(torch.trace(increment.detach())), float(torch.trace(p.detach()))
        if not math.isfinite(total):
            return None
        if added <= eps * total:
            return p
        power = power @ power
    return None


def barrier_terms(blocks: Mapping[str, Tensor], gamma: float) -> tuple[Tensor, dict[str, Tensor]]:
    """R = Σ_b log tr P_b over one run's gate blocks (float64 scalar with autograd; +∞ outside the stable
    set) and each finite block's Stein solution P_b, detached (the safeguard's certificate)."""
    total = torch.zeros((), dtype=torch.float64)
    solutions = {}
    for key, w in blocks.items():
        p = stein_solution(w / gamma)
        if p is None:
            return torch.full((), math.inf, dtype=torch.float64, device=w.device), solutions
        total = total.to(p.device) + torch.log(torch.trace(p))
        solutions[key] = p.detach()
    return total, solutions


def barrier(blocks: Mapping[str, Tensor], gamma: float) -> Tensor:
    """R = Σ_b log tr P_b over one run's gate blocks (float64 scalar with autograd); +∞ outside the stable set.

    >>> import torch
    >>> round(float(barrier({"h": 0.5 * torch.eye(2)}, 1.0)), 12)  # tr P = 2 / (1 - 0.25)
    0.980829253012
    >>> float(barrier({"h": torch.eye(2)}, 1.0))
    inf
    """
    return barrier_terms(blocks, gamma)[0]
