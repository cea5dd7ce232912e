"""One epoch of a group's training: its steps, the runs that diverged in it, its test metrics, its rows.

Each run draws its order of the training samples from its seed and the epoch alone (the same alone, in
any group, after a resume). A run whose loss or weights stop being finite is frozen with the weights of
its last finished epoch (``RunGroup.freeze``), and the group's other runs go on. With the static-buffer
step (``TrainConfig.graphed``, ``rnnrobust.training.graphed``) the losses are read once per epoch, so such
a run is frozen at the end of that epoch rather than at its batch, with the same outcome.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnrobust.progress import progress_line
from rnnrobust.training.evaluation import stacked_test_metrics
from rnnrobust.training.session import EpochEndHook, Session
from rnnrobust.training.tasks import loss_and_accuracy


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
        logits, penalty = group(xb), None
        if s.methods is not None:
            logits, penalty = s.methods.forward(group, xb)
        losses, accs = zip(*(loss_and_accuracy(task, logits[r], yb[r]) for r in range(group.size)), strict=True)
        loss = torch.stack(losses)
        rows = [loss.detach().double(), torch.stack(accs).double()]
        if penalty is not None:  # the history keeps the task's loss; the objective decides divergence
            loss = loss + penalty.to(loss.dtype)
            rows.append(loss.detach().double())
        values = torch.stack(rows).tolist()  # one sync
        for r in s.active():
            if not math.isfinite(values[-1][r]):
                diverge(s, r, epoch)
        if not s.active():
            break  # nothing left to train (a run alone stops at its first non-finite loss)
        loss.sum().backward()  # each run's gradient is its own loss's: d(sum)/d(loss_r) = 1
        if train.clipnorm:
            group.clip_grad_norm_(float(train.clipnorm))
        s.optimizer.step()
        if s.methods is not None:
            s.methods.after_step(group)
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


def diverge(s: Session, r: int, epoch: int) -> None:
    """Run r had a non-finite loss or weights: freeze it with the weights of the last finished epoch."""
    s.logs[r](f"epoch {epoch}: non-finite loss or weights; stopping and keeping the weights of epoch {epoch - 1}")
    # the live weights may already hold NaN from this epoch's steps: the last checkpoint has the finite ones
    s.group.freeze(r, s.ckpt.load(s.device, s.say))


@torch.no_grad()
def evaluate(s: Session) -> list[dict]:
    """Every run's test metrics (in eval mode: no dropout); every run sees the same test batches."""
    s.group.eval()
    data, train = s.data, s.train
    return stacked_test_metrics(
        train.task, s.group, s.group.size, data["x_test"], data["y_test"], train.eval_batch_size, s.device
    )


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
        before_rescale=s.before_rescale,
        elapsed=s.elapsed, hooks=[[_hook_state(h) for h in run_hooks] for run_hooks in s.hooks],
        **({} if s.methods is None else {"methods": s.methods.state_dict()}),
    )  # fmt: skip


def initial_row(test: dict) -> dict:
    """History row 0: the initial weights' test metrics."""
    return {"epoch": 0, "train_loss": math.nan, "train_accuracy": math.nan, **with_test_prefix(test)}


def with_test_prefix(test: dict) -> dict:
    """Test metrics as history columns: ``test_loss``, ``test_accuracy``, ..."""
    return {f"test_{k}": v for k, v in test.items()}


def _epoch_order(s: Session, epoch: int) -> Tensor:
    """(R, N): each run's order of the training samples in ``epoch``."""
    # each run's order depends only on its seed and the epoch: the same alone, in any group, after a resume
    return torch.stack([_permutation(len(s.data["x_train"]), t.seed, epoch) for t in s.trains])


def _permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The run's order of the training samples in ``epoch``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


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


def _hook_state(hook: EpochEndHook) -> dict | None:
    return hook.state_dict() if hasattr(hook, "state_dict") else None  # type: ignore[attr-defined]
