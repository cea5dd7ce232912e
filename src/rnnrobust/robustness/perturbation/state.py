"""Hidden-state perturbations: how much a recurrent layer amplifies a perturbation of its state.

For ``state_sequences`` test sequences and every recurrent layer fed with what the trained network feeds it
(:func:`layer_inputs`), the amplification of a hidden-state perturbation is σ₁(∂s_T/∂s_{T−k}), the top
singular value of the Jacobian of the layer's final state with respect to its state k steps earlier, for
the lags k in ``state_lags`` shorter than the layer's sequence, and k = T (the initial state, t = 0:
:func:`used_lags`). The state s is h for the rnn and GRU and the concatenation (h, c) for the LSTM (its
whole state; the Euclidean norm on (h, c)). The Jacobian is computed whole, in float64: every lag's from
one batched backward pass of S vector-Jacobian products (S = the state's size, ≤ 2·128 here) through zero
probes added to the state at the chosen steps (:func:`state_jacobians`); its σ₁ is then exact, where power
iteration would need Jacobian-vector products, which the hand-written recurrence
(``rnnrobust.training.recurrence``) does not provide.

Beside it, the perturbation record holds the linear prediction of the layer's state block
(:func:`state_gate`): ‖W^k‖₂ at the same lags, the transient peak max_k ‖W^k‖₂ and the Kreiss constant
(lower bound), of the block through which h_{t−1} enters the candidate state — h for the rnn and the GRU,
c for the LSTM (the block of Figures 1–6). For the GRU the leak z ∘ h_{t−1} and for the LSTM the gates also
shape the Jacobian, so these predictions are cruder than for the rnn, where ∂h_T/∂h_{T−k} is W^k up to the
activation's derivatives.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rnnrobust.layout import GATES
from rnnrobust.training.models import recurrent_layers

__all__ = ["JACOBIAN_ROWS", "layer_inputs", "state_amplification", "state_gate", "state_jacobians", "used_lags"]

#: Rows (sequences × state size) of one batched Jacobian pass: bounds its memory (~150 MB at the paper's sizes).
JACOBIAN_ROWS = 1024


def state_gate(cell: str) -> str:
    """The gate block through which h_{t−1} enters the candidate state: h (rnn, GRU), c (LSTM)."""
    return "c" if cell == "lstm" else GATES[cell][-1]


def layer_inputs(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """What each recurrent layer of ``model`` receives (B, T, in) when the model reads ``x`` (eval mode)."""
    seen: dict[str, Tensor] = {}
    hooks = [
        layer.register_forward_pre_hook(lambda _m, args, name=name: seen.__setitem__(name, args[0].detach().clone()))
        for name, layer in recurrent_layers(model).items()
    ]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def used_lags(steps: int, lags: Sequence[int]) -> list[int]:
    """The lags measured on a sequence of ``steps`` steps: those shorter than it, and ``steps`` itself.

    >>> used_lags(28, [1, 2, 4, 8, 16, 32, 64])
    [1, 2, 4, 8, 16, 28]
    """
    return sorted({int(k) for k in lags if k < steps} | {int(steps)})


def state_jacobians(layer: nn.Module, inputs: Tensor, lags: Sequence[int]) -> dict[int, Tensor]:
    """∂s_T/∂s_{T−k} (B, S, S) of one recurrent layer over ``inputs`` (B, T, in), for each lag k ≤ T.

    s is h, or (h, c) concatenated for the LSTM; the layer starts from a zero state. Rows i of the
    Jacobian are the gradients of the final state's component i: every sequence is repeated S times
    and one backward pass gives all of them (in chunks of ``JACOBIAN_ROWS`` rows).
    """
    batch, steps, _ = inputs.shape
    size = 2 * layer.hidden_size if layer.cell == "lstm" else layer.hidden_size
    lags = sorted({int(k) for k in lags if 1 <= k <= steps})
    out: dict[int, list[Tensor]] = {k: [] for k in lags}
    per_chunk = max(1, JACOBIAN_ROWS // size)
    for first in range(0, batch, per_chunk):
        seqs = inputs[first : first + per_chunk]
        for k, grad in _chunk_jacobians(layer, seqs, lags, size).items():
            out[k].append(grad.view(len(seqs), size, size))
    return {k: torch.cat(parts) for k, parts in out.items()}


def _chunk_jacobians(layer: nn.Module, seqs: Tensor, lags: Sequence[int], size: int) -> dict[int, Tensor]:
    """Rows of ∂s_T/∂s_{T−k} of a chunk of sequences, each repeated ``size`` times: one backward pass."""
    steps, hid, lstm = seqs.shape[1], layer.hidden_size, layer.cell == "lstm"
    rows = len(seqs) * size
    xs = seqs.repeat_interleave(size, dim=0)
    h = xs.new_zeros(rows, hid)
    c = xs.new_zeros(rows, hid) if lstm else None
    probes: dict[int, Tensor] = {}
    with torch.enable_grad():
        for t in range(steps):
            lag = steps - t
            if lag in lags:  # a zero probe on the state k steps before the end: its gradient is the Jacobian
                probe = xs.new_zeros(rows, size, requires_grad=True)
                probes[lag] = probe
                h = h + probe[:, :hid]
                c = c + probe[:, hid:] if lstm else None
            _, state = layer(xs[:, t : t + 1], (h, c) if lstm else h)
            h, c = state if lstm else (state, None)
        final = torch.cat([h, c], dim=1) if lstm else h
        seeds = torch.eye(size, dtype=final.dtype).repeat(len(seqs), 1)
        grads = torch.autograd.grad(final, [probes[k] for k in lags], grad_outputs=seeds)
    return dict(zip(lags, grads, strict=True))


def state_amplification(model: nn.Module, x: Tensor, lags: Sequence[int]) -> dict[str, dict[str, Any]]:
    """σ₁(∂s_T/∂s_{T−k}) per recurrent layer, lag and sequence of ``x``, in float64 (module docstring).

    Lags longer than a layer's sequence are left out, and its length T (the initial state) is always in.
    Returns {layer: {"state", "steps", "lags", "values": {k: [σ₁ per sequence]}}}.
    """
    m64 = copy.deepcopy(model).to(torch.float64).eval()
    m64.requires_grad_(False)  # only the gradients with respect to the state are wanted
    x64 = x.to(torch.float64) if x.is_floating_point() else x
    out = {}
    for name, inputs in layer_inputs(m64, x64).items():
        layer = recurrent_layers(m64)[name]
        steps = inputs.shape[1]
        used = used_lags(steps, lags)
        jac = state_jacobians(layer, inputs, used)
        values = {k: torch.linalg.matrix_norm(jac[k], ord=2).tolist() for k in used}
        out[name] = {"state": "h,c" if layer.cell == "lstm" else "h", "steps": steps, "lags": used, "values": values}
    return out
