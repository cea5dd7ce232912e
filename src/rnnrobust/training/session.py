"""A group's training set up once: its data, models, optimizer, checkpoint, logs and hooks (:class:`Session`).

:func:`setup` builds the :class:`Session` that the training loop (``rnnrobust.training.loop``) reads and
changes; :func:`resume` continues it from the group's checkpoint. Each run's model is initialised
exactly as a run alone (``rnnrobust.training.group``), so a group's run r starts bitwise where run r
alone starts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.config import TrainConfig
from rnnrobust.progress import progress_line
from rnnrobust.training.checkpoint import Checkpoint, params_digest
from rnnrobust.training.graphed import StaticStep
from rnnrobust.training.group import RunGroup
from rnnrobust.training.methods import TrainingMethods, build_methods
from rnnrobust.training.optimizer import make_optimizer, optimizer_impl
from rnnrobust.training.tasks import load_tensors, loss_and_accuracy, majority_accuracy

Log = Callable[[str], None]

#: ``TrainConfig.dtype`` → the dtype of the weights and of the inputs.
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class EpochEndHook(Protocol):
    """Called after each epoch's validation (Keras ``on_epoch_end`` order); may change the weights.

    Hooks that keep state across epochs expose ``state_dict``/``load_state_dict`` so it is checkpointed.
    """

    def __call__(self, model: nn.Module, epoch: int) -> dict[str, float]: ...


@dataclass
class Session:
    """Everything a group's training loop reads and changes, set up once by :func:`setup`.

    Per run (lists of length R): ``trains``, ``out_dirs``, ``logs``, ``hooks``, ``histories``.
    """

    trains: list[TrainConfig]
    out_dirs: list[Path]
    logs: list[Log]
    say: Log  # messages about the whole group
    hooks: list[list[EpochEndHook]]
    device: torch.device
    data: dict[str, Tensor]
    chance: float
    group: RunGroup
    optimizer: torch.optim.Optimizer
    ckpt: Checkpoint
    impl: str
    histories: list[list[dict]] = field(default_factory=list)
    # per run, the recurrent kernels before the last epoch's epoch-end hooks (``{}``: no hook ran)
    before_rescale: list[dict[str, Tensor]] = field(default_factory=list)
    step: StaticStep | None = None  # the static-buffer step of graphed training (None: the eager loop)
    methods: TrainingMethods | None = None  # robust_training's methods (None: plain training)
    epoch: int = 0  # the last finished epoch
    elapsed: float = 0.0

    @property
    def train(self) -> TrainConfig:
        """The settings every run shares (all but the seed)."""
        return self.trains[0]

    def active(self) -> list[int]:
        """The runs still training (not frozen after diverging)."""
        return [r for r in range(self.group.size) if not self.group.frozen[r]]


def resolve_device(device: str) -> torch.device:
    """The device of ``TrainConfig.device``: ``auto`` is CUDA where there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but no CUDA device is available; set device: auto or cpu")
    return torch.device(device)


def setup(
    trains: Sequence[TrainConfig],
    arrays: dict[str, np.ndarray],
    out_dirs: Sequence[str | Path],
    log: Log | Sequence[Log],
    hooks: Sequence[Sequence[EpochEndHook]] | None,
    *,
    code_digest: str,
    checkpoint: str | Path | None = None,
    stacked: bool | None = None,
    starts: Sequence | None = None,
) -> Session:
    """Data, the runs' models (each initialised as a run alone), the robust-training methods, the optimizer,
    the checkpoint and, for graphed training, the static-buffer step (the arguments are
    :func:`~rnnrobust.training.loop.train_group`'s)."""
    trains = list(trains)
    if trains[0].robust_training is not None and trains[0].graphed:
        raise ValueError("graphed: true does not train robust_training's methods; set graphed: false")
    out_dirs = _make_out_dirs(trains, out_dirs)
    train = trains[0]
    device = resolve_device(train.device)
    dtype = DTYPES[train.dtype]
    data = _training_data(train, arrays, dtype)
    chance = majority_accuracy(train.task, data["y_train"], data["y_test"])

    group = RunGroup(trains, device, dtype, stacked=stacked)
    methods = build_methods(group, starts)
    capturable = train.graphed and device.type == "cuda"  # on CPU the static step runs eagerly: the ordinary optimizer
    optimizer = make_optimizer(train, group.parameters(), capturable=capturable)
    impl = optimizer_impl(train, capturable)
    step = None
    if train.graphed:
        loss = functools.partial(loss_and_accuracy, train.task)
        step = StaticStep(group, optimizer, data["x_train"], data["y_train"], loss, clipnorm=train.clipnorm)
    key = {
        "params": params_digest({"runs": [t.to_params() for t in trains], "optimizer": impl}),
        "code": code_digest,
        "torch": str(torch.__version__),
    }
    ckpt = Checkpoint(Path(checkpoint) if checkpoint is not None else _checkpoint_file(trains, out_dirs), key)
    logs, say = _run_logs(trains, log)
    run_hooks = [list(h) for h in hooks] if hooks is not None else [[] for _ in trains]
    if len(run_hooks) != len(trains):
        raise ValueError(f"{len(trains)} runs need one list of hooks each; got {len(run_hooks)}")
    return Session(
        trains=trains, out_dirs=out_dirs, logs=logs, say=say, hooks=run_hooks, device=device, data=data,
        chance=chance, group=group, optimizer=optimizer, ckpt=ckpt, impl=impl,
        histories=[[] for _ in trains], before_rescale=[{} for _ in trains], step=step, methods=methods,
    )  # fmt: skip


def resume(s: Session) -> None:
    """Continue from the group's checkpoint, if a valid one is there."""
    state = s.ckpt.load(s.device, s.say)
    if state is None:
        return
    s.group.load_state_dict(state["model"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.group.load_generator_states(state["generators"])
    if s.methods is not None:
        s.methods.load_state_dict(state["methods"])
    for run_hooks, hook_states in zip(s.hooks, state["hooks"], strict=False):
        for hook, hook_state in zip(run_hooks, hook_states, strict=False):
            if hook_state is not None:
                hook.load_state_dict(hook_state)  # type: ignore[attr-defined]
    for r, frozen in enumerate(state["frozen"]):
        if frozen:  # its weights in the checkpoint are already those of its last finite epoch
            s.group.freeze(r, state)
    s.histories, s.epoch, s.elapsed = state["histories"], int(state["epoch"]), float(state["elapsed"])
    s.before_rescale = state["before_rescale"]
    # Snakemake clears the log of a job it reruns: repeat the finished epochs' lines from the checkpoint
    s.say(f"resuming from {s.ckpt.path} after epoch {s.epoch}; the epochs before:")
    for run_log, history in zip(s.logs, s.histories, strict=True):
        done = 0.0
        for row in history:
            done += row["seconds"]
            run_log(progress_line(int(row["epoch"]), s.train.epochs, row, done))


def _make_out_dirs(trains: list[TrainConfig], out_dirs: Sequence[str | Path]) -> list[Path]:
    """One output folder per run, created."""
    folders = [Path(d) for d in out_dirs]
    if len(folders) != len(trains):
        raise ValueError(f"{len(trains)} runs need {len(trains)} out_dirs; got {len(folders)}")
    for out in folders:
        out.mkdir(parents=True, exist_ok=True)
    return folders


def _training_data(train: TrainConfig, arrays: dict[str, np.ndarray], dtype: torch.dtype) -> dict[str, Tensor]:
    """The task's tensors, cut to ``max_train_samples`` and ``max_test_samples``."""
    data = load_tensors(train.task, arrays, dtype)
    data["x_train"], data["y_train"] = _limit(data["x_train"], data["y_train"], train.max_train_samples)
    data["x_test"], data["y_test"] = _limit(data["x_test"], data["y_test"], train.max_test_samples)
    return data


def _checkpoint_file(trains: list[TrainConfig], out_dirs: list[Path]) -> Path:
    """``checkpoint.pt`` in a lone run's folder; ``checkpoint.seeds-0-1-2.pt`` beside a group's folders."""
    if len(trains) == 1:
        return out_dirs[0] / "checkpoint.pt"
    folder = Path(os.path.commonpath([d.resolve() for d in out_dirs]))
    return folder / f"checkpoint.seeds-{'-'.join(str(t.seed) for t in trains)}.pt"


def _run_logs(trains: list[TrainConfig], log: Log | Sequence[Log]) -> tuple[list[Log], Log]:
    """One log per run and the group's (which writes to every run's log); one callable for a group
    prefixes each run's lines with ``seed N:``."""
    if isinstance(log, Sequence):
        logs, say = list(log), _to_all(list(log))
    elif len(trains) == 1:
        logs, say = [log], log
    else:
        logs, say = [_prefixed(log, f"seed {t.seed}: ") for t in trains], log
    if len(logs) != len(trains):
        raise ValueError(f"{len(trains)} runs need one log each; got {len(logs)}")
    return logs, say


def _prefixed(log: Log, prefix: str) -> Log:
    return lambda message: log(prefix + message)


def _to_all(logs: list[Log]) -> Log:
    def say(message: str) -> None:
        for run_log in logs:
            run_log(message)

    return say


def _limit(x: Tensor, y: Tensor, limit: int | None) -> tuple[Tensor, Tensor]:
    return (x, y) if not limit else (x[: int(limit)], y[: int(limit)])
