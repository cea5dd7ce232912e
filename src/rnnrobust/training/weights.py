"""Weight extraction: the recurrent gate blocks of a trained model as float64 H × H arrays.

The weights file ``results/weights/{task}/{model}/{regime}/seed{seed}.npz`` holds one array per
block, keyed ``<layer>/<gate>`` (layer ``rnn``, ``encoder`` or ``decoder``; gate ``h`` for the RNN,
``i f c o`` for the LSTM, ``z r h`` for the GRU), in the column-vector convention
h_t = φ(W_ih x_t + W_hh h_{t−1} + b). It is the interface to every analysis stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from rnnrobust.layout import split_gates


def gate_blocks(state_dict: Mapping[str, torch.Tensor], cell: str) -> dict[str, np.ndarray]:
    """Split every ``<layer>.weight_hh`` of a state_dict into its gate blocks (float64 copies)."""
    blocks: dict[str, np.ndarray] = {}
    for key, tensor in state_dict.items():
        if not key.endswith(".weight_hh"):
            continue
        layer = key.removesuffix(".weight_hh")
        w = tensor.detach().cpu().to(torch.float64).numpy()
        try:
            gates = split_gates(w, cell)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None
        for gate, block in gates.items():
            blocks[f"{layer}/{gate}"] = np.ascontiguousarray(block)
    if not blocks:
        raise ValueError("the state_dict has no recurrent layer (no '<layer>.weight_hh' entry)")
    return blocks


def recurrent_kernels(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of every ``<layer>.weight_hh`` of a state_dict: what :func:`gate_blocks` reads, kept small."""
    return {key: tensor.detach().clone() for key, tensor in state_dict.items() if key.endswith(".weight_hh")}


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a saved state_dict safely (``weights_only=True``) onto the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)
