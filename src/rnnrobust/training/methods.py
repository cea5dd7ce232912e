"""The robust-training methods of a group's runs (``TrainConfig.robust_training``, docs/robust-training.md).

What they change in a training step (``rnnrobust.training.epochs``):

1. the forward takes the recurrent weights with each Schur-parametrised block built from its parameters
   (``RunGroup.recurrent_weights``; ``rnnrobust.training.schur_param``);
2. each run's loss gains its penalty: ``nonnormality`` β·‖N‖_F² and ``barrier`` β·Σ_b log tr P_b
   (``rnnrobust.training.barrier``), both per run;
3. after the optimizer step, the parametrised W is written into ``weight_hh`` and each run's
   :class:`~rnnrobust.training.projection.StepProjection` acts (Algorithm 1 or the norm clip per step, the
   barrier's safeguard).

After each epoch every run's history row gains the exact ρ and ‖W‖₂ of each gate block
(``radius/<layer>/<gate>``, ``norm/<layer>/<gate>``) and, parametrised, ``nonnormality/<layer>`` = ‖N‖_F.
A parametrised run also leaves ``parametrization.pt`` (its S, a, θ, N and block pattern) beside ``model.pt``,
from which ``robust_training.init_from`` starts (:func:`load_start`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from rnnrobust.config import RobustTraining
from rnnrobust.layout import split_gates
from rnnrobust.training.barrier import barrier_terms
from rnnrobust.training.checkpoint import save_state_dict
from rnnrobust.training.group import RunGroup
from rnnrobust.training.models import recurrent_layers
from rnnrobust.training.projection import StepProjection
from rnnrobust.training.schur_param import PARAMETRIZED_GATE
from rnnrobust.training.stabilize import gate_block_views, spectral_norm, spectral_radius

#: A parametrised run's S, a, θ, N and block pattern, beside its ``model.pt``.
PARAMETRIZATION_FILE = "parametrization.pt"


class TrainingMethods:
    """The methods of one group (module docstring); one :class:`StepProjection` per run."""

    def __init__(self, options: RobustTraining, group: RunGroup) -> None:
        self.options = options
        skip: frozenset[str] = frozenset()
        if group.parametrization is not None:
            gate = PARAMETRIZED_GATE[group.parametrization.cell]
            skip = frozenset(f"{name}/{gate}" for name in recurrent_layers(group.model))
        self.projections = [StepProjection(options, train.seed, skip) for train in group.trains]

    def start(self, group: RunGroup) -> None:
        """Before the first epoch: every run's blocks into the barrier's domain (where it has one)."""
        for r, projection in enumerate(self.projections):
            projection.enter_domain(group.models[r])

    def forward(self, group: RunGroup, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The logits of a training batch and each run's penalty (R,), float64, or None without one."""
        weights = group.recurrent_weights()
        return group(x, weights), self.penalty(group, weights)

    def penalty(self, group: RunGroup, weights: Mapping[str, Tensor] | None) -> Tensor | None:
        """β·‖N‖_F² + β·R(W) per run (R,), float64; None when neither is on."""
        options, terms = self.options, []
        if options.nonnormality > 0 and group.parametrization is not None:
            terms.append(options.nonnormality * group.parametrization.nonnormality().double().reshape(group.size))
        if options.barrier:
            values = []
            for r, projection in enumerate(self.projections):
                value, solutions = barrier_terms(_run_blocks(group, weights, r), options.gamma)
                projection.certificates.update(solutions)
                values.append(value)
            terms.append(options.barrier * torch.stack(values))
        return sum(terms) if terms else None  # type: ignore[return-value]

    @torch.no_grad()
    def after_step(self, group: RunGroup) -> None:
        """After the optimizer step: the parametrised W into ``weight_hh``, then each run's projection."""
        group.sync_parametrization()
        for r, projection in enumerate(self.projections):
            projection(group.models[r])

    @torch.no_grad()
    def epoch_log(self, group: RunGroup, r: int) -> dict[str, float]:
        """Run r's history columns after an epoch: exact ρ and ‖W‖₂ per gate block, ‖N‖_F per layer."""
        log = {}
        for key, block in gate_block_views(group.models[r]).items():
            log[f"radius/{key}"] = spectral_radius(block.detach())
            log[f"norm/{key}"] = spectral_norm(block.detach())
        if group.parametrizations:
            for name, block in group.parametrizations[r].blocks.items():
                log[f"nonnormality/{name}"] = math.sqrt(float(block.nonnormality()))
        return log

    def write(self, group: RunGroup, out_dirs: Sequence[Path]) -> None:
        """Each parametrised run's ``parametrization.pt`` beside its ``model.pt``."""
        if group.parametrization is not None:
            for r, out in enumerate(out_dirs):
                save_state_dict(Path(out) / PARAMETRIZATION_FILE, group.run_parametrization_state(r))

    def state_dict(self) -> dict:
        return {"projections": [projection.state_dict() for projection in self.projections]}

    def load_state_dict(self, state: Mapping) -> None:
        for projection, run_state in zip(self.projections, state["projections"], strict=True):
            projection.load_state_dict(run_state)


def _run_blocks(group: RunGroup, weights: Mapping[str, Tensor] | None, r: int) -> dict[str, Tensor]:
    """Run r's gate blocks of the weights the forward used (the parametrised ones built), keyed ``<layer>/<gate>``."""
    out = {}
    for name, layer in recurrent_layers(group.model).items():
        w = weights[f"{name}.weight_hh"] if weights is not None else layer.weight_hh
        for gate, block in split_gates(w[r] if group.stacked else w, layer.cell).items():
            out[f"{name}/{gate}"] = block
    return out


def load_start(run_dir: str | Path) -> dict[str, dict[str, Tensor]]:
    """What ``robust_training.init_from`` starts a run from: a parametrised run's ``model.pt`` and
    ``parametrization.pt`` (``train_group(..., starts=[load_start(folder) for each run])``)."""
    files = {"model": Path(run_dir) / "model.pt", "parametrization": Path(run_dir) / PARAMETRIZATION_FILE}
    return {part: torch.load(path, map_location="cpu", weights_only=True) for part, path in files.items()}


def build_methods(
    group: RunGroup, starts: Sequence[Mapping[str, Mapping[str, Tensor]]] | None
) -> TrainingMethods | None:
    """The group's methods (None for plain training), its runs started from ``starts`` where ``init_from`` asks."""
    options = group.trains[0].robust_training
    if options is None:
        if starts is not None:
            raise ValueError("starts are for robust_training.init_from; these runs have no robust_training")
        return None
    if options.init_from is None and starts is not None:
        raise ValueError("starts are for robust_training.init_from, which these runs do not set")
    if options.init_from is not None:
        if starts is None or len(starts) != group.size:
            raise ValueError(
                f"robust_training.init_from: {options.init_from} needs one start per run (methods.load_start of the "
                f"{options.init_from} run of the same seed)"
            )
        for r, start in enumerate(starts):
            group.start_from(r, start["model"], start["parametrization"])
    methods = TrainingMethods(options, group)
    methods.start(group)
    return methods
