"""Keras weight files written with h5py in the layouts the Keras source documents (no Keras, no TensorFlow).

- Keras 3 ``.weights.h5`` (``keras/src/saving/saving_lib.py``, ``H5IOStore``): ``layers/<path>/vars`` (attribute
  ``name``, the layer's name) and the cell's ``layers/<path>/cell/vars`` with datasets ``0`` kernel (in × kH),
  ``1`` recurrent_kernel (H × kH), ``2`` bias; a Bidirectional wrapper's ``forward_layer`` and ``backward_layer``.
- ``.keras``: a zip of ``config.json``, ``metadata.json`` and that file as ``model.weights.h5``.
- Keras 2 ``.h5`` (``legacy_h5_format.save_weights_to_hdf5_group``): attribute ``layer_names``, per layer group
  attribute ``weight_names`` and the datasets at those paths; a whole model has them under ``model_weights``
  with the config in attribute ``model_config``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from rnnrobust.layout import GATES

#: Keras class of each cell, and the snake-case name Keras 3 gives its group.
KERAS_CLASS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
KERAS_GROUP = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}


@dataclass
class KerasLayer:
    """One recurrent layer's weights as Keras stores them (kernel in × kH, recurrent H × kH, bias)."""

    name: str
    cell: str
    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray | None
    reset_after: bool = False

    @property
    def hidden(self) -> int:
        return self.recurrent.shape[0]


def random_layer(rng, name: str, cell: str, hidden: int, inputs: int = 3, *, reset_after=False, bias=True):
    """A layer with random weights; a GRU's bias (2, 3H) when ``reset_after``, else (3H,)."""
    k = len(GATES[cell])
    shape = (2, k * hidden) if reset_after else (k * hidden,)
    return KerasLayer(
        name, cell, rng.standard_normal((inputs, k * hidden)), rng.standard_normal((hidden, k * hidden)),
        rng.standard_normal(shape) if bias else None, reset_after,
    )  # fmt: skip


def _cell_vars(group: h5py.Group, layer: KerasLayer) -> None:
    cell_vars = group.create_group("cell/vars")
    cell_vars.attrs["name"] = f"{KERAS_GROUP[layer.cell]}_cell"
    arrays = [layer.kernel, layer.recurrent] + ([] if layer.bias is None else [layer.bias])
    for i, array in enumerate(arrays):
        cell_vars.create_dataset(str(i), data=array.astype(np.float32))


def write_keras3(path: Path, layers: list[KerasLayer], bidirectional: tuple[KerasLayer, KerasLayer] | None = None):
    """A Keras 3 ``.weights.h5`` of a Sequential with ``layers`` (and a Bidirectional wrapper) and a Dense head."""
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for layer in layers:
            group = f.create_group(f"layers/{layer.name}_path")
            group.create_group("vars").attrs["name"] = layer.name
            _cell_vars(group, layer)
        if bidirectional:
            wrapper = f.create_group("layers/bidirectional")
            wrapper.create_group("vars").attrs["name"] = "bidirectional"
            for side, layer in zip(("forward_layer", "backward_layer"), bidirectional, strict=True):
                group = wrapper.create_group(side)
                group.create_group("vars").attrs["name"] = layer.name
                _cell_vars(group, layer)
        dense = f.create_group("layers/dense/vars")
        dense.attrs["name"] = "dense"
        dense.create_dataset("0", data=np.ones((4, 4), np.float32))  # square, but a Dense kernel: not recurrent
        dense.create_dataset("1", data=np.zeros(4, np.float32))


def model_config(layers: list[KerasLayer]) -> dict:
    """A Keras 3 ``config.json`` of a Sequential of ``layers``."""
    entries = [
        {"module": "keras.layers", "class_name": KERAS_CLASS[layer.cell],
         "config": {"name": layer.name, "units": layer.hidden, **({"reset_after": layer.reset_after}
                                                                   if layer.cell == "gru" else {})}}
        for layer in layers
    ]  # fmt: skip
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": entries}}


def write_keras_archive(path: Path, layers: list[KerasLayer], *, config: dict | None = None, extra=()) -> None:
    """A ``.keras`` zip: config.json, metadata.json, model.weights.h5 (and ``extra`` (name, bytes) members)."""
    weights = path.with_suffix(".tmp.h5")
    write_keras3(weights, layers)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config or model_config(layers)))
        archive.write(weights, "model.weights.h5")
        for name, data in extra:
            archive.writestr(name, data)
    weights.unlink()


def _names_attr(group: h5py.Group, name: str, values: list[str], chunks: int) -> None:
    """Keras' list attribute, split into ``name0, name1, ...`` when ``chunks`` > 1 (its 64 KiB header limit)."""
    encoded = [v.encode("utf8") for v in values]
    if chunks == 1:
        group.attrs[name] = encoded
        return
    for i, part in enumerate(np.array_split(np.array(encoded), chunks)):
        group.attrs[f"{name}{i}"] = list(part)


def write_keras2(path: Path, layers: list[KerasLayer], *, whole_model=False, chunks=1, style="2.1.6") -> None:
    """A Keras 2 ``.h5``: weight names ``lstm_1/recurrent_kernel:0`` (style ``2.1.6``) or
    ``sequential/lstm/lstm_cell/recurrent_kernel`` (style ``cell``, as Keras 3's legacy writer names them)."""
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if whole_model else f
        if whole_model:
            f.attrs["model_config"] = json.dumps(model_config(layers)).encode("utf8")
        _names_attr(root, "layer_names", [layer.name for layer in layers] + ["dense_1"], chunks)
        root.attrs["keras_version"] = b"2.1.6"
        for layer in layers:
            group = root.create_group(layer.name)
            owner = layer.name if style == "2.1.6" else f"sequential/{layer.name}/{KERAS_GROUP[layer.cell]}_cell"
            suffix = ":0" if style == "2.1.6" else ""
            roles = {"kernel": layer.kernel, "recurrent_kernel": layer.recurrent, "bias": layer.bias}
            names = [f"{owner}/{role}{suffix}" for role, array in roles.items() if array is not None]
            _names_attr(group, "weight_names", names, 1)
            for name, array in zip(names, (a for a in roles.values() if a is not None), strict=True):
                group.create_dataset(name, data=array.astype(np.float32))
        dense = root.create_group("dense_1")
        _names_attr(dense, "weight_names", ["dense_1/kernel:0", "dense_1/bias:0"], 1)
        dense.create_dataset("dense_1/kernel:0", data=np.ones((4, 1), np.float32))
        dense.create_dataset("dense_1/bias:0", data=np.zeros(1, np.float32))
