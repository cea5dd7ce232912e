"""What a killed group resumes from: its checkpoint, with the key that says which settings and code wrote it.

A group keeps one checkpoint (``checkpoint.pt`` in the run's folder for a run alone), atomically
replaced after every epoch and removed at the end; a checkpoint written with other hyperparameters,
other training code or another torch is set aside, never resumed. The run cache
(``rnnrobust.training.run_cache``) keys finished runs with the same digest (:func:`params_digest`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnrobust import __version__
from rnnrobust.io import atomic_path


def params_digest(params: dict) -> str:
    """Digest (16 hex digits) of JSON-serialisable settings, independent of key order."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """The versions that a run's ``metrics.json`` records: Python, torch, numpy and this library."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "rnnrobust": __version__,
    }


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
