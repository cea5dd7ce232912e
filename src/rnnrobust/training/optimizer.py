"""The optimizer of a run: torch's Adam or RMSprop with Keras 2.1.6's constants.

Both run with ``foreach=True``: on CPU bitwise the default (per-tensor) implementation, fewer passes
over memory. ``fused=True`` (Adam only) makes one pass per element: the same update rounded
differently (≤ 1.5e-5 relative on a float32 step, 3e-14 on float64), so results are reproducible per
setting; see ``benchmarks/train_step.py`` for what it gains. ``capturable=True`` gives a step that a
CUDA graph can record (``rnnrobust.training.graphed``), whose bias corrections are rounded differently
again; a run records the implementation it was trained with (:func:`optimizer_impl`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from rnnrobust.config import TrainConfig


def make_optimizer(
    train: TrainConfig, params: Iterable[Tensor], *, fused: bool = False, capturable: bool = False
) -> torch.optim.Optimizer:
    """Adam or RMSprop with the run's ``lr`` and Keras 2.1.6 constants (``TrainConfig`` defaults).

    ``foreach`` implementations (bitwise the per-tensor ones on CPU); ``fused`` Adam on request (see
    the module docstring; RMSprop has no fused implementation and ignores it). ``capturable``: a step
    that a CUDA graph can record (``rnnrobust.training.graphed``; CUDA only).
    """
    options = {"capturable": True} if capturable else {}
    if train.optimizer == "adam":
        impl = {"fused": True} if fused else {"foreach": True}
        betas = (train.beta_1, train.beta_2)
        return torch.optim.Adam(params, lr=train.lr, betas=betas, eps=train.epsilon, **impl, **options)
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=train.lr, alpha=train.rho, eps=train.epsilon, foreach=True, **options)
    raise ValueError(f"unknown optimizer {train.optimizer!r}; expected 'adam' or 'rmsprop'")


def optimizer_impl(train: TrainConfig, fused: bool, capturable: bool = False) -> str:
    """The implementation :func:`make_optimizer` uses: ``fused`` or ``foreach``, with ``+capturable``."""
    impl = "fused" if fused and train.optimizer == "adam" else "foreach"
    return f"{impl}+capturable" if capturable else impl
