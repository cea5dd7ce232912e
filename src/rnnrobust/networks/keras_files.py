"""Keras weights in HDF5, read with h5py (imported lazily; ``pip install 'rnnrobust[keras]'``), no TensorFlow.

What the files hold (checked against the Keras source, keras-team/keras 3.15: ``keras/src/saving/saving_lib.py``,
``keras/src/legacy/saving/legacy_h5_format.py``, ``keras/src/layers/rnn/{simple_rnn,lstm,gru}.py``, and against
files saved by Keras 3.15 itself in this project's tests):

- Keras 3 ``.weights.h5`` (and the ``model.weights.h5`` inside a ``.keras`` archive): one group per saved object,
  named by its place in the model (``layers/lstm``, ``layers/bidirectional/forward_layer``), whose ``vars``
  group holds its variables as datasets ``0, 1, 2, ...`` in creation order and whose ``vars`` attribute
  ``name`` is the layer's own name. An RNN layer's cell sits in ``<layer>/cell/vars``: ``0`` kernel (in × k·H),
  ``1`` recurrent_kernel (H × k·H), ``2`` bias (absent with ``use_bias=False``).
- Keras 2 ``.h5`` (``save_weights`` or a whole model, whose weights are under ``model_weights``): attribute
  ``layer_names`` lists the layer groups; each has attribute ``weight_names`` (``lstm_1/recurrent_kernel:0``,
  ``bidirectional/forward_gru/gru_cell/recurrent_kernel``) naming its datasets by path. Long lists are split
  into ``layer_names0, layer_names1, ...`` (HDF5's 64 KiB header limit).

A recurrent layer is found by its ``recurrent_kernel`` (Keras 2: by name; Keras 3: dataset ``1`` of a cell's
``vars``), of shape H × k·H with k = 1 (SimpleRNN), 4 (LSTM, gates i, f, c, o along the columns) or 3 (GRU,
z, r, h), used as ``h @ U``: the block acting on the state column vector is the transpose of each column slice.
A GRU's bias tells ``reset_after``: (3H,) before, (2, 3H) after (CuDNNGRU's flat (6H,) too). The class names
of the model's config (``config.json`` of a ``.keras``, ``model_config`` of a Keras 2 model file), where given,
must agree with the shapes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnrobust.layout import GATES
from rnnrobust.networks.blocks import (
    Network,
    NetworkFileError,
    RecurrentLayer,
    cell_of_gate_count,
    column_blocks,
    layer_of,
)

__all__ = ["class_hints", "keras2_layers", "keras3_layers", "model_config", "open_h5", "read_keras_h5"]

#: Keras layer classes whose cell the shapes must match, by class name.
RECURRENT_CLASSES = {"LSTM": "lstm", "CuDNNLSTM": "lstm", "GRU": "gru", "CuDNNGRU": "gru", "SimpleRNN": "rnn"}


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@contextlib.contextmanager
def open_h5(path: Path, local: Path | None = None) -> Iterator[Any]:
    """``h5py.File(local or path, "r")``; a missing h5py or an unreadable file as one :class:`NetworkFileError`."""
    try:
        import h5py
    except ModuleNotFoundError:
        raise NetworkFileError(path, "h5py installed to read a Keras file (pip install 'rnnrobust[keras]')",
                               "no module named h5py") from None  # fmt: skip
    try:
        handle = h5py.File(local or path, "r")
    except OSError as exc:
        raise NetworkFileError(path, "an HDF5 file (Keras weights)", str(exc)) from None
    with handle:
        yield handle


def read_keras_h5(path: Path) -> Network:
    """The recurrent layers of a Keras 3 ``.weights.h5`` or a Keras 2 ``.h5`` (weights or whole model)."""
    with open_h5(path) as h5:
        root = h5["model_weights"] if "model_weights" in h5 else h5
        hints = class_hints(model_config(path, h5.attrs["model_config"])) if "model_config" in h5.attrs else {}
        skipped: list[str] = []
        if _attr_list(root, "layer_names"):
            layers = keras2_layers(path, root, hints, skipped)
            return Network(path, "Keras 2 HDF5 weights (.h5)", tuple(layers), tuple(skipped))
        if "layers" in h5 or "vars" in h5:
            layers = keras3_layers(path, h5, hints, skipped)
            return Network(path, "Keras 3 weights (.weights.h5)", tuple(layers), tuple(skipped))
        found = f"top-level entries {sorted(h5.keys())[:8]}"
    expected = "Keras weights: a Keras 3 'layers/<layer>/cell/vars' group or a Keras 2 'layer_names' attribute"
    raise NetworkFileError(path, expected, found)


def model_config(path: Path, text: Any) -> Any:
    """A model config (JSON text, or bytes) as Python objects; malformed JSON as a :class:`NetworkFileError`."""
    try:
        return json.loads(_text(text))
    except ValueError as exc:
        raise NetworkFileError(path, "a model config in JSON", f"{type(exc).__name__}: {exc}") from None


def class_hints(config: Any) -> dict[str, dict[str, Any]]:
    """Layer name → its config (with ``class_name``) anywhere in a Keras model config; a ``Bidirectional``
    wrapper stands for the layer it wraps.

    >>> class_hints({"class_name": "Sequential", "config": {"name": "s", "layers": [
    ...     {"class_name": "GRU", "config": {"name": "g", "reset_after": False}}]}})["g"]
    {'name': 'g', 'reset_after': False, 'class_name': 'GRU'}
    """
    hints: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            inner = node.get("config")
            if isinstance(node.get("class_name"), str) and isinstance(inner, Mapping) and "name" in inner:
                wrapped = inner.get("layer") if node["class_name"] == "Bidirectional" else None
                source = (
                    wrapped if isinstance(wrapped, Mapping) and isinstance(wrapped.get("config"), Mapping) else node
                )
                hints[str(inner["name"])] = {**source["config"], "class_name": source["class_name"]}
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(config)
    return hints


def _attr_list(group: Any, name: str) -> list[str]:
    """A list attribute that Keras may have split into ``name0, name1, ...``, decoded."""
    if name in group.attrs:
        return [_text(v) for v in group.attrs[name]]
    values, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        values += [_text(v) for v in group.attrs[f"{name}{chunk}"]]
        chunk += 1
    return values


def keras3_layers(
    path: Path, h5: Any, hints: Mapping[str, Mapping[str, Any]], skipped: list[str] | None = None
) -> list[RecurrentLayer]:
    """Every recurrent cell of a Keras 3 weights file: ``vars`` groups under a ``cell`` group whose dataset
    ``1`` is a recurrent kernel (H × k·H) and dataset ``0`` a kernel with as many columns; a cell with other
    variables (a ConvLSTM's 4-D kernels) is noted in ``skipped``."""
    found: list[str] = []
    h5.visit(lambda name: found.append(name) if name.endswith("/vars") and "cell" in name.split("/") else None)
    layers = []
    for vars_path in found:
        group = h5[vars_path]
        data = {key: group[key] for key in ("0", "1", "2") if key in group and hasattr(group[key], "shape")}
        if "1" not in data or len(data["1"].shape) != 2 or "0" not in data or len(data["0"].shape) != 2:
            if skipped is not None:
                skipped.append(f"skipped {vars_path}: not a SimpleRNN, LSTM or GRU cell (no 2-D recurrent kernel)")
            continue
        name = _keras3_layer_name(h5, vars_path)
        roles = {"kernel": "0", "recurrent": "1", "bias": "2"}
        arrays = {role: np.asarray(data[key][()]) for role, key in roles.items() if key in data}
        layers.append(keras_layer(path, name, "Keras", arrays, _hint(hints, name)))
    order = {name: i for i, name in enumerate(hints)}  # the model config's order, where there is one
    layers.sort(key=lambda layer: min((order.get(part, len(order)) for part in layer.name.split(".")), default=0))
    if not layers:
        expected = "Keras SimpleRNN, LSTM or GRU weights ('<layer>/cell/vars' with a recurrent kernel (H, k·H))"
        raise NetworkFileError(path, expected, f"no recurrent cell among {len(found)} cell groups")
    return layers


def _keras3_layer_name(h5: Any, vars_path: str) -> str:
    """The layer's name: the ``name`` attribute of each enclosing layer's ``vars``, outermost first, dot-joined
    (``bidirectional.forward_gru``); the group's own name where that attribute is missing."""
    parts = vars_path.split("/")[:-1]
    if parts and parts[-1] == "cell":
        parts = parts[:-1]
    names = []
    for i, part in enumerate(parts):
        if part in ("layers", "_layer_checkpoint_dependencies", "cell"):
            continue
        own = h5.get("/".join([*parts[: i + 1], "vars"]))
        names.append(_text(own.attrs["name"]) if own is not None and "name" in own.attrs else part)
    return ".".join(names) or "cell"


def _hint(hints: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    """The config of the innermost part of a dot-joined layer name that the model config knows, else {}."""
    for part in reversed(name.split(".")):
        if part in hints:
            return hints[part]
    return {}


def keras2_layers(
    path: Path, root: Any, hints: Mapping[str, Mapping[str, Any]], skipped: list[str] | None = None
) -> list[RecurrentLayer]:
    """Every recurrent layer of a Keras 2 weights group: weights grouped by owner (the weight name up to its last
    ``/``); an owner with a 2-D ``recurrent_kernel`` is a recurrent layer (two for a Bidirectional wrapper), one
    with another (a ConvLSTM2D's 4-D kernel) is noted in ``skipped``."""
    layers = []
    for layer_name in _attr_list(root, "layer_names"):
        group = root[layer_name]
        owners: dict[str, dict[str, Any]] = {}
        for weight in _attr_list(group, "weight_names"):
            owner, _, leaf = weight.rpartition("/")
            owners.setdefault(owner, {})[leaf.split(":")[0]] = group[weight]
        for owner, weights in owners.items():
            if "recurrent_kernel" not in weights:
                continue
            if len(weights["recurrent_kernel"].shape) != 2:
                if skipped is not None:
                    skipped.append(f"skipped {owner}: a recurrent kernel of shape {weights['recurrent_kernel'].shape}")
                continue
            name = _keras2_layer_name(layer_name, owner)
            roles = {"kernel": "kernel", "recurrent": "recurrent_kernel", "bias": "bias"}
            arrays = {role: np.asarray(weights[key][()]) for role, key in roles.items() if key in weights}
            layers.append(keras_layer(path, name, "Keras", arrays, _hint(hints, name)))
    if not layers:
        raise NetworkFileError(path, "Keras SimpleRNN, LSTM or GRU weights (a weight named recurrent_kernel)",
                               f"layers {_attr_list(root, 'layer_names')[:8]} without one")  # fmt: skip
    return layers


def _keras2_layer_name(layer_name: str, owner: str) -> str:
    """A Keras 2 layer's name: ``b.forward_gru`` for layer ``b`` and weight owner ``seq/b/forward_gru/gru_cell``.

    >>> _keras2_layer_name("lstm_1", "lstm_1"), _keras2_layer_name("b", "seq/b/forward_gru/gru_cell")
    ('lstm_1', 'b.forward_gru')
    """
    parts = owner.split("/")
    rest = parts[parts.index(layer_name) + 1 :] if layer_name in parts else parts
    return ".".join([layer_name, *(p for p in rest if p != "cell" and not p.endswith("_cell"))])


def keras_layer(
    path: Path, name: str, framework: str, arrays: Mapping[str, np.ndarray], hint: Mapping[str, Any]
) -> RecurrentLayer:
    """One Keras layer from its ``recurrent`` kernel (and ``kernel``, ``bias`` where saved): the cell from the
    shape (checked against the config's class ``hint``), ``reset_after`` from a GRU's bias, the gate blocks."""
    recurrent = arrays["recurrent"]
    rows, cols = recurrent.shape if recurrent.ndim == 2 else (0, 0)
    cell = cell_of_gate_count(cols // rows) if rows and cols % rows == 0 else None
    if cell is None:
        raise NetworkFileError(path, f"the recurrent kernel of {name} of shape (H, k·H) with k = 1, 3 or 4",
                               f"shape {recurrent.shape}")  # fmt: skip
    kernel, bias = arrays.get("kernel"), arrays.get("bias")
    if kernel is not None and (kernel.ndim != 2 or kernel.shape[1] != cols):
        raise NetworkFileError(path, f"the kernel of {name} of shape (input, {cols})", f"shape {kernel.shape}")
    expected_class = RECURRENT_CLASSES.get(str(hint.get("class_name")))
    if expected_class is not None and expected_class != cell:
        raise NetworkFileError(path, f"{name} ({hint['class_name']} in the model config) with a recurrent kernel "
                               f"of shape (H, {len(GATES[expected_class])}·H)",
                               f"shape {recurrent.shape}")  # fmt: skip
    reset_after = hint.get("reset_after") if cell == "gru" else None
    if bias is not None:
        if bias.shape not in ((cols,), (2, cols), (2 * cols,)) or (bias.shape == (2, cols) and cell != "gru"):
            raise NetworkFileError(path, f"the bias of {name} of shape ({cols},), or (2, {cols}) for a GRU with "
                                   "reset_after", f"shape {bias.shape}")  # fmt: skip
        reset_after = bias.shape != (cols,) if cell == "gru" else None
    blocks = column_blocks(recurrent, cols // rows)
    return layer_of(name, framework, cell, blocks, reset_after=None if reset_after is None else bool(reset_after))
