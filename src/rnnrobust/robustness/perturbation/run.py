"""Perturbation stage: do the robustness numbers predict what perturbations do to a trained network?

One job per trained run (``workflow/rules/perturbation.smk``, script ``workflow/scripts/perturb.py``) reads
the run's ``model.pt``, ``metrics.json`` and its task's ``data.npz`` and measures two things beside their
linear predictions (:func:`perturb_run`):

- **weight perturbations**: every recurrent gate block perturbed at once, along random and worst-case
  directions (:mod:`rnnrobust.robustness.perturbation.directions`), at each level ε; each perturbed copy is
  evaluated on one fixed subset of the test set (``n_eval`` examples drawn by
  ``numpy.random.default_rng([seed, 0])``, in test-set order), as is the unperturbed model (ε = 0:
  ``reference``; :mod:`rnnrobust.robustness.perturbation.copies`). A block is ``unstable`` when its radius
  exceeds ``layout.UNSTABLE_RADIUS``; a copy has ``crossed`` when a block that was stable unperturbed is not.
- **state perturbations**: the amplification σ₁(∂s_T/∂s_{T−k}) of a hidden-state perturbation per recurrent
  layer, beside the powers of the layer's state block (:mod:`rnnrobust.robustness.perturbation.state`).

Settings: :class:`~rnnrobust.robustness.perturbation.settings.PerturbationConfig`. The output,
``{results_dir}/perturbation/{task}/{model}/{regime}/seed{seed}.json``, is described field by field in
``docs/output-formats.md``, section "Perturbation records" (the one place of its schema).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust import spectra
from rnnrobust.config import TrainConfig
from rnnrobust.layout import FAMILIES, UNSTABLE_RADIUS, block_keys
from rnnrobust.robustness.perturbation.copies import evaluate_copies, spectral_radii, stacked_weights
from rnnrobust.robustness.perturbation.directions import (
    WorstCase,
    perturbed_blocks,
    random_directions,
    worst_case,
)
from rnnrobust.robustness.perturbation.settings import PerturbationConfig
from rnnrobust.robustness.perturbation.state import layer_inputs, state_amplification, state_gate, used_lags
from rnnrobust.training.models import build_model, recurrent_layers
from rnnrobust.training.tasks import load_tensors
from rnnrobust.training.weights import gate_blocks

__all__ = ["block_robustness", "first_crossings", "perturb_run"]

#: One perturbed copy of the sweep: (family, sample, log10 ε).
Spec = tuple[str, int, float]


class _Stopwatch:
    """Seconds spent per phase, added up into ``spent`` (phases may recur)."""

    def __init__(self, spent: dict[str, float]) -> None:
        self.spent = spent
        self.clock = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.spent[phase] = self.spent.get(phase, 0.0) + now - self.clock
        self.clock = now


def block_robustness(w: np.ndarray, lags: Sequence[int] = ()) -> tuple[dict[str, Any], WorstCase, dict[int, float]]:
    """The per-block record of the JSON ``blocks`` (``docs/output-formats.md``), the block's worst case
    (:func:`~rnnrobust.robustness.perturbation.directions.worst_case`), and ‖W^k‖₂ at ``lags``."""
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


def _block_records(
    blocks: Mapping[str, np.ndarray], lags: Mapping[str, Sequence[int]]
) -> tuple[dict[str, dict[str, Any]], dict[str, WorstCase], dict[str, dict[int, float]]]:
    """:func:`block_robustness` of every block: ({block: record}, {block: worst case}, {block: {k: ‖W^k‖₂}})."""
    records, worst, powers = {}, {}, {}
    for key, w in blocks.items():
        records[key], worst[key], powers[key] = block_robustness(w, lags.get(key, ()))
    return records, worst, powers


def _minima(records: Mapping[str, Mapping[str, Any]], stable: Sequence[str]) -> dict[str, Any]:
    """``eps_pred_min``, ``eps_worst_min`` and their blocks: the smallest over the ``stable`` blocks (None: none)."""
    out: dict[str, Any] = {}
    for key in ("eps_pred", "eps_worst"):
        candidates = [(records[b][key], b) for b in stable]
        value, block = min(candidates) if candidates else (None, None)
        out[f"{key}_min"], out[f"{key}_min_block"] = (None if value is None else float(value)), block
    return out


def _trained_model(
    train: TrainConfig, state_dict: Mapping[str, Tensor], dtype: torch.dtype
) -> tuple[nn.Module, dict[str, np.ndarray]]:
    """The run's network in eval mode, in its training dtype, and its gate blocks (float64), which must be the
    task's."""
    task, cell = train.task, train.model
    model = build_model(task, cell, **train.model_options()).to(dtype)
    model.load_state_dict(state_dict)
    model.eval()
    blocks = gate_blocks(state_dict, cell)
    keys = list(block_keys(task, cell))
    if list(blocks) != keys:
        raise ValueError(f"model.pt has the blocks {list(blocks)}; a {task} {cell} model has {keys}")
    return model, blocks


def _evaluation_subset(n_test: int, config: PerturbationConfig) -> np.ndarray:
    """Indices of the fixed evaluation subset, in test-set order."""
    rng = np.random.default_rng([config.seed, 0])
    return np.sort(rng.choice(n_test, size=min(config.n_eval, n_test), replace=False))


def _state_blocks(model: nn.Module, cell: str, x: Tensor, lags: Sequence[int]) -> tuple[dict, dict]:
    """({layer: its state block}, {state block: the lags measured on it}), from the layers' sequence lengths."""
    state_block = {name: f"{name}/{state_gate(cell)}" for name in recurrent_layers(model)}
    steps = {name: int(inputs.shape[1]) for name, inputs in layer_inputs(model, x[:1]).items()}
    return state_block, {state_block[name]: used_lags(steps[name], lags) for name in state_block}


def _perturbed_copies(
    model: nn.Module,
    blocks: Mapping[str, np.ndarray],
    worst: Mapping[str, WorstCase],
    config: PerturbationConfig,
    cell: str,
    dtype: torch.dtype,
) -> tuple[list[Spec], list[dict[str, Tensor]]]:
    """The sweep's specs and the ``weight_hh`` of every copy (in ``dtype``, the network's): the reference first,
    then the worst-case direction's levels, then each random sample's."""
    reference = {name: layer.weight_hh.detach().clone() for name, layer in recurrent_layers(model).items()}
    directions = {("worst", 0): {key: wc.direction for key, wc in worst.items()}}
    for s in range(config.random_samples):
        directions[("random", s)] = random_directions(blocks, config.seed, s)
    specs: list[Spec] = []
    copies = [reference]
    for (family, sample), dirs in directions.items():
        for level in config.eps_log10:
            specs.append((family, sample, level))
            copies.append(stacked_weights(perturbed_blocks(blocks, dirs, 10.0**level), cell, dtype))
    return specs, copies


def _sweep(
    specs: Sequence[Spec], evaluated: Sequence[dict], radii: Sequence[dict[str, float]], stable: Sequence[str]
) -> list[dict[str, Any]]:
    """One ``sweep`` record per perturbed copy: its spec, metrics, radii, unstable blocks, and whether it crossed."""
    sweep = []
    for (family, sample, level), result, rho in zip(specs, evaluated, radii, strict=True):
        unstable = [key for key in rho if rho[key] > UNSTABLE_RADIUS]
        sweep.append({
            "family": family, "sample": sample, "eps_log10": level, "eps": 10.0**level, **result,
            "spectral_radius": rho, "unstable": unstable, "crossed": any(key in stable for key in unstable),
        })  # fmt: skip
    return sweep


def first_crossings(sweep: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Per family the smallest level at which a copy crossed (None: none did), the worst case first, as the
    sweep runs it (the records keep that order)."""
    first = {}
    for family in sorted(FAMILIES, key=lambda name: name != "worst"):
        crossed = [row["eps_log10"] for row in sweep if row["family"] == family and row["crossed"]]
        first[family] = min(crossed) if crossed else None
    return first


def _state_record(measured: Mapping[str, Any], block: str, record: Mapping[str, Any], powers: Mapping) -> dict:
    """The ``state`` record of one layer: its amplification per lag beside its state block's powers."""
    amplification = {}
    for k, values in measured["values"].items():
        arr = np.asarray(values)
        amplification[str(k)] = {
            "max": float(arr.max()), "median": float(np.median(arr)), "mean": float(arr.mean()),
            "values": [float(v) for v in arr],
        }  # fmt: skip
    return {
        "state": measured["state"],
        "steps": measured["steps"],
        "lags": measured["lags"],
        "amplification": amplification,
        "linear_block": block,
        "linear": {
            "norm_power": {str(k): powers[k] for k in measured["lags"]},
            "transient_peak": record["transient_peak"],
            "transient_peak_k": record["transient_peak_k"],
            "kreiss_constant": record["kreiss_constant"],
        },
    }


def _state(
    model: nn.Module,
    x: Tensor,
    config: PerturbationConfig,
    state_block: Mapping[str, str],
    records: Mapping[str, Mapping[str, Any]],
    powers: Mapping[str, Mapping[int, float]],
) -> dict[str, dict[str, Any]]:
    """The ``state`` records of every recurrent layer over the sequences ``x`` (float64)."""
    measured = state_amplification(model, x, config.state_lags)
    return {name: _state_record(m, state_block[name], records[state_block[name]], powers[state_block[name]])
            for name, m in measured.items()}  # fmt: skip


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
    """The perturbation record of one trained run (``docs/output-formats.md``, "Perturbation records").

    ``state_dict``: the run's ``model.pt``; ``metrics``: its ``metrics.json`` (the hyperparameters rebuild
    the model); ``arrays``: its task's prepared data (``x_test``, ``y_test``). ``timings`` receives the
    seconds of each phase.
    """
    watch = _Stopwatch(timings if timings is not None else {})
    train = TrainConfig.from_params(metrics["hyperparameters"])
    task, cell = train.task, train.model
    dtype = {"float32": torch.float32, "float64": torch.float64}[train.dtype]  # the network's, as in training
    model, blocks = _trained_model(train, state_dict, dtype)
    n_test = len(arrays["y_test"])
    index = _evaluation_subset(n_test, config)
    test = load_tensors(task, {"x_test": arrays["x_test"][index], "y_test": arrays["y_test"][index]}, dtype)

    state_block, lags = _state_blocks(model, cell, test["x_test"], config.state_lags)
    records, worst, powers = _block_records(blocks, lags)
    watch.lap("linear algebra")
    specs, copies = _perturbed_copies(model, blocks, worst, config, cell, dtype)
    radii = [spectral_radii(weights, cell) for weights in copies]
    watch.lap("linear algebra")

    log(f"{task} {cell}: {len(copies)} copies ({len(specs)} perturbed) on {len(index)} of {n_test} test examples")
    evaluated = evaluate_copies(
        task, model, copies, test["x_test"], test["y_test"],
        batch_size=config.batch_size, copies_per_pass=config.copies_per_pass,
    )  # fmt: skip
    watch.lap("weight sweep")
    stable = [key for key in blocks if radii[0][key] <= UNSTABLE_RADIUS]
    sweep = _sweep(specs, evaluated[1:], radii[1:], stable)

    state = {}
    if config.state_sequences:
        rows = index[: min(config.state_sequences, len(index))]
        x_state = load_tensors(task, {"x_test": arrays["x_test"][rows]}, dtype=torch.float64)["x_test"]
        state = _state(model, x_state, config, state_block, records, powers)
        watch.lap("state")

    reference = dict(evaluated[0])
    reference.update(spectral_radius=radii[0], unstable=[key for key in blocks if key not in stable])
    return {
        "task": task, "model": cell, "regime": train.regime, "seed": train.seed, "config": config.to_params(),
        "code_digest": code_digest, "n_test": int(n_test), "n_eval": len(index), "reference": reference,
        "blocks": records, **_minima(records, stable), "sweep": sweep,
        "first_crossing_eps_log10": first_crossings(sweep), "state": state,
    }  # fmt: skip
