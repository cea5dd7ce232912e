"""Keras 2.1.6 recurrences over a whole sequence, with hand-written backpropagation through time.

Autograd over a Python loop records ~20 small nodes per time step; at the paper's small sizes
their overhead, not the arithmetic, sets the cost. ``KerasRecurrence`` runs the forward loop
without autograd and keeps the gate activations; the backward pass first computes every
time-independent factor (gate derivatives, tanh(c), ...) for all steps at once, so that its
reverse loop is a handful of operations per step, and then forms the recurrent-weight gradient
with one matrix product per gate block over all steps. ``tests/training/test_models.py`` checks it against
``torch.autograd.gradcheck`` and an independent numpy implementation of the Keras equations.

Conventions: ``proj`` (B, T, k·H) is W_ih x_t + b for every step (input dropout already applied),
``w_hh`` (k·H, H) stacks the gate blocks in Keras order, ``masks`` is None or (k, B, H) recurrent
dropout masks, one per gate block, applied to h_{t−1} as Keras' ``implementation=1`` does.

A group of R runs (``rnnrobust.training.group``) passes every tensor with a leading run dimension: proj
(R, B, T, k·H), w_hh (R, k·H, H), h0 and c0 (R, B, H), masks (R, k, B, H); the products become
batched ones (``_addmm``/``_mm``), everything else is element-wise or indexes from the end, so the
same code serves both. Run r of a stack computes exactly what run r alone computes, bit for bit
(CPU, MKL): for a batch of products ATen calls the same BLAS product per run as for one run, except
(1) below 400 multiply-adds per run, where its own small-batch loop rounds differently, (2) when
run r's block of the result does not start on a 16-byte boundary (e.g. 5 × 5 float32 blocks), where
MKL rounds differently from an aligned result, and (3) for a matrix-vector product (one row or
column, e.g. the IMDB head), which a single run computes another way; in these cases
``_addmm``/``_mm`` multiply run by run.
Without a run dimension the code is today's single-run path.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _hard_sigmoid_grad(value: Tensor) -> Tensor:
    """Derivative of hard_sigmoid written in terms of its output: 0.2 inside (0, 1), else 0."""
    return ((value > 0) & (value < 1)).to(value.dtype) * 0.2


def _hard_sigmoid_(x: Tensor) -> Tensor:
    """Keras' hard_sigmoid clip(0.2·x + 0.5, 0, 1), in place (torch's hardsigmoid has slope 1/6)."""
    return x.mul_(0.2).add_(0.5).clamp_(0.0, 1.0)


#: ATen multiplies a batch of matrices with fewer multiply-adds than this per matrix in its own loop,
#: whose rounding differs from the BLAS call that a single product (and a larger batch) gets.
SMALL_BATCHED_PRODUCT = 400
#: MKL's rounding depends on the alignment of the result: every run's block must start on it.
RESULT_ALIGNMENT_BYTES = 16


def _run_by_run(a: Tensor, b: Tensor) -> bool:
    """Whether a batched product of these runs would round differently from one product per run (on
    CPU; a GPU's batched products are not bitwise its single ones anyway, so they are always batched)."""
    rows, inner, cols = a.shape[-2], a.shape[-1], b.shape[-1]
    return a.device.type == "cpu" and (
        rows * inner * cols < SMALL_BATCHED_PRODUCT
        or (rows * cols * a.element_size()) % RESULT_ALIGNMENT_BYTES != 0
        or min(rows, cols) == 1
    )


def _addmm(bias: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """bias + a @ b: one run (2-D ``a``) or a stack of runs (3-D), run r bitwise as run r alone."""
    if a.dim() == 2:
        return torch.addmm(bias, a, b)
    if not _run_by_run(a, b):
        return torch.baddbmm(bias, a, b)
    bias = bias.expand(a.shape[0], *bias.shape[1:])
    return torch.stack([torch.addmm(bias[r], a[r], b[r]) for r in range(a.shape[0])])


def _mm(a: Tensor, b: Tensor) -> Tensor:
    """a @ b: one run (2-D) or a stack of runs (3-D), run r bitwise as run r alone."""
    if a.dim() == 2:
        return a @ b
    if not _run_by_run(a, b):
        return torch.bmm(a, b)
    return torch.stack([a[r] @ b[r] for r in range(a.shape[0])])


def _t(w: Tensor) -> Tensor:
    """Transpose of the last two dimensions (of every run's matrix)."""
    return w.transpose(-1, -2)


def _gate(masks: Tensor, g: int) -> Tensor:
    """Gate block g's dropout mask: (B, H), or (R, B, H) for a stack of runs."""
    return masks.select(-3, g)


def _recurrent(x_t: Tensor, h: Tensor, w_t: Tensor, masks: Tensor | None, first: int, last: int) -> Tensor:
    """x_t + [W_g (h ∘ m_g)] for gate blocks first..last−1 (``w_t`` = W_hhᵀ), along features."""
    hid = h.shape[-1]
    if masks is None:
        return _addmm(x_t, h, w_t[..., first * hid : last * hid])
    rec = [_mm(h * _gate(masks, g), w_t[..., g * hid : (g + 1) * hid]) for g in range(first, last)]
    return x_t + torch.cat(rec, dim=-1)


def _recurrent_grad(dpre: Tensor, w: Tensor, masks: Tensor | None, first: int, last: int) -> Tensor:
    """∂L/∂h_{t−1} through the recurrent products of gate blocks first..last−1 (``w`` = W_hh)."""
    hid = w.shape[-1]
    if masks is None:
        return _mm(dpre, w[..., first * hid : last * hid, :])
    grad = 0
    for g in range(first, last):
        dpre_g = dpre[..., (g - first) * hid : (g - first + 1) * hid]
        grad = grad + _mm(dpre_g, w[..., g * hid : (g + 1) * hid, :]) * _gate(masks, g)
    return grad


def _rows(seq: Tensor) -> Tensor:
    """(T, [R,] B, n) → ([R,] T·B, n): every step and sequence as rows, per run."""
    return seq.movedim(0, -3).flatten(-3, -2)


def _time_first(per_run: Tensor) -> Tensor:
    """A ([R,] T, B, n) buffer seen as (T, [R,] B, n).

    The pre-activation gradients are stored run by run, so that run r's block has a single run's
    layout: the reductions over it downstream (a bias's gradient) then add in a single run's order.
    """
    return per_run.movedim(-3, 0)


class KerasRecurrence(torch.autograd.Function):
    """outputs (B, T, H), h_T, c_T = recurrence(proj, w_hh, h0, c0, masks, cell, activation).

    ``cell`` is 'rnn' | 'lstm' | 'gru'; ``c0`` is None except for the LSTM, whose c_T is returned
    (an empty tensor otherwise). With a leading run dimension R on every tensor (see the module
    docstring) the outputs are (R, B, T, H).
    """

    @staticmethod
    def forward(ctx, proj, w_hh, h0, c0, masks, cell: str, activation: str):  # type: ignore[override]
        if cell == "lstm":
            hs, acts, cells, c_last = _lstm_forward(proj, w_hh, h0, c0, masks)
        else:
            hs, acts = _rnn_gru_forward(proj, w_hh, h0, masks, cell, activation)
            cells = c_last = None
        outputs = torch.stack(hs, dim=-2)
        empty = h0.new_empty(0)
        ctx.cell, ctx.activation = cell, activation
        ctx.has_c0, ctx.has_masks = c0 is not None, masks is not None
        ctx.save_for_backward(
            w_hh,
            h0,
            c0 if c0 is not None else empty,
            masks if masks is not None else empty,
            outputs,
            acts if acts is not None else empty,
            cells if cells is not None else empty,
        )
        return outputs, hs[-1], (c_last if c0 is not None else empty)

    @staticmethod
    def backward(ctx, grad_out, grad_h_last, grad_c_last):  # type: ignore[override]
        w_hh, h0, c0, masks, outputs, acts, cells = ctx.saved_tensors
        masks = masks if ctx.has_masks else None
        *runs, batch, steps, hid = outputs.shape  # runs: [] for one run, [R] for a stack
        k = w_hh.shape[-2] // hid
        grad_out = grad_out.movedim(-2, 0).clone()  # (T, [R,] B, H): time first
        grad_out[-1] += grad_h_last
        h_seq = outputs.movedim(-2, 0)
        if runs:  # h_{t−1} stored run by run, so that each run's rows (for the weight gradient) are a view
            h_prev = _time_first(torch.cat([h0.unsqueeze(-3), h_seq[:-1].movedim(0, -3)], dim=-3))
        else:
            h_prev = torch.cat([h0.unsqueeze(0), h_seq[:-1]])
        dpre = _time_first(outputs.new_empty(*runs, steps, batch, k * hid))
        dh_next = torch.zeros_like(h0)
        dc_next = None
        rec_inputs = [h_prev if masks is None else h_prev * _gate(masks, g) for g in range(k)]
        if ctx.cell == "rnn":
            deriv = (h_seq > 0).to(h_seq.dtype) if ctx.activation == "relu" else 1 - h_seq * h_seq
            for t in range(steps - 1, -1, -1):
                torch.mul(grad_out[t] + dh_next, deriv[t], out=dpre[t])
                dh_next = _recurrent_grad(dpre[t], w_hh, masks, 0, 1)
        elif ctx.cell == "lstm":
            dpre, dh_next, dc_next = _lstm_backward(grad_out, grad_c_last, w_hh, h0, c0, masks, acts, cells)
        else:
            z, r, cand = acts[..., :hid], acts[..., hid : 2 * hid], acts[..., 2 * hid :]
            h_masked = rec_inputs[2]
            rec_inputs[2] = r * h_masked  # the candidate block multiplies r ∘ h_{t−1}
            dcand_factor = (1 - z) * (1 - cand * cand)
            dz_factor = (h_prev - cand) * _hard_sigmoid_grad(z)
            dr_factor = h_masked * _hard_sigmoid_grad(r)
            r_masked = r if masks is None else r * _gate(masks, 2)
            w_cand = w_hh[..., 2 * hid :, :]
            for t in range(steps - 1, -1, -1):
                dh = grad_out[t] + dh_next
                dcand = torch.mul(dh, dcand_factor[t], out=dpre[t, ..., 2 * hid :])
                dh_rec = _mm(dcand, w_cand)
                torch.mul(dh, dz_factor[t], out=dpre[t, ..., :hid])
                torch.mul(dh_rec, dr_factor[t], out=dpre[t, ..., hid : 2 * hid])
                dh_next = torch.addcmul(dh * z[t], dh_rec, r_masked[t])
                dh_next += _recurrent_grad(dpre[t, ..., : 2 * hid], w_hh, masks, 0, 2)
        flat = _rows(dpre)
        grad_w = torch.cat(
            [_mm(_t(flat[..., b * hid : (b + 1) * hid]), _rows(rec_inputs[b])) for b in range(k)], dim=-2
        )
        return dpre.movedim(0, -2), grad_w, dh_next, dc_next, None, None, None


def _rnn_gru_forward(proj: Tensor, w_hh: Tensor, h0: Tensor, masks: Tensor | None, cell: str, activation: str):
    """Hidden states of every step and, for the GRU, the activations [z, r, candidate] (T, B, 3H)."""
    hid = w_hh.shape[-1]
    w_t = _t(w_hh)
    h = h0
    hs, acts = [], []
    for x_t in proj.unbind(-2):
        if cell == "rnn":
            pre = _recurrent(x_t, h, w_t, masks, 0, 1)
            h = pre.relu_() if activation == "relu" else pre.tanh_()
        else:
            zr = _hard_sigmoid_(_recurrent(x_t[..., : 2 * hid], h, w_t, masks, 0, 2))
            h_rec = zr[..., hid:] * (h if masks is None else h * _gate(masks, 2))
            cand = _addmm(x_t[..., 2 * hid :], h_rec, w_t[..., 2 * hid :]).tanh_()
            h = torch.addcmul(cand, zr[..., :hid], h - cand)  # z·h + (1 − z)·cand
            acts.append(torch.cat([zr, cand], dim=-1))
        hs.append(h)
    return hs, (torch.stack(acts) if acts else None)


# The LSTM loop folds the hard sigmoid's 0.2 slope and 0.5 offset into the inputs and weights of
# the i, f, o blocks, so that each step is one matrix product, one clamp of all gates and five
# element-wise operations (the clamped c block is not used: its tanh is taken first).
def _lstm_forward(proj: Tensor, w_hh: Tensor, h0: Tensor, c0: Tensor, masks: Tensor | None):
    hid = w_hh.shape[-1]
    scale = torch.full((4 * hid,), 0.2, dtype=proj.dtype, device=proj.device)
    scale[2 * hid : 3 * hid] = 1.0
    offset = (1 - scale) * 0.625  # 0.5 on the gate blocks, 0 on the cell block
    xs = torch.addcmul(offset, proj, scale).unbind(-2)
    w_t = _t(w_hh * scale[:, None])
    h, c = h0, c0
    hs, acts, cands, cells = [], [], [], []
    for x_t in xs:
        gates = _recurrent(x_t, h, w_t, masks, 0, 4)
        i, f, cand_pre, o = gates.chunk(4, dim=-1)
        g = torch.tanh(cand_pre)
        gates.clamp_(0.0, 1.0)
        c = torch.addcmul(f * c, i, g)
        h = o * torch.tanh(c)
        hs.append(h)
        acts.append(gates)
        cands.append(g)
        cells.append(c)
    return hs, torch.stack(acts), torch.stack([torch.stack(cands), torch.stack(cells)]), c


def _lstm_backward(grad_out, grad_c_last, w_hh, h0, c0, masks, acts, cells):
    """BPTT through ``_lstm_forward``; returns dpre (T, B, 4H), dh0, dc0."""
    g, cells = cells.unbind(0)
    steps, *batch, hid = cells.shape  # batch: (B,) for one run, (R, B) for a stack
    i, f, _, o = acts.chunk(4, dim=-1)
    tanh_c = torch.tanh(cells)
    c_prev = torch.cat([c0.unsqueeze(0), cells[:-1]])
    # dpre_t = [dc, dc, dc, dh] ∘ factor_t, with the gate derivatives folded into factor
    factor = torch.stack([g, c_prev, i, tanh_c], dim=-2)
    factor *= torch.stack([_hard_sigmoid_grad(i), _hard_sigmoid_grad(f), 1 - g * g, _hard_sigmoid_grad(o)], dim=-2)
    dc_from_h = (o * (1 - tanh_c * tanh_c)).unbind(0)
    per_run = grad_out.new_empty(*batch[:-1], steps, batch[-1], 4, hid)  # run by run, as in KerasRecurrence
    dpre, flat = per_run.movedim(-4, 0), _time_first(per_run.view(*batch[:-1], steps, batch[-1], 4 * hid))
    dpre_steps, flat_steps = dpre.unbind(0), flat.unbind(0)
    factors, forget, grads = factor.unbind(0), f.unbind(0), grad_out.unbind(0)
    dh_next = torch.zeros_like(h0)
    dc_next = grad_c_last.clone()
    for t in range(steps - 1, -1, -1):
        dh = grads[t] + dh_next
        dc = torch.addcmul(dc_next, dh, dc_from_h[t])
        torch.mul(torch.stack((dc, dc, dc, dh), dim=-2), factors[t], out=dpre_steps[t])
        dc_next = dc * forget[t]
        dh_next = _recurrent_grad(flat_steps[t], w_hh, masks, 0, 4)
    return flat, dh_next, dc_next
