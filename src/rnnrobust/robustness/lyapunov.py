"""Finite-time Lyapunov exponents of a trained network's recurrent layers, driven by its test inputs.

A predictor of fragility (issue 19, item 6) that reads the network as it runs, where the spectral scalars of
``rnnrobust.robustness.analysis`` read the recurrent matrix W alone. Numbers only; the definitions, stated once:

- **Trajectory and step Jacobians.** A recurrent layer reading the sequence x_1 … x_T (what the trained network
  feeds it, ``rnnrobust.robustness.perturbation.state.layer_inputs``) is the map s_t = F(s_{t−1}, x_t) of its state,
  started from s_0 = 0. The state s is h for the rnn and the GRU and the concatenation (h, c) for the LSTM, as in
  ``rnnrobust.robustness.perturbation.state`` (S = H, or 2H). The step Jacobian J_t = ∂s_t/∂s_{t−1} (S × S) at the
  (s_{t−1}, x_t) the sequence drives carries an infinitesimal perturbation of the state one step on,
  δs_t = J_t δs_{t−1}, so that δs_T = J_T ⋯ J_1 δs_0. It is taken in evaluation mode (no dropout), in float64,
  through the layer's own Keras-faithful step and its backward pass (:func:`step_jacobians`).
- **Finite-time Lyapunov exponents** λ_1 ≥ … ≥ λ_S at horizon T: with the QR factorisation J_T ⋯ J_1 = Q R,
  λ_i = (1/T) log |R_ii|, sorted; natural log per time step (a perturbation grows by about e^λ per step). They are
  computed without forming the product, whose columns all turn towards the fastest direction and overflow, by the
  QR (Benettin) iteration Q_0 = I, Q_t R_t = J_t Q_{t−1}, λ_i = (1/T) Σ_t log |R_t[i, i]| (:func:`lyapunov_spectrum`).
  Before sorting, the first i of them add up to the per-step log growth rate of the i-dimensional volume spanned by
  perturbations of the first i state units (the first alone: (1/T) log ‖J_T ⋯ J_1 e_1‖), and all S add up to
  (1/T) Σ_t log |det J_t| exactly. Every λ_i lies between (1/T) log σ_min and (1/T) log σ₁ of ∂s_T/∂s_0 (σ₁: the
  perturbation stage's state amplification at lag T), as a triangular matrix's diagonal lies between its extreme
  singular values; at long horizons λ_1 and (1/T) log σ₁ agree, at short ones λ_1 depends on the starting frame.
  An exactly singular step (a state unit that is neither read nor passed on, e.g. an LSTM unit whose hard-sigmoid
  forget gate is clipped at 0) makes an exponent −∞, its true value, never NaN.
- **Reading them.** λ_1 > 0: along this input-driven trajectory, perturbations of the state grow at the finite
  horizon T; λ_1 < 0: they shrink. The number of positive exponents counts the independent growing directions.
  Both describe the trajectory of one sequence over T steps, not the layer's asymptotic dynamics.
- **Relation to ρ(W).** For a linear RNN, J_t = W at every step, and as T → ∞ the exponents tend to the log-moduli
  log |μ_i| of W's eigenvalues, ordered (a complex pair gives two equal exponents): λ_1 → log ρ(W). At a finite
  horizon they differ by O(log κ(V) / T) for W = V diag(μ) V⁻¹: the transients of a non-normal W, which the
  pseudospectra describe, are what separates the exponents at T ≈ 10–80 from log ρ(W). For the tanh rnn,
  J_t = diag(1 − h_t²) W, so every |R_t[i, i]| lies between (1 − max_j h_{t,j}²) σ_min(W) and σ_max(W) (for the
  same reason). The GRU's leak z ∘ h_{t−1} and the LSTM's gates enter the Jacobian too, so no bound from W alone
  holds for them.

**Per layer** (:func:`finite_time_lyapunov`), over the first ``max_sequences`` test sequences: ``lambda_max``, the
median over the sequences of λ_1, with its 10 % and 90 % quantiles (``lambda_max_q10``, ``lambda_max_q90``; numpy's
linear interpolation, −∞ where it would meet a −∞) and every sequence's λ_1 (``lambda_max_per_sequence``);
``n_positive``, the median over the sequences of the number of λ_i > 0; ``exponents``, the median spectrum (the
median of each λ_i over the sequences, still in descending order); ``horizon`` T, ``sequences`` and ``state``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.robustness.perturbation.state import layer_inputs
from rnnrobust.training.models import KerasRecurrent, recurrent_layers

__all__ = ["STEP_ROWS", "finite_time_lyapunov", "layer_states", "lyapunov_spectrum", "step_jacobians"]

#: State copies in one batched pass of step Jacobians: bounds its memory (8192 × 256 float64 ≈ 17 MB at S = 2·128).
STEP_ROWS = 8192


def lyapunov_spectrum(jacobians: np.ndarray, *, k: int | None = None) -> np.ndarray:
    """Finite-time Lyapunov exponents of a trajectory from its step Jacobians, by QR iteration.

    Parameters
    ----------
    jacobians : array_like, shape (T, n, n) or (..., T, n, n)
        The step Jacobians J_1 … J_T of one trajectory (leading dimensions: several trajectories at once), finite.
    k : int, optional
        Follow only the first ``k`` columns of the identity (Q_0 = I[:, :k]): the exponents of the first ``k``
        units' perturbations, at the cost of n × k instead of n × n frames. Default: all ``n``.

    Returns
    -------
    numpy.ndarray, shape (k,) or (..., k)
        λ_i = (1/T) Σ_t log |R_t[i, i]| with Q_t R_t = J_t Q_{t−1} (reduced QR), in natural log per step, sorted in
        descending order; −∞ for an exactly singular direction (module docstring).

    Raises
    ------
    ValueError
        If the Jacobians are not a non-empty stack of finite square matrices, or ``k`` is not in 1 … n.

    Examples
    --------
    Diagonal steps scale each unit on its own: the exponents are the mean log-moduli of the diagonals.

    >>> steps = np.array([np.diag([4.0, -0.5, 1.0]), np.diag([1.0, -0.5, 1.0])])
    >>> lyapunov_spectrum(steps).round(4)
    array([ 0.6931,  0.    , -0.6931])
    >>> lyapunov_spectrum(steps, k=1).round(4)
    array([0.6931])
    """
    jac = _checked_jacobians(jacobians, k)
    n = jac.shape[-1]
    frame = np.broadcast_to(np.eye(n)[:, : k or n], (*jac.shape[:-3], n, k or n)).copy()
    _, growth = _advance(frame, jac)
    return _descending(growth / jac.shape[-3])


def _checked_jacobians(jacobians: np.ndarray, k: int | None) -> np.ndarray:
    """The Jacobians as a float64 array, after the checks :func:`lyapunov_spectrum` documents."""
    jac = np.asarray(jacobians, dtype=np.float64)
    if jac.ndim < 3:
        raise ValueError(f"jacobians must be (T, n, n) or (..., T, n, n), got shape {jac.shape}")
    if jac.shape[-1] != jac.shape[-2]:
        raise ValueError(f"step Jacobians must be square (n × n), got {jac.shape[-2]} × {jac.shape[-1]}")
    if jac.shape[-3] == 0 or jac.shape[-1] == 0:
        raise ValueError(f"jacobians need at least one step of a non-empty state, got shape {jac.shape}")
    if not np.isfinite(jac).all():
        raise ValueError("jacobians contain NaN or ±inf: the trajectory itself has diverged")
    if k is not None and not 1 <= k <= jac.shape[-1]:
        raise ValueError(f"k must be between 1 and the state size {jac.shape[-1]}, got {k}")
    return jac


def _advance(frame: np.ndarray, jacobians: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carry the orthonormal ``frame`` (..., n, k) through the steps (axis −3): new frame, Σ_t log |R_t[i, i]|."""
    growth = np.zeros((*frame.shape[:-2], frame.shape[-1]))
    with np.errstate(divide="ignore"):  # an exactly singular step: log 0 = −∞, the exponent's true value
        for t in range(jacobians.shape[-3]):
            # Householder QR keeps Q orthonormal even for a zero column, so a −∞ never turns into NaN later
            frame, upper = np.linalg.qr(jacobians[..., t, :, :] @ frame)
            growth += np.log(np.abs(np.diagonal(upper, axis1=-2, axis2=-1)))
    return frame, growth


def _descending(values: np.ndarray) -> np.ndarray:
    """Sorted along the last axis, largest first."""
    return np.sort(values, axis=-1)[..., ::-1].copy()


def _step(layer: KerasRecurrent, x_t: Tensor, state: Tensor) -> Tensor:
    """s_t (rows, S) from x_t (rows, in) and s_{t−1} (rows, S): one step of the layer's own forward."""
    hid, lstm = layer.hidden_size, layer.cell == "lstm"
    _, after = layer(x_t.unsqueeze(1), (state[:, :hid], state[:, hid:]) if lstm else state)
    return torch.cat(after, dim=1) if lstm else after


def _state_size(layer: KerasRecurrent) -> int:
    return 2 * layer.hidden_size if layer.cell == "lstm" else layer.hidden_size


def layer_states(layer: KerasRecurrent, inputs: Tensor) -> Tensor:
    """The states s_0 = 0, s_1, …, s_T (B, T + 1, S) of ``layer`` reading ``inputs`` (B, T, in), step by step.

    s is h, or (h, c) concatenated for the LSTM; its h part reproduces the layer's own outputs.
    """
    states = [inputs.new_zeros(len(inputs), _state_size(layer))]
    with torch.no_grad():
        for x_t in inputs.unbind(1):
            states.append(_step(layer, x_t, states[-1]))
    return torch.stack(states, dim=1)


def step_jacobians(layer: KerasRecurrent, inputs: Tensor, before: Tensor) -> Tensor:
    """J_t = ∂s_t/∂s_{t−1} (B, T, S, S) of the steps reading ``inputs`` (B, T, in) from the states ``before`` (B, T, S).

    ``before[:, t]`` is the state the step reading ``inputs[:, t]`` starts from (:func:`layer_states` without its
    last step). Every (sequence, step) pair is repeated S times and one backward pass through a single step gives
    all rows: copy i's gradient, seeded with e_i, is row i of that step's Jacobian.
    """
    batch, steps, size = before.shape
    pairs = batch * steps
    xs = inputs.reshape(pairs, inputs.shape[-1]).repeat_interleave(size, dim=0)
    start = before.reshape(pairs, size).detach().repeat_interleave(size, dim=0).requires_grad_(True)
    with torch.enable_grad():
        after = _step(layer, xs, start)
        seeds = torch.eye(size, dtype=after.dtype, device=after.device).repeat(pairs, 1)
        (rows,) = torch.autograd.grad(after, start, grad_outputs=seeds)
    return rows.view(batch, steps, size, size)


def _layer_exponents(layer: KerasRecurrent, inputs: Tensor) -> np.ndarray:
    """The sorted finite-time exponents (B, S) of every sequence of ``inputs`` (B, T, in) through ``layer``.

    The step Jacobians are made and consumed a block of steps at a time (≤ :data:`STEP_ROWS` state copies), so
    that memory stays bounded at the largest state (S = 256) and horizon (T = 80) instead of holding B·T·S² values.
    """
    batch, steps, _ = inputs.shape
    states = layer_states(layer, inputs)
    size = states.shape[-1]
    frame = np.broadcast_to(np.eye(size), (batch, size, size)).copy()
    growth = np.zeros((batch, size))
    block = max(1, STEP_ROWS // (batch * size))
    for first in range(0, steps, block):
        last = min(steps, first + block)
        jac = step_jacobians(layer, inputs[:, first:last], states[:, first:last]).cpu().numpy()
        frame, log_r = _advance(frame, _checked_jacobians(jac, None))
        growth += log_r
    return _descending(growth / steps)


def _quantile(values: np.ndarray, q: float, axis: int | None = None) -> Any:
    """numpy's linear-interpolation quantile, where one that meets a −∞ is −∞ (numpy gives NaN: −∞ − (−∞))."""
    with np.errstate(invalid="ignore"):
        out = np.quantile(np.asarray(values, dtype=np.float64), q, axis=axis)
    # the exponents are never NaN or +∞, so NaN here can only come from interpolating towards a −∞
    return np.where(np.isnan(out), -np.inf, out)


def _layer_summary(exponents: np.ndarray, state: str, horizon: int) -> dict[str, Any]:
    """The per-layer numbers of the module docstring from the sequences' spectra (B, S) at ``horizon`` steps."""
    first = exponents[:, 0]
    return {
        "state": state,
        "horizon": int(horizon),
        "sequences": int(exponents.shape[0]),
        "lambda_max": float(_quantile(first, 0.5)),
        "lambda_max_q10": float(_quantile(first, 0.1)),
        "lambda_max_q90": float(_quantile(first, 0.9)),
        "lambda_max_per_sequence": first.tolist(),
        "n_positive": float(_quantile((exponents > 0).sum(axis=1), 0.5)),
        "exponents": _quantile(exponents, 0.5, axis=0).tolist(),
    }


def finite_time_lyapunov(
    model: nn.Module, x: Tensor, *, layer: str | None = None, max_sequences: int = 16
) -> dict[str, dict[str, Any]]:
    """Finite-time Lyapunov exponents of each recurrent layer of ``model`` along its test sequences (float64).

    Parameters
    ----------
    model : torch.nn.Module
        A trained task model (``rnnrobust.training.models.build_model``; not a stack of runs). It is left as it is:
        a float64 copy in evaluation mode is measured.
    x : torch.Tensor
        Test inputs as the model takes them (B, ...); the first ``max_sequences`` are used.
    layer : str, optional
        Measure only this recurrent layer (e.g. ``"rnn"``); default all of them.
    max_sequences : int
        At most this many sequences (16: cost grows with B·T·S² Jacobian entries and B·T QR factorisations of
        S × S frames).

    Returns
    -------
    dict
        {layer: {"state", "horizon", "sequences", "lambda_max", "lambda_max_q10", "lambda_max_q90",
        "lambda_max_per_sequence", "n_positive", "exponents"}}, as the module docstring defines them.
    """
    if max_sequences < 1 or len(x) < 1:
        raise ValueError(f"need at least one sequence: max_sequences={max_sequences}, {len(x)} in x")
    m64 = copy.deepcopy(model).to(torch.float64).eval()
    m64.requires_grad_(False)  # only the derivatives with respect to the state are wanted
    layers = recurrent_layers(m64)
    if layer is not None and layer not in layers:
        raise ValueError(f"no recurrent layer {layer!r} in the model; it has {sorted(layers)}")
    if any(rec.weight_hh.dim() != 2 for rec in layers.values()):
        raise ValueError("finite_time_lyapunov measures one run: pass a single model, not a stack of runs")
    x = x[:max_sequences]
    x64 = x.to(torch.float64) if x.is_floating_point() else x
    out = {}
    for name, inputs in layer_inputs(m64, x64).items():
        if layer in (None, name):
            state = "h,c" if layers[name].cell == "lstm" else "h"
            out[name] = _layer_summary(_layer_exponents(layers[name], inputs), state, inputs.shape[1])
    return out
