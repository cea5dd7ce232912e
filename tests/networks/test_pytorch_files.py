"""PyTorch files: the gate blocks read back drive torch's own modules to their own next state.

Every module gets zero input weights and biases and random recurrent weights; one step from a known state
(h0, c0) is then computed twice: by the module itself, and from our blocks by the documented equations, each
gate looked up by this project's name (``layout.GATES``). A block given the wrong name (i for f, r for z, ...)
changes the result, so the names are checked, not only the slicing.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch files need torch: pip install 'rnnrobust[train]'")

from torch import nn  # noqa: E402

from rnnrobust.layout import CELLS, GATES  # noqa: E402
from rnnrobust.networks.blocks import NetworkFileError  # noqa: E402
from rnnrobust.networks.read import read_network  # noqa: E402
from rnnrobust.training.models import build_model  # noqa: E402
from rnnrobust.training.weights import gate_blocks  # noqa: E402

RNN, LSTM, GRU = CELLS
MODULES = {RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU}
CELL_MODULES = {RNN: nn.RNNCell, LSTM: nn.LSTMCell, GRU: nn.GRUCell}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Zero input weights and biases, random recurrent (and projection) weights, float64."""
    generator = torch.Generator().manual_seed(seed)
    module.double()
    with torch.no_grad():
        for name, param in module.named_parameters():
            recurrent = name.startswith(("weight_hh", "weight_hr"))
            param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float64) * 0.6 if recurrent else 0)
    return module


def step_from_blocks(cell: str, blocks: dict[str, np.ndarray], h0: np.ndarray, c0: np.ndarray | None):
    """One step of torch's documented equations with zero input and bias, each gate block by its project name;
    returns h1 (for a projected LSTM: the unprojected u1 = o ⊙ tanh(c1)) and c1."""
    pre = {gate: block @ h0 for gate, block in blocks.items()}
    if cell == RNN:
        return np.tanh(pre["h"]), None
    if cell == GRU:
        r, z = sigmoid(pre["r"]), sigmoid(pre["z"])
        n = np.tanh(r * pre["h"])  # reset after the product (torch): r ⊙ (W_hn h + b_hn), b_hn = 0
        return (1.0 - z) * n + z * h0, None
    i, f, o = (sigmoid(pre[gate]) for gate in (GATES[LSTM][0], GATES[LSTM][1], GATES[LSTM][3]))
    c1 = f * c0 + i * np.tanh(pre[GATES[LSTM][2]])
    return o * np.tanh(c1), c1


def by_project_gate(layer) -> dict[str, np.ndarray]:
    return {block.gate: block.matrix for block in layer.blocks}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacked_modules_step_as_their_blocks_say(tmp_path, cell, bidirectional):
    hidden, layers, directions = 4, 3, 2 if bidirectional else 1
    module = randomize(MODULES[cell](3, hidden, num_layers=layers, bidirectional=bidirectional), seed=1)
    container = nn.ModuleDict({"encoder": nn.ModuleDict({"rnn": module})})  # keys encoder.rnn.weight_hh_l0 ...
    torch.save(container.state_dict(), tmp_path / "sd.pt")
    network = read_network(tmp_path / "sd.pt")
    names = [f"encoder.rnn.l{k}{suffix}" for k in range(layers) for suffix in ("", "_reverse")[:directions]]
    assert [layer.name for layer in network.layers] == names
    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((layers * directions, 1, hidden))
    c0 = rng.standard_normal((layers * directions, 1, hidden))
    x = torch.zeros(1, 1, 3, dtype=torch.float64)
    with torch.no_grad():
        state = (torch.from_numpy(h0), torch.from_numpy(c0)) if cell == LSTM else torch.from_numpy(h0)
        _, final = module(x, state)
    h1 = (final[0] if cell == LSTM else final).numpy()
    for index, layer in enumerate(network.layers):
        assert layer.framework == "PyTorch" and layer.cell == cell and layer.hidden_size == hidden
        assert layer.reset_after is (True if cell == GRU else None)
        ours_h, ours_c = step_from_blocks(cell, by_project_gate(layer), h0[index, 0], c0[index, 0])
        np.testing.assert_allclose(ours_h, h1[index, 0], rtol=1e-12, atol=1e-14)
        if cell == LSTM:
            np.testing.assert_allclose(ours_c, final[1].numpy()[index, 0], rtol=1e-12, atol=1e-14)


def test_blocks_are_row_slices_with_torch_gate_names(tmp_path):
    lstm, gru = randomize(nn.LSTM(2, 3), 2), randomize(nn.GRU(2, 3), 3)
    torch.save({"lstm": lstm.state_dict(), "gru": gru.state_dict()}["lstm"], tmp_path / "lstm.pt")
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    for path, module, torch_gates in ((tmp_path / "lstm.pt", lstm, "ifgo"), (tmp_path / "gru.pt", gru, "rzn")):
        layer = read_network(path).layers[0]
        w = module.weight_hh_l0.detach().numpy()
        h = np.random.default_rng(1).standard_normal(3)
        assert [block.key for block in layer.blocks] == [f"l0/{gate}" for gate in torch_gates]
        for g, block in enumerate(layer.blocks):
            np.testing.assert_array_equal(block.matrix @ h, (w @ h)[3 * g : 3 * g + 3])
    assert [b.gate for b in read_network(tmp_path / "gru.pt").layers[0].blocks] == [GATES[GRU][1], *GATES[GRU][::2]]


def test_a_projected_lstm_is_analysed_as_its_effective_recurrence(tmp_path):
    hidden, proj = 5, 2
    module = randomize(nn.LSTM(3, hidden, num_layers=2, proj_size=proj, bidirectional=True), seed=4)
    torch.save(module.state_dict(), tmp_path / "proj.pt")
    network = read_network(tmp_path / "proj.pt")
    rng = np.random.default_rng(2)
    u0, c0 = rng.standard_normal((4, 1, hidden)), rng.standard_normal((4, 1, hidden))
    suffixes = ["l0", "l0_reverse", "l1", "l1_reverse"]
    w_hr = np.stack([getattr(module, f"weight_hr_{s}").detach().numpy() for s in suffixes])
    h0 = np.einsum("lph,lbh->lbp", w_hr, u0)  # the state h0 = W_hr u0 (P-dimensional)
    with torch.no_grad():
        _, (h1, c1) = module(torch.zeros(1, 1, 3, dtype=torch.float64), (torch.from_numpy(h0), torch.from_numpy(c0)))
    for index, layer in enumerate(network.layers):
        assert layer.hidden_size == hidden and "proj_size 2" in layer.note
        u1, ours_c = step_from_blocks(LSTM, by_project_gate(layer), u0[index, 0], c0[index, 0])
        np.testing.assert_allclose(ours_c, c1.numpy()[index, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w_hr[index] @ u1, h1.numpy()[index, 0], rtol=1e-12, atol=1e-14)
        assert np.sum(np.abs(np.linalg.eigvals(layer.blocks[0].matrix)) < 1e-10) >= hidden - proj


@pytest.mark.parametrize("cell", CELLS)
def test_cell_modules_and_checkpoint_dicts(tmp_path, cell):
    module = randomize(CELL_MODULES[cell](3, 4), seed=5)
    h0, c0 = np.random.default_rng(3).standard_normal((2, 1, 4))
    with torch.no_grad():
        state = (torch.from_numpy(h0), torch.from_numpy(c0)) if cell == LSTM else torch.from_numpy(h0)
        out = module(torch.zeros(1, 3, dtype=torch.float64), state)
    prefixed = {f"model.decoder.{k}": v for k, v in module.state_dict().items()}
    for checkpoint in ({"epoch": 3, "state_dict": prefixed}, {"model_state_dict": prefixed, "optimizer": {}},
                       {"model": {"state_dict": prefixed}}):  # fmt: skip
        torch.save(checkpoint, tmp_path / "ckpt.pt")
        (layer,) = read_network(tmp_path / "ckpt.pt").layers
        assert layer.name == "model.decoder" and layer.framework == "PyTorch"
        ours_h, _ = step_from_blocks(cell, by_project_gate(layer), h0[0], c0[0])
        expected = out[0] if cell == LSTM else out
        np.testing.assert_allclose(ours_h, expected.numpy()[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_this_projects_model_pt(tmp_path, cell):
    torch.manual_seed(0)
    model = build_model("adding", cell, hidden_size=4)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    network = read_network(tmp_path / "model.pt")
    assert [layer.name for layer in network.layers] == list(dict.fromkeys(k.split("/")[0] for k in network.blocks()))
    assert all(layer.framework == "rnnrobust" and layer.cell == cell for layer in network.layers)
    assert all(layer.reset_after is (False if cell == GRU else None) for layer in network.layers)
    reference = gate_blocks(model.state_dict(), cell)  # the project's own extraction (the weights files)
    assert list(network.blocks()) == list(reference)
    for key, block in network.blocks().items():
        assert block.source_gate == block.gate
        np.testing.assert_array_equal(block.matrix, reference[key])


class _Payload:
    """A pickle that would create a folder when unpickled."""

    def __init__(self, where):
        self.where = where

    def __reduce__(self):
        return (os.makedirs, (self.where,))


def test_nothing_is_unpickled(tmp_path):
    torch.save(nn.LSTM(2, 3), tmp_path / "whole.pt")
    with pytest.raises(NetworkFileError, match=r"whole\.pt: expected tensors.*GLOBAL torch\.nn\.modules\.rnn\.LSTM"):
        read_network(tmp_path / "whole.pt")
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"weight_hh_l0": _Payload(str(tmp_path / "pwned"))}, protocol=2))
    with pytest.raises(NetworkFileError, match="weights_only refuses"):
        read_network(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    torch.save({"weight_hh_l0": _Payload(str(tmp_path / "pwned"))}, tmp_path / "evil_zip.pt")
    with pytest.raises(NetworkFileError, match="weights_only refuses"):
        read_network(tmp_path / "evil_zip.pt")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"weight": torch.zeros(2, 2), "bias": torch.zeros(2)},
            r"expected recurrent weights .*found keys weight, bias",
        ),
        ([torch.zeros(2)], "expected a state_dict or a checkpoint dict holding one; found a list"),
        ({"rnn.weight_hh_l0": torch.zeros(5, 3)}, r"rnn\.weight_hh_l0 of shape \(k·H, H\).*found shape \(5, 3\)"),
        ({"rnn.weight_hh_l0": torch.zeros(2, 8, 4)}, r"rnn\.weight_hh_l0 to be a 2-D matrix; found shape \(2, 8, 4\)"),
        ({"weight_hh_l0": torch.zeros(12, 2), "weight_hr_l0": torch.zeros(2, 4)}, r"found shape \(12, 2\)"),
        ({"weight_hr_l0": torch.zeros(2, 4)}, r"expected weight_hh_l0 beside weight_hr_l0; found none"),
    ],
)
def test_files_that_are_not_recurrent_networks(tmp_path, content, message):
    torch.save(content, tmp_path / "bad.pt")
    with pytest.raises(NetworkFileError, match=message):
        read_network(tmp_path / "bad.pt")


def test_unreadable_files(tmp_path):
    torch.save(nn.GRU(2, 3).state_dict(), tmp_path / "ok.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:300])
    with pytest.raises(NetworkFileError, match=r"cut\.pt: expected"):
        read_network(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("not a network")
    with pytest.raises(
        NetworkFileError, match=r"text\.pt: expected a PyTorch .*found a file starting with b'not a ne'"
    ):
        read_network(tmp_path / "text.pt")
    with pytest.raises(NetworkFileError, match=r"missing\.pt: expected a readable file; found FileNotFoundError"):
        read_network(tmp_path / "missing.pt")
