"""PyTorch files: a ``state_dict``, a checkpoint dict holding one, or this project's ``model.pt``.

Loaded with ``torch.load(path, weights_only=True, map_location="cpu")`` (torch imported here, lazily), so a
pickled object (a whole model saved with ``torch.save(model)``) is refused, never run.

What is read, by key (any module prefix, e.g. ``encoder.lstm.``):

- ``weight_hh_l{k}`` and ``weight_hh_l{k}_reverse`` of ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (k·H × H, gates along the
  rows in PyTorch's order: LSTM i, f, g, o; GRU r, z, n; the cell follows from k = 1, 4, 3), as layer
  ``<prefix>l{k}`` or ``<prefix>l{k}_reverse``;
- with ``weight_hr_l{k}`` (an LSTM with ``proj_size`` P: ``weight_hh`` is 4H × P, not square) each block is the
  effective H × H recurrence ``weight_hh[g] @ weight_hr``: gate g reads h_{t−1} = W_hr u_{t−1}, u = o ⊙ tanh(c),
  so this is the gate's recurrence on the unprojected output u. Its nonzero eigenvalues are those of the P × P
  ``weight_hr @ weight_hh[g]`` (the recurrence on h); it has at least H − P zero eigenvalues;
- ``<prefix>weight_hh`` without a layer index: this project's Keras-faithful layer (``rnnrobust.training.models``;
  gates in Keras order, recognised by its single ``<prefix>bias``) or else ``nn.RNNCell``/``LSTMCell``/``GRUCell``
  (``bias_ih``/``bias_hh`` or no bias; PyTorch's order).
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnrobust.networks.blocks import (
    Network,
    NetworkFileError,
    RecurrentLayer,
    cell_of_gate_count,
    layer_of,
    row_blocks,
)

__all__ = ["read_pytorch", "state_dict_layers"]

#: Where a checkpoint dict commonly keeps the model's state_dict (PyTorch Lightning, training scripts).
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "module")
_RECURRENT_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)weight_(?P<kind>hh|hr)(?P<index>_l\d+)?(?P<reverse>_reverse)?$")
_PROJECTION_NOTE = (
    "LSTM with projections (proj_size {p}): each block is weight_hh[g] @ weight_hr, H × H, the gate's recurrence "
    "on the unprojected output o ⊙ tanh(c); its nonzero eigenvalues are those of weight_hr @ weight_hh[g] (P × P)"
)


def read_pytorch(path: Path) -> Network:
    """The recurrent layers of a PyTorch file (see the module's docstring for what is read and how)."""
    state = find_state_dict(path, _load(path))
    return Network(path, "PyTorch state_dict", tuple(state_dict_layers(path, state)))


def _load(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True`` onto the CPU; every failure as one :class:`NetworkFileError`."""
    try:
        import torch
    except ModuleNotFoundError:
        raise NetworkFileError(path, "torch installed to read a PyTorch file (pip install 'rnnrobust[train]')",
                               "no module named torch") from None  # fmt: skip
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise NetworkFileError(
            path, "tensors and plain containers only (torch.load weights_only=True; save model.state_dict())",
            f"a pickled object that weights_only refuses ({_refused_global(exc)})",
        ) from None  # fmt: skip
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise NetworkFileError(path, "a file written by torch.save", f"{type(exc).__name__}: {exc}") from None


def _refused_global(exc: Exception) -> str:
    """What torch's weights-only unpickler refused, from its long message: ``GLOBAL torch.nn.modules.rnn.LSTM``."""
    match = re.search(r"Unsupported global: (GLOBAL [\w.]+)", str(exc))
    return match[1] if match else type(exc).__name__


def _has_recurrent_tensor(mapping: Mapping) -> bool:
    return any(isinstance(k, str) and _RECURRENT_KEY.match(k) and hasattr(v, "shape") for k, v in mapping.items())


def find_state_dict(path: Path, obj: Any, depth: int = 0) -> Mapping[str, Any]:
    """The state_dict in what ``torch.load`` returned: the dict itself, or one under a common checkpoint key."""
    if not isinstance(obj, Mapping):
        raise NetworkFileError(path, "a state_dict or a checkpoint dict holding one", f"a {type(obj).__name__}")
    if _has_recurrent_tensor(obj):
        return obj
    for key in CHECKPOINT_KEYS:
        if depth < 2 and isinstance(obj.get(key), Mapping):
            try:
                return find_state_dict(path, obj[key], depth + 1)
            except NetworkFileError:
                continue
    keys = ", ".join(map(str, list(obj)[:8])) + (", ..." if len(obj) > 8 else "")
    where = ", ".join(CHECKPOINT_KEYS)
    raise NetworkFileError(
        path, f"recurrent weights (keys ending in weight_hh or weight_hh_l<k>) at the top or under one of {where}",
        f"keys {keys or '(none)'}",
    )  # fmt: skip


def _numpy(path: Path, key: str, tensor: Any) -> np.ndarray:
    """A 2-D float64 copy of a tensor, or a :class:`NetworkFileError` naming its key and shape."""
    if not hasattr(tensor, "shape") or len(tensor.shape) != 2:
        raise NetworkFileError(path, f"{key} to be a 2-D matrix", f"shape {tuple(getattr(tensor, 'shape', ()))}")
    import torch  # already imported by the load

    return torch.as_tensor(tensor).detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def state_dict_layers(path: Path, state: Mapping[str, Any]) -> list[RecurrentLayer]:
    """Every recurrent layer of a state_dict, in the state_dict's order."""
    groups: dict[tuple[str, str, str], dict[str, str]] = {}
    for key in state:
        match = _RECURRENT_KEY.match(key) if isinstance(key, str) else None
        if match:
            where = (match["prefix"], match["index"] or "", match["reverse"] or "")
            groups.setdefault(where, {})[match["kind"]] = key
    layers = []
    for (prefix, index, reverse), keys in groups.items():
        if "hh" not in keys:
            raise NetworkFileError(path, f"{prefix}weight_hh{index}{reverse} beside {keys['hr']}", "none")
        if index:
            name, framework = f"{prefix}{index[1:]}{reverse}", "PyTorch"
        else:
            name = prefix.rstrip(".") or "cell"
            ours = f"{prefix}bias" in state and f"{prefix}bias_hh" not in state
            framework = "rnnrobust" if ours else "PyTorch"
        layers.append(_layer(path, state, name, framework, keys))
    return layers


def _layer(path: Path, state: Mapping[str, Any], name: str, framework: str, keys: dict[str, str]) -> RecurrentLayer:
    """One layer from its ``weight_hh`` (and ``weight_hr``) keys: its cell from the shapes, its blocks."""
    hh = _numpy(path, keys["hh"], state[keys["hh"]])
    rows, cols = hh.shape
    if "hr" in keys:
        hr = _numpy(path, keys["hr"], state[keys["hr"]])
        proj, hidden = hr.shape
        if (rows, cols) != (4 * hidden, proj):
            expected = f"{keys['hh']} of shape (4·H, P) = ({4 * hidden}, {proj}) beside {keys['hr']} of shape (P, H)"
            raise NetworkFileError(path, expected, f"shape {hh.shape}")
        blocks = [block @ hr for block in row_blocks(hh, 4)]
        note = _PROJECTION_NOTE.format(p=proj)
        return layer_of(name, framework, cell_of_gate_count(4), blocks, note=note)
    cell = cell_of_gate_count(rows // cols) if cols and rows % cols == 0 else None
    if cell is None:
        raise NetworkFileError(path, f"{keys['hh']} of shape (k·H, H) with k = 1 (RNN), 3 (GRU) or 4 (LSTM)",
                               f"shape {hh.shape}")  # fmt: skip
    # torch's GRU applies the reset gate after the recurrent product; this project's is Keras' reset-before.
    reset_after = framework == "PyTorch" if cell == "gru" else None
    return layer_of(name, framework, cell, row_blocks(hh, rows // cols), reset_after=reset_after)
