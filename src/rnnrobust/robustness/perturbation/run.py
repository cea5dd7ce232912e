"""Perturbation stage: do the robustness numbers predict what perturbations do to a trained network?

One job per trained run (``workflow/rules/perturbation.smk``, script ``workflow/scripts/perturb.py``) reads
the run's ``model.pt``, ``metrics.json`` and its task's ``data.npz`` and measures two things beside their
linear predictions (:func:`perturb_run`):

- **weight perturbations**: every recurrent gate block perturbed at once, along curves of four families of
  directions (``layout.FAMILIES``: :mod:`~rnnrobust.robustness.perturbation.directions`, the adversarial one by
  :mod:`~rnnrobust.robustness.perturbation.adversarial` on ``n_attack`` training examples), at each level ε of
  the grid; each perturbed copy is evaluated on one fixed subset of the test set (``n_eval`` examples drawn
  by ``numpy.random.default_rng([seed, 0])``, in test-set order) beside the unperturbed model (``reference``):
  accuracy, loss, and how its predictions changed (flip rate, KL; :mod:`~rnnrobust.robustness.perturbation.copies`),
  with the perturbation's size on three scales (:mod:`~rnnrobust.robustness.perturbation.sweep`). Then, per curve,
  the first level where 5 % of predictions flip (``flip5``, the primary threshold ε_flip5) and where accuracy
  has dropped 5 points (``drop5``, ε₅) are bracketed on the grid and bisected in log ε
  (:mod:`~rnnrobust.robustness.perturbation.bisection`). A block is ``stable``, ``on_circle`` or ``unstable`` in
  its weights' precision (``layout.stability``); a copy has ``crossed`` when a block that was stable is not.
- **state perturbations**: the amplification σ₁(∂s_T/∂s_{T−k}) of a hidden-state perturbation per recurrent
  layer, beside the powers of the layer's state block (:mod:`~rnnrobust.robustness.perturbation.state`).

Settings: :class:`~rnnrobust.robustness.perturbation.settings.PerturbationConfig`. The output,
``{results_dir}/perturbation/{task}/{model}/{regime}/seed{seed}.json``, is described field by field in
``docs/output-formats.md``, section "Perturbation records" (the one place of its schema).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust import spectra
from rnnrobust.layout import FAMILIES, stability
from rnnrobust.robustness.perturbation.bisection import bisect_crossings, first_crossing
from rnnrobust.robustness.perturbation.copies import evaluate_copies
from rnnrobust.robustness.perturbation.directions import (
    InstabilityDirection,
    gaussian_directions,
    instability_direction,
    rank_matched_directions,
)
from rnnrobust.robustness.perturbation.settings import PerturbationConfig
from rnnrobust.robustness.perturbation.state import layer_inputs, state_amplification, state_gate, used_lags
from rnnrobust.robustness.perturbation.sweep import Curve, Sweep
from rnnrobust.robustness.perturbation.trained import Stopwatch, evaluation_subset, trained_run
from rnnrobust.robustness.perturbation.trajectories import block_trajectories
from rnnrobust.training.models import recurrent_layers
from rnnrobust.training.tasks import load_tensors

__all__ = ["THRESHOLDS", "block_robustness", "first_crossings", "perturb_run"]

#: The thresholds bisected on every curve: {name: (the row's quantity, the level it must reach)}; ``flip5``
#: (5 % of predictions flipped) is the primary one, ``drop5`` (accuracy 5 points down: ε₅) the secondary.
THRESHOLDS = {"flip5": ("flip_rate", 0.05), "drop5": ("drop", 0.05)}


def block_robustness(
    w: np.ndarray, lags: Sequence[int] = (), precision: str = "float64"
) -> tuple[dict[str, Any], InstabilityDirection | None, dict[int, float]]:
    """The per-block record of the JSON ``blocks`` (``docs/output-formats.md``), the block's instability
    direction (:func:`~rnnrobust.robustness.perturbation.directions.instability_direction`; None unless the
    block is stable in its weights' ``precision``), and ‖W^k‖₂ at ``lags``."""
    prep = spectra.prepare(w)
    radius = spectra.spectral_radius(prep)
    label = stability(radius, precision)
    direction = instability_direction(w) if label == "stable" else None
    norm = prep.norm2
    growth = spectra.transient_growth(prep)
    longest = max(lags, default=0)
    if len(growth.norms) <= longest:  # the adaptive run stopped early (the powers had decayed)
        powers = spectra.transient_growth(prep, kmax=longest).norms
    else:
        powers = growth.norms
    record = {
        "norm2": norm,
        "spectral_radius": radius,
        "stability": label,
        "distance_to_instability": spectra.distance_to_instability(prep) if direction is None else direction.distance,
        "transient_peak": growth.peak,
        "transient_peak_k": growth.peak_k,
        "kreiss_constant": spectra.kreiss_constant(prep),
    }
    if direction is not None:  # a prediction only where the block is stable in the weights' precision
        record |= {
            "z_star": [direction.z.real, direction.z.imag],
            "eps_pred": direction.distance / norm if norm > 0 else math.inf,
            "instability_norm": direction.norm,
            "eps_instability": direction.norm / norm if norm > 0 else math.inf,
            "instability_rank": direction.rank,
        }
    # the products stop once a norm passes 1e250: later powers are out of range of any float
    return record, direction, {int(k): float(powers[k]) if k < len(powers) else math.inf for k in lags}


def _block_records(blocks: Mapping[str, np.ndarray], lags: Mapping[str, Sequence[int]], precision: str):
    """:func:`block_robustness` of every block: ({block: record}, {block: direction}, {block: {k: ‖W^k‖₂}})."""
    records, directions, powers = {}, {}, {}
    for key, w in blocks.items():
        records[key], directions[key], powers[key] = block_robustness(w, lags.get(key, ()), precision)
    return records, directions, powers


def _minima(records: Mapping[str, Mapping[str, Any]], stable: Sequence[str]) -> dict[str, Any]:
    """``eps_pred_min``, ``eps_instability_min`` and their blocks: the smallest over the ``stable`` blocks
    (None: none)."""
    out: dict[str, Any] = {}
    for key in ("eps_pred", "eps_instability"):
        candidates = [(records[b][key], b) for b in stable]
        value, block = min(candidates) if candidates else (None, None)
        out[f"{key}_min"], out[f"{key}_min_block"] = (None if value is None else float(value)), block
    return out


def _state_blocks(model: nn.Module, cell: str, x: Tensor, lags: Sequence[int]) -> tuple[dict, dict]:
    """({layer: its state block}, {state block: the lags measured on it}), from the layers' sequence lengths."""
    state_block = {name: f"{name}/{state_gate(cell)}" for name in recurrent_layers(model)}
    steps = {name: int(inputs.shape[1]) for name, inputs in layer_inputs(model, x[:1]).items()}
    return state_block, {state_block[name]: used_lags(steps[name], lags) for name in state_block}


def _directions(
    blocks: Mapping[str, np.ndarray],
    instability: Mapping[str, InstabilityDirection | None],
    config: PerturbationConfig,
) -> dict[Curve, dict[str, np.ndarray]]:
    """The fixed directions of every curve of the configured families (the adversarial one has none): the
    instability family and its rank-matched control only when some block is stable (the others get 0)."""
    out: dict[Curve, dict[str, np.ndarray]] = {}
    if "gaussian" in config.families:
        out |= {("gaussian", s): gaussian_directions(blocks, config.seed, s) for s in range(config.random_samples)}
    if not any(d is not None for d in instability.values()):
        return out
    ranks = {key: 0 if d is None else d.rank for key, d in instability.items()}
    if "gaussian_rank" in config.families:
        out |= {("gaussian_rank", s): rank_matched_directions(blocks, ranks, config.seed, s)
                for s in range(config.random_samples)}  # fmt: skip
    if "instability" in config.families:
        out[("instability", 0)] = {
            key: np.zeros_like(w) if instability[key] is None else instability[key].direction
            for key, w in blocks.items()
        }
    return out


def _thresholds(sweep: Sweep, curves: Sequence[Curve], levels: Sequence[float], steps: int) -> dict[str, Any]:
    """Per threshold (:data:`THRESHOLDS`), family and sample: the bisected crossing, with the other two
    scales at it (log10; the geometric mean of the bracket's rows, the bound's row when censored)."""
    sweep.measure([(curve, x) for curve in curves for x in levels], grid=True)  # one evaluation: all at once
    grid = {curve: [sweep.rows[(curve, x)] for x in levels] for curve in curves}
    out: dict[str, Any] = {}
    for name, (quantity, threshold) in THRESHOLDS.items():
        crossings = {curve: first_crossing(levels, [row[quantity] for row in rows], threshold)
                     for curve, rows in grid.items()}  # fmt: skip
        crossings = bisect_crossings(
            crossings, lambda pts, q=quantity: [row[q] for row in sweep.measure(pts)], threshold, steps
        )
        per_family: dict[str, list] = {}
        for (family, sample), crossing in crossings.items():
            ends = [sweep.rows[((family, sample), x)] for x in (crossing.low, crossing.high) if x is not None]
            scales = {f"{scale}_log10": float(np.mean([math.log10(max(r[scale], 1e-300)) for r in ends]))
                      for scale in ("eps_absolute", "eps_preactivation")}  # fmt: skip
            per_family.setdefault(family, []).append({"sample": sample, **crossing.to_record(), **scales})
        out[name] = per_family
    return out


def first_crossings(sweep: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Per family the smallest level at which a copy crossed (None: none did), in ``layout.FAMILIES`` order."""
    first = {}
    for family in [f for f in FAMILIES if any(row["family"] == f for row in sweep)]:
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


def _reference_stability(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The unperturbed blocks' radii and which are ``unstable`` and ``on_circle`` (the record's ``reference``)."""
    label = {key: r["stability"] for key, r in records.items()}
    return {
        "spectral_radius": {key: r["spectral_radius"] for key, r in records.items()},
        "unstable": [key for key in label if label[key] == "unstable"],
        "on_circle": [key for key in label if label[key] == "on_circle"],
    }


def _attack_split(arrays: Mapping[str, np.ndarray], task: str, config: PerturbationConfig, dtype) -> tuple:
    """(x, y) of the adversarial ascent: ``n_attack`` training examples (``default_rng([seed, 2])``), so that the
    direction is never fitted to the examples it is evaluated on."""
    n_train = len(arrays["y_train"])
    rows = np.sort(
        np.random.default_rng([config.seed, 2]).choice(n_train, min(config.n_attack, n_train), replace=False)
    )
    t = load_tensors(task, {"x_train": arrays["x_train"][rows], "y_train": arrays["y_train"][rows]}, dtype)
    return t["x_train"], t["y_train"]


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
    the model); ``arrays``: its task's prepared data (``x_train``, ``y_train``, ``x_test``, ``y_test``).
    ``timings`` receives the seconds of each phase.
    """
    watch = Stopwatch(timings if timings is not None else {})
    run = trained_run(state_dict, metrics)
    train, model, blocks, dtype = run.train, run.model, run.blocks, run.dtype
    task, cell = train.task, train.model
    n_test = len(arrays["y_test"])
    index = evaluation_subset(n_test, config.n_eval, config.seed)
    test = load_tensors(task, {"x_test": arrays["x_test"][index], "y_test": arrays["y_test"][index]}, dtype)
    x, y = test["x_test"], test["y_test"]

    state_block, lags = _state_blocks(model, cell, x, config.state_lags)
    records, instability, powers = _block_records(blocks, lags, train.dtype)
    stable = [key for key in blocks if records[key]["stability"] == "stable"]
    directions = _directions(blocks, instability, config)
    trajectories = block_trajectories(model, cell, x[: config.scale_sequences])
    watch.lap("linear algebra")

    reference = evaluate_copies(task, model, [{}], x, y, batch_size=config.batch_size, copies_per_pass=1)[0]
    sweep = Sweep(model, cell, blocks, directions, trajectories, task=task, dtype=dtype,
                  attack=_attack_split(arrays, task, config, dtype), test=(x, y), reference=reference,
                  stable=stable, settings=config)  # fmt: skip
    curves = [*directions, *([("adversarial", 0)] if "adversarial" in config.families else [])]
    log(f"{task} {cell}: {len(curves)} curves × {len(config.eps_log10)} levels on {len(index)} of {n_test} test "
        f"examples, {config.bisection_steps} bisections per threshold")  # fmt: skip
    thresholds = _thresholds(sweep, curves, config.eps_log10, config.bisection_steps)
    rows = sorted(sweep.rows.values(), key=lambda r: (FAMILIES.index(r["family"]), r["sample"], r["eps_log10"]))
    watch.lap("weight sweep")

    state = {}
    if config.state_sequences:
        rows_state = index[: min(config.state_sequences, len(index))]
        x_state = load_tensors(task, {"x_test": arrays["x_test"][rows_state]}, dtype=torch.float64)["x_test"]
        state = _state(model, x_state, config, state_block, records, powers)
        watch.lap("state")

    reference |= _reference_stability(records)
    return {
        "task": task, "model": cell, "regime": train.regime, "seed": train.seed, "config": config.to_params(),
        "code_digest": code_digest, "precision": train.dtype, "n_test": int(n_test), "n_eval": len(index),
        "chance_accuracy": metrics.get("chance_accuracy"), "reference": reference, "blocks": records,
        **_minima(records, stable), "sweep": rows, "thresholds": thresholds,
        "first_crossing_eps_log10": first_crossings(rows), "state": state,
    }  # fmt: skip
