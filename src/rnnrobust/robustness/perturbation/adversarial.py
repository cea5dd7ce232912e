"""Adversarial weight perturbations of the recurrent gate blocks, by projected gradient ascent.

The problem: for the task loss L of a trained network over examples (x, y),

    max_{ΔW} L(W + ΔW)   subject to   ‖ΔW_b‖₂ ≤ r_b for every gate block b,

with r_b = ε·‖W_b‖₂ at a level ε (the caller's choice) and all blocks of all recurrent layers perturbed
at once: adversarial weight perturbation (Wu, Xia & Wang, NeurIPS 2020; the inner maximisation of SAM,
Foret et al., ICLR 2021), here in the spectral norm of each block, the norm of the other families
(``directions``).

Projected gradient ascent (Madry et al., ICLR 2018) from ΔW = 0, ``steps`` times:

- the gradient G_b = ∂L/∂W_b over all of (x, y) (batches weighted by their size, so that it does not depend
  on ``batch_size`` beyond rounding);
- the steepest-ascent step under the spectral norm: the maximiser of ⟨G, D⟩ over ‖D‖₂ ≤ 1 is U Vᵀ for
  G = U Σ Vᵀ (the dual norm of ‖·‖₂ is the nuclear norm, ⟨G, U Vᵀ⟩ = Σ σᵢ), so ΔW_b ← ΔW_b + α·r_b·U Vᵀ
  with α = 2.5/steps (a block with a zero gradient does not move);
- the projection onto {‖ΔW_b‖₂ ≤ r_b}: the nearest point in the spectral (and Frobenius) norm clips the
  singular values of ΔW_b at r_b.

The result is the iterate of highest loss (ΔW = 0 included, so it never loses against the unperturbed
network). Every copy (one radius mapping each) is one run of a stacked model, optimised at once: the sum
of the copies' losses has each copy's gradient in its own row. SVDs in float64; the network runs in its
own dtype, on W + ΔW rounded to it, as ``copies.evaluate_copies`` evaluates the returned ΔW.

PGD is a local ascent: its loss is a lower bound on the worst loss within the radii, not the worst case.
The ascent sees the labels, so the caller computes it on a split disjoint from the subset on which the
perturbation's accuracy is then measured; otherwise the measurement overfits the examples.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.layout import GATES
from rnnrobust.training.models import recurrent_layers, stack_models
from rnnrobust.training.tasks import loss_and_accuracy
from rnnrobust.training.weights import gate_blocks

__all__ = ["adversarial_perturbations"]

#: Step size as a fraction of the radius per step: 2.5/steps, so the ascent can cross the ball (Madry et al.).
STEP_SCALE = 2.5


def _radii(
    radii: Sequence[Mapping[str, float]], layers: Mapping[str, nn.Module], cell: str, device: torch.device
) -> dict[str, Tensor]:
    """Each layer's radii as a float64 (R, k, 1, 1) tensor, gates in ``GATES[cell]`` order; checks them."""
    out = {}
    for name, layer in layers.items():
        if layer.cell != cell:
            raise ValueError(f"layer {name!r} is a {layer.cell} layer, not {cell}")
        rows = []
        for c, mapping in enumerate(radii):
            keys = [f"{name}/{gate}" for gate in GATES[cell]]
            missing = [key for key in keys if key not in mapping]
            if missing:
                raise ValueError(f"radii[{c}] has no radius for the block(s) {missing}")
            values = [float(mapping[key]) for key in keys]
            if not all(np.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"radii[{c}]: a radius must be finite and ≥ 0; got {values}")
            rows.append(values)
        out[name] = torch.tensor(rows, dtype=torch.float64, device=device).view(len(radii), -1, 1, 1)
    return out


def _losses(stacked: nn.Module, task: str, x: Tensor, y: Tensor, batch_size: int, *, grad: bool) -> Tensor:
    """Every copy's mean loss over (x, y), float64 (R,); with ``grad``, its gradient lands in ``.grad``."""
    runs = next(stacked.parameters()).shape[0]
    device = next(stacked.parameters()).device
    totals = torch.zeros(runs, dtype=torch.float64)
    with torch.set_grad_enabled(grad):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
            logits = stacked(xb.expand(runs, *xb.shape))
            losses = torch.stack([loss_and_accuracy(task, logits[r], yb)[0] for r in range(runs)])
            if grad:  # the sum over copies: copy r's loss depends on row r of each weight only
                (losses.sum() * (len(xb) / len(x))).backward()
            totals += losses.detach().cpu().double() * len(xb)
    return totals / len(x)


def _ascent_direction(g: Tensor) -> Tensor:
    """U Vᵀ of each (H, H) matrix of ``g`` (float64): argmax ⟨G, D⟩ over ‖D‖₂ ≤ 1; 0 where G = 0 or is not finite.

    A gradient overflows when backpropagation through a long sequence at a large radius exceeds the network's
    dtype (seen: the IMDB GRU at ``maxlen`` 200, float32); that block then stops where it is, and its copy's best
    iterate so far is kept.
    """
    finite = torch.isfinite(g).all(dim=-1, keepdim=True).all(dim=-2, keepdim=True)
    g = torch.where(finite, g, torch.zeros_like(g))
    u, s, vh = torch.linalg.svd(g)
    # the SVD of a zero matrix is any pair of orthogonal matrices: no direction to ascend along
    moving = (s[..., :1] > 0).to(g.dtype).unsqueeze(-1)
    return u @ vh * moving


def _project(delta: Tensor, radius: Tensor) -> Tensor:
    """The nearest matrices of spectral norm ≤ ``radius``: singular values clipped at the radius."""
    u, s, vh = torch.linalg.svd(delta)
    return u @ (torch.minimum(s, radius.squeeze(-1)).unsqueeze(-1) * vh)


def _set_weights(layers, base: Mapping[str, Tensor], delta: Mapping[str, Tensor]) -> None:
    """weight_hh ← W + ΔW, summed in float64 and rounded to the network's dtype; gradients cleared."""
    for name, layer in layers.items():
        w = base[name].double() + delta[name].reshape(base[name].shape)
        layer.weight_hh.data.copy_(w.to(layer.weight_hh.dtype))
        layer.weight_hh.grad = None


def adversarial_perturbations(
    model: nn.Module,
    task: str,
    cell: str,
    x: Tensor,
    y: Tensor,
    radii: Sequence[Mapping[str, float]],
    *,
    steps: int = 10,
    batch_size: int = 256,
) -> tuple[list[dict[str, np.ndarray]], list[float]]:
    """Per copy c, ΔW_b with ‖ΔW_b‖₂ ≤ ``radii[c][b]`` raising the loss on (x, y), and that loss (module docstring).

    ``model`` (built by ``build_model(task, cell, ...)``) is left unchanged and run in eval mode.
    ``radii[c]`` maps every block key ``<layer>/<gate>`` to its radius. Returns the blocks' ΔW as float64
    (H, H) arrays, keyed as ``training.weights.gate_blocks`` keys them, and the mean loss of each copy
    at its ΔW (W + ΔW in the network's dtype).
    """
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1; got {steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1; got {batch_size}")
    if not radii:
        return [], []
    runs = len(radii)
    bounds = _radii(radii, recurrent_layers(model), cell, next(model.parameters()).device)  # before the copies
    # deep copies: stack_models makes the given models' parameters views of the stack
    stacked = stack_models([copy.deepcopy(model) for _ in range(runs)]).eval()
    layers = recurrent_layers(stacked)
    for param in stacked.parameters():  # only the recurrent weights get a gradient: ΔW is the variable
        param.requires_grad_(False)
    base, delta, best = {}, {}, {}
    for name, layer in layers.items():
        layer.weight_hh.requires_grad_(True)
        base[name] = layer.weight_hh.detach().clone()
        k, hid = len(GATES[cell]), layer.hidden_size
        delta[name] = torch.zeros(runs, k, hid, hid, dtype=torch.float64, device=base[name].device)
        best[name] = delta[name].clone()
    best_loss = torch.full((runs,), -torch.inf, dtype=torch.float64)
    alpha = STEP_SCALE / steps
    for step in range(steps + 1):
        _set_weights(layers, base, delta)
        loss = _losses(stacked, task, x, y, batch_size, grad=step < steps)  # L at the iterate ΔW_step
        better = loss > best_loss
        best_loss = torch.where(better, loss, best_loss)
        for name in layers:
            best[name][better.to(base[name].device)] = delta[name][better.to(base[name].device)]
        if step == steps:  # the last iterate needs no gradient
            break
        for name, layer in layers.items():
            g = layer.weight_hh.grad.detach().double().reshape(delta[name].shape)
            delta[name] = _project(delta[name] + alpha * bounds[name] * _ascent_direction(g), bounds[name])
    return _as_blocks(best, cell, runs), best_loss.tolist()


def _as_blocks(delta: Mapping[str, Tensor], cell: str, runs: int) -> list[dict[str, np.ndarray]]:
    """Each copy's ΔW split into gate blocks ``<layer>/<gate>``, float64 numpy."""
    out = []
    for c in range(runs):
        state = {f"{name}.weight_hh": d[c].reshape(-1, d.shape[-1]).cpu() for name, d in delta.items()}
        out.append(gate_blocks(state, cell))
    return out
