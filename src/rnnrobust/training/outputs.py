"""What a finished run leaves in its folder, and its status.

- ``model.pt``: the run's final ``state_dict`` (loads with ``torch.load(..., weights_only=True)``);
- ``metrics.json``: final test metrics, status, resolved hyperparameters, wall time, versions, and
  ``group``: the seeds it was trained with, its index among them, the optimizer implementation;
- ``history.csv``: one row per epoch, row 0 at initialisation;
- ``before_rescale.pt``: the ``<layer>.weight_hh`` kernels before the last epoch's epoch-end hooks (the
  weights of ``metrics.json``'s ``test_before_final_rescale``; ``{}`` for a run without hooks).

Status: ``diverged`` (a non-finite loss or weights stopped the run; the weights of its last finite
epoch are kept), ``not_converged`` (final accuracy below chance + ``convergence_margin``), else
``converged``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnrobust.config import TrainConfig
from rnnrobust.io import atomic_path, write_json
from rnnrobust.progress import format_values
from rnnrobust.training.checkpoint import save_state_dict, versions
from rnnrobust.training.session import Session

#: The file of the kernels before the final rescale, beside ``model.pt``.
BEFORE_RESCALE_FILE = "before_rescale.pt"


def run_status(train: TrainConfig, frozen: bool, accuracy: float, chance: float) -> str:
    """``diverged`` (frozen), ``not_converged`` (below chance + ``convergence_margin``) or ``converged``."""
    if frozen:
        return "diverged"
    if accuracy < chance + train.convergence_margin:
        return "not_converged"
    return "converged"


def write_outputs(s: Session, finals: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Every run's model.pt, history.csv and metrics.json from its final test metrics ``finals``; the
    group's checkpoint is removed. Returns each run's metrics."""
    results = []
    for r, (out, history) in enumerate(zip(s.out_dirs, s.histories, strict=True)):
        metrics = run_metrics(s, r, finals[r])
        save_state_dict(out / "model.pt", s.group.run_state_dict(r))
        save_state_dict(out / BEFORE_RESCALE_FILE, s.before_rescale[r])
        write_history(out / "history.csv", history)
        write_json(out / "metrics.json", metrics)
        results.append(metrics)
    s.ckpt.path.unlink(missing_ok=True)
    for run_log, metrics in zip(s.logs, results, strict=True):
        run_log(f"done: status {metrics['status']}, test {format_values(metrics['test'])}, "
                f"chance {s.chance:.4f}, {s.elapsed:.1f} s")  # fmt: skip
    return results


def run_metrics(s: Session, r: int, final: dict[str, float]) -> dict[str, Any]:
    """What run r's ``metrics.json`` holds."""
    train, history = s.trains[r], s.histories[r]
    metrics = {
        "task": train.task,
        "model": train.model,
        "seed": train.seed,
        "status": run_status(train, s.group.frozen[r], final["accuracy"], s.chance),
        "test": final,
        "chance_accuracy": s.chance,
        "epochs_completed": int(history[-1]["epoch"]),
        "wall_time_s": s.elapsed,
        "device": str(s.device),
        "hyperparameters": train.to_params(),
        "code_digest": s.ckpt.key["code"],
        "versions": versions(),
        "n_train": len(s.data["x_train"]),
        "n_test": len(s.data["x_test"]),
        "group": {"seeds": [t.seed for t in s.trains], "index": r, "stacked": s.group.stacked, "optimizer": s.impl},
    }
    if s.hooks[r] and history[-1]["epoch"] > 0:  # Keras logs the last validation before the epoch-end rescale
        metrics["test_before_final_rescale"] = {k[5:]: v for k, v in history[-1].items() if k.startswith("test_")}
    return metrics


def write_history(path: Path, rows: Sequence[dict]) -> None:
    """``history.csv``: one row per epoch, the columns in order of first appearance."""
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
