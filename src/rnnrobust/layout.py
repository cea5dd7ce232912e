"""The project's nouns: tasks, cells, regimes, gates, layers, run paths. The one place they are spelled.

Torch-free and dependency-free, so that the workflow (``common.smk``), tables, figures and tests
import it without pulling in torch.

>>> run_stem("imdb", "gru", "baseline", 0)
'imdb/gru/baseline/seed0'
>>> block_keys("adding", "gru")
('encoder/z', 'encoder/r', 'encoder/h', 'decoder/z', 'decoder/r', 'decoder/h')
"""

from __future__ import annotations

import math
from typing import Any

#: The paper's three tasks, in the paper's order.
TASKS = ("adding", "imdb", "mnist")
#: Recurrent cells ("models" in ``config.yaml``).
CELLS = ("rnn", "lstm", "gru")
#: Training regimes: plain training and Algorithm 1 after every epoch.
REGIMES = ("baseline", "stabilized")
#: The regime every other is compared with, seed by seed (Tables 4 and 5).
REFERENCE = REGIMES[0]
#: Gate blocks of ``weight_hh``, top to bottom, in Keras' column order of ``recurrent_kernel``.
GATES = {"rnn": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}
#: Recurrent layers of each task's model, by attribute name.
LAYERS = {"adding": ("encoder", "decoder"), "imdb": ("rnn",), "mnist": ("rnn",)}
#: Families of weight perturbations of the perturbation stage, in the order tables and figures show them
#: (``rnnrobust.robustness.perturbation.directions``): Gaussian; Gaussian of the instability direction's rank;
#: towards instability (stable blocks); projected gradient ascent on the loss.
FAMILIES = ("gaussian", "gaussian_rank", "instability", "adversarial")
#: Outcome of a training run (see ``rnnrobust.training.outputs``).
STATUSES = ("converged", "not_converged", "diverged")

#: Path of one run below a stage's folder, as a Snakemake pattern.
RUN_PATTERN = "{task}/{model}/{regime}/seed{seed}"

#: Per-run files by kind, below a config's results folder (``results_dir``); ``{stem}`` is the run's
#: :func:`run_stem`, or :data:`RUN_PATTERN` in the workflow's rules.
RUN_FILES = {
    "model": "models/{stem}/model.pt",
    "metrics": "models/{stem}/metrics.json",
    "history": "models/{stem}/history.csv",
    "before_rescale": "models/{stem}/before_rescale.pt",
    "weights": "weights/{stem}.npz",
    "analysis": "analysis/{stem}.json",
    "analysis_before_rescale": "analysis/{stem}.before_rescale.json",
    "grid": "pseudospectra/{stem}.npz",
    "perturbation": "perturbation/{stem}.json",
    "predictors": "predictors/{stem}.json",
}

#: Machine epsilons of the weights' precision that a spectral radius may lie from 1 and count as **on the
#: circle** (:func:`stability`): Algorithm 1's exact rescale applies γ/ρ in float32 and lands within 1 ± 7e-8.
ON_CIRCLE_ULPS = 4
#: The labels of :func:`stability`.
STABILITY = ("stable", "on_circle", "unstable")

RunKey = tuple[str, str, str, int]
"""(task, model, regime, seed) of one run."""


def stability(radius: float, dtype: str = "float64") -> str:
    """``"stable"``, ``"on_circle"`` or ``"unstable"``: a radius within :data:`ON_CIRCLE_ULPS` machine epsilons
    of ``dtype`` (the weights' precision, ``"float32"`` or ``"float64"``) from 1 is on the circle, where the
    weights cannot tell stable from unstable.

    >>> stability(1 + 1e-7, "float32"), stability(1 + 1e-7), stability(0.5, "float32")
    ('on_circle', 'unstable', 'stable')
    """
    resolution = ON_CIRCLE_ULPS * {"float32": 1.1920928955078125e-07, "float64": 2.220446049250313e-16}[dtype]
    if abs(radius - 1.0) <= resolution:
        return "on_circle"
    return "stable" if radius < 1.0 else "unstable"


def run_stem(task: str, model: str, regime: str, seed: int) -> str:
    """The run's path below a stage's folder, e.g. ``results/analysis/<stem>.json``."""
    return RUN_PATTERN.format(task=task, model=model, regime=regime, seed=int(seed))


def block_keys(task: str, cell: str) -> tuple[str, ...]:
    """Keys ``<layer>/<gate>`` of every recurrent gate block of a task's model, in layer then gate order."""
    return tuple(f"{layer}/{gate}" for layer in LAYERS[task] for gate in GATES[cell])


def split_gates(w_hh: Any, cell: str) -> dict[str, Any]:
    """Row blocks (views, not copies) of a stacked k·H × H recurrent matrix, keyed by gate.

    Works for numpy arrays and torch tensors alike (plain slicing). Raises ValueError naming the
    shape when the matrix is not k·H × H for the cell's k gates.

    >>> import numpy as np
    >>> {gate: block.shape for gate, block in split_gates(np.zeros((6, 2)), "gru").items()}
    {'z': (2, 2), 'r': (2, 2), 'h': (2, 2)}
    """
    if cell not in GATES:
        raise ValueError(f"unknown cell {cell!r}; expected one of {CELLS}")
    gates = GATES[cell]
    rows, hidden = w_hh.shape
    if rows != len(gates) * hidden:
        raise ValueError(f"a {cell} recurrent matrix is ({len(gates)}·H, H); got shape {tuple(w_hh.shape)}")
    return {gate: w_hh[g * hidden : (g + 1) * hidden] for g, gate in enumerate(gates)}


def eps_key(eps_log10: float) -> str:
    """The JSON key of an ε level given as log10 ε: stable text such as ``"-2.0"`` or ``"-2.5"``.

    >>> eps_key(-2), eps_key(-2.5)
    ('-2.0', '-2.5')
    """
    value = float(eps_log10)
    if not math.isfinite(value):
        raise ValueError(f"log10 ε must be finite, got {eps_log10!r}")
    return repr(value)
