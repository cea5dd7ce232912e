"""Perturbed copies of a trained network: their recurrent weights, spectral radii and test metrics.

A copy is the trained network with other ``weight_hh`` (the perturbed gate blocks stacked back,
:func:`stacked_weights`, in the network's dtype). Copies are evaluated as the runs of one stacked model
(``rnnrobust.training.models.stack_models``), ``copies_per_pass`` at a time, so one forward pass evaluates
many: loss, accuracy (and the adding task's exact match) as ``rnnrobust.training.evaluation`` computes
them, in eval mode (no dropout), in the run's training precision. The spectral radius of each perturbed
block is that of the weights the network holds (:func:`spectral_radii`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.layout import GATES
from rnnrobust.training.evaluation import stacked_test_metrics
from rnnrobust.training.models import recurrent_layers, stack_models
from rnnrobust.training.weights import gate_blocks

__all__ = ["evaluate_copies", "spectral_radii", "stacked_weights"]


def stacked_weights(
    blocks: Mapping[str, np.ndarray], cell: str, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """Gate blocks ``<layer>/<gate>`` back into each layer's k·H × H ``weight_hh``, as the network's dtype."""
    layers = dict.fromkeys(key.split("/")[0] for key in blocks)
    return {
        layer: torch.from_numpy(np.concatenate([blocks[f"{layer}/{gate}"] for gate in GATES[cell]])).to(dtype)
        for layer in layers
    }


def spectral_radii(weights: Mapping[str, Tensor], cell: str) -> dict[str, float]:
    """ρ of every gate block of ``weight_hh`` tensors (as the network holds them), computed in float64.

    numpy's eigenvalues, as ``rnnrobust.spectra`` computes them: torch's (``training.stabilize``) come from
    another LAPACK and differ in the last bits, which would change the records.
    """
    state = {f"{layer}.weight_hh": w for layer, w in weights.items()}
    return {key: float(np.abs(np.linalg.eigvals(b)).max()) for key, b in gate_blocks(state, cell).items()}


@torch.no_grad()
def evaluate_copies(
    task: str,
    model: nn.Module,
    copies: Sequence[Mapping[str, Tensor]],
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int,
    copies_per_pass: int,
) -> list[dict[str, float]]:
    """Test loss and accuracy (adding: and exact match) of copies of ``model`` with other ``weight_hh``.

    ``copies[c]`` maps a recurrent layer's name to copy c's ``weight_hh`` (layers left out keep the
    model's). Up to ``copies_per_pass`` copies run as one stacked model (eval mode); every copy sees
    the same batches, and the metrics are weighted by batch size as in ``evaluation.test_metrics``.
    """
    if not copies:
        return []
    passes = math.ceil(len(copies) / copies_per_pass)
    width = math.ceil(len(copies) / passes)  # equal passes: the last one pads least
    # deep copies: stack_models makes the given models' parameters views of the stack
    stacked = stack_models([copy.deepcopy(model) for _ in range(width)]).eval()
    layers = recurrent_layers(stacked)
    base = {name: layer.weight_hh.detach()[0].clone() for name, layer in layers.items()}
    results = []
    for start in range(0, len(copies), width):
        chunk = list(copies[start : start + width])
        for name, layer in layers.items():
            for r in range(width):
                layer.weight_hh.data[r] = chunk[r].get(name, base[name]) if r < len(chunk) else base[name]
        metrics = stacked_test_metrics(task, stacked, width, x, y, batch_size, x.device)
        results += metrics[: len(chunk)]
    return results
