"""Files saved by Keras itself (Keras 3, torch backend): the blocks are Keras' own ``cell.recurrent_kernel`` slices,
and one step of the real layer from a known state is what the blocks say, each gate by this project's name.

Skipped where Keras is not installed: it is not a dependency of the tests (``pip install keras`` adds Keras and
its helpers; with torch installed, ``KERAS_BACKEND=torch`` needs nothing else).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("h5py", reason="Keras files need h5py: pip install 'rnnrobust[keras]'")
pytest.importorskip("torch", reason="Keras runs here on its torch backend")
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip(
    "keras", reason="Keras is not installed (the test extra installs it: pip install -e '.[test]')"
)

from rnnrobust.layout import CELLS, GATES  # noqa: E402
from rnnrobust.networks.read import read_network  # noqa: E402

RNN, LSTM, GRU = CELLS
HIDDEN = {RNN: 4, LSTM: 5, GRU: 3}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _model(reset_after: bool):
    layers = [keras.Input((1, 3))]
    layers.append(keras.layers.SimpleRNN(HIDDEN[RNN], return_sequences=True, name="s"))
    layers.append(keras.layers.LSTM(HIDDEN[LSTM], return_sequences=True, name="l"))
    layers.append(keras.layers.GRU(HIDDEN[GRU], reset_after=reset_after, name="g"))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
    return model


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_keras_saved_files(tmp_path, reset_after, suffix):
    model = _model(reset_after)
    path = tmp_path / f"model{suffix}"
    model.save_weights(path) if suffix == ".weights.h5" else model.save(path)
    network = read_network(path)
    found = {layer.name: layer for layer in network.layers}
    assert set(found) == {"s", "l", "g"} and found["g"].reset_after is reset_after
    for layer in model.layers:
        kernel = np.asarray(keras.ops.convert_to_numpy(layer.cell.recurrent_kernel), dtype=np.float64)
        ours = found[layer.name]
        hidden = kernel.shape[0]
        for g, block in enumerate(ours.blocks):
            assert block.gate == GATES[ours.cell][g]
            np.testing.assert_array_equal(block.matrix, kernel[:, g * hidden : (g + 1) * hidden].T)


def _one_step(layer, h0, c0=None):
    """The real layer, one step from (h0, c0) on a zero input with zero input kernel and bias."""
    weights = layer.get_weights()
    layer.set_weights([weights[0] * 0, weights[1], weights[2] * 0])
    x = np.zeros((1, 1, layer.cell.kernel.shape[0]), np.float32)
    state = [h0[None].astype(np.float32)] + ([] if c0 is None else [c0[None].astype(np.float32)])
    return keras.ops.convert_to_numpy(layer(x, initial_state=state)).reshape(-1).astype(np.float64)


@pytest.mark.parametrize("reset_after", [False, True])
def test_one_real_step_follows_the_blocks(tmp_path, reset_after):
    model = _model(reset_after)
    model.save_weights(tmp_path / "m.weights.h5")
    network = read_network(tmp_path / "m.weights.h5")
    found = {layer.name: {b.gate: b.matrix for b in layer.blocks} for layer in network.layers}
    rng = np.random.default_rng(1)
    lstm, gru = model.get_layer("l"), model.get_layer("g")
    h0, c0 = rng.standard_normal(HIDDEN[LSTM]), rng.standard_normal(HIDDEN[LSTM])
    b = found["l"]
    i, f, o = (sigmoid(b[GATES[LSTM][k]] @ h0) for k in (0, 1, 3))
    expected = o * np.tanh(f * c0 + i * np.tanh(b[GATES[LSTM][2]] @ h0))
    np.testing.assert_allclose(_one_step(lstm, h0, c0), expected, rtol=1e-5, atol=1e-6)
    h0 = rng.standard_normal(HIDDEN[GRU])
    b = found["g"]
    z, r = sigmoid(b["z"] @ h0), sigmoid(b["r"] @ h0)
    candidate = np.tanh(r * (b["h"] @ h0)) if reset_after else np.tanh(b["h"] @ (r * h0))
    np.testing.assert_allclose(_one_step(gru, h0), z * h0 + (1 - z) * candidate, rtol=1e-5, atol=1e-6)
