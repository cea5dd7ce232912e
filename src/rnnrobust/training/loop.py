"""Training of task × model × seed runs, Keras-faithful, resumable and bitwise reproducible on CPU.

:func:`train_group` trains the runs of one task × model × regime that differ only in their seed at once,
as one stacked model (``rnnrobust.training.group``); :func:`train_run` is a group of one, today's single
run; :func:`train_groups` trains several groups at once. Each run writes its outputs into its own
``out_dir`` (``rnnrobust.training.outputs``). While it runs, the group keeps one checkpoint
(``rnnrobust.training.checkpoint``), from which a killed group resumes with the same result as an
uninterrupted one.

Reproducibility: the same runs, config and code give byte-identical ``model.pt`` files on CPU. A run's
results are bitwise reproducible for the same group configuration (the same seeds trained together);
on CPU a group's run r equals run r trained alone, bit for bit (``tests/training/test_group.py``), but a
future kernel could round a batched product differently from a single one, so that is checked, not promised.
The optimizer's implementation (``optimizer_impl``: ``foreach`` or ``fused``; ``+capturable``) is part of a
run's settings (``rnnrobust.training.optimizer``).

``TrainConfig.graphed`` (config key ``graphed``) trains with the static-buffer step of
``rnnrobust.training.graphed``: on CUDA each batch is one replay of a captured CUDA graph (with a
``capturable`` optimizer, which rounds its bias corrections differently and is recorded as such,
e.g. ``foreach+capturable``), the data stay on the device and the losses are read once per epoch
(``rnnrobust.training.epochs``). On CPU the same step runs eagerly and gives bitwise the default loop's
results (``tests/training/test_graphed.py``); see ``benchmarks/train_step_cuda.py``.

The default code digest of a run (its checkpoint's key) is that of this module and every module it
imports: the whole training loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnrobust import provenance
from rnnrobust.config import TrainConfig
from rnnrobust.training.epochs import (
    end_epoch,
    evaluate,
    initial_row,
    train_one_epoch,
    train_one_epoch_graphed,
    with_test_prefix,
)
from rnnrobust.training.outputs import write_outputs
from rnnrobust.training.session import EpochEndHook, Log, Session, resume, setup
from rnnrobust.training.weights import recurrent_kernels


def default_code_digest() -> str:
    """The digest of the training code: this module and every library module it imports."""
    return provenance.module_digest(__name__, Path(__file__).parents[2])


def train_group(
    trains: Sequence[TrainConfig],
    arrays: dict[str, np.ndarray],
    out_dirs: Sequence[str | Path],
    *,
    log: Log | Sequence[Log] = print,
    hooks: Sequence[Sequence[EpochEndHook]] | None = None,
    code_digest: str | None = None,
    checkpoint: str | Path | None = None,
    stacked: bool | None = None,
    starts: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Train runs that differ only in their seed at once and write each run's outputs to its ``out_dir``.

    ``log``: one callable (a group's lines are prefixed ``seed N:``) or one per run; ``hooks``: the
    epoch-end hooks of each run (e.g. ``[stabilization_hooks(t) for t in trains]``), called with the
    run's own model; ``code_digest`` identifies the code that trains (the workflow passes its job's
    digest; by default :func:`default_code_digest`): a checkpoint left by other code or another torch
    is set aside, never resumed. ``checkpoint``: the group's checkpoint file (default ``checkpoint.pt``
    in a lone run's folder, ``checkpoint.seeds-0-1-2.pt`` beside a group's folders). ``stacked``: force
    the stacked model for a group of one (benchmarks). The runs' ``graphed`` setting chooses the
    static-buffer step, one CUDA graph replay per batch on CUDA (module docstring). ``starts``: per run,
    the trained run that ``robust_training.init_from`` starts it from
    (``rnnrobust.training.methods.load_start``). Returns each run's metrics dict.
    """
    code = code_digest or default_code_digest()
    session = setup(
        trains, arrays, out_dirs, log, hooks, code_digest=code, checkpoint=checkpoint, stacked=stacked,
        starts=starts,
    )  # fmt: skip
    return train_session(session)


def train_run(
    train: TrainConfig,
    arrays: dict[str, np.ndarray],
    out_dir: str | Path,
    *,
    log: Log = print,
    hooks: Sequence[EpochEndHook] = (),
    code_digest: str | None = None,
) -> dict[str, Any]:
    """Train one run and write its outputs to ``out_dir``; returns the metrics dict (a group of one)."""
    return train_group([train], arrays, [out_dir], log=log, hooks=[list(hooks)], code_digest=code_digest)[0]


@dataclass(frozen=True)
class GroupJob:
    """One group of :func:`train_groups`: the first arguments of :func:`train_group`, one log and one list
    of hooks per run, and the runs' ``starts`` where ``robust_training.init_from`` asks for them."""

    trains: Sequence[TrainConfig]
    arrays: dict[str, np.ndarray]
    out_dirs: Sequence[str | Path]
    logs: Sequence[Log]
    hooks: Sequence[Sequence[EpochEndHook]]
    starts: Sequence[Mapping[str, Any]] | None = None


def train_groups(groups: Sequence[GroupJob], *, code_digest: str | None = None) -> list[list[dict[str, Any]]]:
    """Train several groups at once, each in its own thread (and CUDA stream), as :func:`train_group` trains one.

    The groups are set up one after the other, because building a run's model draws from torch's global
    generator; then they train concurrently, each drawing only from its own generators, so that every
    group computes what it would alone (bit for bit on CPU: ``tests/training/test_group.py``). On a GPU
    the groups' kernels (or graph replays, ``graphed``) then overlap instead of waiting for each other.
    Returns each group's metrics, in order.
    """
    code = code_digest or default_code_digest()
    sessions = [
        setup(g.trains, g.arrays, g.out_dirs, list(g.logs), g.hooks, code_digest=code, starts=g.starts) for g in groups
    ]
    if len(sessions) == 1:
        return [train_session(sessions[0])]
    with ThreadPoolExecutor(max_workers=len(sessions), thread_name_prefix="group") as pool:
        return list(pool.map(_train_on_own_stream, sessions))


def train_session(s: Session) -> list[dict[str, Any]]:
    """The training loop of a set-up group, from its checkpoint if it has one, to its written outputs."""
    resume(s)
    if s.epoch == 0:
        end_epoch(s, 0, {r: initial_row(test) for r, test in enumerate(evaluate(s))}, seconds=0.0)
    for epoch in range(s.epoch + 1, s.train.epochs + 1):
        tic = time.perf_counter()
        rows = train_one_epoch(s, epoch) if s.step is None else train_one_epoch_graphed(s, epoch)
        if not s.active():
            break
        for r, test in enumerate(evaluate(s)):
            if r in rows:
                rows[r].update(with_test_prefix(test))
        # Keras order: the epoch's validation above, then the on_epoch_end callbacks (the stabilization rescale)
        for r, row in rows.items():
            if s.hooks[r]:  # the weights the last validation saw, which the final rescale changes
                s.before_rescale[r] = recurrent_kernels(s.group.models[r].state_dict())
            for hook in s.hooks[r]:
                row.update(hook(s.group.models[r], epoch))
            if s.methods is not None:
                row.update(s.methods.epoch_log(s.group, r))
        end_epoch(s, epoch, rows, seconds=time.perf_counter() - tic)
    if s.methods is not None:
        s.methods.write(s.group, s.out_dirs)
    return write_outputs(s, evaluate(s))


def _train_on_own_stream(s: Session) -> list[dict[str, Any]]:
    if s.device.type != "cuda":
        return train_session(s)
    with torch.cuda.stream(torch.cuda.Stream(s.device)):  # the current stream is per thread
        return train_session(s)
