"""A perturbation's size relative to the pre-activations it perturbs.

The perturbation stage sizes a perturbation of a recurrent gate block W_b (H × H) relative to the
block itself, ‖ΔW_b‖₂ = ε‖W_b‖₂. What a gate receives, though, is ΔW_b s_t beside its whole
pre-activation W_x[b] x_t + b_b + W_b s_t: depending on the states s_t the trained network visits and
on how much the input and the bias contribute, a perturbation of size ε‖W_b‖₂ can be negligible or
dominant for the gate. A conclusion drawn on the ε scale should therefore be checked on this scale too.

Definition
----------
Over every sequence and time step of the unperturbed network's evaluation trajectories (eval mode, no
dropout, zero initial state), let S_b (H × N) stack the vectors that W_b multiplies, one column per
(sequence, step), and P_b (H × N) the gate's full pre-activations at the same pairs. Then

    ρ_b = ‖ΔW_b S_b‖_F / ‖P_b‖_F,

and a perturbation's scale is max_b ρ_b (:func:`preactivation_scale`), with the per-block values.

Which vector each block multiplies (``rnnrobust.training.recurrence``, blocks in ``layout.GATES`` order):
the rnn block and the four LSTM blocks (i, f, c, o) multiply h_{t−1}; the Keras GRU (``reset_after=False``)
has z_t = σ(… + W_z h_{t−1}), r_t = σ(… + W_r h_{t−1}) and candidate tanh(… + W_h (r_t ∘ h_{t−1})), so its
z and r blocks multiply h_{t−1} and its candidate block r_t ∘ h_{t−1}. The pre-activation is the argument
of the gate's nonlinearity in Keras' form (before hard_sigmoid's 0.2 slope, which the LSTM loop folds
into its weights). States are recomputed step by step in float64 from the layer's weights (the gate
internals, r_t, are not outputs of the layer) and checked against the layer's own output.

Notes
-----
ρ_b is measured on the *unperturbed* trajectories: it is a first-order size. The perturbed network
visits other states, the more so the larger the perturbation and the longer the sequence.

With more than ``max_rows`` (sequence, step) pairs in a layer, :func:`block_trajectories` keeps the
evenly spaced, deterministic subset of rows ⌊j·N / max_rows⌋, j = 0 … max_rows − 1, in the order
row = sequence·T + step; S_b and ‖P_b‖_F then both use those rows only.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.layout import GATES, split_gates
from rnnrobust.robustness.perturbation.state import layer_inputs
from rnnrobust.training.models import recurrent_layers

__all__ = ["REPLAY_TOLERANCE", "BlockTrajectory", "block_trajectories", "preactivation_scale"]

#: Largest |recomputed h − layer output| / (1 + |output|) accepted: float64 rounding is ~1e-15, while a
#: wrong convention (gate order, sigmoid slope, reset placement) shows as differences of order 1e-2.
REPLAY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class BlockTrajectory:
    """One gate block along the unperturbed trajectories (module docstring).

    ``states`` (N, H) float64: the vectors W_b multiplies, one row per (sequence, step);
    ``preactivation_norm``: ‖P_b‖_F over the same (sequence, step) pairs.
    """

    states: np.ndarray
    preactivation_norm: float


def _hard_sigmoid(x: Tensor) -> Tensor:
    """Keras' hard_sigmoid clip(0.2·x + 0.5, 0, 1)."""
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


def _check_supported(name: str, layer: nn.Module, cell: str) -> None:
    """Raise ValueError for a layer whose recurrence :func:`_steps` does not reproduce."""
    if layer.cell != cell:
        raise ValueError(f"layer {name!r} is a {layer.cell} layer, not {cell!r}")
    if layer.cell_impl != "faithful":
        # the builtin kernels use sigmoid gates and a reset-after GRU: other states, other pre-activations
        raise ValueError(f"layer {name!r}: only cell_impl='faithful' is supported, not {layer.cell_impl!r}")
    if layer.weight_hh.dim() != 2:
        raise ValueError(f"layer {name!r} is a stack of runs (stack_models); pass one run's model")


def _step(layer: nn.Module, proj: dict[str, Tensor], w: dict[str, Tensor], h: Tensor, c: Tensor):
    """One Keras step: (h_t, c_t, {gate: vector W_b multiplies}, {gate: pre-activation}).

    ``proj``: W_x[b] x_t + b_b per gate; ``w``: the gate blocks of weight_hh; c is the LSTM cell state.
    """
    if layer.cell == "rnn":
        pre = {gate: proj[gate] + h @ w[gate].T for gate in w}
        (p,) = pre.values()
        return (p.relu() if layer.activation == "relu" else p.tanh()), c, dict.fromkeys(w, h), pre
    if layer.cell == "lstm":
        pre = {gate: proj[gate] + h @ w[gate].T for gate in w}
        i, f, o = (_hard_sigmoid(pre[gate]) for gate in ("i", "f", "o"))
        c = f * c + i * pre["c"].tanh()
        return o * c.tanh(), c, dict.fromkeys(w, h), pre
    # GRU, reset_after=False: the reset gate acts on h_{t−1} before the candidate block multiplies it
    pre = {gate: proj[gate] + h @ w[gate].T for gate in ("z", "r")}
    z, r = _hard_sigmoid(pre["z"]), _hard_sigmoid(pre["r"])
    states = {"z": h, "r": h, "h": r * h}
    pre["h"] = proj["h"] + states["h"] @ w["h"].T
    cand = pre["h"].tanh()
    return z * h + (1 - z) * cand, c, states, pre


def _steps(layer: nn.Module, inputs: Tensor) -> Iterator[tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]]:
    """(h_t, {gate: vector W_b multiplies}, {gate: pre-activation}) of every step over ``inputs`` (B, T, in).

    Starts from the zero state, as the task models do; eval mode (no dropout masks).
    """
    gates, hid = GATES[layer.cell], layer.hidden_size
    proj = nn.functional.linear(inputs, layer.weight_ih, layer.bias)
    w = split_gates(layer.weight_hh, layer.cell)
    h = inputs.new_zeros(inputs.shape[0], hid)
    c = torch.zeros_like(h)
    for t in range(inputs.shape[1]):
        h, c, states, pre = _step(layer, dict(zip(gates, proj[:, t].split(hid, dim=-1), strict=True)), w, h, c)
        yield h, states, pre


def _kept_rows(total: int, max_rows: int) -> np.ndarray:
    """Row indices kept: all of them, or ⌊j·total / max_rows⌋ for j < max_rows (distinct, increasing)."""
    if total <= max_rows:
        return np.arange(total)
    return np.arange(max_rows, dtype=np.int64) * total // max_rows


def _layer_trajectories(layer: nn.Module, inputs: Tensor, max_rows: int) -> dict[str, BlockTrajectory]:
    """Every gate block of one layer over ``inputs`` (B, T, in), float64, rows as in the module docstring."""
    batch, steps, _ = inputs.shape
    rows = _kept_rows(batch * steps, max_rows)
    seq, step = rows // steps, rows % steps
    expected, _ = layer(inputs)
    gates = GATES[layer.cell]
    # only the kept rows are stored, step by step: all N rows of every block can be gigabytes (imdb)
    states = {gate: np.empty((len(rows), layer.hidden_size)) for gate in gates}
    squares = dict.fromkeys(gates, 0.0)
    worst = 0.0
    for t, (h, s, pre) in enumerate(_steps(layer, inputs)):
        out = expected[:, t]
        worst = max(worst, float(((h - out).abs() / (1 + out.abs())).max()))
        at = np.flatnonzero(step == t)
        who = torch.from_numpy(seq[at])
        for gate in gates:
            states[gate][at] = s[gate][who].numpy()
            squares[gate] += float(pre[gate][who].square().sum())
    if worst > REPLAY_TOLERANCE:
        raise RuntimeError(f"recomputed {layer.cell} states differ from the layer's output by {worst:.3g}")
    return {gate: BlockTrajectory(states[gate], math.sqrt(squares[gate])) for gate in gates}


def block_trajectories(model: nn.Module, cell: str, x: Tensor, *, max_rows: int = 20000) -> dict[str, BlockTrajectory]:
    """Per gate block ``f"{layer}/{gate}"``, along the unperturbed network's trajectories over x (in float64).

    ``model`` is deep-copied to float64 (the caller's is left as it is) and run in eval mode; each
    recurrent layer reads what the network feeds it (:func:`~.state.layer_inputs`). A layer with more
    than ``max_rows`` (sequence, step) pairs keeps an evenly spaced subset of them (module docstring).
    Raises ValueError for a model this module does not support (builtin cells, a stack of runs, another cell).
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    m64 = copy.deepcopy(model).to(torch.float64).eval()
    layers = recurrent_layers(m64)
    if not layers:
        raise ValueError("the model has no recurrent layer")
    for name, layer in layers.items():
        _check_supported(name, layer, cell)
    x64 = x.to(torch.float64) if x.is_floating_point() else x
    out: dict[str, BlockTrajectory] = {}
    with torch.no_grad():
        inputs = layer_inputs(m64, x64)
        for name, layer in layers.items():  # in the model's layer order, as layout.block_keys
            for gate, trajectory in _layer_trajectories(layer, inputs[name], max_rows).items():
                out[f"{name}/{gate}"] = trajectory
    return out


def preactivation_scale(
    trajectories: Mapping[str, BlockTrajectory], delta: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """ρ_b = ‖ΔW_b S_b‖_F / ‖P_b‖_F per block of a perturbation {ΔW_b}, and under key "max" their maximum.

    Every block of ``delta`` needs its trajectory; blocks of ``trajectories`` absent from ``delta`` are
    unperturbed and left out. ΔW_b = 0 gives 0; a nonzero one on a zero pre-activation gives inf.
    """
    if not delta:
        raise ValueError("the perturbation has no block")
    out: dict[str, float] = {}
    for key, change in delta.items():
        if key not in trajectories:
            raise ValueError(f"no trajectory for block {key!r}; have {sorted(trajectories)}")
        states = trajectories[key].states
        change = np.asarray(change, dtype=np.float64)
        if change.shape != (states.shape[1],) * 2:
            raise ValueError(f"block {key!r}: ΔW is {change.shape}, expected {(states.shape[1],) * 2}")
        size = float(np.linalg.norm(states @ change.T))
        scale = trajectories[key].preactivation_norm
        out[key] = 0.0 if size == 0.0 else (size / scale if scale > 0.0 else math.inf)
    out["max"] = max(out.values())
    return out
