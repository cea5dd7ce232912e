"""Test metrics as Keras' test loop computes them: loss and accuracy weighted by batch size (adding adds
exact match).

The training loop evaluates a group's runs stacked, the perturbation stage a stack of perturbed copies:
both through :func:`stacked_test_metrics`, so that every stack sees the same test batches. This module
imports only the tasks' definitions, so that the perturbation stage's code digest does not follow the
training loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from rnnrobust.training.tasks import loss_and_accuracy


@torch.no_grad()
def test_metrics(task: str, model: nn.Module, x: Tensor, y: Tensor, batch_size: int, device: torch.device):
    """Test loss and accuracy of one model (in eval mode: no dropout); adding adds exact match."""
    model.eval()
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
