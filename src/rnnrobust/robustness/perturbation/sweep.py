"""Measuring a trained network along curves of weight perturbations: one row per (curve, level).

A **curve** is (family, sample): one direction per block, swept over the levels x = log10 ε with
‖ΔW_b‖₂ = ε·‖W_b‖₂ for every gate block b (``rnnrobust.robustness.perturbation.directions``). The adversarial
family has no fixed direction: its ΔW at each level comes from projected gradient ascent on the loss over the
attack split (``rnnrobust.robustness.perturbation.adversarial``). :class:`Sweep` measures any list of points at
once (the grid, then each bisection step's midpoints: ``rnnrobust.robustness.perturbation.bisection``), as
perturbed copies of the network evaluated together (``copies.evaluate_copies``), and keeps every row it measured.

Each row holds the perturbation's size on **three scales**: ``eps`` (relative, ‖ΔW_b‖₂/‖W_b‖₂ for every block),
``eps_absolute`` (max_b ‖ΔW_b‖₂) and ``eps_preactivation`` (max_b ‖ΔW_b S_b‖_F/‖P_b‖_F along the unperturbed
evaluation trajectories: ``trajectories.preactivation_scale``); the copy's metrics (``copies.METRICS``), its
accuracy ``drop`` a₀ − a against the unperturbed network, the radius of every block that was stable
unperturbed, those of them now ``unstable`` or ``on_circle`` (``layout.stability``, in the weights' precision),
and ``crossed``: whether one of them is no longer stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.layout import stability
from rnnrobust.robustness.perturbation.adversarial import adversarial_perturbations
from rnnrobust.robustness.perturbation.copies import evaluate_copies, spectral_radii, stacked_weights
from rnnrobust.robustness.perturbation.trajectories import BlockTrajectory, preactivation_scale

__all__ = ["Curve", "Sweep"]

#: One curve of the sweep: (family, sample).
Curve = tuple[str, int]


class Sweep:
    """The measured rows of a run's curves (module docstring); ``measure`` adds rows, ``rows`` holds them all.

    ``directions``: {curve: {block: unit direction}} of the fixed-direction families; ``attack``: (x, y) of the
    adversarial ascent; ``test``: (x, y) of the evaluation subset; ``reference``: the unperturbed metrics;
    ``stable``: the blocks stable unperturbed.
    """

    def __init__(
        self,
        model: nn.Module,
        cell: str,
        blocks: Mapping[str, np.ndarray],
        directions: Mapping[Curve, Mapping[str, np.ndarray]],
        trajectories: Mapping[str, BlockTrajectory],
        *,
        task: str,
        dtype: torch.dtype,
        attack: tuple[Tensor, Tensor],
        test: tuple[Tensor, Tensor],
        reference: Mapping[str, float],
        stable: Sequence[str],
        settings: Any,
    ) -> None:
        self.model, self.cell, self.task, self.dtype = model, cell, task, dtype
        self.blocks, self.directions, self.trajectories = blocks, directions, trajectories
        self.attack, self.test, self.reference, self.stable = attack, test, reference, list(stable)
        self.settings = settings
        self.norms = {key: float(np.linalg.norm(w, 2)) for key, w in blocks.items()}
        # ‖direction‖₂ per curve and block (1, or 0 where a family leaves a block alone): ‖ΔW_b‖₂ without an SVD
        self.direction_norms = {
            curve: {key: float(np.linalg.norm(d, 2)) for key, d in dirs.items()} for curve, dirs in directions.items()
        }
        self.precision = str(dtype).removeprefix("torch.")
        self.rows: dict[tuple[Curve, float], dict[str, Any]] = {}

    def measure(self, points: Sequence[tuple[Curve, float]], *, grid: bool = False) -> list[dict[str, Any]]:
        """The rows of ``points`` [(curve, log10 ε)], measuring those not measured yet in one evaluation."""
        todo = list(dict.fromkeys(p for p in points if p not in self.rows))
        if todo:
            deltas, attack_loss = self._deltas(todo)
            copies = [stacked_weights(self._perturbed(delta), self.cell, self.dtype) for delta in deltas]
            evaluated = evaluate_copies(
                self.task, self.model, copies, *self.test,
                batch_size=self.settings.batch_size, copies_per_pass=self.settings.copies_per_pass,
            )  # fmt: skip
            for point, delta, weights, metrics in zip(todo, deltas, copies, evaluated, strict=True):
                self.rows[point] = self._row(point, delta, weights, metrics, attack_loss.get(point), grid)
        return [self.rows[p] for p in points]

    def _deltas(self, points: Sequence[tuple[Curve, float]]) -> tuple[list[dict[str, np.ndarray]], dict]:
        """ΔW of every block at each point (float64), and the attack loss of the adversarial points."""
        adversarial = [p for p in points if p[0][0] == "adversarial"]
        found: dict = {}
        losses: dict = {}
        if adversarial:
            radii = [{key: 10.0**level * n for key, n in self.norms.items()} for _, level in adversarial]
            deltas, attack_losses = adversarial_perturbations(
                self.model, self.task, self.cell, *self.attack, radii,
                steps=self.settings.adversarial_steps, batch_size=self.settings.batch_size,
            )  # fmt: skip
            found = dict(zip(adversarial, deltas, strict=True))
            losses = dict(zip(adversarial, attack_losses, strict=True))
        out = []
        for curve, level in points:
            if (curve, level) in found:
                out.append(found[(curve, level)])
            else:
                out.append({key: 10.0**level * self.norms[key] * d for key, d in self.directions[curve].items()})
        return out, losses

    def _perturbed(self, delta: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {key: w + delta[key] for key, w in self.blocks.items()}

    def _delta_norms(self, point: tuple[Curve, float], delta: Mapping[str, np.ndarray]) -> dict[str, float]:
        """‖ΔW_b‖₂ of every block: from the direction's norm for a fixed direction, else by an SVD."""
        curve, level = point
        if curve in self.direction_norms:
            return {key: 10.0**level * self.norms[key] * n for key, n in self.direction_norms[curve].items()}
        return {key: float(np.linalg.norm(d, 2)) for key, d in delta.items()}

    def _row(self, point, delta, weights, metrics, attack_loss, grid) -> dict[str, Any]:
        (family, sample), level = point
        # radii of the blocks stable unperturbed only: crossing is about them (an eigenvalue problem per block
        # and copy is the sweep's largest cost otherwise)
        rho = spectral_radii(weights, self.cell, self.stable)
        label = {key: stability(r, self.precision) for key, r in rho.items()}
        scale = preactivation_scale(self.trajectories, delta)
        row = {
            "family": family, "sample": sample, "eps_log10": level, "eps": 10.0**level,
            "eps_absolute": max(self._delta_norms(point, delta).values()),
            "eps_preactivation": float(scale["max"]), "grid": grid, **metrics,
            "drop": self.reference["accuracy"] - metrics["accuracy"],
            "spectral_radius": rho, "unstable": [k for k in rho if label[k] == "unstable"],
            "on_circle": [k for k in rho if label[k] == "on_circle"],
            "crossed": any(label[k] != "stable" for k in rho),
        }  # fmt: skip
        if attack_loss is not None:
            row["attack_loss"] = float(attack_loss)
        return row
