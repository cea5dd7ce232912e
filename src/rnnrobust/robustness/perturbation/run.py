"""Perturbation stage: do the robustness numbers predict what perturbations do to a trained network?

One job per trained run (``workflow/rules/perturbation.smk``) reads the run's ``model.pt``,
``metrics.json`` and its task's ``data.npz`` and measures two things beside their linear predictions.

**Weight perturbations.** Every recurrent gate block W (``<layer>/<gate>``, the H × H blocks of
``weight_hh``, ``rnnrobust.layout.block_keys``) becomes W + ΔW with ‖ΔW‖₂ = ε·‖W‖₂, all blocks of the
model at once (each along its own direction, scaled by its own norm), at the levels ``eps_log10``:

- ``random``: a Gaussian direction per block and sample, scaled to unit spectral norm; sample s uses the
  same direction at every ε (so that a curve over ε follows one direction), drawn from
  ``numpy.random.default_rng([seed, 1, s])`` block by block in ``block_keys`` order;
- ``worst``: towards instability. z* = argmin_{|z|=1} σ_min(z I − W) attains d, the distance to
  instability, with unit singular vectors (z* I − W) v = d u (``spectra.instability_minimizer``).
  For a real z* (the minimiser is taken real whenever ±1 is as good to 1e-8) D = d u vᵀ is real, of
  norm d, and W + D has the eigenvalue z*. For a complex z* the rank-1 d u v* is not a real matrix; we
  use the real rank-2 D = d [Re u, Im u] [Re v, Im v]⁺, which maps Re v → Re(d u) and Im v → Im(d u),
  so that (W + D) v = z* v exactly. It does not depend on the phase of the pair (u, v) (a phase turns
  both 2-column matrices by the same rotation), and it is the real matrix of least spectral norm with
  D v = d u (any real D' with D' v = d u agrees with D on span(Re v, Im v)); its norm is ≥ d and is
  recorded (``worst_norm``). It is an upper bound of the *real* distance to instability at z*, which
  can be smaller (Qiu et al., Automatica 1995) and is not computed. The sweep scales D to ε·‖W‖₂, so
  block b has the eigenvalue z* exactly at ε = ``eps_worst`` = ‖D‖₂/‖W‖₂ ≥ ``eps_pred`` = d/‖W‖₂, the
  threshold predicted by the (complex) distance to instability: no perturbation of a stable block with a
  smaller norm puts an eigenvalue on the unit circle. For a block that is already unstable (ρ > 1) the same construction
  moves an eigenvalue onto the circle from outside; such blocks are perturbed all the same, but left out
  of ``crossed`` and of the run's minima.

Each perturbed copy is evaluated on one fixed subset of the test set (``n_eval`` examples drawn by
``numpy.random.default_rng([seed, 0])``, in test-set order): loss, accuracy (and the adding task's exact
match) as ``rnnrobust.training.train.test_metrics`` computes them, in eval mode (no dropout), in the run's
training precision (float32 unless ``dtype: float64``). The copies are the runs of one stacked model
(``models.stack_models``), ``copies_per_pass`` at a time, so one forward pass evaluates many. The
unperturbed model (ε = 0) is evaluated in the same way (``reference``). Linear algebra is float64; the
spectral radius of each perturbed block is that of the (float32) weights the network holds. A block is
``unstable`` when its radius exceeds ``layout.UNSTABLE_RADIUS``; a copy has ``crossed`` when a block that
was stable unperturbed is not.

**State perturbations.** For ``state_sequences`` test sequences (the first of the subset) and every
recurrent layer fed with what the trained network feeds it, the amplification of a hidden-state
perturbation is σ₁(∂s_T/∂s_{T−k}), the top singular value of the Jacobian of the layer's final state
with respect to its state k steps earlier, for the lags k in ``state_lags`` shorter than the layer's
sequence, and k = T (the initial state, t = 0). The state s is h for the rnn and GRU and the
concatenation (h, c) for the LSTM (its whole state; the Euclidean norm on (h, c)). The Jacobian is
computed whole, in float64: every lag's from one batched backward pass of S vector-Jacobian products
(S = the state's size, ≤ 2·128 here) through zero probes added to the state at the chosen steps; its σ₁
is then exact, where power iteration would need Jacobian-vector products, which the hand-written
recurrence (``rnnrobust.training.recurrence``) does not provide. Beside it, the linear prediction of the
layer's state block: ‖W^k‖₂ at the same lags, the transient peak max_k ‖W^k‖₂ and the Kreiss constant
(lower bound), of the block through which h_{t−1} enters the candidate state — h for the rnn and the
GRU, c for the LSTM (the block of Figures 1–6). For the GRU the leak z ∘ h_{t−1} and for the LSTM the
gates also shape the Jacobian, so these predictions are cruder than for the rnn, where ∂h_T/∂h_{T−k}
is W^k up to the activation's derivatives. Every block's transient peak and Kreiss constant are
recorded too.

**Output** ``{results_dir}/perturbation/{task}/{model}/{regime}/seed{seed}.json``, JSON (``Infinity``
and ``NaN`` where a value is infinite or undefined, as ``json`` writes them):

- ``task``, ``model``, ``regime``, ``seed``; ``config`` (this stage's settings); ``code_digest``;
  ``n_test`` (test-set size), ``n_eval`` (examples evaluated);
- ``reference``: ``loss``, ``accuracy`` (adding: ``exact_match``) of the unperturbed model on the subset,
  ``spectral_radius`` {block: ρ}, ``unstable`` [blocks];
- ``blocks`` {``<layer>/<gate>``: ``norm2`` ‖W‖₂, ``spectral_radius``, ``distance_to_instability`` d,
  ``z_star`` [Re, Im], ``eps_pred`` d/‖W‖₂, ``worst_norm`` ‖D‖₂, ``eps_worst`` ‖D‖₂/‖W‖₂,
  ``worst_rank`` (1 or 2), ``transient_peak``, ``transient_peak_k``, ``kreiss_constant``};
- ``eps_pred_min``, ``eps_pred_min_block``, ``eps_worst_min``, ``eps_worst_min_block``: the smallest over
  the blocks that are stable unperturbed, and which (null when none is);
- ``sweep``: one record per family, sample and level: ``family`` (``random`` | ``worst``), ``sample``,
  ``eps_log10``, ``eps``, ``loss``, ``accuracy`` (adding: ``exact_match``), ``spectral_radius``
  {block: ρ}, ``unstable`` [blocks], ``crossed`` (bool);
- ``first_crossing_eps_log10`` {family: the smallest level at which a copy crossed, or null};
- ``state`` {layer: ``state`` (``"h"`` or ``"h,c"``), ``steps`` T, ``lags`` [k], ``amplification``
  {k: {``max``, ``median``, ``mean``, ``values`` [one per sequence]}}, ``linear_block``, ``linear``
  {``norm_power`` {k: ‖W^k‖₂}, ``transient_peak``, ``transient_peak_k``, ``kreiss_constant``}}
  (lags as text keys, e.g. ``"4"``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust import spectra
from rnnrobust.config import ConfigError, TrainConfig
from rnnrobust.layout import GATES, UNSTABLE_RADIUS, block_keys
from rnnrobust.training.models import build_model, recurrent_layers, stack_models
from rnnrobust.training.train import load_tensors, stacked_test_metrics
from rnnrobust.training.weights import gate_blocks

#: Families of weight perturbations, in the order of the sweep.
FAMILIES = ("worst", "random")
#: Rows (sequences × state size) of one batched Jacobian pass: bounds its memory (~150 MB at the paper's sizes).
JACOBIAN_ROWS = 1024


def _default_eps_log10() -> tuple[float, ...]:
    return tuple(float(x) for x in np.linspace(-4.0, 0.0, 9))


@dataclass(frozen=True)
class PerturbationConfig:
    """``config.yaml``'s ``perturbation:`` block; keys left out take these defaults.

    ``n_eval``: test examples evaluated per perturbed copy; ``seed``: of the subset and the random
    directions; ``eps_log10``: the levels log10 ε of ‖ΔW‖₂/‖W‖₂; ``random_samples``: random directions
    per level (0: none); ``state_sequences``: test sequences of the state-perturbation measure (0: none);
    ``state_lags``: steps k between a state perturbation and the final state (the full length is always
    added); ``copies_per_pass``: perturbed copies stacked into one forward pass; ``batch_size``: test
    examples per copy and forward pass.

    >>> PerturbationConfig().eps_log10[:3], PerturbationConfig.from_mapping({"n_eval": 500}).n_eval
    ((-4.0, -3.5, -3.0), 500)
    """

    n_eval: int = 2000
    seed: int = 0
    eps_log10: tuple[float, ...] = dataclasses.field(default_factory=_default_eps_log10)
    random_samples: int = 3
    state_sequences: int = 32
    state_lags: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    copies_per_pass: int = 8
    batch_size: int = 256

    def __post_init__(self) -> None:
        minimum = {"n_eval": 1, "seed": 0, "random_samples": 0, "state_sequences": 0, "copies_per_pass": 1}
        minimum["batch_size"] = 1
        for key, low in minimum.items():
            value = getattr(self, key)
            if not _is_int(value) or value < low:
                raise ConfigError(f"perturbation.{key} = {value!r}; expected an integer >= {low}")
        levels = self.eps_log10
        if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
            raise ConfigError(
                f"perturbation.eps_log10 = {levels!r}; expected a non-empty list of numbers, e.g. [-3, -2]"
            )
        for x in levels:
            if not _is_number(x) or not math.isfinite(x) or x > 1:
                raise ConfigError(f"perturbation.eps_log10 has {x!r}; expected finite numbers <= 1 (log10 of ε)")
        if len(set(map(float, levels))) != len(levels):
            raise ConfigError(f"perturbation.eps_log10 = {list(levels)} repeats a level; list each once")
        lags = self.state_lags
        if isinstance(lags, (str, bytes)) or not isinstance(lags, Sequence):
            raise ConfigError(f"perturbation.state_lags = {lags!r}; expected a list of integers >= 1, e.g. [1, 4]")
        if any(not _is_int(k) or k < 1 for k in lags) or len(set(lags)) != len(lags):
            raise ConfigError(f"perturbation.state_lags = {list(lags)}; expected distinct integers >= 1")
        object.__setattr__(self, "eps_log10", tuple(float(x) for x in levels))
        object.__setattr__(self, "state_lags", tuple(int(k) for k in lags))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> PerturbationConfig:
        """The config of a ``perturbation:`` mapping (None: the defaults); unknown keys raise ConfigError."""
        values = dict(values or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"perturbation.{unknown[0]} is not a perturbation key; expected one of {known}")
        return cls(**values)

    def to_params(self) -> dict[str, Any]:
        """Plain values (lists, not tuples), as the JSON output and ``config.yaml`` hold them."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in dataclasses.asdict(self).items()}


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------------
# directions


@dataclass(frozen=True)
class WorstCase:
    """The worst-case direction of one block (module docstring).

    ``distance`` d and ``z`` the minimiser z* of σ_min(zI − W) on the unit circle; ``direction`` the real
    perturbation D scaled to unit spectral norm; ``norm`` ‖D‖₂ (= d for a real z*, ≥ d otherwise), so
    that W + norm·direction has the eigenvalue z*; ``rank`` of D (1 or 2).
    """

    distance: float
    z: complex
    direction: np.ndarray
    norm: float
    rank: int


def worst_case(w: np.ndarray) -> WorstCase:
    """The real perturbation towards instability of a real square matrix (module docstring).

    >>> import numpy as np
    >>> wc = worst_case(np.diag([0.8, -0.2]))
    >>> print(round(wc.distance, 12), wc.z, round(wc.norm, 12), wc.rank)
    0.2 (1+0j) 0.2 1
    >>> print(round(float(np.abs(np.linalg.eigvals(np.diag([0.8, -0.2]) + wc.norm * wc.direction)).max()), 12))
    1.0
    """
    w = np.asarray(w, dtype=np.float64)
    m = spectra.instability_minimizer(w)
    if m.z.imag == 0.0:
        unit, rank = np.outer(m.u.real, m.v.real), 1
    else:  # maps Re v → Re u and Im v → Im u: (W + d·unit) v = z* v; the least-norm real such matrix
        v_parts = np.stack([m.v.real, m.v.imag], axis=1)
        u_parts = np.stack([m.u.real, m.u.imag], axis=1)
        unit, rank = u_parts @ np.linalg.pinv(v_parts), 2
    scale = float(np.linalg.norm(unit, 2))
    return WorstCase(distance=m.distance, z=m.z, direction=unit / scale, norm=m.distance * scale, rank=rank)


def random_directions(blocks: Mapping[str, np.ndarray], seed: int, sample: int) -> dict[str, np.ndarray]:
    """Sample ``sample``'s Gaussian direction of every block, each of unit spectral norm (seeded, stable).

    >>> import numpy as np
    >>> d = random_directions({"rnn/h": np.eye(3)}, seed=0, sample=1)
    >>> print(round(float(np.linalg.norm(d["rnn/h"], 2)), 12))
    1.0
    """
    rng = np.random.default_rng([int(seed), 1, int(sample)])
    out = {}
    for key, w in blocks.items():
        g = rng.standard_normal(w.shape)
        out[key] = g / np.linalg.norm(g, 2)
    return out


def perturbed_blocks(
    blocks: Mapping[str, np.ndarray], directions: Mapping[str, np.ndarray], eps: float
) -> dict[str, np.ndarray]:
    """W + ε·‖W‖₂·direction for every block (float64); ``eps`` relative, directions of unit norm."""
    return {key: w + eps * np.linalg.norm(w, 2) * directions[key] for key, w in blocks.items()}


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
    """ρ of every gate block of ``weight_hh`` tensors (as the network holds them), computed in float64."""
    state = {f"{layer}.weight_hh": w for layer, w in weights.items()}
    return {key: float(np.abs(np.linalg.eigvals(b)).max()) for key, b in gate_blocks(state, cell).items()}


# --------------------------------------------------------------------------------------------------
# evaluation of many perturbed copies at once


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
    the same batches, and the metrics are weighted by batch size as in ``train.test_metrics``.
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


# --------------------------------------------------------------------------------------------------
# state perturbations


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


def state_jacobians(layer: nn.Module, inputs: Tensor, lags: Sequence[int]) -> dict[int, Tensor]:
    """∂s_T/∂s_{T−k} (B, S, S) of one recurrent layer over ``inputs`` (B, T, in), for each lag k ≤ T.

    s is h, or (h, c) concatenated for the LSTM; the layer starts from a zero state. Rows i of the
    Jacobian are the gradients of the final state's component i: every sequence is repeated S times
    and one backward pass gives all of them (in chunks of ``JACOBIAN_ROWS`` rows).
    """
    batch, steps, _ = inputs.shape
    hid = layer.hidden_size
    lstm = layer.cell == "lstm"
    size = 2 * hid if lstm else hid
    lags = sorted({int(k) for k in lags if 1 <= k <= steps})
    out: dict[int, list[Tensor]] = {k: [] for k in lags}
    per_chunk = max(1, JACOBIAN_ROWS // size)
    for first in range(0, batch, per_chunk):
        seqs = inputs[first : first + per_chunk]
        rows = len(seqs) * size
        xs = seqs.repeat_interleave(size, dim=0)
        h = xs.new_zeros(rows, hid)
        c = xs.new_zeros(rows, hid) if lstm else None
        probes: dict[int, Tensor] = {}
        with torch.enable_grad():
            for t in range(steps):
                lag = steps - t
                if lag in out:  # a zero probe on the state k steps before the end: its gradient is the Jacobian
                    probe = xs.new_zeros(rows, size, requires_grad=True)
                    probes[lag] = probe
                    h = h + probe[:, :hid]
                    c = c + probe[:, hid:] if lstm else None
                _, state = layer(xs[:, t : t + 1], (h, c) if lstm else h)
                h, c = state if lstm else (state, None)
            final = torch.cat([h, c], dim=1) if lstm else h
            seeds = torch.eye(size, dtype=final.dtype).repeat(len(seqs), 1)
            grads = torch.autograd.grad(final, [probes[k] for k in lags], grad_outputs=seeds)
        for k, grad in zip(lags, grads, strict=True):
            out[k].append(grad.view(len(seqs), size, size))
    return {k: torch.cat(parts) for k, parts in out.items()}


def used_lags(steps: int, lags: Sequence[int]) -> list[int]:
    """The lags measured on a sequence of ``steps`` steps: those shorter than it, and ``steps`` itself.

    >>> used_lags(28, [1, 2, 4, 8, 16, 32, 64])
    [1, 2, 4, 8, 16, 28]
    """
    return sorted({int(k) for k in lags if k < steps} | {int(steps)})


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


# --------------------------------------------------------------------------------------------------
# one run


def block_robustness(w: np.ndarray, lags: Sequence[int] = ()) -> tuple[dict[str, Any], WorstCase, dict[int, float]]:
    """The per-block record of the JSON ``blocks`` (module docstring), the block's worst case, and ‖W^k‖₂
    at ``lags``."""
    prep = spectra.prepare(w)
    wc = worst_case(w)
    norm = prep.norm2
    growth = spectra.transient_growth(prep)
    longest = max(lags, default=0)
    if len(growth.norms) <= longest:  # the adaptive run stopped early (the powers had decayed)
        powers = spectra.transient_growth(prep, kmax=longest).norms
    else:
        powers = growth.norms
    record = {
        "norm2": norm,
        "spectral_radius": spectra.spectral_radius(prep),
        "distance_to_instability": wc.distance,
        "z_star": [wc.z.real, wc.z.imag],
        "eps_pred": wc.distance / norm if norm > 0 else math.inf,
        "worst_norm": wc.norm,
        "eps_worst": wc.norm / norm if norm > 0 else math.inf,
        "worst_rank": wc.rank,
        "transient_peak": growth.peak,
        "transient_peak_k": growth.peak_k,
        "kreiss_constant": spectra.kreiss_constant(prep),
    }
    # the products stop once a norm passes 1e250: later powers are out of range of any float
    return record, wc, {int(k): float(powers[k]) if k < len(powers) else math.inf for k in lags}


def _smallest(
    records: Mapping[str, Mapping[str, Any]], key: str, keep: Sequence[str]
) -> tuple[float | None, str | None]:
    candidates = [(records[b][key], b) for b in keep]
    if not candidates:
        return None, None
    value, block = min(candidates)
    return float(value), block


def perturb_run(
    state_dict: Mapping[str, Tensor],
    metrics: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    config: PerturbationConfig,
    *,
    code_digest: str | None = None,
    log: Callable[[str], None] = print,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The perturbation record of one trained run (the JSON of the module docstring).

    ``state_dict``: the run's ``model.pt``; ``metrics``: its ``metrics.json`` (the hyperparameters rebuild
    the model); ``arrays``: its task's prepared data (``x_test``, ``y_test``). ``timings`` receives the
    seconds of each phase.
    """
    clock = time.perf_counter()
    spent = timings if timings is not None else {}

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        spent[phase] = spent.get(phase, 0.0) + now - clock
        clock = now

    train = TrainConfig.from_params(metrics["hyperparameters"])
    task, cell = train.task, train.model
    dtype = {"float32": torch.float32, "float64": torch.float64}[train.dtype]  # the network's, as in training
    model = build_model(task, cell, **train.model_options()).to(dtype)
    model.load_state_dict(state_dict)
    model.eval()
    blocks = gate_blocks(state_dict, cell)
    keys = list(block_keys(task, cell))
    if list(blocks) != keys:
        raise ValueError(f"model.pt has the blocks {list(blocks)}; a {task} {cell} model has {keys}")

    # the fixed evaluation subset, in test-set order
    n_test = len(arrays["y_test"])
    rng = np.random.default_rng([config.seed, 0])
    index = np.sort(rng.choice(n_test, size=min(config.n_eval, n_test), replace=False))
    test = load_tensors(task, {"x_test": arrays["x_test"][index], "y_test": arrays["y_test"][index]}, dtype)

    # per-block robustness numbers and directions
    layer_names = list(recurrent_layers(model))
    state_block = {name: f"{name}/{state_gate(cell)}" for name in layer_names}
    steps = {name: int(inputs.shape[1]) for name, inputs in layer_inputs(model, test["x_test"][:1]).items()}
    lags = {state_block[name]: used_lags(steps[name], config.state_lags) for name in layer_names}
    records, worst, powers = {}, {}, {}
    for key in keys:
        records[key], worst[key], powers[key] = block_robustness(blocks[key], lags.get(key, ()))
    lap("linear algebra")

    # the perturbed copies: the reference first, then each family's sweep
    reference_weights = {name: model.get_submodule(name).weight_hh.detach().clone() for name in layer_names}
    specs: list[tuple[str, int, float]] = []
    copies: list[dict[str, Tensor]] = [reference_weights]
    worst_dirs = {key: wc.direction for key, wc in worst.items()}
    directions = {("worst", 0): worst_dirs}
    for s in range(config.random_samples):
        directions[("random", s)] = random_directions(blocks, config.seed, s)
    for (family, sample), dirs in directions.items():
        for level in config.eps_log10:
            specs.append((family, sample, level))
            copies.append(stacked_weights(perturbed_blocks(blocks, dirs, 10.0**level), cell, dtype))
    radii = [spectral_radii(weights, cell) for weights in copies]
    lap("linear algebra")
    log(f"{task} {cell}: {len(copies)} copies ({len(specs)} perturbed) on {len(index)} of {n_test} test examples")
    evaluated = evaluate_copies(
        task,
        model,
        copies,
        test["x_test"],
        test["y_test"],
        batch_size=config.batch_size,
        copies_per_pass=config.copies_per_pass,
    )
    lap("weight sweep")

    stable = [key for key in keys if radii[0][key] <= UNSTABLE_RADIUS]
    sweep = []
    for (family, sample, level), result, rho in zip(specs, evaluated[1:], radii[1:], strict=True):
        unstable = [key for key in keys if rho[key] > UNSTABLE_RADIUS]
        sweep.append({
            "family": family, "sample": sample, "eps_log10": level, "eps": 10.0**level, **result,
            "spectral_radius": rho, "unstable": unstable, "crossed": any(key in stable for key in unstable),
        })  # fmt: skip
    first = {}
    for family in FAMILIES:
        crossed = [row["eps_log10"] for row in sweep if row["family"] == family and row["crossed"]]
        first[family] = min(crossed) if crossed else None
    eps_pred_min, eps_pred_block = _smallest(records, "eps_pred", stable)
    eps_worst_min, eps_worst_block = _smallest(records, "eps_worst", stable)

    state = {}
    if config.state_sequences:
        n_seq = min(config.state_sequences, len(index))
        x_state = load_tensors(task, {"x_test": arrays["x_test"][index[:n_seq]]}, dtype=torch.float64)["x_test"]
        for name, measured in state_amplification(model, x_state, config.state_lags).items():
            block = state_block[name]
            amplification = {}
            for k, values in measured["values"].items():
                arr = np.asarray(values)
                amplification[str(k)] = {
                    "max": float(arr.max()), "median": float(np.median(arr)), "mean": float(arr.mean()),
                    "values": [float(v) for v in arr],
                }  # fmt: skip
            state[name] = {
                "state": measured["state"],
                "steps": measured["steps"],
                "lags": measured["lags"],
                "amplification": amplification,
                "linear_block": block,
                "linear": {
                    "norm_power": {str(k): powers[block][k] for k in measured["lags"]},
                    "transient_peak": records[block]["transient_peak"],
                    "transient_peak_k": records[block]["transient_peak_k"],
                    "kreiss_constant": records[block]["kreiss_constant"],
                },
            }
        lap("state")

    reference = dict(evaluated[0])
    reference.update(spectral_radius=radii[0], unstable=[key for key in keys if key not in stable])
    return {
        "task": task,
        "model": cell,
        "regime": train.regime,
        "seed": train.seed,
        "config": config.to_params(),
        "code_digest": code_digest,
        "n_test": int(n_test),
        "n_eval": len(index),
        "reference": reference,
        "blocks": records,
        "eps_pred_min": eps_pred_min,
        "eps_pred_min_block": eps_pred_block,
        "eps_worst_min": eps_worst_min,
        "eps_worst_min_block": eps_worst_block,
        "sweep": sweep,
        "first_crossing_eps_log10": first,
        "state": state,
    }
