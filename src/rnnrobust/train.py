"""Training of one task × model × seed run, Keras-faithful, resumable and bitwise reproducible on CPU.

``train_run`` writes into ``out_dir``:
- ``model.pt``: the final ``state_dict`` (loads with ``torch.load(..., weights_only=True)``);
- ``metrics.json``: final test metrics, status, resolved hyperparameters, wall time, versions;
- ``history.csv``: one row per epoch, row 0 at initialisation;
- ``checkpoint.pt`` while running (atomically replaced every epoch, removed at the end), from
  which a killed run resumes with the same result as an uninterrupted one.

Status: ``diverged`` (a non-finite loss stopped training; the weights of the last finite epoch are
kept), ``not_converged`` (final accuracy below chance + ``convergence_margin``), else ``converged``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from . import __version__, provenance
from .config import TrainConfig
from .io import atomic_path, write_json
from .models import build_model
from .progress import format_values, progress_line


class EpochEndHook(Protocol):
    """Called after each epoch's validation (Keras ``on_epoch_end`` order); may change the weights.

    Hooks that keep state across epochs expose ``state_dict``/``load_state_dict`` so it is checkpointed.
    """

    def __call__(self, model: nn.Module, epoch: int) -> dict[str, float]: ...


def make_optimizer(train: TrainConfig, params: Iterable[Tensor]) -> torch.optim.Optimizer:
    """Adam or RMSprop with the run's ``lr`` and Keras 2.1.6 constants (``TrainConfig`` defaults)."""
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr, betas=(train.beta_1, train.beta_2), eps=train.epsilon)
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=train.lr, alpha=train.rho, eps=train.epsilon)
    raise ValueError(f"unknown optimizer {train.optimizer!r}; expected 'adam' or 'rmsprop'")


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
def test_metrics(task: str, model: nn.Module, x: Tensor, y: Tensor, batch_size: int, device: torch.device) -> dict:
    """Test loss and accuracy (weighted by batch size, as Keras' test loop); adding adds exact match."""
    model.eval()
    total_loss = total_acc = exact = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
        logits = model(xb)
        loss, acc = loss_and_accuracy(task, logits, yb)
        total_loss += float(loss) * len(xb)
        total_acc += float(acc) * len(xb)
        if task == "adding":
            exact += float((logits.argmax(-1) == yb).all(dim=1).float().sum())
    result = {"loss": total_loss / len(x), "accuracy": total_acc / len(x)}
    if task == "adding":
        result["exact_match"] = exact / len(x)
    return result


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
    never resumed) with a log line that says why.
    """

    def __init__(self, path: Path, key: dict[str, str]) -> None:
        self.path = path
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
        stale = self.path.with_name("checkpoint.stale.pt")
        self.path.replace(stale)
        why = " and ".join(reasons[name] for name in changed)
        log(f"setting {self.path.name} aside as {stale.name}: it was written with {why}; training starts fresh")
        return None


def train_run(
    train: TrainConfig,
    arrays: dict[str, np.ndarray],
    out_dir: str | Path,
    *,
    log: Callable[[str], None] = print,
    hooks: Sequence[EpochEndHook] = (),
    code_digest: str | None = None,
) -> dict[str, Any]:
    """Train one run and write its outputs to ``out_dir``; returns the metrics dict.

    ``code_digest`` identifies the code that trains (the workflow passes its job's digest; by default
    the digest of this module and what it imports). A checkpoint left by other code or another torch
    is set aside, never resumed: its optimizer state and weights would carry the old behaviour.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task, seed = train.task, train.seed
    device = resolve_device(train.device)
    dtype = {"float32": torch.float32, "float64": torch.float64}[train.dtype]
    data = load_tensors(task, arrays, dtype)
    x_train, y_train = _limit(data["x_train"], data["y_train"], train.max_train_samples)
    x_test, y_test = _limit(data["x_test"], data["y_test"], train.max_test_samples)
    chance = majority_accuracy(task, y_train, y_test)

    torch.manual_seed(seed)
    model = build_model(task, train.model, **train.model_options()).to(device=device, dtype=dtype)
    optimizer = make_optimizer(train, model.parameters())

    ckpt = Checkpoint(
        out / "checkpoint.pt",
        {
            "params": params_digest(train.to_params()),
            "code": code_digest or provenance.module_digest(__name__, Path(__file__).parents[1]),
            "torch": str(torch.__version__),
        },
    )
    history: list[dict] = []
    start_epoch, elapsed = 0, 0.0
    state = ckpt.load(device, log)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        for hook, hook_state in zip(hooks, state["hooks"], strict=False):
            if hook_state is not None:
                hook.load_state_dict(hook_state)  # type: ignore[attr-defined]
        history, start_epoch, elapsed = state["history"], int(state["epoch"]), float(state["elapsed"])
        # Snakemake clears the log of a job it reruns: repeat the finished epochs' lines from the checkpoint
        log(f"resuming from {ckpt.path} after epoch {start_epoch}; the epochs before:")
        done = 0.0
        for row in history:
            done += row["seconds"]
            log(progress_line(int(row["epoch"]), train.epochs, row, done))

    def save(epoch: int) -> None:
        hook_states = [hook.state_dict() if hasattr(hook, "state_dict") else None for hook in hooks]  # type: ignore[attr-defined]
        ckpt.save(epoch=epoch, model=model.state_dict(), optimizer=optimizer.state_dict(),
                  rng=torch.get_rng_state(), history=history, elapsed=elapsed, hooks=hook_states)  # fmt: skip

    if start_epoch == 0:
        test = test_metrics(task, model, x_test, y_test, train.eval_batch_size, device)
        history = [{"epoch": 0, "train_loss": math.nan, "train_accuracy": math.nan, **_prefix(test), "seconds": 0.0}]
        log(progress_line(0, train.epochs, history[-1], elapsed))
        save(0)

    status = "converged"
    for epoch in range(start_epoch + 1, train.epochs + 1):
        tic = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        loss_sum = acc_sum = 0.0
        diverged = False
        for start in range(0, len(order), train.batch_size):
            idx = order[start : start + train.batch_size]
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss, acc = loss_and_accuracy(task, model(xb), yb)
            if not torch.isfinite(loss):
                diverged = True
                break
            loss.backward()
            if train.clipnorm:
                nn.utils.clip_grad_norm_(model.parameters(), float(train.clipnorm))
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            acc_sum += acc.item() * len(idx)
        if diverged or not _finite(model):
            status = "diverged"
            log(f"epoch {epoch}: non-finite loss or weights; stopping and keeping the weights of epoch {epoch - 1}")
            # the live weights may already hold NaN from this epoch's steps: the last checkpoint has the finite ones
            model.load_state_dict(ckpt.load(device, log)["model"])
            break
        test = test_metrics(task, model, x_test, y_test, train.eval_batch_size, device)
        row = {"epoch": epoch, "train_loss": loss_sum / len(order), "train_accuracy": acc_sum / len(order)}
        row.update(_prefix(test))
        # Keras order: the epoch's validation above, then on_epoch_end callbacks (the stabilization rescale)
        for hook in hooks:
            row.update(hook(model, epoch))
        row["seconds"] = time.perf_counter() - tic
        elapsed += row["seconds"]
        history.append(row)
        log(progress_line(epoch, train.epochs, row, elapsed))
        save(epoch)

    final = test_metrics(task, model, x_test, y_test, train.eval_batch_size, device)
    if status != "diverged" and final["accuracy"] < chance + train.convergence_margin:
        status = "not_converged"
    metrics = {
        "task": task,
        "model": train.model,
        "seed": seed,
        "status": status,
        "test": final,
        "chance_accuracy": chance,
        "epochs_completed": int(history[-1]["epoch"]),
        "wall_time_s": elapsed,
        "device": str(device),
        "hyperparameters": train.to_params(),
        "code_digest": ckpt.key["code"],
        "versions": _versions(),
        "n_train": len(x_train),
        "n_test": len(x_test),
    }
    if hooks and history[-1]["epoch"] > 0:  # Keras logs the last validation before the epoch-end rescale
        metrics["test_before_final_rescale"] = {k[5:]: v for k, v in history[-1].items() if k.startswith("test_")}
    save_state_dict(out / "model.pt", model.state_dict())
    _write_history(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)
    ckpt.path.unlink(missing_ok=True)
    log(f"done: status {status}, test {format_values(final)}, chance {chance:.4f}, {elapsed:.1f} s")
    return metrics


def _limit(x: Tensor, y: Tensor, limit: int | None) -> tuple[Tensor, Tensor]:
    return (x, y) if not limit else (x[: int(limit)], y[: int(limit)])


def _finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _prefix(test: dict) -> dict:
    return {f"test_{k}": v for k, v in test.items()}
