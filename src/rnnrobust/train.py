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

from . import __version__
from .io import atomic_path, write_json
from .models import build_model

KERAS_EPSILON = 1e-7
MODEL_OPTIONS = (
    "hidden_size",
    "impl",
    "recurrent_init",
    "rnn_activation",
    "dropout",
    "recurrent_dropout",
    "vocab_size",
    "embed_dim",
    "input_size",
)


class EpochEndHook(Protocol):
    """Called after each epoch's validation (Keras ``on_epoch_end`` order); may change the weights.

    Hooks that keep state across epochs expose ``state_dict``/``load_state_dict`` so it is checkpointed.
    """

    def __call__(self, model: nn.Module, epoch: int) -> dict[str, float]: ...


def make_optimizer(
    name: str,
    params: Iterable[Tensor],
    lr: float,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    rho: float = 0.9,
    epsilon: float = KERAS_EPSILON,
) -> torch.optim.Optimizer:
    """Adam or RMSprop with Keras 2.1.6 constants (RMSprop rho 0.9, eps 1e-7; torch defaults differ)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(beta_1, beta_2), eps=epsilon)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=rho, eps=epsilon)
    raise ValueError(f"unknown optimizer {name!r}; expected 'adam' or 'rmsprop'")


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
def evaluate(task: str, model: nn.Module, x: Tensor, y: Tensor, batch_size: int, device: torch.device) -> dict:
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


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train_run(
    params: dict[str, Any],
    arrays: dict[str, np.ndarray],
    out_dir: str | Path,
    *,
    log: Callable[[str], None] = print,
    hooks: Sequence[EpochEndHook] = (),
) -> dict[str, Any]:
    """Train one run and write its outputs to ``out_dir``; returns the metrics dict.

    ``params`` (the resolved hyperparameters, all recorded): ``task``, ``model``, ``seed``, ``epochs``, ``dtype``
    ('float32' as Keras, or 'float64'),
    ``batch_size``, ``optimizer``, ``lr`` (+ optional ``beta_1``, ``beta_2``, ``rho``, ``epsilon``),
    ``clipnorm`` (None = off), ``convergence_margin``, ``device``, ``max_train_samples``,
    ``max_test_samples``, ``eval_batch_size`` and the model options of ``build_model``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task, cell, seed = params["task"], params["model"], int(params["seed"])
    device = resolve_device(params.get("device", "auto"))
    dtype = {"float32": torch.float32, "float64": torch.float64}[params.get("dtype", "float32")]
    data = load_tensors(task, arrays, dtype)
    x_train, y_train = _limit(data["x_train"], data["y_train"], params.get("max_train_samples"))
    x_test, y_test = _limit(data["x_test"], data["y_test"], params.get("max_test_samples"))
    chance = majority_accuracy(task, y_train, y_test)
    eval_batch = int(params.get("eval_batch_size", 1024))

    torch.manual_seed(seed)
    model_kwargs = {k: params[k] for k in MODEL_OPTIONS if k in params}
    model = build_model(task, cell, **model_kwargs).to(device=device, dtype=dtype)
    optimizer = make_optimizer(
        params["optimizer"],
        model.parameters(),
        lr=float(params["lr"]),
        **{k: float(params[k]) for k in ("beta_1", "beta_2", "rho", "epsilon") if params.get(k) is not None},
    )

    digest = params_digest(params)
    ckpt_path = out / "checkpoint.pt"
    history: list[dict] = []
    start_epoch, elapsed = 0, 0.0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ckpt.get("params_digest") == digest:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["rng"])
            for hook, state in zip(hooks, ckpt["hooks"], strict=False):
                if state is not None:
                    hook.load_state_dict(state)  # type: ignore[attr-defined]
            history, start_epoch, elapsed = ckpt["history"], int(ckpt["epoch"]), float(ckpt["elapsed"])
            log(f"resuming from {ckpt_path} after epoch {start_epoch}")
        else:
            log(f"ignoring {ckpt_path}: it was written with other hyperparameters")

    def checkpoint(epoch: int) -> None:
        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "history": history,
            "elapsed": elapsed,
            "params_digest": digest,
            "hooks": [hook.state_dict() if hasattr(hook, "state_dict") else None for hook in hooks],  # type: ignore[attr-defined]
        }
        _save_checkpoint(ckpt_path, state)

    if start_epoch == 0:
        test = evaluate(task, model, x_test, y_test, eval_batch, device)
        history = [{"epoch": 0, "train_loss": math.nan, "train_accuracy": math.nan, **_prefix(test), "seconds": 0.0}]
        log(_progress(0, int(params["epochs"]), history[-1], elapsed))
        checkpoint(0)

    status = "converged"
    epochs, batch_size = int(params["epochs"]), int(params["batch_size"])
    clipnorm = params.get("clipnorm")
    for epoch in range(start_epoch + 1, epochs + 1):
        tic = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        loss_sum = acc_sum = 0.0
        diverged = False
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss, acc = loss_and_accuracy(task, model(xb), yb)
            if not torch.isfinite(loss):
                diverged = True
                break
            loss.backward()
            if clipnorm:
                nn.utils.clip_grad_norm_(model.parameters(), float(clipnorm))
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            acc_sum += acc.item() * len(idx)
        if diverged or not _finite(model):
            status = "diverged"
            log(f"epoch {epoch}: non-finite loss or weights; stopping and keeping the weights of epoch {epoch - 1}")
            last = torch.load(ckpt_path, map_location=device, weights_only=True)
            model.load_state_dict(last["model"])
            break
        test = evaluate(task, model, x_test, y_test, eval_batch, device)
        row = {"epoch": epoch, "train_loss": loss_sum / len(order), "train_accuracy": acc_sum / len(order)}
        row.update(_prefix(test))
        for hook in hooks:
            row.update(hook(model, epoch))
        row["seconds"] = time.perf_counter() - tic
        elapsed += row["seconds"]
        history.append(row)
        log(_progress(epoch, epochs, row, elapsed))
        checkpoint(epoch)

    final = evaluate(task, model, x_test, y_test, eval_batch, device)
    if status != "diverged" and final["accuracy"] < chance + float(params.get("convergence_margin", 0.05)):
        status = "not_converged"
    metrics = {
        "task": task,
        "model": cell,
        "seed": seed,
        "status": status,
        "test": final,
        "chance_accuracy": chance,
        "epochs_completed": int(history[-1]["epoch"]),
        "wall_time_s": elapsed,
        "device": str(device),
        "hyperparameters": params,
        "versions": _versions(),
        "n_train": len(x_train),
        "n_test": len(x_test),
    }
    if hooks and history[-1]["epoch"] > 0:  # Keras logs the last validation before the epoch-end rescale
        metrics["test_before_final_rescale"] = {k[5:]: v for k, v in history[-1].items() if k.startswith("test_")}
    with atomic_path(out / "model.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    _write_history(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)
    ckpt_path.unlink(missing_ok=True)
    log(f"done: status {status}, test {_fmt(final)}, chance {chance:.4f}, {elapsed:.1f} s")
    return metrics


def _limit(x: Tensor, y: Tensor, limit: int | None) -> tuple[Tensor, Tensor]:
    return (x, y) if not limit else (x[: int(limit)], y[: int(limit)])


def _finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _prefix(test: dict) -> dict:
    return {f"test_{k}": v for k, v in test.items()}


def _fmt(values: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in values.items())


def _progress(epoch: int, epochs: int, row: dict, elapsed: float) -> str:
    done = max(epoch, 1)
    eta = f"{elapsed / done * (epochs - epoch):.0f} s" if epoch else "-"
    # per-block columns (e.g. rho_est/encoder/f) stay in history.csv; the log line shows their maximum
    shown = {k: v for k, v in row.items() if k not in ("epoch", "seconds") and "/" not in k and not math.isnan(v)}
    for prefix in sorted({k.split("/", 1)[0] for k in row if "/" in k}):
        shown[f"max {prefix}"] = max(v for k, v in row.items() if k.startswith(prefix + "/"))
    return f"epoch {epoch}/{epochs}  {_fmt(shown)}  {row['seconds']:.1f} s  ETA {eta}"
