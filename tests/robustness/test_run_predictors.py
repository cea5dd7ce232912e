"""The predictors record of one run (rnnrobust.robustness.predictors): the 1-D Kreiss search against closed forms
and a dense scan, the horizon-aware threshold per block, and predict_run on tiny models against the modules it
calls, on the perturbation stage's evaluation subset."""

import math

import numpy as np
import pytest
import torch

from rnnrobust import spectra
from rnnrobust.config import TrainConfig
from rnnrobust.data.adding import generate_adding
from rnnrobust.io import read_json, write_json
from rnnrobust.layout import CELLS, GATES, LAYERS, TASKS, block_keys
from rnnrobust.robustness.horizon import horizon_threshold
from rnnrobust.robustness.linear_response import linear_response
from rnnrobust.robustness.lyapunov import finite_time_lyapunov
from rnnrobust.robustness.predictors import (
    FRAGILE_WHEN_LARGER,
    block_predictors,
    kreiss_search,
    predict_run,
    run_summary,
)
from rnnrobust.training.models import build_model, recurrent_layers
from rnnrobust.training.tasks import load_tensors

ADDING, IMDB, MNIST = TASKS
RNN, LSTM, GRU = CELLS


def orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def rotated(blocks, seed=0):
    """Q blockdiag(blocks) Qᵀ, Q orthogonal: the same pseudospectra, no longer triangular."""
    n = sum(len(b) for b in blocks)
    w, at = np.zeros((n, n)), 0
    for b in blocks:
        b = np.atleast_2d(b)
        w[at : at + len(b), at : at + len(b)] = b
        at += len(b)
    q = orthogonal(n, seed)
    return q @ w @ q.T


def jordan_radius(a, c, eps):
    """ρ_ε of [[a, c], [0, a]]: Λ_ε is the disc about a of radius √(ε(ε + c))."""
    return abs(a) + np.sqrt(eps * (eps + c))


def dense_supremum(radius_of_eps):
    """max over ε of (ρ_ε − 1)/ε on 2·10⁶ points, 10⁻⁶ … 10⁶, with the limit 1: a brute-force K."""
    eps = np.logspace(-6, 6, 2_000_001)
    return max(1.0, float(np.max((radius_of_eps(eps) - 1.0) / eps)))


# ------------------------------------------------------------------------------------------------
# the Kreiss constant by a 1-D search


@pytest.mark.parametrize("a, c", [(0.5, 1.5), (0.9, 0.5), (-0.7, 3.0), (0.2, 40.0)])
def test_a_jordan_block_has_the_brute_force_and_closed_form_kreiss_constant(a, c):
    w = np.array([[a, c], [0.0, a]])
    for eps in (1e-3, 0.3, 7.0):  # the closed form of ρ_ε, checked before it is relied on
        assert spectra.pseudospectral_radius(w, eps) == pytest.approx(jordan_radius(a, c, eps), rel=1e-11)
    b = 1.0 - abs(a)
    closed = c / (4 * b) + b / c  # the maximum of (ρ_ε − 1)/ε, at ε = 4b²c/(c² − 4b²), for c > 2b
    brute = dense_supremum(lambda eps: jordan_radius(a, c, eps))
    assert brute == pytest.approx(closed, rel=1e-9)
    assert kreiss_search(w) == pytest.approx(brute, rel=1e-6)
    assert kreiss_search(rotated([w, [[0.1]]], seed=3)) == pytest.approx(brute, rel=1e-6)


def test_the_larger_of_two_peaks_far_above_the_distance_to_instability_is_found():
    # blocks [[0.99, 0.05], [0, 0.99]] (d ≈ 0.0019, a first peak 0.05/0.04 + 0.01/0.05 = 1.45 near ε = 0.01) and
    # [[0, 10], [0, 0]] (the global peak 10/4 + 1/10 = 2.6 near ε = 0.42, 2.3 decades above d): a scan that stops
    # where the ratio first falls, or a few steps above d, returns the first
    w = rotated([[[0.99, 0.05], [0.0, 0.99]], [[0.0, 10.0], [0.0, 0.0]]], seed=1)
    assert spectra.distance_to_instability(w) == pytest.approx((np.sqrt(0.05**2 + 4e-4) - 0.05) / 2, rel=1e-9)
    brute = dense_supremum(lambda eps: np.maximum(jordan_radius(0.99, 0.05, eps), jordan_radius(0.0, 10.0, eps)))
    assert brute == pytest.approx(2.6, rel=1e-9)
    assert kreiss_search(w) == pytest.approx(brute, rel=1e-6)


def test_a_jordan_block_below_the_threshold_and_a_normal_block_have_kreiss_constant_one():
    # c ≤ 2(1 − a): (ρ_ε − 1)/ε rises to its limit 1 without passing it, though ‖W‖₂ > 1
    w = np.array([[0.3, 1.2], [0.0, 0.3]])
    assert np.linalg.norm(w, 2) > 1 and kreiss_search(w) == 1.0
    normal = orthogonal(5, 2) @ np.diag([0.9, -0.6, 0.3, 0.0, 0.1]) @ orthogonal(5, 2).T
    assert kreiss_search(normal) == 1.0 == spectra.kreiss_constant(normal)
    eps = np.array([1e-2, 1.0, 1e2])  # ρ_ε = ρ + ε: the ratio 1 − (1 − ρ)/ε stays below 1 and tends to it
    ratios = [(spectra.pseudospectral_radius(normal, e) - 1) / e for e in eps]
    assert ratios == pytest.approx(1 - 0.1 / eps, rel=1e-9)


@pytest.mark.parametrize("w", [np.diag([1.05, 0.2]), [[1.0, 0.5], [0.0, 0.3]], [[-1.2, 0.0], [3.0, 0.1]]])
def test_a_block_on_or_outside_the_circle_has_an_infinite_kreiss_constant(w):
    assert kreiss_search(w) == math.inf
    record = block_predictors(w, horizon=10)
    assert record["kreiss"] == math.inf and record["kreiss_search"] == math.inf and record["eps_pred"] is None


@pytest.mark.parametrize("seed", range(4))
def test_the_reported_kreiss_constant_is_the_larger_of_both_searches(seed):
    rng = np.random.default_rng(seed)
    w = np.triu(rng.standard_normal((6, 6)), 1) * 0.8 + np.diag(rng.uniform(-0.85, 0.85, 6))
    record = block_predictors(w, horizon=20)
    assert record["stability"] == "stable" and record["kreiss_search"] > 1
    assert record["kreiss"] >= spectra.kreiss_constant(w)
    assert record["kreiss"] == max(record["kreiss_search"], spectra.kreiss_constant(w))
    assert record["kreiss"] <= record["transient_peak"] * (1 + 1e-9)  # Kreiss matrix theorem: K ≤ max_k ‖W^k‖₂


# ------------------------------------------------------------------------------------------------
# the other block predictors


def test_eps_horizon_is_the_relative_horizon_threshold_and_tends_to_eps_pred():
    w = rotated([[[0.6, 1.5], [0.0, 0.6]], [[-0.5]], [[0.2, 0.4], [-0.4, 0.2]]], seed=5)
    norm, d = np.linalg.norm(w, 2), spectra.distance_to_instability(w)
    previous = math.inf
    for horizon in (1, 7, 80, 10**4, 10**9):
        record = block_predictors(w, horizon=horizon, growth=3.0)
        assert record["horizon"] == horizon and record["norm2"] == pytest.approx(norm, rel=1e-12)
        assert record["eps_horizon"] == pytest.approx(horizon_threshold(w, horizon, growth=3.0) / norm, rel=1e-9)
        assert record["eps_pred"] == pytest.approx(d / norm, rel=1e-12)
        assert record["eps_pred"] * (1 - 1e-9) <= record["eps_horizon"] < previous  # decreasing towards d/‖W‖₂
        previous = record["eps_horizon"]
    assert previous == pytest.approx(d / norm, rel=1e-5)


def test_the_other_block_numbers_are_the_spectra_values():
    w = np.array([[0.5, 2.0], [0.0, -0.25]])
    record = block_predictors(w, horizon=4, precision="float32")
    assert set(record) == {
        "norm2", "spectral_radius", "stability", "henrici_relative", "distance_to_instability", "eps_pred",
        "kreiss", "kreiss_search", "transient_peak", "horizon", "eps_horizon",
    }  # fmt: skip
    assert record["spectral_radius"] == pytest.approx(0.5, abs=1e-15)
    assert record["henrici_relative"] == pytest.approx(2.0 / np.linalg.norm(w), rel=1e-12)  # ‖N‖_F/‖W‖_F
    assert record["transient_peak"] == spectra.transient_growth(w).peak
    assert record["distance_to_instability"] == pytest.approx(spectra.distance_to_instability(w), rel=1e-12)


def test_a_block_that_grows_over_its_horizon_needs_no_perturbation():
    record = block_predictors(np.diag([1.2, 0.1]), horizon=5)  # 1.2⁵ ≈ 2.5 ≥ 2
    assert record["stability"] == "unstable" and record["eps_horizon"] == 0.0 and record["eps_pred"] is None


# ------------------------------------------------------------------------------------------------
# one run


def tiny_train(task, cell, hidden=4):
    extra = {"vocab_size": 60, "embed_dim": 4} if task == IMDB else {}
    return TrainConfig(
        task=task, model=cell, seed=3, regime="baseline", epochs=1, batch_size=16, optimizer="adam",
        lr=0.01, hidden_size=hidden, device="cpu", **extra,
    )  # fmt: skip


def tiny_arrays(task, n_test=40):
    rng = np.random.default_rng(0)
    if task == ADDING:
        return generate_adding(n_samples=200, digits=3, val_fraction=0.2, seed=1)
    n = n_test + 30
    if task == IMDB:
        x, y = rng.integers(0, 60, (n, 9)), rng.integers(0, 2, n)
    else:
        x, y = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n)
    return {"x_train": x[:30], "y_train": y[:30], "x_test": x[30:], "y_test": y[30:]}


def tiny_model(train, radius):
    """A model whose recurrent blocks are Gaussian, each of spectral radius about ``radius`` (‖W‖₂ about twice)."""
    torch.manual_seed(1)
    model = build_model(train.task, train.model, **train.model_options()).eval()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for layer in recurrent_layers(model).values():
            rows, hidden = layer.weight_hh.shape
            layer.weight_hh.copy_(torch.randn(rows, hidden, generator=g) * radius / hidden**0.5)
    return model


SETTINGS = {"n_linear": 6, "lyapunov_sequences": 3, "growth": 2.5, "n_eval": 10, "seed": 4}
CASES = {(ADDING, GRU): 0.8, (IMDB, RNN): 3.0, (MNIST, LSTM): 0.8}


def log10(value):
    return -math.inf if value == 0 else math.log10(value)


@pytest.fixture(scope="module", params=list(CASES), ids=lambda case: "-".join(case))
def run(request):
    task, cell = request.param
    train = tiny_train(task, cell)
    model = tiny_model(train, CASES[request.param])
    metrics = {"hyperparameters": train.to_params()}
    timings, lines = {}, []
    record = predict_run(
        model.state_dict(), metrics, tiny_arrays(task), **SETTINGS, code_digest="abc", log=lines.append,
        timings=timings,
    )  # fmt: skip
    # the perturbation stage's subset, drawn here independently: n_eval test examples by default_rng([seed, 0])
    arrays = tiny_arrays(task)
    index = np.sort(np.random.default_rng([SETTINGS["seed"], 0]).choice(len(arrays["y_test"]), 10, replace=False))
    x = load_tensors(task, {"x_test": arrays["x_test"][index]})["x_test"]
    return record, model, x, timings, lines


def test_the_record_has_every_documented_key(run, tmp_path):
    record, _, _, timings, lines = run
    task, cell = record["task"], record["model"]
    assert set(record) == {
        "task", "model", "regime", "seed", "precision", "code_digest", "n_linear", "lyapunov_sequences", "growth",
        "n_test", "n_eval", "eval_seed", "blocks", "lyapunov", "linear_response", "summary",
    }  # fmt: skip
    assert (record["regime"], record["seed"], record["precision"], record["code_digest"]) == (
        "baseline", 3, "float32", "abc",
    )  # fmt: skip
    assert (record["n_test"], record["n_eval"], record["eval_seed"], record["n_linear"]) == (40, 10, 4, 6)
    assert list(record["blocks"]) == list(block_keys(task, cell))
    assert set(record["linear_response"]) == {
        "eps_flip5_linear", "n_examples", "n_predictions", "n_ties", "log_eps_q01", "log_eps_q05", "log_eps_q50",
    }  # fmt: skip
    assert set(record["summary"]) == set(FRAGILE_WHEN_LARGER)
    assert set(timings) == {"linear algebra", "lyapunov", "linear response"} and len(lines) == 1
    write_json(tmp_path / "seed3.json", record)
    assert read_json(tmp_path / "seed3.json") == record  # ±∞ and None survive the round trip


def test_each_block_reads_its_layers_horizon_and_lives_up_to_its_definitions(run):
    record, model, *_ = run
    task, cell = record["task"], record["model"]
    steps = {ADDING: dict(zip(LAYERS[ADDING], (7, 4), strict=True)), IMDB: {"rnn": 9}, MNIST: {"rnn": 28}}[task]
    weights = {name: layer.weight_hh.detach().double().numpy() for name, layer in recurrent_layers(model).items()}
    for key, block in record["blocks"].items():
        layer, gate = key.split("/")
        h = weights[layer].shape[1]
        w = weights[layer][GATES[cell].index(gate) * h :][:h]
        assert block["horizon"] == steps[layer]
        assert block["norm2"] == pytest.approx(np.linalg.norm(w, 2), rel=1e-12)
        assert block["eps_horizon"] == pytest.approx(
            horizon_threshold(w, steps[layer], growth=SETTINGS["growth"]) / block["norm2"], rel=1e-9
        )
        assert (block["eps_pred"] is None) == (block["stability"] != "stable")
        assert block["kreiss"] >= max(block["kreiss_search"], 1.0)
        assert (block["kreiss"] == math.inf) == (block["spectral_radius"] >= 1)


def test_the_summary_is_the_extreme_of_its_blocks(run):
    record = run[0]
    blocks, summary = list(record["blocks"].values()), record["summary"]
    assert summary["log_norm"] == max(log10(b["norm2"]) for b in blocks)
    assert summary["henrici_relative"] == max(b["henrici_relative"] for b in blocks)
    assert summary["log_kreiss"] == max(log10(b["kreiss"]) for b in blocks)
    assert summary["log_transient_peak"] == max(log10(b["transient_peak"]) for b in blocks)
    assert summary["log_eps_horizon"] == min(log10(b["eps_horizon"]) for b in blocks)
    stable = [log10(b["eps_pred"]) for b in blocks if b["stability"] == "stable"]
    assert summary["log_eps_pred"] == (min(stable) if stable else None)
    assert summary["log_eps_flip5_linear"] == log10(record["linear_response"]["eps_flip5_linear"])
    assert summary["log_eps_flip5_linear"] == record["linear_response"]["log_eps_q05"]
    assert record["linear_response"]["log_eps_q01"] <= summary["log_eps_flip5_linear"]
    assert summary["log_eps_flip5_linear"] <= record["linear_response"]["log_eps_q50"]
    layers = record["lyapunov"]["layers"]
    top = max(layers, key=lambda name: layers[name]["lambda_max"])
    assert summary["lambda_max"] == layers[top]["lambda_max"] == max(v["lambda_max"] for v in layers.values())
    assert summary["n_positive"] == layers[top]["n_positive"] and record["lyapunov"]["layer"] == top
    if record["task"] == IMDB:  # ρ ≈ 3: unstable, grows already, no prediction
        assert summary["log_kreiss"] == math.inf and summary["log_eps_horizon"] == -math.inf
        assert summary["log_eps_pred"] is None


def test_the_dynamics_are_those_of_the_perturbation_stages_examples(run):
    record, model, x, *_ = run
    expected = linear_response(model, x[: SETTINGS["n_linear"]])
    linear = record["linear_response"]
    assert linear["eps_flip5_linear"] == pytest.approx(expected["eps_flip5_linear"], rel=1e-12)
    assert (linear["n_examples"], linear["n_ties"]) == (6, expected["n_ties"])
    assert linear["n_predictions"] == 6 * (4 if record["task"] == ADDING else 1)
    exponents = finite_time_lyapunov(model, x, max_sequences=SETTINGS["lyapunov_sequences"])
    assert set(record["lyapunov"]["layers"]) == set(LAYERS[record["task"]]) == set(exponents)
    for name, layer in record["lyapunov"]["layers"].items():
        assert set(layer) == {"lambda_max", "lambda_max_q10", "lambda_max_q90", "n_positive", "horizon", "sequences"}
        assert layer["sequences"] == 3
        assert layer["lambda_max"] == pytest.approx(exponents[name]["lambda_max"], rel=1e-12)
        assert layer["lambda_max_q10"] <= layer["lambda_max"] <= layer["lambda_max_q90"]


def test_the_summary_of_a_run_without_a_stable_block_has_no_eps_pred():
    block = {"norm2": 2.0, "henrici_relative": 0.5, "kreiss": math.inf, "transient_peak": 1e9, "eps_pred": None,
             "eps_horizon": 0.0}  # fmt: skip
    summary = run_summary({"a/h": block}, {"lambda_max": 0.1, "n_positive": 2.0}, {"eps_flip5_linear": 1e-3})
    assert summary["log_eps_pred"] is None and summary["log_kreiss"] == math.inf
    assert summary["log_eps_horizon"] == -math.inf and summary["log_eps_flip5_linear"] == pytest.approx(-3)


@pytest.mark.parametrize("settings", [{"n_linear": 0}, {"lyapunov_sequences": 1.5}, {"n_linear": True}])
def test_bad_counts_are_refused_with_their_name(settings):
    train = tiny_train(IMDB, RNN)
    with pytest.raises(ValueError, match=next(iter(settings))):
        predict_run(tiny_model(train, 0.5).state_dict(), {"hyperparameters": train.to_params()},
                    tiny_arrays(IMDB), **settings)  # fmt: skip
