"""What a run's recurrent gate blocks undergo after every optimizer step: the projection baselines and the
barrier's safeguard (``robust_training``; ``rnnrobust.training.methods`` calls :class:`StepProjection`).

- ``projection: radius``: Algorithm 1 after every step, ``rnnrobust.training.stabilize``'s own rescale
  (the estimator, its persistent vector and ``apply`` as configured, target γ);
- ``projection: norm``: singular values clipped to γ (the nearest matrix with ‖W_b‖₂ ≤ γ; Miller & Hardt,
  ICLR 2019), :func:`clip_singular_values_`;
- the barrier's safeguard: a block whose ρ reached γ(1 − :data:`SAFEGUARD_MARGIN`) is rescaled back to it,
  so that no step leaves the barrier's domain (:func:`pull_into_domain_`). A Lyapunov certificate from the
  barrier's latest Stein solution spares the eigenvalues where it holds; otherwise the exact radius decides
  (a power estimate could fall short, and beyond γ the barrier is +∞).

Each run has its own :class:`StepProjection`, acting on its own model (views of its rows of a stack), so a
run of a group is projected exactly as the run alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from rnnrobust.config import RobustTraining, Stabilization
from rnnrobust.training.stabilize import SpectralStabilizer, gate_block_views, spectral_radius

#: The barrier's safeguard keeps every block at ρ ≤ γ(1 − SAFEGUARD_MARGIN).
SAFEGUARD_MARGIN = 1e-3


@torch.no_grad()
def clip_singular_values_(block: Tensor, gamma: float) -> None:
    """Clip the singular values of ``block`` to at most ``gamma``, in place (float64 SVD); no change if ‖W‖₂ ≤ γ."""
    w = block.detach().to(torch.float64)
    u, s, vh = torch.linalg.svd(w)
    if float(s[0]) <= gamma:
        return
    block.copy_((u * s.clamp(max=gamma)) @ vh)


def certified(a: Tensor, p: Tensor) -> bool:
    """Whether P − A P Aᵀ is positive definite (a Cholesky factor exists), which proves ρ(A) < 1."""
    a = a.to(p.device, torch.float64)
    return int(torch.linalg.cholesky_ex(p - a @ p @ a.T).info) == 0


@torch.no_grad()
def pull_into_domain_(block: Tensor, gamma: float, certificate: Tensor | None = None) -> bool:
    """Rescale ``block`` in place to ρ = γ(1 − margin) if its ρ is that or more; True if it did.

    ``certificate``: a positive definite P (the barrier's last Stein solution of this block); where
    P − (W/limit) P (W/limit)ᵀ is positive definite, ρ(W) < limit is proven without eigenvalues.
    """
    limit = gamma * (1 - SAFEGUARD_MARGIN)
    w = block.detach().to(torch.float64)
    if certificate is not None and certified(w / limit, certificate):
        return False
    radius = spectral_radius(w)
    if radius < limit:
        return False
    block.mul_(limit / radius)
    return True


class StepProjection:
    """Run r's per-step treatment of its gate blocks (module docstring); ``skip`` names the parametrised ones.

    ``certificates`` holds, per block key, the barrier's latest Stein solution (set by the barrier's
    penalty each step). Its state (Algorithm 1's vectors and generator) is checkpointed with the group.
    """

    def __init__(self, options: RobustTraining, seed: int, skip: frozenset[str] = frozenset()) -> None:
        self.options = options
        self.skip = skip
        self.certificates: dict[str, Tensor] = {}
        self.stabilizer = None
        if options.projection == "radius":
            algorithm1 = Stabilization(
                quantity="radius", estimator=options.estimator, n_iter=options.n_iter, vector="persistent",
                apply=options.apply, gamma=options.gamma,
            )  # fmt: skip
            self.stabilizer = SpectralStabilizer(algorithm1, seed)

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        if self.stabilizer is not None:
            self.stabilizer.rescale_(model)
        blocks = {key: block for key, block in gate_block_views(model).items() if key not in self.skip}
        if self.options.projection == "norm":
            for block in blocks.values():
                clip_singular_values_(block, self.options.gamma)
        if self.options.barrier is not None:
            for key, block in blocks.items():
                pull_into_domain_(block, self.options.gamma, self.certificates.get(key))

    @torch.no_grad()
    def enter_domain(self, model: nn.Module) -> None:
        """Before training: a block at or beyond the barrier's edge (an orthogonal init has ρ = 1) is pulled in."""
        if self.options.barrier is not None:
            for key, block in gate_block_views(model).items():
                if key not in self.skip:
                    pull_into_domain_(block, self.options.gamma)

    def state_dict(self) -> dict:
        return {"stabilizer": None if self.stabilizer is None else self.stabilizer.state_dict()}

    def load_state_dict(self, state: Mapping) -> None:
        if self.stabilizer is not None and state.get("stabilizer") is not None:
            self.stabilizer.load_state_dict(state["stabilizer"])
