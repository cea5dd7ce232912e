"""A trained run as the per-run measurements read it: its network, its evaluation subset, and a stopwatch.

Shared by the perturbation stage (``run``) and the predictors (``rnnrobust.robustness.predictors``), so that both
measure the same network on the same examples, and so that the ``predict`` job's code digest does not follow the
perturbation sweep.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.config import TrainConfig
from rnnrobust.layout import block_keys
from rnnrobust.training.models import build_model
from rnnrobust.training.weights import gate_blocks

__all__ = ["Stopwatch", "TrainedRun", "evaluation_subset", "trained_run"]

#: The torch dtype of each ``TrainConfig.dtype``.
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Stopwatch:
    """Seconds spent per phase, added up into ``spent`` (phases may recur)."""

    def __init__(self, spent: dict[str, float]) -> None:
        self.spent = spent
        self.clock = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.spent[phase] = self.spent.get(phase, 0.0) + now - self.clock
        self.clock = now


class TrainedRun:
    """``train`` (its TrainConfig), ``model`` (eval mode, in its training dtype), ``blocks`` (its gate blocks,
    float64) and ``dtype``."""

    def __init__(self, train: TrainConfig, model: nn.Module, blocks: dict[str, np.ndarray], dtype: torch.dtype):
        self.train, self.model, self.blocks, self.dtype = train, model, blocks, dtype


def trained_run(state_dict: Mapping[str, Tensor], metrics: Mapping[str, Any]) -> TrainedRun:
    """The run of ``model.pt`` and ``metrics.json`` (whose hyperparameters rebuild the model); its gate blocks must
    be the task's."""
    train = TrainConfig.from_params(metrics["hyperparameters"])
    task, cell = train.task, train.model
    dtype = _DTYPES[train.dtype]  # the network's, as in training
    model = build_model(task, cell, **train.model_options()).to(dtype)
    model.load_state_dict(state_dict)
    model.eval()
    blocks = gate_blocks(state_dict, cell)
    keys = list(block_keys(task, cell))
    if list(blocks) != keys:
        raise ValueError(f"model.pt has the blocks {list(blocks)}; a {task} {cell} model has {keys}")
    return TrainedRun(train, model, blocks, dtype)


def evaluation_subset(n_test: int, n_eval: int, seed: int) -> np.ndarray:
    """Indices of the fixed evaluation subset (``default_rng([seed, 0])``), in test-set order."""
    rng = np.random.default_rng([seed, 0])
    return np.sort(rng.choice(n_test, size=min(n_eval, n_test), replace=False))
