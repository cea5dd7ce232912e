"""A perturbation's size relative to the pre-activations it perturbs (rnnrobust.robustness.perturbation.trajectories).

The recomputed states are checked against each layer's own output, and ρ_b against an independent numpy
implementation of the Keras equations (which vector each block multiplies, the unscaled pre-activation).
"""

import numpy as np
import pytest
import torch

from rnnrobust.layout import CELLS, GATES, LAYERS, block_keys
from rnnrobust.robustness.perturbation import trajectories as traj
from rnnrobust.robustness.perturbation.state import layer_inputs
from rnnrobust.robustness.perturbation.trajectories import block_trajectories, preactivation_scale
from rnnrobust.training.models import build_model, recurrent_layers

HIDDEN, BATCH, STEPS, VOCAB = 4, 3, 6, 30


def random_model(task, cell, seed=0, **options):
    """A tiny model with random weights and biases: zero biases and saturated gates would hide conventions."""
    torch.manual_seed(seed)
    extra = {"vocab_size": VOCAB, "embed_dim": 5} if task == "imdb" else {}
    model = build_model(task, cell, hidden_size=HIDDEN, **extra, **options)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.7)
    return model


def task_input(task, seed=0):
    gen = torch.Generator().manual_seed(seed)
    high = 12 if task == "adding" else VOCAB  # the adding task's symbols, imdb's word ids
    return torch.randint(0, high, (BATCH, 7 if task == "adding" else STEPS), generator=gen)


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def reference(cell, w_ih, w_hh, bias, xs):
    """Keras equations in numpy, one sequence (T, in): {gate: (states (T, H), pre-activations (T, H))}."""
    hid = w_hh.shape[1]
    gates = GATES[cell]
    wx = {g: w_ih[k * hid : (k + 1) * hid] for k, g in enumerate(gates)}
    wh = {g: w_hh[k * hid : (k + 1) * hid] for k, g in enumerate(gates)}
    b = {g: bias[k * hid : (k + 1) * hid] for k, g in enumerate(gates)}
    h, c = np.zeros(hid), np.zeros(hid)
    out = {g: ([], []) for g in gates}
    for x in xs:
        s = dict.fromkeys(gates, h)
        if cell == "gru":
            r = hard_sigmoid(wx["r"] @ x + b["r"] + wh["r"] @ h)
            s["h"] = r * h  # reset_after=False
        pre = {g: wx[g] @ x + b[g] + wh[g] @ s[g] for g in gates}
        for g in gates:
            out[g][0].append(s[g])
            out[g][1].append(pre[g])
        if cell == "rnn":
            h = np.tanh(pre["h"])
        elif cell == "gru":
            z = hard_sigmoid(pre["z"])
            h = z * h + (1 - z) * np.tanh(pre["h"])
        else:
            c = hard_sigmoid(pre["f"]) * c + hard_sigmoid(pre["i"]) * np.tanh(pre["c"])
            h = hard_sigmoid(pre["o"]) * np.tanh(c)
    return {g: (np.array(st), np.array(pr)) for g, (st, pr) in out.items()}


def reference_rows(model, cell, x):
    """The imdb model's single layer in numpy: {gate: (S rows, P rows)}, row = sequence·T + step."""
    layer = model.rnn
    w_ih, w_hh, bias = (p.detach().double().numpy() for p in (layer.weight_ih, layer.weight_hh, layer.bias))
    embedded = model.embedding.weight.detach().double().numpy()[x.numpy()]
    per_seq = [reference(cell, w_ih, w_hh, bias, seq) for seq in embedded]
    return {g: tuple(np.concatenate([r[g][i] for r in per_seq]) for i in (0, 1)) for g in GATES[cell]}


def random_delta(keys, seed=1):
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=(HIDDEN, HIDDEN)) for key in keys}


# ------------------------------------------------------------------------------------------------
# the recomputed trajectories


@pytest.mark.parametrize("task", ["adding", "imdb"])
@pytest.mark.parametrize("cell", CELLS)
def test_recomputed_states_equal_each_layers_own_output(task, cell):
    model = random_model(task, cell).double().eval()
    with torch.no_grad():
        for name, inputs in layer_inputs(model, task_input(task)).items():
            layer = recurrent_layers(model)[name]
            hs = torch.stack([h for h, _, _ in traj._steps(layer, inputs)], dim=1)
            expected, _ = layer(inputs)
            assert hs.dtype == torch.float64 and hs.shape == expected.shape
            assert (hs - expected).abs().max() < 1e-12


@pytest.mark.parametrize("cell", CELLS)
def test_blocks_rows_and_the_callers_model(cell):
    model = random_model("adding", cell).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = block_trajectories(model, cell, task_input("adding"))
    assert tuple(result) == block_keys("adding", cell)
    for key, block in result.items():
        steps = 7 if key.split("/")[0] == LAYERS["adding"][0] else 4  # the encoder reads 7 symbols, the decoder 4
        assert block.states.shape == (BATCH * steps, HIDDEN) and block.states.dtype == np.float64
        assert block.preactivation_norm > 0
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert next(model.parameters()).dtype == torch.float32


def test_a_wrong_convention_is_caught_by_the_check_against_the_layer(monkeypatch):
    monkeypatch.setattr(traj, "_hard_sigmoid", torch.sigmoid)
    with pytest.raises(RuntimeError, match="differ from the layer's output"):
        block_trajectories(random_model("imdb", "gru"), "gru", task_input("imdb"))


def test_unsupported_models_are_refused():
    x = task_input("imdb")
    with pytest.raises(ValueError, match="faithful"):
        block_trajectories(random_model("imdb", "gru", cell_impl="builtin"), "gru", x)
    with pytest.raises(ValueError, match="not 'lstm'"):
        block_trajectories(random_model("imdb", "gru"), "lstm", x)
    with pytest.raises(ValueError, match="max_rows"):
        block_trajectories(random_model("imdb", "gru"), "gru", x, max_rows=0)


# ------------------------------------------------------------------------------------------------
# ρ_b against the numpy reference


@pytest.mark.parametrize("cell", CELLS)
def test_scale_equals_a_brute_force_computation(cell):
    model, x = random_model("imdb", cell), task_input("imdb")
    ref = reference_rows(model, cell, x)
    result = block_trajectories(model, cell, x)
    delta = random_delta(result)
    scale = preactivation_scale(result, delta)
    for gate, (states, pre) in ref.items():
        key = f"rnn/{gate}"
        np.testing.assert_allclose(result[key].states, states, rtol=0, atol=1e-13)
        expected = np.linalg.norm(states @ delta[key].T) / np.linalg.norm(pre)
        assert scale[key] == pytest.approx(expected, rel=1e-12)
    assert scale["max"] == max(scale[key] for key in result)


def test_the_gru_candidate_block_multiplies_the_reset_state():
    model, x = random_model("imdb", "gru"), task_input("imdb")
    ref = reference_rows(model, "gru", x)
    result = block_trajectories(model, "gru", x)
    delta = random_delta(result)
    states, pre = ref["h"]
    h_prev = ref["z"][0]  # what the z block multiplies: h_{t−1}
    with_reset = np.linalg.norm(states @ delta["rnn/h"].T) / np.linalg.norm(pre)
    without = np.linalg.norm(h_prev @ delta["rnn/h"].T) / np.linalg.norm(pre)
    assert abs(with_reset - without) > 0.05 * without  # the two conventions are far apart here
    assert preactivation_scale(result, delta)["rnn/h"] == pytest.approx(with_reset, rel=1e-12)
    assert not np.allclose(result["rnn/h"].states, result["rnn/z"].states)


# ------------------------------------------------------------------------------------------------
# scaling, zero, subsets


def test_scale_is_homogeneous_and_zero_for_no_perturbation():
    model, x = random_model("adding", "lstm"), task_input("adding")
    result = block_trajectories(model, "lstm", x)
    delta = random_delta(result)
    base = preactivation_scale(result, delta)
    scaled = preactivation_scale(result, {k: -2.5 * d for k, d in delta.items()})
    for key in base:
        assert scaled[key] == pytest.approx(2.5 * base[key], rel=1e-13)
    zero = preactivation_scale(result, {k: np.zeros_like(d) for k, d in delta.items()})
    assert all(value == 0.0 for value in zero.values())
    one = preactivation_scale(result, {"decoder/c": delta["decoder/c"]})  # one block perturbed
    assert one == {"decoder/c": base["decoder/c"], "max": base["decoder/c"]}
    with pytest.raises(ValueError, match="no trajectory"):
        preactivation_scale(result, {"rnn/c": delta["decoder/c"]})


def test_max_rows_keeps_a_deterministic_evenly_spaced_subset():
    model, x = random_model("imdb", "rnn"), task_input("imdb")
    full = block_trajectories(model, "rnn", x)["rnn/h"]
    total = BATCH * STEPS
    for max_rows in (total, total + 5):
        same = block_trajectories(model, "rnn", x, max_rows=max_rows)["rnn/h"]
        assert np.array_equal(same.states, full.states) and same.preactivation_norm == full.preactivation_norm
    first, again = (block_trajectories(model, "rnn", x, max_rows=7)["rnn/h"] for _ in range(2))
    assert np.array_equal(first.states, again.states) and first.preactivation_norm == again.preactivation_norm
    rows = np.arange(7) * total // 7
    assert len(set(rows)) == 7
    states, pre = reference_rows(model, "rnn", x)["h"]
    np.testing.assert_allclose(first.states, states[rows], rtol=0, atol=1e-13)
    assert first.preactivation_norm == pytest.approx(np.linalg.norm(pre[rows]), rel=1e-12)
    assert first.preactivation_norm < full.preactivation_norm
