"""Keras 2.1.6 recurrences over a whole sequence, with hand-written backpropagation through time.

Autograd over a Python loop records ~10 small nodes per time step; replaying them dominates the
cost at the paper's small sizes. ``KerasRecurrence`` runs the loop without autograd, keeps the
gate activations, and computes the gradient in one reverse loop, batching the recurrent-weight
gradient into a single matrix product per gate block. ``tests/test_models.py`` checks it against
``torch.autograd.gradcheck`` and an independent numpy implementation of the Keras equations.

Conventions: ``proj`` (B, T, k·H) is W_ih x_t + b for every step (input dropout already applied),
``w_hh`` (k·H, H) stacks the gate blocks in Keras order, ``masks`` is None or (k, B, H) recurrent
dropout masks, one per gate block, applied to h_{t−1} as Keras' ``implementation=1`` does.
"""

from __future__ import annotations

import torch
from torch import Tensor


def hard_sigmoid(x: Tensor) -> Tensor:
    """Keras' hard_sigmoid: clip(0.2·x + 0.5, 0, 1) (not torch's hardsigmoid, whose slope is 1/6)."""
    return torch.clamp(x * 0.2 + 0.5, 0.0, 1.0)


def _hard_sigmoid_grad(pre: Tensor) -> Tensor:
    """Derivative of hard_sigmoid at ``pre``: 0.2 where −2.5 < pre < 2.5, else 0."""
    return (pre.abs() < 2.5).to(pre.dtype) * 0.2


def _recurrent(h: Tensor, w_t: Tensor, masks: Tensor | None, first: int, last: int) -> Tensor:
    """[W_g (h ∘ m_g)] for gate blocks first..last−1 (``w_t`` = W_hhᵀ), concatenated along features."""
    hid = h.shape[1]
    if masks is None:
        return h @ w_t[:, first * hid : last * hid]
    return torch.cat([(h * masks[g]) @ w_t[:, g * hid : (g + 1) * hid] for g in range(first, last)], dim=1)


def _recurrent_grad(dpre: Tensor, w: Tensor, masks: Tensor | None, first: int, last: int) -> Tensor:
    """∂L/∂h_{t−1} through the recurrent products of gate blocks first..last−1 (``w`` = W_hh)."""
    hid = w.shape[1]
    if masks is None:
        return dpre @ w[first * hid : last * hid]
    grad = 0
    for g in range(first, last):
        grad = grad + (dpre[:, (g - first) * hid : (g - first + 1) * hid] @ w[g * hid : (g + 1) * hid]) * masks[g]
    return grad


class KerasRecurrence(torch.autograd.Function):
    """outputs (B, T, H), h_T, c_T = recurrence(proj, w_hh, h0, c0, masks, cell, activation).

    ``cell`` is 'rnn' | 'lstm' | 'gru'; ``c0`` is None except for the LSTM, whose c_T is returned
    (an empty tensor otherwise).
    """

    @staticmethod
    def forward(ctx, proj, w_hh, h0, c0, masks, cell: str, activation: str):  # type: ignore[override]
        hid = w_hh.shape[1]
        w_t = w_hh.t()
        h, c = h0, c0
        hs, acts, derivs, cells = [], [], [], []
        for t in range(proj.shape[1]):
            x_t = proj[:, t]
            if cell == "rnn":
                pre = x_t + _recurrent(h, w_t, masks, 0, 1)
                if activation == "relu":
                    h = torch.relu(pre)
                    derivs.append((pre > 0).to(pre.dtype))
                else:
                    h = torch.tanh(pre)
                    derivs.append(1 - h * h)
            elif cell == "lstm":
                pre = x_t + _recurrent(h, w_t, masks, 0, 4)
                gates = hard_sigmoid(pre)
                deriv = _hard_sigmoid_grad(pre)
                g = torch.tanh(pre[:, 2 * hid : 3 * hid])
                gates[:, 2 * hid : 3 * hid] = g
                deriv[:, 2 * hid : 3 * hid] = 1 - g * g
                c = gates[:, hid : 2 * hid] * c + gates[:, :hid] * g
                tanh_c = torch.tanh(c)
                h = gates[:, 3 * hid :] * tanh_c
                acts.append(gates)
                derivs.append(deriv)
                cells.append(torch.stack([c, tanh_c]))
            else:
                pre_zr = x_t[:, : 2 * hid] + _recurrent(h, w_t, masks, 0, 2)
                zr = hard_sigmoid(pre_zr)
                r = zr[:, hid:]
                h_rec = r * h if masks is None else r * (h * masks[2])
                cand = torch.tanh(x_t[:, 2 * hid :] + h_rec @ w_t[:, 2 * hid :])
                z = zr[:, :hid]
                h = z * h + (1 - z) * cand
                acts.append(torch.cat([zr, cand], dim=1))
                derivs.append(_hard_sigmoid_grad(pre_zr))
            hs.append(h)
        outputs = torch.stack(hs, dim=1)
        empty = h0.new_empty(0)
        ctx.cell = cell
        ctx.has_c0, ctx.has_masks = c0 is not None, masks is not None
        ctx.save_for_backward(
            w_hh,
            h0,
            c0 if c0 is not None else empty,
            masks if masks is not None else empty,
            outputs,
            torch.stack(acts) if acts else empty,
            torch.stack(derivs),
            torch.stack(cells) if cells else empty,
        )
        return outputs, h, (c if c0 is not None else empty)

    @staticmethod
    def backward(ctx, grad_out, grad_h_last, grad_c_last):  # type: ignore[override]
        w_hh, h0, c0, masks, outputs, acts, derivs, cells = ctx.saved_tensors
        masks = masks if ctx.has_masks else None
        cell = ctx.cell
        batch, steps, hid = outputs.shape
        k = w_hh.shape[0] // hid
        grad_out = grad_out.clone()
        grad_out[:, -1] += grad_h_last
        dpre_all = outputs.new_empty(steps, batch, k * hid)
        dh_next = torch.zeros_like(h0)
        dc_next = grad_c_last.clone() if ctx.has_c0 else None
        cand_inputs = outputs.new_empty(steps, batch, hid) if cell == "gru" else None
        for t in range(steps - 1, -1, -1):
            dh = grad_out[:, t] + dh_next
            if cell == "rnn":
                torch.mul(dh, derivs[t], out=dpre_all[t])
                dh_next = _recurrent_grad(dpre_all[t], w_hh, masks, 0, 1)
            elif cell == "lstm":
                gates = acts[t]
                i, f, g, o = gates[:, :hid], gates[:, hid : 2 * hid], gates[:, 2 * hid : 3 * hid], gates[:, 3 * hid :]
                tanh_c = cells[t, 1]
                c_prev = c0 if t == 0 else cells[t - 1, 0]
                dc = dc_next + dh * o * (1 - tanh_c * tanh_c)
                torch.mul(torch.cat([dc * g, dc * c_prev, dc * i, dh * tanh_c], dim=1), derivs[t], out=dpre_all[t])
                dc_next = dc * f
                dh_next = _recurrent_grad(dpre_all[t], w_hh, masks, 0, 4)
            else:
                h_prev = h0 if t == 0 else outputs[:, t - 1]
                z, r, cand = acts[t, :, :hid], acts[t, :, hid : 2 * hid], acts[t, :, 2 * hid :]
                hm = h_prev if masks is None else h_prev * masks[2]
                dcand = dh * (1 - z) * (1 - cand * cand)
                dh_rec = dcand @ w_hh[2 * hid :]
                torch.mul(
                    torch.cat([dh * (h_prev - cand), dh_rec * hm], dim=1), derivs[t], out=dpre_all[t, :, : 2 * hid]
                )
                dpre_all[t, :, 2 * hid :] = dcand
                cand_inputs[t] = r * hm
                dh_next = dh * z + dh_rec * r * (1 if masks is None else masks[2])
                dh_next = dh_next + _recurrent_grad(dpre_all[t, :, : 2 * hid], w_hh, masks, 0, 2)
        grad_w = _weight_grad(dpre_all, h0, outputs, cand_inputs, masks, k)
        return dpre_all.transpose(0, 1), grad_w, dh_next, dc_next, None, None, None


def _weight_grad(
    dpre: Tensor, h0: Tensor, outputs: Tensor, cand_inputs: Tensor | None, masks: Tensor | None, k: int
) -> Tensor:
    """Σ_t dpre_tᵀ (h_{t−1} ∘ m_g) per gate block, as one matrix product per block over all steps."""
    hid = h0.shape[1]
    h_prev = torch.cat([h0.unsqueeze(0), outputs[:, :-1].transpose(0, 1)], dim=0)  # (T, B, H)
    d = dpre.reshape(-1, k * hid)
    blocks = []
    for g in range(k):
        if cand_inputs is not None and g == 2:
            inp = cand_inputs
        elif masks is None:
            inp = h_prev
        else:
            inp = h_prev * masks[g]
        blocks.append(d[:, g * hid : (g + 1) * hid].t() @ inp.reshape(-1, hid))
    return torch.cat(blocks, dim=0)
