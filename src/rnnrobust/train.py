"""Deprecated: the training entry points live in ``rnnrobust.training.loop``.

``from rnnrobust.train import train_groups`` (the README of 0.2) still works for this release, with a
``DeprecationWarning``; import ``train_run``, ``train_group`` and ``train_groups`` from
``rnnrobust.training.loop`` instead. Nothing in the project imports this module.
"""

import warnings

from rnnrobust.training.loop import train_group, train_groups, train_run

__all__ = ["train_group", "train_groups", "train_run"]

warnings.warn(
    "rnnrobust.train is deprecated and will be removed in the next release; "
    "import train_run, train_group and train_groups from rnnrobust.training.loop",
    DeprecationWarning,
    stacklevel=2,
)
