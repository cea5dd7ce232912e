"""What each task means to training: its model-ready tensors, its loss and accuracy, its chance level.

adding: 4 answer characters, each a categorical output; imdb: one sentiment logit; mnist: 10 classes.
The evaluation (``rnnrobust.training.evaluation``) and the perturbation stage use the same definitions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


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
