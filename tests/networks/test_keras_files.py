"""Keras weight files built with h5py in the documented layouts: every gate block is the right slice, transposed.

Keras computes a gate's recurrent term as ``h @ recurrent_kernel[:, gH:(g+1)H]`` for h a row vector, gates in
the order i, f, c, o (LSTM) and z, r, h (GRU) along the columns (keras/src/layers/rnn/lstm.py, gru.py): so
block g applied to the column vector h must equal that slice of ``h @ U``.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py", reason="Keras files need h5py: pip install 'rnnrobust[keras]'")

from keras_layouts import (
    model_config,
    random_layer,
    write_keras2,
    write_keras3,
    write_keras_archive,
)

from rnnrobust.layout import GATES
from rnnrobust.networks import keras_archive
from rnnrobust.networks.blocks import NetworkFileError
from rnnrobust.networks.read import read_network

SIZES = {"rnn": 4, "lstm": 5, "gru": 3}


def _layers(rng, reset_after: bool):
    return [
        random_layer(rng, f"my_{cell}", cell, hidden, reset_after=reset_after and cell == "gru")
        for cell, hidden in SIZES.items()
    ]


def assert_keras_blocks(layer, found) -> None:
    """Each block, applied to a column vector h, is gate g's slice of Keras' row-vector product h @ U."""
    u = layer.recurrent.astype(np.float32).astype(np.float64)
    h = np.random.default_rng(7).standard_normal(layer.hidden)
    assert found.cell == layer.cell and found.framework == "Keras"
    assert [b.source_gate for b in found.blocks] == list(GATES[layer.cell])
    assert [b.gate for b in found.blocks] == list(GATES[layer.cell])
    for g, block in enumerate(found.blocks):
        assert block.key == f"{found.name}/{GATES[layer.cell][g]}"
        assert block.matrix.shape == (layer.hidden, layer.hidden) and block.matrix.dtype == np.float64
        np.testing.assert_allclose(block.matrix @ h, (h @ u)[g * layer.hidden : (g + 1) * layer.hidden], rtol=1e-12)


@pytest.mark.parametrize("reset_after", [False, True])
def test_keras3_weights_h5(tmp_path, reset_after):
    rng = np.random.default_rng(0)
    layers = _layers(rng, reset_after)
    forward = random_layer(rng, "forward_gru", "gru", 2, reset_after=True)
    backward = random_layer(rng, "backward_gru", "gru", 2, reset_after=True)
    path = tmp_path / "model.weights.h5"
    write_keras3(path, layers, bidirectional=(forward, backward))
    network = read_network(path)
    assert network.format.startswith("Keras 3")
    found = {layer.name: layer for layer in network.layers}
    assert set(found) == {"my_rnn", "my_lstm", "my_gru", "bidirectional.forward_gru", "bidirectional.backward_gru"}
    for layer in layers:
        assert_keras_blocks(layer, found[layer.name])
    assert_keras_blocks(forward, found["bidirectional.forward_gru"])
    assert_keras_blocks(backward, found["bidirectional.backward_gru"])
    assert found["my_gru"].reset_after is reset_after
    assert found["my_lstm"].reset_after is None and found["bidirectional.forward_gru"].reset_after is True


@pytest.mark.parametrize("reset_after", [False, True])
def test_keras_archive_follows_its_config(tmp_path, reset_after):
    rng = np.random.default_rng(1)
    layers = _layers(rng, reset_after)[::-1]
    path = tmp_path / "model.keras"
    write_keras_archive(path, layers)
    network = read_network(path)
    assert network.format.startswith("Keras 3 archive")
    assert [layer.name for layer in network.layers] == [layer.name for layer in layers]  # the config's order
    for layer, found in zip(layers, network.layers, strict=True):
        assert_keras_blocks(layer, found)
    assert not list(tmp_path.glob("*.h5")), "nothing is extracted beside the archive"


def test_keras_gru_without_bias_takes_reset_after_from_the_config(tmp_path):
    layer = random_layer(np.random.default_rng(2), "g", "gru", 3, bias=False)
    layer.reset_after = True
    write_keras_archive(tmp_path / "m.keras", [layer])
    assert read_network(tmp_path / "m.keras").layers[0].reset_after is True
    write_keras3(tmp_path / "m.weights.h5", [layer])
    assert read_network(tmp_path / "m.weights.h5").layers[0].reset_after is None  # unknown: no bias, no config


@pytest.mark.parametrize("style", ["2.1.6", "cell"])
@pytest.mark.parametrize("whole_model", [False, True])
def test_keras2_h5(tmp_path, style, whole_model):
    rng = np.random.default_rng(3)
    layers = _layers(rng, reset_after=style == "cell")
    path = tmp_path / "weights.h5"
    write_keras2(path, layers, whole_model=whole_model, chunks=2 if whole_model else 1, style=style)
    network = read_network(path)
    assert network.format.startswith("Keras 2")
    assert [layer.name for layer in network.layers] == [layer.name for layer in layers]
    for layer, found in zip(layers, network.layers, strict=True):
        assert_keras_blocks(layer, found)
    assert network.layers[2].reset_after is (style == "cell")


def test_keras_shapes_that_disagree_are_refused(tmp_path):
    rng = np.random.default_rng(4)
    lstm = random_layer(rng, "lstm_1", "lstm", 3)
    bad = random_layer(rng, "odd", "lstm", 3)
    bad.recurrent = bad.recurrent[:, :10]  # H × 10: no k in {1, 3, 4}
    write_keras2(tmp_path / "odd.h5", [lstm, bad])
    with pytest.raises(
        NetworkFileError, match=r"odd\.h5: expected the recurrent kernel of odd .*found shape \(3, 10\)"
    ):
        read_network(tmp_path / "odd.h5")
    gru = random_layer(rng, "g", "gru", 3)
    config = model_config([gru])
    config["config"]["layers"][0]["class_name"] = "LSTM"  # the config says LSTM, the kernel is 3H wide
    write_keras_archive(tmp_path / "liar.keras", [gru], config=config)
    with pytest.raises(NetworkFileError, match=r"g \(LSTM in the model config\).*found shape \(3, 9\)"):
        read_network(tmp_path / "liar.keras")
    lstm.kernel = lstm.kernel[:, :5]
    write_keras3(tmp_path / "kernel.weights.h5", [lstm])
    with pytest.raises(NetworkFileError, match=r"the kernel of lstm_1 of shape \(input, 12\); found shape \(3, 5\)"):
        read_network(tmp_path / "kernel.weights.h5")


def test_keras_files_without_recurrent_weights_are_refused(tmp_path):
    write_keras2(tmp_path / "dense.h5", [])
    with pytest.raises(NetworkFileError, match=r"dense\.h5: expected Keras SimpleRNN, LSTM or GRU weights"):
        read_network(tmp_path / "dense.h5")
    write_keras3(tmp_path / "dense.weights.h5", [])
    with pytest.raises(NetworkFileError, match=r"no recurrent cell"):
        read_network(tmp_path / "dense.weights.h5")
    (tmp_path / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(NetworkFileError, match=r"broken\.h5: expected an HDF5 file"):
        read_network(tmp_path / "broken.h5")


@pytest.mark.parametrize(
    ("member", "reason"),
    [("../evil.txt", "'..' path component"), ("/etc/evil", "absolute path"), ("C:/evil", "absolute path")],
)
def test_unsafe_keras_archives_are_refused_before_anything_is_read(tmp_path, member, reason):
    layer = random_layer(np.random.default_rng(5), "g", "gru", 2)
    write_keras_archive(tmp_path / "m.keras", [layer], extra=[(member, b"x")])
    with pytest.raises(NetworkFileError, match=f"m.keras: expected a .keras archive of plain, safe members.*{reason}"):
        read_network(tmp_path / "m.keras")


def test_keras_archive_links_bombs_and_missing_weights(tmp_path, monkeypatch):
    layer = random_layer(np.random.default_rng(6), "g", "gru", 2)
    link = zipfile.ZipInfo("link")
    link.external_attr = 0o120777 << 16  # a symbolic link
    write_keras_archive(tmp_path / "link.keras", [layer], extra=[(link, b"/etc/passwd")])
    with pytest.raises(NetworkFileError, match="symbolic link"):
        read_network(tmp_path / "link.keras")
    monkeypatch.setattr(keras_archive, "BOMB_FLOOR_BYTES", 10_000)
    write_keras_archive(tmp_path / "bomb.keras", [layer], extra=[("pad.bin", bytes(1_000_000))])
    with pytest.raises(NetworkFileError, match="zip bomb"):
        read_network(tmp_path / "bomb.keras")
    with zipfile.ZipFile(tmp_path / "npz.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(model_config([layer])))
        archive.writestr("model.weights.npz", b"")
    with pytest.raises(NetworkFileError, match=r"holding model\.weights\.h5; found members model\.weights\.npz"):
        read_network(tmp_path / "npz.keras")


def test_a_corrupt_keras_archive_is_one_error(tmp_path):
    layer = random_layer(np.random.default_rng(8), "g", "gru", 2)
    write_keras_archive(tmp_path / "m.keras", [layer])
    data = bytearray((tmp_path / "m.keras").read_bytes())
    start = data.index(b"model.weights.h5") + len("model.weights.h5") + 40
    data[start : start + 200] = bytes(200)  # inside the weights member's compressed bytes
    (tmp_path / "m.keras").write_bytes(bytes(data))
    with pytest.raises(NetworkFileError, match=r"m\.keras: expected"):
        read_network(tmp_path / "m.keras")


def test_convolutional_recurrent_layers_are_skipped_with_a_note(tmp_path):
    import h5py

    lstm = random_layer(np.random.default_rng(9), "lstm_1", "lstm", 3)
    write_keras3(tmp_path / "k3.weights.h5", [lstm])
    write_keras2(tmp_path / "k2.h5", [lstm])
    kernel = np.zeros((3, 3, 2, 8), np.float32)  # a ConvLSTM2D's 4-D (recurrent) kernel
    with h5py.File(tmp_path / "k3.weights.h5", "a") as f:
        cell = f.create_group("layers/conv_lstm2d/cell/vars")
        cell.create_dataset("0", data=kernel)
        cell.create_dataset("1", data=kernel)
    with h5py.File(tmp_path / "k2.h5", "a") as f:
        names = [n if isinstance(n, bytes) else n.encode() for n in f.attrs["layer_names"]]
        f.attrs["layer_names"] = [*names, b"conv_lst_m2d_1"]
        group = f.create_group("conv_lst_m2d_1")
        group.attrs["weight_names"] = [b"conv_lst_m2d_1/recurrent_kernel:0"]
        group.create_dataset("conv_lst_m2d_1/recurrent_kernel:0", data=kernel)
    for name in ("k3.weights.h5", "k2.h5"):
        network = read_network(tmp_path / name)
        assert [layer.name for layer in network.layers] == ["lstm_1"]
        (note,) = network.skipped
        assert note.startswith("skipped ") and ("conv_lstm2d" in note or "(3, 3, 2, 8)" in note)
