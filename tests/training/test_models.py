"""The Keras-faithful cells against an independent numpy implementation of the Keras 2.1.6 equations."""

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnrobust.config import TrainConfig
from rnnrobust.config.files import load_config
from rnnrobust.layout import CELLS, GATES, block_keys, split_gates
from rnnrobust.training.models import KerasRecurrent, build_model, recurrent_layers
from rnnrobust.training.recurrence import KerasRecurrence


def np_hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def keras_reference(cell, x, kernel, recurrent_kernel, bias, activation="tanh", masks=None, gate=np_hard_sigmoid):
    """Keras-layout numpy forward pass (row vectors: x @ kernel + h @ recurrent_kernel).

    kernel (in, kH), recurrent_kernel (H, kH), bias (kH,); masks (k, B, H) recurrent dropout masks
    applied to h_{t-1} per gate as Keras' implementation=1 does.
    """
    batch, steps, _ = x.shape
    hid = recurrent_kernel.shape[0]
    k = len(GATES[cell])
    masks = np.ones((k, batch, hid)) if masks is None else masks
    act = (lambda v: np.maximum(v, 0.0)) if activation == "relu" else np.tanh
    h = np.zeros((batch, hid))
    c = np.zeros((batch, hid))
    kern = [kernel[:, g * hid : (g + 1) * hid] for g in range(k)]
    rec = [recurrent_kernel[:, g * hid : (g + 1) * hid] for g in range(k)]
    b = [bias[g * hid : (g + 1) * hid] for g in range(k)]
    outputs = []
    for t in range(steps):
        xt = x[:, t]
        if cell == "rnn":
            h = act(xt @ kern[0] + b[0] + (h * masks[0]) @ rec[0])
        elif cell == "lstm":
            i = gate(xt @ kern[0] + b[0] + (h * masks[0]) @ rec[0])
            f = gate(xt @ kern[1] + b[1] + (h * masks[1]) @ rec[1])
            c = f * c + i * np.tanh(xt @ kern[2] + b[2] + (h * masks[2]) @ rec[2])
            o = gate(xt @ kern[3] + b[3] + (h * masks[3]) @ rec[3])
            h = o * np.tanh(c)
        else:
            z = gate(xt @ kern[0] + b[0] + (h * masks[0]) @ rec[0])
            r = gate(xt @ kern[1] + b[1] + (h * masks[1]) @ rec[1])
            hh = np.tanh(xt @ kern[2] + b[2] + (r * (h * masks[2])) @ rec[2])
            h = z * h + (1 - z) * hh
        outputs.append(h)
    return np.stack(outputs, axis=1)


def random_layer(cell, activation="tanh", cell_impl="faithful", seed=0):
    torch.manual_seed(seed)
    layer = KerasRecurrent(cell, 5, 6, activation=activation, cell_impl=cell_impl).double()
    with torch.no_grad():  # non-trivial biases and a recurrent scale that exercises gate saturation
        layer.bias.uniform_(-1.5, 1.5)
        layer.weight_hh.mul_(2.0)
        layer.weight_ih.mul_(3.0)
    return layer.eval()


CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize(("cell", "activation"), CASES)
def test_faithful_cell_matches_numpy_keras_equations(cell, activation):
    layer = random_layer(cell, activation)
    x = np.random.default_rng(1).normal(size=(4, 9, 5))
    out, state = layer(torch.from_numpy(x))
    expected = keras_reference(
        cell,
        x,
        layer.weight_ih.detach().numpy().T,  # Keras kernel = W_ihᵀ
        layer.weight_hh.detach().numpy().T,  # Keras recurrent_kernel = W_hhᵀ
        layer.bias.detach().numpy(),
        activation,
    )
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    final_h = state[0] if cell == "lstm" else state
    np.testing.assert_allclose(final_h.detach().numpy(), expected[:, -1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("cell", "activation"), CASES)
def test_recurrent_dropout_masks_follow_keras(cell, activation):
    layer = random_layer(cell, activation)
    k = len(GATES[cell])
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 5))
    masks = (rng.random((k, 3, 6)) < 0.7) / 0.7
    proj = torch.from_numpy(x) @ layer.weight_ih.t() + layer.bias
    h0 = torch.zeros(3, 6, dtype=torch.float64)
    c0 = h0.clone() if cell == "lstm" else None
    out, _, _ = KerasRecurrence.apply(proj, layer.weight_hh, h0, c0, torch.from_numpy(masks), cell, activation)
    expected = keras_reference(
        cell, x, layer.weight_ih.detach().numpy().T, layer.weight_hh.detach().numpy().T,
        layer.bias.detach().numpy(), activation, masks=masks,
    )  # fmt: skip
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("cell", "activation"), CASES)
@pytest.mark.parametrize("with_masks", [False, True])
def test_handwritten_backward_passes_gradcheck(cell, activation, with_masks):
    torch.manual_seed(3)
    k = len(GATES[cell])
    proj = torch.randn(2, 5, k * 4, dtype=torch.float64, requires_grad=True)
    w = (0.6 * torch.randn(k * 4, 4, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True) if cell == "lstm" else None
    masks = torch.bernoulli(torch.full((k, 2, 4), 0.7, dtype=torch.float64)) / 0.7 if with_masks else None

    def fn(proj, w, h0, *c):
        out, h, c_last = KerasRecurrence.apply(proj, w, h0, c[0] if c else None, masks, cell, activation)
        return (out, h, c_last) if cell == "lstm" else (out, h)

    inputs = (proj, w, h0) + ((c0,) if c0 is not None else ())
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-7)


def test_builtin_impl_uses_same_parameters_with_pytorch_semantics():
    x = np.random.default_rng(4).normal(size=(3, 7, 5))
    for cell in ("rnn", "lstm"):  # the RNN is identical; the LSTM differs only by sigmoid gates
        faithful = random_layer(cell)
        builtin = random_layer(cell, cell_impl="builtin")
        builtin.load_state_dict(faithful.state_dict())
        out, _ = builtin(torch.from_numpy(x))
        args = (faithful.weight_ih.detach().numpy().T, faithful.weight_hh.detach().numpy().T)
        expected = keras_reference(cell, x, *args, faithful.bias.detach().numpy(), gate=np_sigmoid)
        np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-10)
    gru = random_layer("gru", cell_impl="builtin")
    out, _ = gru(torch.from_numpy(x))
    w_ih, w_hh, b = (t.detach().numpy() for t in (gru.weight_ih, gru.weight_hh, gru.bias))
    h = np.zeros((3, 6))
    for t in range(7):  # PyTorch's reset-after GRU in Keras block order z, r, h
        xt = x[:, t]
        z = np_sigmoid(xt @ w_ih[:6].T + b[:6] + h @ w_hh[:6].T)
        r = np_sigmoid(xt @ w_ih[6:12].T + b[6:12] + h @ w_hh[6:12].T)
        n = np.tanh(xt @ w_ih[12:].T + b[12:] + r * (h @ w_hh[12:].T))
        h = (1 - z) * n + z * h
    np.testing.assert_allclose(out[:, -1].detach().numpy(), h, rtol=1e-10, atol=1e-10)


PAPER = load_config(Path(__file__).resolve().parents[2] / "config.yaml")


def paper_model(task, cell):
    """The paper's model (shapes and options of config.yaml), built as the workflow builds it."""
    return build_model(task, cell, **TrainConfig.for_run(PAPER, task, cell, 0, "baseline").model_options())


@pytest.mark.parametrize("cell", CELLS)
def test_keras_initialisation(cell):
    torch.manual_seed(0)
    model = paper_model("mnist", cell)
    layer = model.rnn
    k, hid = len(GATES[cell]), 100
    w = layer.weight_hh.detach().double()
    assert w.shape == (k * hid, hid)
    # orthogonal over the whole stacked matrix: orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(hid, dtype=torch.float64), atol=1e-5, rtol=0)
    block = w[:hid]
    if k > 1:  # ... so the individual gate blocks are not orthogonal (protocol §2.6)
        assert torch.linalg.matrix_norm(block.T @ block - torch.eye(hid, dtype=torch.float64)) > 1.0
    limit = np.sqrt(6.0 / (28 + k * hid))
    assert float(layer.weight_ih.detach().abs().max()) <= limit
    assert float(layer.weight_ih.detach().abs().max()) > 0.9 * limit
    expected_bias = torch.zeros(k * hid)
    if cell == "lstm":
        expected_bias[hid : 2 * hid] = 1.0  # unit forget bias
    torch.testing.assert_close(layer.bias.detach(), expected_bias)
    imdb = paper_model("imdb", cell)
    assert float(imdb.embedding.weight.detach().abs().max()) <= 0.05


def test_mnist_irnn_initialisers_from_the_config():
    """workflow/configs/paper_mnist_rnn.yaml's regimes: mnist_irnn.py's RandomNormal(0.001) input kernel with the
    identity (irnn) or with RandomNormal(0.001) (random_normal_init) as the recurrent kernel."""
    repo = Path(__file__).parents[2]
    config = load_config(repo / "config.yaml", repo / "workflow/configs/paper_mnist_rnn.yaml")
    torch.manual_seed(0)
    irnn = build_model("mnist", "rnn", **TrainConfig.for_run(config, "mnist", "rnn", 0, "irnn").model_options())
    torch.testing.assert_close(irnn.rnn.weight_hh.detach(), torch.eye(100))
    normal = build_model(
        "mnist", "rnn", **TrainConfig.for_run(config, "mnist", "rnn", 0, "random_normal_init").model_options()
    )
    for layer in (irnn, normal):
        assert float(layer.rnn.weight_ih.detach().std()) == pytest.approx(0.001, rel=0.05)
    w = normal.rnn.weight_hh.detach().double()
    assert float(w.mean()) == pytest.approx(0.0, abs=3e-5) and float(w.std()) == pytest.approx(0.001, rel=0.05)
    assert float(torch.linalg.eigvals(w).abs().max()) < 0.02  # nearly zero: the network remembers little
    with pytest.raises(ValueError, match="unknown input_init 'he'"):
        build_model("mnist", "rnn", hidden_size=4, input_init="he")


def test_gate_block_layout_and_model_contract():
    torch.manual_seed(0)
    model = build_model("adding", "lstm", hidden_size=8)
    blocks = {f"{name}/{gate}": block for name, layer in recurrent_layers(model).items()
              for gate, block in split_gates(layer.weight_hh, "lstm").items()}  # fmt: skip
    assert tuple(blocks) == block_keys("adding", "lstm")
    for g, gate in enumerate("ifco"):
        assert torch.equal(blocks[f"decoder/{gate}"], model.decoder.weight_hh[8 * g : 8 * (g + 1)])
    logits = model(torch.randint(0, 12, (3, 7)))
    assert logits.shape == (3, 4, 12)
    out, (h, c) = model.encoder(torch.randn(3, 7, 12))
    assert out.shape == (3, 7, 8) and h.shape == c.shape == (3, 8)
    assert paper_model("imdb", "rnn")(torch.randint(0, 20000, (2, 80))).shape == (2,)
    assert paper_model("imdb", "gru").rnn.hidden_size == 32
    assert paper_model("mnist", "rnn").rnn.activation == "relu"
    with pytest.raises(ValueError, match="a lstm recurrent matrix"):
        split_gates(torch.zeros(6, 2), "lstm")
    with pytest.raises(ValueError, match="unknown task"):
        build_model("cifar", "rnn", hidden_size=2)
    with pytest.raises(ValueError, match="invalid model option"):
        build_model("mnist", "rnn", hidden_size=2, embed_dim=3)


# --------------------------------------------------------------------------------------------------
# Stacked runs (rnnrobust.training.group): a leading run dimension R on every tensor and parameter.


@pytest.mark.parametrize(("cell", "activation"), CASES)
@pytest.mark.parametrize("with_masks", [False, True])
def test_stacked_recurrence_passes_gradcheck_and_equals_each_run(cell, activation, with_masks):
    torch.manual_seed(5)
    k, runs, batch, steps, hid = len(GATES[cell]), 2, 4, 3, 8  # big enough for batched products (≥ 400 mult-adds)
    proj = torch.randn(runs, batch, steps, k * hid, dtype=torch.float64, requires_grad=True)
    w = (0.4 * torch.randn(runs, k * hid, hid, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(runs, batch, hid, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(runs, batch, hid, dtype=torch.float64, requires_grad=True) if cell == "lstm" else None
    masks = torch.bernoulli(torch.full((runs, k, batch, hid), 0.7, dtype=torch.float64)) / 0.7 if with_masks else None

    def fn(proj, w, h0, *c):
        out, h, c_last = KerasRecurrence.apply(proj, w, h0, c[0] if c else None, masks, cell, activation)
        return (out, h, c_last) if cell == "lstm" else (out, h)

    inputs = (proj, w, h0) + ((c0,) if c0 is not None else ())
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-7, fast_mode=True)
    stacked = fn(*inputs)
    for r in range(runs):
        alone = KerasRecurrence.apply(
            proj[r], w[r], h0[r], c0[r] if c0 is not None else None, masks[r] if with_masks else None, cell, activation
        )
        for a, b in zip(stacked, alone, strict=False):
            assert torch.equal(a[r], b)


@pytest.mark.parametrize("cell_impl", ["faithful", "builtin"])
def test_stacked_model_computes_each_runs_model(cell_impl):
    from rnnrobust.training.models import stack_models

    for task, cell in (("adding", "gru"), ("imdb", "lstm"), ("mnist", "rnn")):
        models = []
        for seed in range(3):
            torch.manual_seed(seed)
            options = {"vocab_size": 50, "embed_dim": 8} if task == "imdb" else {}
            models.append(build_model(task, cell, hidden_size=8, cell_impl=cell_impl, **options).double().eval())
        alone = [m.state_dict() for m in models]
        stacked = stack_models(models).eval()
        assert list(stacked.state_dict()) == list(alone[0])
        x = {"adding": torch.randint(0, 12, (3, 5, 7)), "imdb": torch.randint(0, 50, (3, 5, 9)),
             "mnist": torch.rand(3, 5, 28, 28, dtype=torch.float64)}[task]  # fmt: skip
        logits = stacked(x)
        for r, model in enumerate(models):
            assert all(torch.equal(model.state_dict()[k], alone[r][k]) for k in alone[r])  # views of the stack
            torch.testing.assert_close(logits[r], model(x[r]), rtol=1e-12, atol=1e-12)
