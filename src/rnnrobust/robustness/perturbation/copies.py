"""Perturbed copies of a trained network: their recurrent weights, spectral radii and test metrics.

A copy is the trained network with other ``weight_hh`` (the perturbed gate blocks stacked back,
:func:`stacked_weights`, in the network's dtype). Copies are evaluated as the runs of one stacked model
(``rnnrobust.training.models.stack_models``), ``copies_per_pass`` at a time, so one forward pass evaluates
many: loss, accuracy (and the adding task's exact match) as ``rnnrobust.training.evaluation`` computes
them, in eval mode (no dropout), in the run's training precision, and what changed against the unperturbed
network's outputs on the same examples (:func:`output_change`): the **flip rate**, the fraction of predictions
that differ from the unperturbed network's (per output character for adding, per review for IMDB, per image
for MNIST), and the mean **KL(p₀ ‖ p_ε)** of the predictive distributions (per character for adding; of the
Bernoulli for IMDB), in nats. The spectral radius of each perturbed block is that of the weights the network
holds (:func:`spectral_radii`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.layout import GATES
from rnnrobust.training.models import recurrent_layers, stack_models
from rnnrobust.training.tasks import loss_and_accuracy
from rnnrobust.training.weights import gate_blocks

__all__ = ["evaluate_copies", "output_change", "spectral_radii", "stacked_weights"]

#: The metrics of a copy, in the order of the records.
METRICS = ("loss", "accuracy", "exact_match", "flip_rate", "kl")


def stacked_weights(
    blocks: Mapping[str, np.ndarray], cell: str, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """Gate blocks ``<layer>/<gate>`` back into each layer's k·H × H ``weight_hh``, as the network's dtype."""
    layers = dict.fromkeys(key.split("/")[0] for key in blocks)
    return {
        layer: torch.from_numpy(np.concatenate([blocks[f"{layer}/{gate}"] for gate in GATES[cell]])).to(dtype)
        for layer in layers
    }


def spectral_radii(weights: Mapping[str, Tensor], cell: str, only: Sequence[str] | None = None) -> dict[str, float]:
    """ρ of every gate block of ``weight_hh`` tensors (as the network holds them), computed in float64;
    ``only``: of these blocks alone.

    numpy's eigenvalues, as ``rnnrobust.spectra`` computes them: torch's (``training.stabilize``) come from
    another LAPACK and differ in the last bits, which would change the records.
    """
    state = {f"{layer}.weight_hh": w for layer, w in weights.items()}
    blocks = gate_blocks(state, cell)
    keys = list(blocks) if only is None else [key for key in blocks if key in only]
    return {key: float(np.abs(np.linalg.eigvals(blocks[key])).max()) for key in keys}


def output_change(task: str, logits: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    """(flips, KL(p₀ ‖ p)) per prediction of a batch: 0/1 and nats, against the unperturbed ``reference``
    logits; one value per output character (adding), review (IMDB, a Bernoulli) or image (MNIST).

    >>> import torch
    >>> flips, kl = output_change("imdb", torch.tensor([1.0, -1.0]), torch.tensor([1.0, 1.0]))
    >>> flips.tolist(), round(float(kl[0]), 12), round(float(kl[1]), 4)
    ([0.0, 1.0], 0.0, 0.4621)
    """
    if task == "imdb":  # a Bernoulli on the logit: p = σ(l); KL = Σ over the two outcomes
        flips = (logits > 0) != (reference > 0)
        log_p, log_q = _bernoulli_log_probs(reference), _bernoulli_log_probs(logits)
    else:
        flips = logits.argmax(-1) != reference.argmax(-1)
        log_p, log_q = torch.log_softmax(reference, -1), torch.log_softmax(logits, -1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    return flips.to(logits.dtype), kl


def _bernoulli_log_probs(logit: Tensor) -> Tensor:
    """log (p, 1 − p) of p = σ(logit), stacked on a last axis of 2 (stable for large |logit|)."""
    return torch.stack([nn.functional.logsigmoid(logit), nn.functional.logsigmoid(-logit)], dim=-1)


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
    """Test loss and accuracy (adding: and exact match), flip rate and KL against ``model`` of copies of
    ``model`` with other ``weight_hh`` (module docstring).

    ``copies[c]`` maps a recurrent layer's name to copy c's ``weight_hh`` (layers left out keep the
    model's). Up to ``copies_per_pass`` copies run as one stacked model (eval mode); every copy sees
    the same batches, and the metrics are weighted by batch size as in ``evaluation.test_metrics``.
    """
    if not copies:
        return []
    model.eval()
    reference = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
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
        results += _stacked_metrics(task, stacked, width, x, y, reference, batch_size)[: len(chunk)]
    return results


def _stacked_metrics(task, stacked, width, x, y, reference, batch_size) -> list[dict[str, float]]:
    """:data:`METRICS` of the ``width`` copies of a stacked model, batch by batch (weighted by batch size)."""
    totals = [dict.fromkeys(METRICS, 0.0) for _ in range(width)]
    for start, ref in zip(range(0, len(x), batch_size), reference, strict=True):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        for total, logits in zip(totals, stacked(xb.expand(width, *xb.shape)), strict=True):
            loss, acc = loss_and_accuracy(task, logits, yb)
            flips, kl = output_change(task, logits, ref)
            total["loss"] += float(loss) * len(xb)
            total["accuracy"] += float(acc) * len(xb)
            total["flip_rate"] += float(flips.mean()) * len(xb)
            total["kl"] += float(kl.mean()) * len(xb)
            if task == "adding":
                total["exact_match"] += float((logits.argmax(-1) == yb).all(dim=1).float().sum())
    return [{k: v / len(x) for k, v in total.items() if task == "adding" or k != "exact_match"} for total in totals]
