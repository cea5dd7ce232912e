"""The optimizer of a run: torch's Adam or RMSprop with Keras 2.1.6's constants.

``TrainConfig.optimizer_impl`` (config key ``optimizer_impl``) chooses the implementation. ``foreach``
(the default) is on CPU bitwise the per-tensor implementation with fewer passes over memory. ``fused``
(Adam only; RMSprop keeps ``foreach``) makes one pass per element: the same update rounded differently
(≤ 1.5e-5 relative on a float32 step, 3e-14 on float64), so results are reproducible per setting, and a
group's run no longer equals the run trained alone bit for bit; ``benchmarks/train_step.py`` measures
what it gains. ``capturable=True`` gives a step that a CUDA graph can record
(``rnnrobust.training.graphed``), whose bias corrections are rounded differently again; a run records
the implementation it was trained with (:func:`optimizer_impl`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from rnnrobust.config import TrainConfig

#: The values of ``optimizer_impl``.
OPTIMIZER_IMPLS = ("foreach", "fused")


def make_optimizer(train: TrainConfig, params: Iterable[Tensor], *, capturable: bool = False) -> torch.optim.Optimizer:
    """Adam or RMSprop with the run's ``lr``, Keras 2.1.6 constants (``TrainConfig`` defaults) and
    ``optimizer_impl``; ``capturable``: a step that a CUDA graph can record (``rnnrobust.training.graphed``;
    CUDA only)."""
    if train.optimizer_impl not in OPTIMIZER_IMPLS:
        raise ValueError(f"optimizer_impl = {train.optimizer_impl!r}; expected one of {OPTIMIZER_IMPLS}")
    options = {"capturable": True} if capturable else {}
    if train.optimizer == "adam":
        impl = {"fused": True} if train.optimizer_impl == "fused" else {"foreach": True}
        betas = (train.beta_1, train.beta_2)
        return torch.optim.Adam(params, lr=train.lr, betas=betas, eps=train.epsilon, **impl, **options)
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=train.lr, alpha=train.rho, eps=train.epsilon, foreach=True, **options)
    raise ValueError(f"unknown optimizer {train.optimizer!r}; expected 'adam' or 'rmsprop'")


def optimizer_impl(train: TrainConfig, capturable: bool = False) -> str:
    """The implementation :func:`make_optimizer` uses: ``fused`` or ``foreach``, with ``+capturable``."""
    impl = "fused" if train.optimizer_impl == "fused" and train.optimizer == "adam" else "foreach"
    return f"{impl}+capturable" if capturable else impl
