"""Training of task × model × seed runs, Keras-faithful, resumable and bitwise reproducible on CPU.

``train_group`` trains the runs of one task × model × regime that differ only in their seed at once,
as one stacked model (``rnnrobust.training.group``); ``train_run`` is a group of one, today's single run.
Each run writes into its own ``out_dir``:
- ``model.pt``: the run's final ``state_dict`` (loads with ``torch.load(..., weights_only=True)``);
- ``metrics.json``: final test metrics, status, resolved hyperparameters, wall time, versions, and
  ``group``: the seeds it was trained with, its index among them, the optimizer implementation;
- ``history.csv``: one row per epoch, row 0 at initialisation.
While it runs, the group keeps one checkpoint (``checkpoint.pt`` in the run's folder for a run alone),
atomically replaced every epoch and removed at the end, from which a killed group resumes with the same
result as an uninterrupted one.

Status: ``diverged`` (a non-finite loss or weights stopped the run; the weights of its last finite
epoch are kept, and the group's other runs go on), ``not_converged`` (final accuracy below chance +
``convergence_margin``), else ``converged``.

Reproducibility: the same runs, config and code give byte-identical ``model.pt`` files on CPU. A run's
results are bitwise reproducible for the same group configuration (the same seeds trained together);
on CPU a group's run r equals run r trained alone, bit for bit (``tests/training/test_group.py``), but a future
kernel could round a batched product differently from a single one, so that is checked, not promised.

The optimizer is torch's Adam or RMSprop with ``foreach=True``: on CPU bitwise the default (per-tensor)
implementation, fewer passes over memory. ``fused=True`` (Adam only) makes one pass per element: the
same update rounded differently (≤ 1.5e-5 relative on a float32 step, 3e-14 on float64), so results
are reproducible per setting; see ``benchmarks/train_step.py`` for what it gains.

``TrainConfig.graphed`` (config key ``graphed``) trains with the static-buffer step of
``rnnrobust.training.graphed``: on CUDA each batch is one replay of a captured CUDA graph (with a
``capturable`` optimizer, which rounds its bias corrections differently and is recorded as such,
e.g. ``foreach+capturable``), the data stay on the device and the losses are read once per epoch,
so a run whose loss stops being finite is frozen at the end of that epoch rather than at its batch,
with the same outcome. On CPU the same step runs eagerly and gives bitwise the default loop's
results (``tests/training/test_graphed.py``); see ``benchmarks/train_step_cuda.py``.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust import __version__, provenance
from rnnrobust.config import TrainConfig
from rnnrobust.io import atomic_path, write_json
from rnnrobust.progress import format_values, progress_line
from rnnrobust.training.graphed import StaticStep
from rnnrobust.training.group import RunGroup


class EpochEndHook(Protocol):
    """Called after each epoch's validation (Keras ``on_epoch_end`` order); may change the weights.

    Hooks that keep state across epochs expose ``state_dict``/``load_state_dict`` so it is checkpointed.
    """

    def __call__(self, model: nn.Module, epoch: int) -> dict[str, float]: ...


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


def loss_and_accuracy(task: str, logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Mean loss and Keras accuracy of a batch.

    adding: categorical cross-entropy and categorical accuracy over all 4 answer characters;
    imdb: binary cross-entropy on the logit and ``mean(y == round(p))``; mnist: cross-entropy.
    """
    if task == "adding":
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1).long())
        return loss, (logits.argmax(-1) == target).float().mean()
    if task == "imdb":
        loss = nn.functional.binary_cross_entropy_with_logits(logits, target.float())
        return loss, ((logits > 0).long() == target.long()).float().mean()
    loss = nn.functional.cross_entropy(logits, target.long())
    return loss, (logits.argmax(-1) == target).float().mean()


def load_tensors(task: str, arrays: dict[str, np.ndarray], dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """Prepared arrays → model-ready tensors (MNIST pixels scaled by 1/255 here)."""
    out = {}
    for key, value in arrays.items():
        if task == "mnist" and key.startswith("x_"):
            out[key] = torch.from_numpy(value.astype(np.float64) / 255.0).to(dtype)
        else:
            out[key] = torch.from_numpy(np.ascontiguousarray(value).astype(np.int64))
    return out


def majority_accuracy(task: str, y_train: Tensor, y_test: Tensor) -> float:
    """Chance level: test accuracy of always predicting the training set's most frequent label
    (per answer position for adding)."""
    if task == "adding":
        majority = torch.mode(y_train, dim=0).values
        return float((y_test == majority).float().mean())
    return float((y_test == torch.mode(y_train).values).float().mean())


@torch.no_grad()
def test_metrics(task: str, model: nn.Module | RunGroup, x: Tensor, y: Tensor, batch_size: int, device: torch.device):
    """Test loss and accuracy (weighted by batch size, as Keras' test loop); adding adds exact match.

    A model gives one dict; a :class:`~rnnrobust.training.group.RunGroup` a list, one dict per run (every run
    sees the same test batches).
    """
    model.eval()
    if isinstance(model, RunGroup):
        return stacked_test_metrics(task, model, model.size, x, y, batch_size, device)
    return stacked_test_metrics(task, lambda xb: model(xb[0]).unsqueeze(0), 1, x, y, batch_size, device)[0]


def stacked_test_metrics(
    task: str,
    forward: Callable[[Tensor], Tensor],
    runs: int,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    device: torch.device,
) -> list[dict[str, float]]:
    """:func:`test_metrics` of ``runs`` stacked runs: ``forward`` maps inputs (runs, B, ...) to logits
    (runs, B, ...); every run sees the same test batches. Put the model in eval mode first."""
    totals = [{"loss": 0.0, "accuracy": 0.0, "exact_match": 0.0} for _ in range(runs)]
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
        logits = forward(xb.expand(runs, *xb.shape))
        for total, run_logits in zip(totals, logits, strict=True):
            loss, acc = loss_and_accuracy(task, run_logits, yb)
            total["loss"] += float(loss) * len(xb)
            total["accuracy"] += float(acc) * len(xb)
            if task == "adding":
                total["exact_match"] += float((run_logits.argmax(-1) == yb).all(dim=1).float().sum())
    return [{k: v / len(x) for k, v in total.items() if task == "adding" or k != "exact_match"} for total in totals]


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but no CUDA device is available; set device: auto or cpu")
    return torch.device(device)


def params_digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "rnnrobust": __version__,
    }


def _write_history(path: Path, rows: Sequence[dict]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def save_state_dict(path: str | Path, state: dict) -> None:
    """``torch.save`` atomically, through an open file: the bytes do not depend on the temporary
    file's name (torch names the zip archive's root after a path, not after a file object)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)


class Checkpoint:
    """The state of a run after its last finished epoch, with the key that says what may resume it.

    ``key`` holds the digests of the hyperparameters and of the training code and the torch version;
    a checkpoint whose key differs is moved aside to ``checkpoint.stale.pt`` (kept for inspection,
    never resumed) with a log line that says why. A group's checkpoint holds every run's state.
    """

    def __init__(self, path: Path, key: dict[str, str]) -> None:
        self.path = Path(path)
        self.key = key

    def save(self, **state: Any) -> None:
        save_state_dict(self.path, {"key": self.key, **state})

    def load(self, device: torch.device, log: Callable[[str], None]) -> dict | None:
        if not self.path.exists():
            return None
        state = torch.load(self.path, map_location=device, weights_only=True)
        stored = state.get("key", {})
        changed = [name for name in self.key if stored.get(name) != self.key[name]]
        if not changed:
            return state
        reasons = {"params": "other hyperparameters", "code": "other training code", "torch": "another torch version"}
        stale = self.path.with_suffix(".stale.pt")  # checkpoint.pt → checkpoint.stale.pt
        self.path.replace(stale)
        why = " and ".join(reasons[name] for name in changed)
        log(f"setting {self.path.name} aside as {stale.name}: it was written with {why}; training starts fresh")
        return None


Log = Callable[[str], None]


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
    step: StaticStep | None = None  # the static-buffer step of graphed training (None: the eager loop)
    epoch: int = 0  # the last finished epoch
    elapsed: float = 0.0

    @property
    def train(self) -> TrainConfig:
        """The settings every run shares (all but the seed)."""
        return self.trains[0]

    def active(self) -> list[int]:
        """The runs still training (not frozen after diverging)."""
        return [r for r in range(self.group.size) if not self.group.frozen[r]]


def train_group(
    trains: Sequence[TrainConfig],
    arrays: dict[str, np.ndarray],
    out_dirs: Sequence[str | Path],
    *,
    log: Log | Sequence[Log] = print,
    hooks: Sequence[Sequence[EpochEndHook]] | None = None,
    code_digest: str | None = None,
    checkpoint: str | Path | None = None,
    fused: bool = False,
    stacked: bool | None = None,
) -> list[dict[str, Any]]:
    """Train runs that differ only in their seed at once and write each run's outputs to its ``out_dir``.

    ``log``: one callable (a group's lines are prefixed ``seed N:``) or one per run; ``hooks``: the
    epoch-end hooks of each run (e.g. ``[stabilization_hooks(t) for t in trains]``), called with the
    run's own model; ``code_digest`` identifies the code that trains (the workflow passes its job's
    digest; by default the digest of this module and what it imports): a checkpoint left by other
    code or another torch is set aside, never resumed. ``checkpoint``: the group's checkpoint file
    (default ``checkpoint.pt`` in a lone run's folder, ``checkpoint.seeds-0-1-2.pt`` beside a group's
    folders). ``fused``: fused Adam (module docstring); ``stacked``: force the stacked model for a
    group of one (benchmarks). The runs' ``graphed`` setting chooses the static-buffer step, one CUDA
    graph replay per batch on CUDA (module docstring). Returns each run's metrics dict.
    """
    return train_session(setup(trains, arrays, out_dirs, log, hooks, code_digest, checkpoint, fused, stacked))


@dataclass(frozen=True)
class GroupJob:
    """One group of :func:`train_groups`: the first arguments of :func:`train_group`, one log and one list
    of hooks per run."""

    trains: Sequence[TrainConfig]
    arrays: dict[str, np.ndarray]
    out_dirs: Sequence[str | Path]
    logs: Sequence[Log]
    hooks: Sequence[Sequence[EpochEndHook]]


def train_groups(groups: Sequence[GroupJob], *, code_digest: str | None = None) -> list[list[dict[str, Any]]]:
    """Train several groups at once, each in its own thread (and CUDA stream), as :func:`train_group` trains one.

    The groups are set up one after the other, because building a run's model draws from torch's global
    generator; then they train concurrently, each drawing only from its own generators, so that every
    group computes what it would alone (bit for bit on CPU: ``tests/training/test_train.py``). On a GPU the
    groups' kernels (or graph replays, ``graphed``) then overlap instead of waiting for each other.
    Returns each group's metrics, in order.
    """
    sessions = [setup(g.trains, g.arrays, g.out_dirs, list(g.logs), g.hooks, code_digest, None, False, None)
                for g in groups]  # fmt: skip
    if len(sessions) == 1:
        return [train_session(sessions[0])]
    with ThreadPoolExecutor(max_workers=len(sessions), thread_name_prefix="group") as pool:
        return list(pool.map(_train_on_own_stream, sessions))


def _train_on_own_stream(s: Session) -> list[dict[str, Any]]:
    if s.device.type != "cuda":
        return train_session(s)
    with torch.cuda.stream(torch.cuda.Stream(s.device)):  # the current stream is per thread
        return train_session(s)


def train_session(s: Session) -> list[dict[str, Any]]:
    """The training loop of a set-up group, from its checkpoint if it has one, to its written outputs."""
    resume(s)
    if s.epoch == 0:
        end_epoch(s, 0, {r: _initial_row(test) for r, test in enumerate(evaluate(s))}, seconds=0.0)
    for epoch in range(s.epoch + 1, s.train.epochs + 1):
        tic = time.perf_counter()
        rows = train_one_epoch(s, epoch) if s.step is None else train_one_epoch_graphed(s, epoch)
        if not s.active():
            break
        for r, test in enumerate(evaluate(s)):
            if r in rows:
                rows[r].update(_prefix(test))
        # Keras order: the epoch's validation above, then the on_epoch_end callbacks (the stabilization rescale)
        for r, row in rows.items():
            for hook in s.hooks[r]:
                row.update(hook(s.group.models[r], epoch))
        end_epoch(s, epoch, rows, seconds=time.perf_counter() - tic)
    return write_outputs(s)


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


def setup(trains, arrays, out_dirs, log, hooks, code_digest, checkpoint, fused, stacked) -> Session:
    """Data, the runs' models (each initialised as a run alone), the optimizer, the checkpoint and, for
    graphed training, the static-buffer step."""
    trains = list(trains)
    out_dirs = [Path(d) for d in out_dirs]
    if len(out_dirs) != len(trains):
        raise ValueError(f"{len(trains)} runs need {len(trains)} out_dirs; got {len(out_dirs)}")
    for out in out_dirs:
        out.mkdir(parents=True, exist_ok=True)
    train = trains[0]
    device = resolve_device(train.device)
    dtype = {"float32": torch.float32, "float64": torch.float64}[train.dtype]
    data = load_tensors(train.task, arrays, dtype)
    data["x_train"], data["y_train"] = _limit(data["x_train"], data["y_train"], train.max_train_samples)
    data["x_test"], data["y_test"] = _limit(data["x_test"], data["y_test"], train.max_test_samples)
    chance = majority_accuracy(train.task, data["y_train"], data["y_test"])

    group = RunGroup(trains, device, dtype, stacked=stacked)
    graphed = train.graphed
    capturable = graphed and device.type == "cuda"  # on CPU the static step runs eagerly: the ordinary optimizer
    optimizer = make_optimizer(train, group.parameters(), fused=fused, capturable=capturable)
    impl = optimizer_impl(train, fused, capturable)
    step = None
    if graphed:
        loss = functools.partial(loss_and_accuracy, train.task)
        step = StaticStep(group, optimizer, data["x_train"], data["y_train"], loss, clipnorm=train.clipnorm)
    seeds = [t.seed for t in trains]
    if checkpoint is None:
        name = "checkpoint.pt" if len(trains) == 1 else f"checkpoint.seeds-{'-'.join(map(str, seeds))}.pt"
        folder = out_dirs[0] if len(trains) == 1 else Path(os.path.commonpath([d.resolve() for d in out_dirs]))
        checkpoint = folder / name
    key = {
        "params": params_digest({"runs": [t.to_params() for t in trains], "optimizer": impl}),
        "code": code_digest or provenance.module_digest(__name__, Path(__file__).parents[2]),
        "torch": str(torch.__version__),
    }
    if isinstance(log, Sequence):
        logs, say = list(log), _to_all(list(log))
    elif len(trains) == 1:
        logs, say = [log], log
    else:
        logs, say = [_prefixed(log, f"seed {seed}: ") for seed in seeds], log
    if len(logs) != len(trains):
        raise ValueError(f"{len(trains)} runs need one log each; got {len(logs)}")
    run_hooks = [list(h) for h in hooks] if hooks is not None else [[] for _ in trains]
    if len(run_hooks) != len(trains):
        raise ValueError(f"{len(trains)} runs need one list of hooks each; got {len(run_hooks)}")
    return Session(
        trains=trains, out_dirs=out_dirs, logs=logs, say=say, hooks=run_hooks, device=device, data=data,
        chance=chance, group=group, optimizer=optimizer, ckpt=Checkpoint(Path(checkpoint), key), impl=impl,
        histories=[[] for _ in trains], step=step,
    )  # fmt: skip


def resume(s: Session) -> None:
    """Continue from the group's checkpoint, if a valid one is there."""
    state = s.ckpt.load(s.device, s.say)
    if state is None:
        return
    s.group.load_state_dict(state["model"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.group.load_generator_states(state["generators"])
    for run_hooks, hook_states in zip(s.hooks, state["hooks"], strict=False):
        for hook, hook_state in zip(run_hooks, hook_states, strict=False):
            if hook_state is not None:
                hook.load_state_dict(hook_state)  # type: ignore[attr-defined]
    for r, frozen in enumerate(state["frozen"]):
        if frozen:  # its weights in the checkpoint are already those of its last finite epoch
            s.group.freeze(r, state)
    s.histories, s.epoch, s.elapsed = state["histories"], int(state["epoch"]), float(state["elapsed"])
    # Snakemake clears the log of a job it reruns: repeat the finished epochs' lines from the checkpoint
    s.say(f"resuming from {s.ckpt.path} after epoch {s.epoch}; the epochs before:")
    for run_log, history in zip(s.logs, s.histories, strict=True):
        done = 0.0
        for row in history:
            done += row["seconds"]
            run_log(progress_line(int(row["epoch"]), s.train.epochs, row, done))


def train_one_epoch(s: Session, epoch: int) -> dict[int, dict[str, float]]:
    """One pass over the training data, each run in its own order; the history rows of the runs still
    training: epoch, mean training loss and accuracy."""
    task, train, group = s.train.task, s.train, s.group
    x_train, y_train = s.data["x_train"], s.data["y_train"]
    group.train()
    order = _epoch_order(s, epoch)
    sums = [[0.0, 0.0] for _ in s.trains]
    for start in range(0, len(x_train), train.batch_size):
        idx = order[:, start : start + train.batch_size]
        xb, yb = x_train[idx].to(s.device), y_train[idx].to(s.device)
        s.optimizer.zero_grad(set_to_none=True)
        logits = group(xb)
        losses, accs = zip(*(loss_and_accuracy(task, logits[r], yb[r]) for r in range(group.size)), strict=True)
        loss = torch.stack(losses)
        values = torch.stack([loss.detach().double(), torch.stack(accs).double()]).tolist()  # one sync
        for r in s.active():
            if not math.isfinite(values[0][r]):
                diverge(s, r, epoch)
        if not s.active():
            break  # nothing left to train (a run alone stops at its first non-finite loss)
        loss.sum().backward()  # each run's gradient is its own loss's: d(sum)/d(loss_r) = 1
        if train.clipnorm:
            group.clip_grad_norm_(float(train.clipnorm))
        s.optimizer.step()
        group.restore_frozen(s.optimizer)
        for r in s.active():
            sums[r][0] += values[0][r] * idx.shape[1]
            sums[r][1] += values[1][r] * idx.shape[1]
    return _epoch_rows(s, epoch, sums)


def train_one_epoch_graphed(s: Session, epoch: int) -> dict[int, dict[str, float]]:
    """:func:`train_one_epoch` with the static-buffer step (``rnnrobust.training.graphed``): the same batches and
    updates, one graph replay per batch on CUDA, the losses summed on the device and read once at the end.

    A run whose loss stopped being finite is frozen at the end of the epoch instead of at its batch. The
    outcome is the same: it goes back to the last finished epoch's weights and optimizer state (the
    checkpoint's), and the other runs never saw its numbers; only the rest of its epoch was wasted.
    """
    step = s.step
    assert step is not None
    s.group.train()
    order = _epoch_order(s, epoch).to(s.device)  # one upload per epoch; each step copies its slice on the device
    step.reset()
    for start in range(0, order.shape[1], s.train.batch_size):
        step.step(order[:, start : start + s.train.batch_size])
    loss_sums, accuracy_sums, nonfinite = step.totals()  # the epoch's one sync
    for r in s.active():
        if nonfinite[r]:
            diverge(s, r, epoch)
    return _epoch_rows(s, epoch, [list(pair) for pair in zip(loss_sums, accuracy_sums, strict=True)])


def _epoch_order(s: Session, epoch: int) -> Tensor:
    """(R, N): each run's order of the training samples in ``epoch``."""
    # each run's order depends only on its seed and the epoch: the same alone, in any group, after a resume
    return torch.stack([_permutation(len(s.data["x_train"]), t.seed, epoch) for t in s.trains])


def _epoch_rows(s: Session, epoch: int, sums: list[list[float]]) -> dict[int, dict[str, float]]:
    """After an epoch's steps: freeze the runs whose weights are not finite; the history rows of the others
    from their sums of loss × batch and accuracy × batch."""
    group = s.group
    for r, finite in enumerate(group.finite()):
        if not finite and not group.frozen[r]:
            diverge(s, r, epoch)
    group.restore_frozen(s.optimizer)
    n = len(s.data["x_train"])
    return {r: {"epoch": epoch, "train_loss": sums[r][0] / n, "train_accuracy": sums[r][1] / n} for r in s.active()}


def diverge(s: Session, r: int, epoch: int) -> None:
    """Run r had a non-finite loss or weights: freeze it with the weights of the last finished epoch."""
    s.logs[r](f"epoch {epoch}: non-finite loss or weights; stopping and keeping the weights of epoch {epoch - 1}")
    # the live weights may already hold NaN from this epoch's steps: the last checkpoint has the finite ones
    s.group.freeze(r, s.ckpt.load(s.device, s.say))


def evaluate(s: Session) -> list[dict]:
    """Every run's test metrics."""
    return test_metrics(s.train.task, s.group, s.data["x_test"], s.data["y_test"], s.train.eval_batch_size, s.device)


def end_epoch(s: Session, epoch: int, rows: dict[int, dict[str, float]], seconds: float) -> None:
    """The finished epoch's history row and log line of each run still training; the group's checkpoint."""
    s.elapsed += seconds
    for r, row in rows.items():
        row["seconds"] = seconds
        s.histories[r].append(row)
        s.logs[r](progress_line(epoch, s.train.epochs, row, s.elapsed))
    s.epoch = epoch
    s.ckpt.save(
        epoch=epoch, model=s.group.state_dict(), optimizer=s.optimizer.state_dict(),
        generators=s.group.generator_states(), histories=s.histories, frozen=list(s.group.frozen),
        elapsed=s.elapsed, hooks=[[_hook_state(h) for h in run_hooks] for run_hooks in s.hooks],
    )  # fmt: skip


def write_outputs(s: Session) -> list[dict[str, Any]]:
    """Final test metrics and status of every run; its model.pt, history.csv and metrics.json."""
    finals = evaluate(s)
    seeds = [t.seed for t in s.trains]
    results = []
    for r, (train, out, history, final) in enumerate(zip(s.trains, s.out_dirs, s.histories, finals, strict=True)):
        status = "converged"
        if s.group.frozen[r]:
            status = "diverged"
        elif final["accuracy"] < s.chance + train.convergence_margin:
            status = "not_converged"
        metrics = {
            "task": train.task,
            "model": train.model,
            "seed": train.seed,
            "status": status,
            "test": final,
            "chance_accuracy": s.chance,
            "epochs_completed": int(history[-1]["epoch"]),
            "wall_time_s": s.elapsed,
            "device": str(s.device),
            "hyperparameters": train.to_params(),
            "code_digest": s.ckpt.key["code"],
            "versions": _versions(),
            "n_train": len(s.data["x_train"]),
            "n_test": len(s.data["x_test"]),
            "group": {"seeds": seeds, "index": r, "stacked": s.group.stacked, "optimizer": s.impl},
        }
        if s.hooks[r] and history[-1]["epoch"] > 0:  # Keras logs the last validation before the epoch-end rescale
            metrics["test_before_final_rescale"] = {k[5:]: v for k, v in history[-1].items() if k.startswith("test_")}
        save_state_dict(out / "model.pt", s.group.run_state_dict(r))
        _write_history(out / "history.csv", history)
        write_json(out / "metrics.json", metrics)
        results.append(metrics)
    s.ckpt.path.unlink(missing_ok=True)
    for run_log, metrics in zip(s.logs, results, strict=True):
        run_log(f"done: status {metrics['status']}, test {format_values(metrics['test'])}, "
                f"chance {s.chance:.4f}, {s.elapsed:.1f} s")  # fmt: skip
    return results


def _permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The run's order of the training samples in ``epoch``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def _hook_state(hook: EpochEndHook) -> dict | None:
    return hook.state_dict() if hasattr(hook, "state_dict") else None  # type: ignore[attr-defined]


def _prefixed(log: Log, prefix: str) -> Log:
    return lambda message: log(prefix + message)


def _to_all(logs: list[Log]) -> Log:
    def say(message: str) -> None:
        for run_log in logs:
            run_log(message)

    return say


def _limit(x: Tensor, y: Tensor, limit: int | None) -> tuple[Tensor, Tensor]:
    return (x, y) if not limit else (x[: int(limit)], y[: int(limit)])


def _initial_row(test: dict) -> dict:
    """History row 0: the initial weights' test metrics."""
    return {"epoch": 0, "train_loss": math.nan, "train_accuracy": math.nan, **_prefix(test)}


def _prefix(test: dict) -> dict:
    return {f"test_{k}": v for k, v in test.items()}
