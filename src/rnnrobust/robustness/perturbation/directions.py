"""The directions of the weight perturbations, by family (``rnnrobust.layout.FAMILIES``).

Every recurrent gate block W (``<layer>/<gate>``, the H × H blocks of ``weight_hh``,
``rnnrobust.layout.block_keys``) becomes W + ΔW with ‖ΔW‖₂ = ε·‖W‖₂, all blocks of the model at once (each
along its own direction, scaled by its own norm: :func:`perturbed_blocks`). A direction of unit spectral norm
per block and sample; sample s uses the same direction at every ε, so that a curve over ε follows one direction.

- ``gaussian``: a Gaussian matrix per block, drawn from ``numpy.random.default_rng([seed, 1, s])`` block by
  block in ``block_keys`` order (:func:`gaussian_directions`);
- ``gaussian_rank``: the control of ``instability``, a Gaussian matrix of the instability direction's rank
  (A Bᵀ with A, B Gaussian H × r), drawn from ``default_rng([seed, 3, s])`` (:func:`rank_matched_directions`):
  at equal spectral norm a full-rank Gaussian moves hidden states several times more than a rank-1 or rank-2
  matrix, so ``instability`` is compared with this, not with ``gaussian``;
- ``instability``: towards instability (:func:`instability_direction`). z* = argmin_{|z|=1} σ_min(z I − W)
  attains d, the distance to instability, with unit singular vectors (z* I − W) v = d u
  (``spectra.instability_minimizer``). For a real z* (the minimiser is taken real whenever ±1 is as good to
  1e-8) D = d u vᵀ is real, of norm d, and W + D has the eigenvalue z*. For a complex z* the rank-1 d u v* is
  not a real matrix; we use the real rank-2 D = d [Re u, Im u] [Re v, Im v]⁺, which maps Re v → Re(d u) and
  Im v → Im(d u), so that (W + D) v = z* v exactly. It does not depend on the phase of the pair (u, v) (a
  phase turns both 2-column matrices by the same rotation), and it is the real matrix of least spectral norm
  with D v = d u (any real D' with D' v = d u agrees with D on span(Re v, Im v)); its norm is ≥ d and is
  recorded (``instability_norm``). It is an upper bound of the *real* distance to instability at z*, which
  can be smaller (Qiu et al., Automatica 1995) and is not computed. The sweep scales D to ε·‖W‖₂, so
  block b has the eigenvalue z* exactly at ε = ``eps_instability`` = ‖D‖₂/‖W‖₂ ≥ ``eps_pred`` = d/‖W‖₂, the
  threshold predicted by the (complex) distance to instability: no perturbation of a stable block with a
  smaller norm puts an eigenvalue on the unit circle. It is the shortest way to an eigenvalue on the circle,
  not the direction that hurts the network most (that is ``adversarial``'s question). For a block that is not
  stable (``layout.stability``) the construction would move an eigenvalue *onto* the circle from outside:
  such a block gets no instability direction (the family perturbs it by 0) and no prediction;
- ``adversarial``: projected gradient ascent on the loss, one direction per level
  (``rnnrobust.robustness.perturbation.adversarial``), not here.

Linear algebra in float64; torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnnrobust import spectra

__all__ = [
    "InstabilityDirection",
    "gaussian_directions",
    "instability_direction",
    "perturbed_blocks",
    "rank_matched_directions",
]


@dataclass(frozen=True)
class InstabilityDirection:
    """The direction towards instability of one block (module docstring).

    ``distance`` d and ``z`` the minimiser z* of σ_min(zI − W) on the unit circle; ``direction`` the real
    perturbation D scaled to unit spectral norm; ``norm`` ‖D‖₂ (= d for a real z*, ≥ d otherwise), so
    that W + norm·direction has the eigenvalue z*; ``rank`` of D (1 or 2).
    """

    distance: float
    z: complex
    direction: np.ndarray
    norm: float
    rank: int


def instability_direction(w: np.ndarray) -> InstabilityDirection:
    """The real perturbation towards instability of a real square matrix (module docstring).

    >>> import numpy as np
    >>> wc = instability_direction(np.diag([0.8, -0.2]))
    >>> print(round(wc.distance, 12), wc.z, round(wc.norm, 12), wc.rank)
    0.2 (1+0j) 0.2 1
    >>> print(round(float(np.abs(np.linalg.eigvals(np.diag([0.8, -0.2]) + wc.norm * wc.direction)).max()), 12))
    1.0
    """
    w = np.asarray(w, dtype=np.float64)
    m = spectra.instability_minimizer(w)
    if m.z.imag == 0.0:
        unit, rank = np.outer(m.u.real, m.v.real), 1
    else:  # maps Re v → Re u and Im v → Im u: (W + d·unit) v = z* v; the least-norm real such matrix
        v_parts = np.stack([m.v.real, m.v.imag], axis=1)
        u_parts = np.stack([m.u.real, m.u.imag], axis=1)
        unit, rank = u_parts @ np.linalg.pinv(v_parts), 2
    scale = float(np.linalg.norm(unit, 2))
    return InstabilityDirection(distance=m.distance, z=m.z, direction=unit / scale, norm=m.distance * scale, rank=rank)


def gaussian_directions(blocks: Mapping[str, np.ndarray], seed: int, sample: int) -> dict[str, np.ndarray]:
    """Sample ``sample``'s Gaussian direction of every block, each of unit spectral norm (seeded, stable).

    >>> import numpy as np
    >>> d = gaussian_directions({"rnn/h": np.eye(3)}, seed=0, sample=1)
    >>> print(round(float(np.linalg.norm(d["rnn/h"], 2)), 12))
    1.0
    """
    rng = np.random.default_rng([int(seed), 1, int(sample)])
    out = {}
    for key, w in blocks.items():
        g = rng.standard_normal(w.shape)
        out[key] = g / np.linalg.norm(g, 2)
    return out


def rank_matched_directions(
    blocks: Mapping[str, np.ndarray], ranks: Mapping[str, int], seed: int, sample: int
) -> dict[str, np.ndarray]:
    """Sample ``sample``'s Gaussian direction of rank ``ranks[block]`` (A Bᵀ, A and B Gaussian H × r) of every
    block, of unit spectral norm; rank 0 gives a zero direction (a block without an instability direction).

    >>> import numpy as np
    >>> d = rank_matched_directions({"rnn/h": np.eye(4)}, {"rnn/h": 2}, seed=0, sample=0)["rnn/h"]
    >>> print(int(np.linalg.matrix_rank(d)), round(float(np.linalg.norm(d, 2)), 12))
    2 1.0
    """
    rng = np.random.default_rng([int(seed), 3, int(sample)])
    out = {}
    for key, w in blocks.items():
        a = rng.standard_normal((w.shape[0], ranks[key]))
        b = rng.standard_normal((w.shape[1], ranks[key]))
        g = a @ b.T
        out[key] = g / np.linalg.norm(g, 2) if ranks[key] > 0 else g
    return out


def perturbed_blocks(
    blocks: Mapping[str, np.ndarray], directions: Mapping[str, np.ndarray], eps: float
) -> dict[str, np.ndarray]:
    """W + ε·‖W‖₂·direction for every block (float64); ``eps`` relative, directions of unit norm."""
    return {key: w + eps * np.linalg.norm(w, 2) * directions[key] for key, w in blocks.items()}
