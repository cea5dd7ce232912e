"""The two predictors of fragility: the horizon-aware threshold ε_T (rnnrobust.robustness.horizon) and the
first-order linear-response predictor ε_lin (rnnrobust.robustness.linear_response)."""

import copy
import math

import numpy as np
import pytest
import torch

from rnnrobust import spectra
from rnnrobust.layout import CELLS, TASKS, split_gates
from rnnrobust.robustness.horizon import horizon_threshold
from rnnrobust.robustness.linear_response import (
    flip_threshold,
    linear_response,
    margin_gradients,
    nuclear_norms,
    predicted_flip_quantile,
    prediction_margins,
)
from rnnrobust.training.models import build_model, recurrent_layers


def normal_matrix(eigenvalues, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues),) * 2))
    return q @ np.diag(eigenvalues) @ q.T


def non_normal_matrix(n, seed):
    """A stable, markedly non-normal matrix: a scaled random triangle."""
    rng = np.random.default_rng(seed)
    w = np.triu(rng.standard_normal((n, n)), 1) * 0.6 + np.diag(rng.uniform(-0.6, 0.6, n))
    assert spectra.spectral_radius(w) < 1 and spectra.henrici(w, relative=True) > 0.5
    return w


# ------------------------------------------------------------------------------------------------
# the horizon-aware threshold


@pytest.mark.parametrize("horizon", [1, 2.5, 10, 100])
def test_a_normal_block_needs_the_closed_form(horizon):
    # ρ_ε = ρ + ε for a normal matrix, so ε_T = 2^{1/T} − ρ
    w = normal_matrix([0.8, -0.5, 0.3, 0.1])
    assert horizon_threshold(w, horizon) == pytest.approx(2 ** (1 / horizon) - 0.8, rel=1e-6)
    assert horizon_threshold(w, horizon, growth=3.0) == pytest.approx(3 ** (1 / horizon) - 0.8, rel=1e-6)


@pytest.mark.parametrize("horizon", [1, 3, 30, 1e4])
def test_a_jordan_block_needs_the_closed_form(horizon):
    # Λ_ε([[a, c], [0, a]]) is the disc about a of radius √(ε(ε + c)): ρ_ε = r solves ε² + cε − (r − a)² = 0
    a, c = 0.5, 1.0
    s = 2 ** (1 / horizon) - a
    expected = (math.sqrt(c * c + 4 * s * s) - c) / 2
    assert horizon_threshold([[a, c], [0.0, a]], horizon) == pytest.approx(expected, rel=1e-6)
    assert expected < s  # below the normal matrix's value 2^{1/T} − a


def test_the_threshold_lies_between_d_and_d_plus_the_growth_and_tends_to_d():
    w = non_normal_matrix(8, seed=3)
    p = spectra.prepare(w)
    d, rho = spectra.distance_to_instability(p), spectra.spectral_radius(p)
    horizons = [1, 4, 16, 64, 256, 1e6]
    values = [horizon_threshold(p, t) for t in horizons]
    for t, eps in zip(horizons, values, strict=True):
        # ρ_ε < 1 below d, and ρ_{d+δ} ≥ 1 + δ; the normal value 2^{1/T} − ρ bounds it from above
        assert d * (1 - 1e-6) <= eps <= (d + 2 ** (1 / t) - 1) * (1 + 1e-6)
        assert eps <= (2 ** (1 / t) - rho) * (1 + 1e-6)
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(d, rel=1e-5)
    assert values[0] < 2 - rho - 0.1  # non-normality lowers it well below the normal value


def test_the_threshold_is_the_first_crossing_of_a_dense_scan():
    w = non_normal_matrix(6, seed=1)
    p = spectra.prepare(w)
    horizon = 12
    grid = np.logspace(-3, 0, 121)
    grows = np.array([spectra.pseudospectral_radius(p, e) ** horizon >= 2 for e in grid])
    first = int(np.argmax(grows))
    assert 0 < first and grows[first:].all()  # one crossing, inside the scan
    eps = horizon_threshold(p, horizon)
    assert grid[first - 1] < eps <= grid[first]
    assert spectra.pseudospectral_radius(p, eps * (1 + 1e-5)) ** horizon >= 2
    assert spectra.pseudospectral_radius(p, eps * (1 - 1e-5)) ** horizon < 2


def test_a_block_that_already_grows_needs_no_perturbation():
    w = normal_matrix([1.1, 0.2, -0.3])
    assert horizon_threshold(w, 8) == 0.0  # 1.1⁸ = 2.14 ≥ 2
    assert horizon_threshold(w, 7) == pytest.approx(2 ** (1 / 7) - 1.1, rel=1e-6)  # 1.1⁷ = 1.95
    assert horizon_threshold(normal_matrix([0.99, 0.1]), 1, growth=1.5) == pytest.approx(0.51, rel=1e-6)
    assert horizon_threshold(np.zeros((3, 3)), 1) == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.eye(2), 0), {}, "horizon must be finite and > 0"),
        ((np.eye(2), -3), {}, "horizon must be finite and > 0"),
        ((np.eye(2), math.inf), {}, "horizon must be finite and > 0"),
        ((np.eye(2), math.nan), {}, "horizon must be finite and > 0"),
        ((np.eye(2), True), {}, "horizon must be a real number"),
        ((np.eye(2), "10"), {}, "horizon must be a real number"),
        ((np.eye(2), 10), {"growth": 1.0}, "growth must be finite and > 1"),
        ((np.eye(2), 10), {"rtol": 0.0}, "rtol must be finite and > 0"),
        ((np.eye(2), 10), {"rtol": 0.5}, "rtol must be at most 0.1"),
        ((np.ones((2, 3)), 10), {}, "square"),
        (([[np.nan, 0.0], [0.0, 1.0]], 10), {}, "NaN or inf"),
    ],
)
def test_bad_arguments_raise_value_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        horizon_threshold(*args, **kwargs)


# ------------------------------------------------------------------------------------------------
# linear response: closed forms on a model linear in its weights (logits z = Σ_b W_b h_b)


def linear_logits(weights, inputs):
    return sum(w @ h for w, h in zip(weights, inputs, strict=True))


def linear_gradients(weights, inputs):
    """Margin, predicted class, runner-up and ∂m/∂W_b by autograd, as linear_response takes them."""
    ws = [torch.tensor(w, requires_grad=True) for w in weights]
    z = linear_logits(ws, [torch.tensor(h) for h in inputs])
    m, c, k = prediction_margins(z.reshape(1, -1))
    grads = torch.autograd.grad(m[0], ws)
    return float(m[0].detach()), int(c[0]), int(k[0]), [g.numpy() for g in grads]


def worst_direction(g):
    """The unit-spectral-norm direction of steepest first-order descent: −U Vᵀ for G = U Σ Vᵀ."""
    u, s, vt = np.linalg.svd(g)
    rank = int((s > 1e-12 * s[0]).sum())
    return -u[:, :rank] @ vt[:rank]


def test_two_classes_flip_exactly_at_the_predicted_size():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((2, 5)), rng.standard_normal((2, 3))]
    inputs = [rng.standard_normal(5), rng.standard_normal(3)]
    m, c, k, grads = linear_gradients(weights, inputs)
    for g, h in zip(grads, inputs, strict=True):
        np.testing.assert_allclose(g, np.outer(np.eye(2)[c] - np.eye(2)[k], h), atol=1e-15)
    norms = [np.linalg.norm(w, 2) for w in weights]
    eps = flip_threshold(m, grads, norms)
    assert eps == pytest.approx(
        m / sum(n * math.sqrt(2) * np.linalg.norm(h) for n, h in zip(norms, inputs, strict=True))
    )
    directions = [worst_direction(g) for g in grads]
    for scale, flips in ((1 - 1e-9, False), (1 + 1e-9, True)):
        perturbed = [w + scale * eps * n * d for w, n, d in zip(weights, norms, directions, strict=True)]
        assert all(
            np.linalg.norm(p - w, 2) <= scale * eps * n * (1 + 1e-12)
            for p, w, n in zip(perturbed, weights, norms, strict=True)
        )
        assert (int(np.argmax(linear_logits(perturbed, inputs))) != c) is flips
    # brute force: no perturbation of the allowed size flips it first (here the first order is exact)
    for _ in range(300):
        randoms = [rng.standard_normal(w.shape) for w in weights]
        perturbed = [
            w + 0.999 * eps * n * r / np.linalg.norm(r, 2) for w, n, r in zip(weights, norms, randoms, strict=True)
        ]
        assert int(np.argmax(linear_logits(perturbed, inputs))) == c


def test_several_classes_use_the_runner_up_which_is_the_least_ratio():
    rng = np.random.default_rng(1)
    w, h = rng.standard_normal((6, 4)), rng.standard_normal(4)
    z = w @ h
    m, c, k, (g,) = linear_gradients([w], [h])
    assert (c, k) == tuple(int(i) for i in np.argsort(-z)[:2])
    # the pair (c, j) flips at m_j / (‖W‖₂ √2 ‖h‖): the same denominator for every j, so the runner-up is least
    pair_thresholds = [
        (z[c] - z[j]) / (np.linalg.norm(w, 2) * math.sqrt(2) * np.linalg.norm(h)) for j in range(6) if j != c
    ]
    eps = flip_threshold(m, [g], [np.linalg.norm(w, 2)])
    assert eps == pytest.approx(min(pair_thresholds), rel=1e-12)
    d = worst_direction(g)
    for scale, flips in ((1 - 1e-9, False), (1 + 1e-9, True)):
        perturbed = w + scale * eps * np.linalg.norm(w, 2) * d
        assert (int(np.argmax(perturbed @ h)) != c) is flips


def test_binary_output_uses_the_absolute_logit():
    m, c, k = prediction_margins(torch.tensor([[-0.25], [2.0], [0.0]]))
    assert m.tolist() == [0.25, 2.0, 0.0] and c.tolist() == [0, 1, 0] and k.tolist() == [1, 0, 1]
    w, h = np.array([[-1.0, 2.0]]), np.array([0.5, 0.125])  # one logit s = −0.25: flips when s crosses 0
    margin, _, _, (g,) = linear_gradients([w], [h])
    eps = flip_threshold(margin, [g], [np.linalg.norm(w, 2)])
    assert eps == pytest.approx(0.25 / (np.linalg.norm(w, 2) * np.linalg.norm(h)), rel=1e-12)
    assert (w + 1.000001 * eps * np.linalg.norm(w, 2) * worst_direction(g)) @ h > 0


def test_thresholds_and_quantiles_handle_ties_zero_gradients_and_bad_input():
    assert flip_threshold(0.0, [np.ones((2, 2))], [1.0]) == 0.0
    assert flip_threshold(1.0, [np.zeros((2, 2))], [1.0]) == math.inf
    assert predicted_flip_quantile([4.0, 1.0, 3.0, 2.0], q=0.25) == 1.0
    assert predicted_flip_quantile([4.0, 1.0, 3.0, 2.0], q=0.26) == 2.0
    assert predicted_flip_quantile(np.arange(1.0, 41.0)) == 2.0  # ⌈0.05·40⌉ = 2
    assert predicted_flip_quantile([1.0, math.inf, math.inf]) == 1.0
    for bad in ([], [1.0, math.nan], [-1.0]):
        with pytest.raises(ValueError, match="thresholds"):
            predicted_flip_quantile(bad)
    with pytest.raises(ValueError, match="q must"):
        predicted_flip_quantile([1.0], q=0.0)
    with pytest.raises(ValueError, match="margin"):
        flip_threshold(-1.0, [np.ones((2, 2))], [1.0])
    with pytest.raises(ValueError, match="one norm per gradient"):
        flip_threshold(1.0, [np.ones((2, 2))], [1.0, 2.0])


# ------------------------------------------------------------------------------------------------
# linear response of the project's models


def tiny_model(task, cell, hidden=5, seed=0):
    torch.manual_seed(seed)
    extra = {"vocab_size": 60, "embed_dim": 4} if task == TASKS[1] else {}
    model = build_model(task, cell, hidden_size=hidden, **extra).eval()
    with torch.no_grad():  # larger recurrent weights than the orthogonal start: the recurrence matters
        for layer in recurrent_layers(model).values():
            layer.weight_hh.mul_(1.5)
    return model


def tiny_inputs(task, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    if task == TASKS[0]:
        return torch.randint(0, 12, (n, 7), generator=g)
    if task == TASKS[1]:
        return torch.randint(1, 60, (n, 10), generator=g)
    return torch.rand((n, 28, 28), generator=g, dtype=torch.float32)


def perturbed_margin(net, example, deltas, c, k):
    """z_c − z_k of every prediction of ``example`` with W_b + ΔW_b (``deltas``: {key: ΔW_b})."""
    net = copy.deepcopy(net)
    with torch.no_grad():
        for name, layer in recurrent_layers(net).items():
            for gate, block in split_gates(layer.weight_hh, layer.cell).items():
                block += torch.as_tensor(deltas.get(f"{name}/{gate}", 0.0))
        out = net(example)
    z = out.reshape(-1, 1) if out.dim() == 1 else out.reshape(-1, out.shape[-1])
    if z.shape[1] == 1:
        z = torch.cat([torch.zeros_like(z), z], dim=1)
    rows = torch.arange(z.shape[0])
    return (z[rows, c] - z[rows, k]).numpy()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", TASKS)
def test_gradients_match_finite_differences_and_the_worst_direction_lowers_the_margin(task, cell):
    model = tiny_model(task, cell)
    result = linear_response(model, tiny_inputs(task, 3))
    net = copy.deepcopy(model).to(torch.float64)
    keys = result["blocks"]
    example = tiny_inputs(task, 3)[2:3]
    example = example.to(torch.float64) if example.is_floating_point() else example
    for layer in recurrent_layers(net).values():
        layer.weight_hh.requires_grad_(True)
    margins, grads = margin_gradients(net, example, keys)
    logits = net(example).detach()
    _, c, k = prediction_margins(logits.reshape(-1, 1) if logits.dim() == 1 else logits.reshape(-1, logits.shape[-1]))
    np.testing.assert_allclose(margins, result["margin"][2], rtol=1e-12)
    rng, h = np.random.default_rng(0), 1e-6
    for p in range(len(margins)):
        # a directional derivative along a random direction covers every entry of every block at once
        direction = {key: rng.standard_normal(grads.shape[-2:]) for key in keys}
        up = perturbed_margin(net, example, {key: h * d for key, d in direction.items()}, c, k)[p]
        down = perturbed_margin(net, example, {key: -h * d for key, d in direction.items()}, c, k)[p]
        expected = sum(float((grads[p, b] * direction[key]).sum()) for b, key in enumerate(keys))
        assert (up - down) / (2 * h) == pytest.approx(expected, rel=1e-5, abs=1e-9)
        # the worst first-order direction at a small ε lowers m by ε · Σ_b ‖W_b‖₂‖G_b‖_*
        eps, norms = 1e-6, result["block_norms"]
        worst = {key: eps * norms[key] * worst_direction(grads[p, b]) for b, key in enumerate(keys)}
        drop = margins[p] - perturbed_margin(net, example, worst, c, k)[p]
        assert drop == pytest.approx(eps * result["slope"][2, p], rel=1e-3)


def test_the_low_rank_nuclear_norm_equals_the_dense_one():
    rng = np.random.default_rng(0)
    q1, q2 = (np.linalg.qr(rng.standard_normal((48, 48)))[0] for _ in range(2))
    low = q1[:, :3] @ np.diag([2.0, 1e-3, 1e-8]) @ q2[:, :3].T  # rank 3, singular values over 8 decades
    g = torch.from_numpy(np.stack([[low, rng.standard_normal((48, 48))], [2 * low, np.eye(48)]]))
    dense = torch.linalg.svdvals(g).sum(-1)
    torch.testing.assert_close(nuclear_norms(g, [3, 48]), dense, rtol=1e-12, atol=0)
    torch.testing.assert_close(nuclear_norms(g, [48, 48]), dense, rtol=1e-13, atol=0)


def test_a_wide_model_uses_the_low_rank_nuclear_norm_with_the_same_result():
    task = TASKS[0]  # 7 encoder and 4 decoder steps, far below H = 24: both layers take the low-rank path
    model, x = tiny_model(task, CELLS[2], hidden=24), tiny_inputs(task, 2)
    result = linear_response(model, x)
    net = copy.deepcopy(model).to(torch.float64)
    for layer in recurrent_layers(net).values():
        layer.weight_hh.requires_grad_(True)
    norms = np.array([result["block_norms"][key] for key in result["blocks"]])
    for i in range(2):
        _, grads = margin_gradients(net, x[i : i + 1], result["blocks"])
        dense = np.linalg.svd(grads, compute_uv=False).sum(-1) @ norms
        np.testing.assert_allclose(result["slope"][i], dense, rtol=1e-10)


def test_the_result_is_consistent_and_leaves_the_model_alone():
    task = TASKS[0]
    model = tiny_model(task, CELLS[2])
    before = {key: v.clone() for key, v in model.state_dict().items()}
    x = tiny_inputs(task, 8)
    result = linear_response(model, x)
    assert all(torch.equal(before[key], v) for key, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32
    assert all(p.requires_grad for p in model.parameters())
    assert result["eps"].shape == result["margin"].shape == (8, 4)
    assert result["n_examples"] == 8 and result["n_predictions"] == result["n_backward"] == 32
    np.testing.assert_allclose(result["eps"], result["margin"] / result["slope"])
    np.testing.assert_array_equal(result["eps_example"], result["eps"].min(axis=1))
    assert result["eps_flip5_linear"] == np.sort(result["eps"].ravel())[1]  # ⌈0.05·32⌉ = 2
    layers = list(recurrent_layers(model))
    assert result["blocks"] == [f"{n}/{g}" for n in layers for g in recurrent_layers(model)[n].gates]
    # fewer perturbed blocks: a smaller first-order effect, a larger predicted threshold
    first = result["blocks"][:1]
    alone = linear_response(model, x, blocks=first)
    assert alone["blocks"] == first and (alone["eps"] >= result["eps"] * (1 - 1e-12)).all()
    for bad in (["nope/h"], [], first * 2):
        with pytest.raises(ValueError, match="blocks must be distinct keys"):
            linear_response(model, x, blocks=bad)


def test_a_binary_model_has_one_prediction_per_example_with_the_absolute_logit_as_margin():
    task = TASKS[1]
    model = tiny_model(task, CELLS[1])
    x = tiny_inputs(task, 5)
    result = linear_response(model, x)
    logits = copy.deepcopy(model).to(torch.float64)(x).detach().numpy()
    assert result["eps"].shape == (5, 1)
    np.testing.assert_allclose(result["margin"][:, 0], np.abs(logits), rtol=1e-12)
    with pytest.raises(ValueError, match="at least one example"):
        linear_response(model, x[:0])
