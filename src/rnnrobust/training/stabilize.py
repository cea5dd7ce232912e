"""Spectral stabilization (the paper's Algorithm 1, reconstructed in protocol §3) and its variants.

At the end of every epoch, after that epoch's validation (Keras ``on_epoch_end`` order), each
recurrent matrix W is rescaled in place, without gradient, by γ / λ̂:

- ``quantity``: ``radius`` (λ̂ estimates the spectral radius ρ(W)) or ``norm`` (the spectral norm σ_max(W));
- ``estimator``: ``norm_ratio`` (default; n power steps v ← Wv/‖Wv‖, then λ̂ = ‖Wv‖; for ``norm``
  the steps run on WᵀW), ``rayleigh_abs`` (the literal |vᵀWv|, badly biased for complex dominant
  pairs: protocol §3), or ``exact`` (eigenvalues / singular values: the oracle);
- ``n_iter`` power steps per epoch; ``vector``: ``persistent`` (warm start carried across epochs,
  and checkpointed) or ``fresh`` (a new random start every epoch);
- ``apply``: ``always`` (the default: ρ̂ is put on the circle of radius γ) or ``if_greater`` (only shrink);
- ``gamma`` γ (1.0); ``scope``: ``per_gate_block`` (each H × H block, as the paper's Table 2
  suggests) or ``stacked`` (the whole k·H × H matrix; only with ``quantity: norm``, since a
  rectangular matrix has no eigenvalues).

Optimizer state is left untouched, as a Keras callback calling ``set_weights`` would.

In a group of runs trained at once (``rnnrobust.training.group``) every run has its own stabilizer, called
with the run's own model, whose parameters are views of the run's rows of the stacked parameters:
Algorithm 1 then acts on each run's matrices alone, exactly as for a run trained alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from rnnrobust.config import Stabilization, TrainConfig
from rnnrobust.layout import split_gates
from rnnrobust.training.models import recurrent_layers


def spectral_radius(w: Tensor) -> float:
    """Exact spectral radius (float64 eigenvalues)."""
    return float(torch.linalg.eigvals(w.double()).abs().max())


def spectral_norm(w: Tensor) -> float:
    """Exact spectral norm (largest singular value, float64)."""
    return float(torch.linalg.matrix_norm(w.double(), ord=2))


def gate_block_views(model: nn.Module) -> dict[str, Tensor]:
    """Every recurrent H × H gate block of a model as a view of its ``weight_hh``, keyed ``<layer>/<gate>``."""
    out = {}
    for name, layer in recurrent_layers(model).items():
        for gate, block in split_gates(layer.weight_hh, layer.cell).items():
            out[f"{name}/{gate}"] = block
    return out


def estimate(w: Tensor, v: Tensor, options: Stabilization) -> tuple[float, Tensor]:
    """(λ̂, updated unit vector) for the matrix ``w`` (float64) from the start vector ``v``."""
    if options.estimator == "exact":
        return (spectral_radius(w) if options.quantity == "radius" else spectral_norm(w)), v
    step = (lambda x: w @ x) if options.quantity == "radius" else (lambda x: w.T @ (w @ x))
    for _ in range(options.n_iter):
        x = step(v)
        norm = torch.linalg.vector_norm(x)
        if norm == 0:  # W v = 0: the estimate is 0 and the vector is kept
            break
        v = x / norm
    if options.estimator == "rayleigh_abs" and options.quantity == "radius":
        return float((v @ (w @ v)).abs()), v
    # for the norm, Miyato's uᵀWv with u = Wv/‖Wv‖ is ‖Wv‖ itself
    return float(torch.linalg.vector_norm(w @ v)), v


class SpectralStabilizer:
    """Epoch-end hook that rescales every recurrent matrix of a model (see the module docstring).

    Returns, for ``history.csv``, per matrix ``<quantity>_est/<key>`` (the estimate λ̂ used),
    ``<quantity>_before/<key>`` (the exact quantity before the rescale) and ``radius_after/<key>``
    (the exact spectral radius after it; per gate block only).
    """

    def __init__(self, options: Stabilization, seed: int) -> None:
        self.options = options
        self.generator = torch.Generator().manual_seed(int(seed) + 7919)
        self.vectors: dict[str, Tensor] = {}

    def matrices(self, model: nn.Module) -> dict[str, Tensor]:
        """The parameter views this hook rescales, keyed ``<layer>/<gate>`` or ``<layer>`` (stacked)."""
        if self.options.scope == "stacked":
            return {name: layer.weight_hh for name, layer in recurrent_layers(model).items()}
        return gate_block_views(model)

    def _start_vector(self, key: str, size: int) -> Tensor:
        if self.options.vector == "persistent" and key in self.vectors:
            return self.vectors[key]
        v = torch.randn(size, generator=self.generator, dtype=torch.float64)
        return v / torch.linalg.vector_norm(v)

    @torch.no_grad()
    def __call__(self, model: nn.Module, epoch: int) -> dict[str, float]:
        log: dict[str, float] = {}
        exact = spectral_radius if self.options.quantity == "radius" else spectral_norm
        quantity = self.options.quantity
        for key, param in self.matrices(model).items():
            before = exact(param.detach().to("cpu", torch.float64))
            log[f"{quantity}_est/{key}"] = self._rescale(key, param)
            log[f"{quantity}_before/{key}"] = before
            if self.options.scope == "per_gate_block":
                log[f"radius_after/{key}"] = spectral_radius(param.detach())
        return log

    @torch.no_grad()
    def rescale_(self, model: nn.Module) -> None:
        """Algorithm 1's rescale of every matrix without the exact quantities that the epoch's log records
        (``robust_training.projection: radius`` calls it after every optimizer step)."""
        for key, param in self.matrices(model).items():
            self._rescale(key, param)

    def _rescale(self, key: str, param: Tensor) -> float:
        """Estimate λ̂ from the matrix's (persistent or fresh) vector and rescale it by γ / λ̂; returns λ̂."""
        w = param.detach().to("cpu", torch.float64)
        lam, v = estimate(w, self._start_vector(key, w.shape[1]), self.options)
        self.vectors[key] = v
        gamma = self.options.gamma
        if lam > 0 and (self.options.apply == "always" or lam > gamma):
            param.mul_(gamma / lam)
        return lam

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "vectors": dict(self.vectors)}

    def load_state_dict(self, state: Mapping) -> None:
        self.generator.set_state(state["generator"])
        self.vectors = dict(state["vectors"])


def stabilization_hooks(train: TrainConfig) -> list[SpectralStabilizer]:
    """The epoch-end hooks of a run: one stabilizer when the run has ``stabilization`` options.

    For a group, one list per run: ``[stabilization_hooks(t) for t in trains]`` (``loop.train_group``).
    """
    if train.stabilization is None:
        return []
    return [SpectralStabilizer(train.stabilization, train.seed)]
