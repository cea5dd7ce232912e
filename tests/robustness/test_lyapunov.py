"""Finite-time Lyapunov exponents (rnnrobust.robustness.lyapunov): the QR iteration on known products, and the
step Jacobians of the Keras-faithful layers against their own forward and the perturbation stage's Jacobians."""

import math

import numpy as np
import pytest
import torch

from rnnrobust.layout import CELLS, LAYERS
from rnnrobust.robustness import lyapunov
from rnnrobust.robustness.lyapunov import finite_time_lyapunov, layer_states, lyapunov_spectrum, step_jacobians
from rnnrobust.robustness.perturbation.state import state_jacobians
from rnnrobust.training.models import build_model

KEYS = {
    "state", "horizon", "sequences", "lambda_max", "lambda_max_q10", "lambda_max_q90", "lambda_max_per_sequence",
    "n_positive", "exponents",
}  # fmt: skip


def rotation(radius, angle):
    c, s = math.cos(angle), math.sin(angle)
    return radius * np.array([[c, -s], [s, c]])


def block_diagonal(*blocks):
    n = sum(len(np.atleast_2d(b)) for b in blocks)
    out, at = np.zeros((n, n)), 0
    for block in map(np.atleast_2d, blocks):
        out[at : at + len(block), at : at + len(block)] = block
        at += len(block)
    return out


def tiny_model(task, cell, hidden=3):
    torch.manual_seed(1)
    extra = {"vocab_size": 60, "embed_dim": 4} if task == "imdb" else {}
    return build_model(task, cell, hidden_size=hidden, **extra).eval()


def scaled_orthogonal(n, radius, seed=0):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return radius * q


# ------------------------------------------------------------------------------------------------
# the QR iteration on matrices whose exponents are known


def test_a_linear_rnn_has_the_log_moduli_of_its_eigenvalues_as_exponents():
    # eigenvalues 1.2 e^{±0.7i}, 0.9, 0.5 e^{±2i}, 0.3 in a non-orthogonal basis: a complex pair shares its modulus
    v = np.eye(6) + 0.3 * np.random.default_rng(0).standard_normal((6, 6))
    w = v @ block_diagonal(rotation(1.2, 0.7), 0.9, rotation(0.5, 2.0), 0.3) @ np.linalg.inv(v)
    expected = np.log([1.2, 1.2, 0.9, 0.5, 0.5, 0.3])
    assert np.sort(np.log(np.abs(np.linalg.eigvals(w))))[::-1] == pytest.approx(expected, abs=1e-12)
    steps = np.broadcast_to(w, (2000, 6, 6))  # the gap to the limit is O(log κ(V) / T) (module docstring)
    assert lyapunov_spectrum(steps) == pytest.approx(expected, abs=1e-3)
    assert lyapunov_spectrum(steps, k=3) == pytest.approx(expected[:3], abs=1e-3)


def test_the_exponents_add_up_to_the_log_determinant_of_the_product():
    rng = np.random.default_rng(1)
    steps = rng.standard_normal((3, 50, 5, 5))  # three trajectories at once
    spectra = lyapunov_spectrum(steps)
    assert spectra.shape == (3, 5) and np.all(np.diff(spectra, axis=-1) <= 0)
    log_det = np.linalg.slogdet(steps)[1].sum(axis=-1)  # log |det Π J_t| = Σ_t log |det J_t|
    assert spectra.sum(axis=-1) * 50 == pytest.approx(log_det, rel=1e-12)
    for trajectory, spectrum in zip(steps, spectra, strict=True):
        assert lyapunov_spectrum(trajectory) == pytest.approx(spectrum, abs=1e-14)
    # the first k columns follow the same frame as the full iteration: the same exponents of those units
    assert lyapunov_spectrum(steps[0], k=5) == pytest.approx(spectra[0], abs=1e-14)


def test_an_exactly_singular_step_gives_minus_infinity_not_nan():
    diagonal = np.array([np.diag([2.0, 0.0, 0.5])] * 4)  # a zero row: unit 1 is wiped at every step
    assert lyapunov_spectrum(diagonal) == pytest.approx([math.log(2.0), math.log(0.5), -math.inf])
    steps = np.random.default_rng(2).standard_normal((20, 4, 4))
    steps[7, 2, :] = steps[7, :, 2] = 0.0  # at step 8, unit 2 neither reads nor passes on the state
    spectrum = lyapunov_spectrum(steps)
    assert not np.isnan(spectrum).any()
    assert spectrum[-1] == -math.inf and np.isfinite(spectrum[:-1]).all()


@pytest.mark.parametrize(
    "shape, k, message",
    [
        ((4, 4), None, "must be \\(T, n, n\\)"),
        ((5, 3, 4), None, "must be square"),
        ((0, 3, 3), None, "at least one step"),
        ((5, 3, 3), 0, "k must be between 1 and the state size 3"),
        ((5, 3, 3), 4, "k must be between 1 and the state size 3"),
    ],
)
def test_bad_jacobians_are_refused_with_the_reason(shape, k, message):
    with pytest.raises(ValueError, match=message):
        lyapunov_spectrum(np.ones(shape), k=k)


def test_non_finite_jacobians_are_refused():
    steps = np.ones((3, 2, 2))
    steps[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or ±inf"):
        lyapunov_spectrum(steps)


# ------------------------------------------------------------------------------------------------
# the step Jacobians of the layers


@pytest.mark.parametrize("cell", CELLS)
def test_stepping_the_layer_reproduces_its_forward(cell):
    layer = tiny_model("mnist", cell).rnn.to(torch.float64)
    inputs = torch.rand(2, 6, 28, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    states = layer_states(layer, inputs)
    with torch.no_grad():
        outputs, final = layer(inputs)
    hid = layer.hidden_size
    assert states.shape == (2, 7, 2 * hid if cell == "lstm" else hid) and not states[:, 0].any()
    assert torch.allclose(states[:, 1:, :hid], outputs, rtol=0, atol=1e-6)
    if cell == "lstm":
        assert torch.allclose(states[:, -1, hid:], final[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_the_step_jacobians_multiply_to_the_jacobian_over_the_whole_sequence(cell):
    layer = tiny_model("mnist", cell).rnn.to(torch.float64)
    inputs = torch.rand(2, 6, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    jac = step_jacobians(layer, inputs, layer_states(layer, inputs)[:, :-1])
    whole = state_jacobians(layer, inputs, [6])[6]  # ∂s_T/∂s_0 of the perturbation stage
    for b in range(2):
        product = jac[b, 0]
        for t in range(1, 6):
            product = jac[b, t] @ product
        assert torch.allclose(product, whole[b], rtol=1e-10, atol=1e-12), b
        # every exponent lies between the extreme singular values' rates of the whole product (module docstring)
        spectrum = lyapunov_spectrum(jac[b].numpy())
        sigma = torch.linalg.svdvals(whole[b]).log().numpy() / 6
        assert sigma[-1] - 1e-12 <= spectrum[-1] and spectrum[0] <= sigma[0] + 1e-12


# ------------------------------------------------------------------------------------------------
# networks whose exponents are known


def test_an_rnn_without_inputs_and_a_tiny_recurrent_weight_has_very_negative_exponents():
    model = tiny_model("mnist", CELLS[0], hidden=4)
    with torch.no_grad():  # the state stays at 0, where tanh' = 1: every step Jacobian is W = 10⁻³ Q
        model.rnn.weight_hh.copy_(scaled_orthogonal(4, 1e-3))
        model.rnn.weight_ih.zero_()
    x = torch.rand(5, 28, 28, generator=torch.Generator().manual_seed(4))
    result = finite_time_lyapunov(model, x)["rnn"]
    # float32 weights: singular values 10⁻³ (1 ± 10⁻⁷), so every exponent is log 10⁻³ to ~10⁻⁷
    assert result["exponents"] == pytest.approx([math.log(1e-3)] * 4, abs=1e-5)
    assert result["lambda_max"] < -6.9 and result["n_positive"] == 0


@pytest.mark.parametrize("radius", [0.9, 1.05])
def test_a_nearly_linear_rnn_has_exponents_near_log_rho(radius):
    model = tiny_model("mnist", CELLS[0], hidden=6)
    with torch.no_grad():
        model.rnn.weight_hh.copy_(scaled_orthogonal(6, radius, seed=5))
    x = 1e-3 * torch.rand(8, 28, 28, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    result = finite_time_lyapunov(model, x)["rnn"]
    # J_t = diag(1 − h_t²) W: each |R_t[i, i]| lies in [(1 − max h_t²) σ_min(W), σ_max(W)] (module docstring)
    w = model.rnn.weight_hh.detach().double()
    sigma = torch.linalg.svdvals(w)
    squares = layer_states(model.rnn.double(), x)[:, 1:] ** 2
    lower = math.log(sigma[-1]) + torch.log1p(-squares.amax(dim=-1)).mean(dim=1).min().item()
    upper = math.log(sigma[0])
    assert lower <= min(result["exponents"]) and max(result["lambda_max_per_sequence"]) <= upper + 1e-12
    assert upper - lower < 1e-3  # small inputs keep |h| ~ 10⁻²: the bound itself is tight
    rho = torch.linalg.eigvals(w).abs().max().item()
    assert result["lambda_max"] == pytest.approx(math.log(rho), abs=1e-3)
    assert result["n_positive"] == (6 if radius > 1 else 0)


def test_an_lstm_with_shut_forget_gates_has_minus_infinite_cell_exponents():
    model = tiny_model("mnist", CELLS[1], hidden=3)
    with torch.no_grad():  # f = hard_sigmoid(−10 + …) = 0: c_{t−1} is neither kept nor read, the c columns are 0
        model.rnn.bias[3:6] = -10.0
    x = torch.rand(4, 28, 28, generator=torch.Generator().manual_seed(6))
    result = finite_time_lyapunov(model, x)["rnn"]
    assert result["exponents"][3:] == [-math.inf] * 3 and np.isfinite(result["exponents"][:3]).all()
    assert not any(math.isnan(v) for v in (result["lambda_max_q10"], result["lambda_max_q90"], result["n_positive"]))


def test_the_result_has_the_documented_keys_and_shapes():
    model = tiny_model("adding", CELLS[1], hidden=4)
    x = torch.randint(0, 12, (20, 7), generator=torch.Generator().manual_seed(7))
    result = finite_time_lyapunov(model, x, max_sequences=5)
    assert list(result) == list(LAYERS["adding"])
    for name, horizon in zip(LAYERS["adding"], (7, 4), strict=True):
        layer = result[name]
        assert set(layer) == KEYS and layer["state"] == "h,c"
        assert layer["horizon"] == horizon and layer["sequences"] == 5
        assert len(layer["exponents"]) == 8 and len(layer["lambda_max_per_sequence"]) == 5
        assert layer["exponents"] == sorted(layer["exponents"], reverse=True)
        assert layer["lambda_max_q10"] <= layer["lambda_max"] <= layer["lambda_max_q90"]
        assert 0 <= layer["n_positive"] <= 8
    decoder = LAYERS["adding"][1]
    assert finite_time_lyapunov(model, x, layer=decoder, max_sequences=5) == {decoder: result[decoder]}
    with pytest.raises(ValueError, match="no recurrent layer 'rnn'"):
        finite_time_lyapunov(model, x, layer="rnn")


def test_jacobians_made_a_step_at_a_time_give_the_same_exponents(monkeypatch):
    model = tiny_model("imdb", CELLS[2], hidden=5)
    x = torch.randint(0, 60, (6, 9), generator=torch.Generator().manual_seed(8))
    together = finite_time_lyapunov(model, x)["rnn"]
    monkeypatch.setattr(lyapunov, "STEP_ROWS", 1)  # one block per step
    one_by_one = finite_time_lyapunov(model, x)["rnn"]
    assert one_by_one["exponents"] == pytest.approx(together["exponents"], abs=1e-13)
    assert one_by_one["lambda_max_per_sequence"] == pytest.approx(together["lambda_max_per_sequence"], abs=1e-13)
