"""The perturbation stage: directions, batched evaluation of perturbed copies (flip rate, KL), state Jacobians,
bisection of the thresholds, config checks and the JSON record (rnnrobust.robustness.perturbation.run)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnrobust import spectra
from rnnrobust.config import ConfigError, TrainConfig
from rnnrobust.config.checks import check_config, load_schema
from rnnrobust.config.files import deep_merge, load_config, load_yaml
from rnnrobust.data.adding import generate_adding
from rnnrobust.io import read_json, write_json
from rnnrobust.layout import CELLS, FAMILIES, GATES, TASKS, block_keys, stability
from rnnrobust.robustness.perturbation.bisection import bisect_crossings, first_crossing
from rnnrobust.robustness.perturbation.copies import evaluate_copies, output_change
from rnnrobust.robustness.perturbation.directions import (
    gaussian_directions,
    instability_direction,
    perturbed_blocks,
    rank_matched_directions,
)
from rnnrobust.robustness.perturbation.run import block_robustness, perturb_run
from rnnrobust.robustness.perturbation.settings import PerturbationConfig
from rnnrobust.robustness.perturbation.state import state_amplification, state_gate, state_jacobians
from rnnrobust.training import evaluation
from rnnrobust.training.models import build_model, recurrent_layers
from rnnrobust.training.tasks import load_tensors

ROOT = Path(__file__).resolve().parents[2]


def rotation(radius, angle):
    c, s = math.cos(angle), math.sin(angle)
    return radius * np.array([[c, -s], [s, c]])


def distance_to_circle(eigenvalues, z):
    return float(np.min(np.abs(np.asarray(eigenvalues) - z)))


# ------------------------------------------------------------------------------------------------
# directions on matrices with a known distance to instability


def test_real_minimiser_gives_a_rank_one_perturbation_of_norm_d():
    w = np.diag([0.8, -0.2, 0.1])
    wc = instability_direction(w)
    assert wc.distance == pytest.approx(0.2, abs=1e-12) and wc.z == 1 and wc.rank == 1
    assert wc.norm == pytest.approx(0.2, abs=1e-12)
    assert np.linalg.norm(wc.direction, 2) == pytest.approx(1.0, abs=1e-12)
    assert np.abs(np.linalg.eigvals(w + wc.norm * wc.direction)).max() == pytest.approx(1.0, abs=1e-8)
    # a Gaussian direction of the same norm stays inside: only the instability direction reaches the circle
    for sample in range(5):
        g = gaussian_directions({"b": w}, seed=0, sample=sample)["b"]
        assert np.abs(np.linalg.eigvals(w + wc.norm * g)).max() < 1 - 1e-3


def test_complex_minimiser_gives_a_real_rank_two_perturbation():
    # normal: eigenvalues 0.7 e^{±i}, 0.3; the nearest point of the circle is e^{i}, at d = 0.3
    w = np.zeros((3, 3))
    w[:2, :2], w[2, 2] = rotation(0.7, 1.0), 0.3
    wc = instability_direction(w)
    assert wc.distance == pytest.approx(0.3, abs=1e-10) and wc.rank == 2
    assert abs(wc.z - np.exp(1j)) < 1e-6 or abs(wc.z - np.exp(-1j)) < 1e-6
    assert wc.norm == pytest.approx(0.3, abs=1e-10)  # a normal block needs no more than d
    perturbed = w + wc.norm * wc.direction
    assert np.isrealobj(perturbed) and distance_to_circle(np.linalg.eigvals(perturbed), wc.z) < 1e-8
    g = gaussian_directions({"b": w}, seed=1, sample=0)["b"]
    assert np.abs(np.linalg.eigvals(w + wc.norm * g)).max() < 1 - 1e-3


def test_non_normal_complex_minimiser_reaches_the_circle_with_a_norm_of_at_least_d():
    w = np.zeros((4, 4))
    w[:2, :2] = w[2:, 2:] = rotation(0.6, 0.8)
    w[:2, 2:] = 0.5 * np.eye(2)
    wc = instability_direction(w)
    assert wc.rank == 2 and abs(wc.z.imag) > 0.1
    assert wc.distance == pytest.approx(spectra.distance_to_instability(w), rel=1e-9)
    assert wc.norm >= wc.distance * (1 - 1e-12)
    eigs = np.linalg.eigvals(w + wc.norm * wc.direction)
    assert distance_to_circle(eigs, wc.z) < 1e-8
    assert np.abs(eigs).max() == pytest.approx(1.0, abs=1e-8)


def test_eps_pred_of_a_jordan_block_matches_the_closed_form():
    # [[a, c], [0, a]]: on |z| = 1 sigma_min is least at z = 1, (sqrt(c² + 4δ²) − c)/2 with δ = 1 − a;
    # ‖W‖₂ = (sqrt(c² + 4a²) + c)/2
    a, c = 0.5, 1.0
    record, wc, powers = block_robustness(np.array([[a, c], [0.0, a]]), lags=[1, 3])
    d = (math.sqrt(c * c + 4 * (1 - a) ** 2) - c) / 2
    assert record["distance_to_instability"] == pytest.approx(d, rel=1e-10)
    assert record["eps_pred"] == pytest.approx((math.sqrt(2) - 1) ** 2, rel=1e-10)
    assert record["z_star"] == [1.0, 0.0] and record["instability_rank"] == 1
    assert record["eps_instability"] == pytest.approx(record["eps_pred"], rel=1e-12)
    w = np.array([[a, c], [0.0, a]])
    assert powers[3] == pytest.approx(np.linalg.norm(np.linalg.matrix_power(w, 3), 2), rel=1e-12)
    # the sweep's instability copy at ε = eps_instability has ρ = 1 exactly
    at = perturbed_blocks({"b": w}, {"b": wc.direction}, record["eps_instability"])["b"]
    assert np.abs(np.linalg.eigvals(at)).max() == pytest.approx(1.0, abs=1e-8)


def test_the_rank_matched_control_has_the_instability_directions_rank_and_norm():
    w = np.zeros((4, 4))
    w[:2, :2] = w[2:, 2:] = rotation(0.6, 0.8)
    w[:2, 2:] = 0.5 * np.eye(2)
    blocks = {"a/h": w, "b/h": np.diag([0.8, -0.2, 0.1, 0.3])}
    directions = {key: instability_direction(b) for key, b in blocks.items()}
    ranks = {key: d.rank for key, d in directions.items()}
    assert ranks == {"a/h": 2, "b/h": 1}
    for sample in range(3):
        control = rank_matched_directions(blocks, ranks, seed=0, sample=sample)
        for key in blocks:
            assert np.linalg.matrix_rank(control[key]) == ranks[key]
            assert np.linalg.norm(control[key], 2) == pytest.approx(np.linalg.norm(directions[key].direction, 2))
    assert not np.array_equal(rank_matched_directions(blocks, ranks, 0, 0)["a/h"],
                              rank_matched_directions(blocks, ranks, 0, 1)["a/h"])  # fmt: skip
    assert not np.any(rank_matched_directions(blocks, {"a/h": 0, "b/h": 1}, 0, 0)["a/h"])  # rank 0: no direction


def test_a_radius_within_the_weights_resolution_of_the_circle_is_on_the_circle():
    for radius in (1 + 1e-7, 1 - 1e-7, 1 - 7e-8):
        assert stability(radius, "float32") == "on_circle"
        assert stability(radius, "float64") == ("unstable" if radius > 1 else "stable")
    assert stability(1 + 1e-5, "float32") == "unstable" and stability(1 - 1e-5, "float32") == "stable"
    # a float32 block rescaled onto the circle (Algorithm 1's exact rescale) gets no prediction
    w = np.diag([1.0, 0.5]) @ np.array([[1.0, 0.3], [0.0, 1.0]])
    w32 = (w / np.abs(np.linalg.eigvals(w)).max()).astype(np.float32).astype(np.float64)
    w32[0, 0] = np.float32(1 + 1e-7)  # ρ = 1 + 1e-7 in float32
    record, direction, _ = block_robustness(w32, precision="float32")
    assert record["stability"] == "on_circle" and direction is None and "eps_pred" not in record
    record64, direction64, _ = block_robustness(w32, precision="float64")
    assert record64["stability"] == "unstable" and direction64 is None


def test_random_directions_are_seeded_per_sample():
    blocks = {"a/h": np.eye(4), "b/h": np.eye(4)}
    first, again = gaussian_directions(blocks, 3, 0), gaussian_directions(blocks, 3, 0)
    other = gaussian_directions(blocks, 3, 1)
    assert all(np.array_equal(first[k], again[k]) for k in blocks)
    assert not np.array_equal(first["a/h"], other["a/h"]) and not np.array_equal(first["a/h"], first["b/h"])


# ------------------------------------------------------------------------------------------------
# models and data


def tiny_train(task, cell, hidden=5):
    extra = {"vocab_size": 60, "embed_dim": 4} if task == "imdb" else {}
    return TrainConfig(
        task=task, model=cell, seed=0, regime="baseline", epochs=1, batch_size=16, optimizer="adam",
        lr=0.01, hidden_size=hidden, device="cpu", **extra,
    )  # fmt: skip


def tiny_arrays(task, n_test=40):
    rng = np.random.default_rng(0)
    if task == "adding":
        return generate_adding(n_samples=200, digits=3, val_fraction=0.2, seed=1)
    n = n_test + 30  # the first 30 are the training split (the adversarial ascent's)
    if task == "imdb":
        x, y = rng.integers(0, 60, (n, 9)), rng.integers(0, 2, n)
    else:
        x, y = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n)
    return {"x_train": x[:30], "y_train": y[:30], "x_test": x[30:], "y_test": y[30:]}


def tiny_model(train):
    torch.manual_seed(1)
    return build_model(train.task, train.model, **train.model_options()).eval()


@pytest.mark.parametrize("task, cell", list(zip(TASKS, CELLS[1:] + CELLS[:1], strict=True)))
def test_stacked_evaluation_of_copies_equals_each_copy_alone(task, cell):
    train = tiny_train(task, cell)
    model = tiny_model(train)
    data = load_tensors(task, {k: v for k, v in tiny_arrays(task).items() if k.endswith("_test")})
    x, y = data["x_test"][:30], data["y_test"][:30]
    gen = torch.Generator().manual_seed(0)
    copies = []
    for scale in (0.0, 0.3, 0.6, 1.0, 1.5):  # 5 copies in passes of 2: the last pass is padded
        weights = {}
        for name, layer in recurrent_layers(model).items():
            w = layer.weight_hh.detach()
            weights[name] = w + scale * torch.randn(w.shape, generator=gen) / math.sqrt(w.shape[1])
        copies.append(weights)
    together = evaluate_copies(task, model, copies, x, y, batch_size=12, copies_per_pass=2)
    assert len(together) == len(copies)
    for weights, result in zip(copies, together, strict=True):
        alone = tiny_model(train)
        for name, layer in recurrent_layers(alone).items():
            layer.weight_hh.data.copy_(weights[name])
        expected = evaluation.test_metrics(task, alone, x, y, 12, torch.device("cpu"))
        assert result.keys() == expected.keys() | {"flip_rate", "kl"}
        for key in expected:
            assert result[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-6), key
        with torch.no_grad():
            flips, kl = output_change(task, alone(x), model(x))
        assert result["flip_rate"] == pytest.approx(float(flips.mean()), abs=1e-6)
        assert result["kl"] == pytest.approx(float(kl.mean()), rel=1e-5, abs=1e-7)
    assert together[0]["flip_rate"] == 0 and together[0]["kl"] == pytest.approx(0, abs=1e-7)  # scale 0: itself


def test_the_flip_rate_counts_changed_predictions_and_kl_matches_its_definition():
    reference = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # adding: (B = 1, 2 characters, 3 classes)
    logits = torch.tensor([[[0.0, 2.0, 0.0], [0.0, 1.0, 0.0]]])
    flips, kl = output_change("adding", logits, reference)
    assert flips.tolist() == [[1.0, 0.0]]
    p, q = torch.softmax(reference[0, 0], -1), torch.softmax(logits[0, 0], -1)
    assert float(kl[0, 0]) == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-6) and float(kl[0, 1]) == 0


# ------------------------------------------------------------------------------------------------
# state perturbations


def test_state_amplification_of_a_linear_rnn_is_the_norm_of_the_powers():
    # relu rnn with non-negative weights, inputs and bias: every pre-activation is positive, so the map
    # h_{t−1} → h_t is linear and ∂h_T/∂h_{T−k} = W^k exactly
    train = tiny_train("mnist", "rnn", hidden=3).replace(rnn_activation="relu")
    model = tiny_model(train)
    w = np.array([[0.5, 2.0, 0.0], [0.0, 0.5, 2.0], [0.0, 0.0, 0.4]])  # non-normal: transient growth
    with torch.no_grad():
        model.rnn.weight_hh.copy_(torch.from_numpy(w))
        model.rnn.weight_ih.abs_()
        model.rnn.bias.fill_(0.1)
    x = torch.rand(3, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    result = state_amplification(model, x, lags=[1, 2, 4, 8, 100])["rnn"]
    assert result["state"] == "h" and result["steps"] == 28 and result["lags"] == [1, 2, 4, 8, 28]
    w32 = model.rnn.weight_hh.detach().double().numpy()  # the float32 weights the model holds
    norms = spectra.transient_growth(w32, kmax=28).norms
    for k in result["lags"]:
        assert result["values"][k] == pytest.approx([norms[k]] * 3, rel=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_state_jacobians_match_autograd_of_the_layer(cell):
    layer = tiny_model(tiny_train("mnist", cell, hidden=3)).rnn.to(torch.float64)
    hid, steps = 3, 6
    size = 2 * hid if cell == "lstm" else hid
    inputs = torch.rand(2, steps, 28, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    jac = state_jacobians(layer, inputs, [2, steps])
    for lag in (2, steps):
        for b in range(2):
            start = torch.zeros(size, dtype=torch.float64)  # the state lag steps before the end
            if lag < steps:
                with torch.no_grad():
                    _, state = layer(inputs[b : b + 1, : steps - lag])
                start = (torch.cat(state, dim=1) if cell == "lstm" else state)[0]

            def final(s, b=b, lag=lag):
                s = s.unsqueeze(0)
                _, out = layer(inputs[b : b + 1, steps - lag :], (s[:, :hid], s[:, hid:]) if cell == "lstm" else s)
                return (torch.cat(out, dim=1) if cell == "lstm" else out)[0]

            expected = torch.autograd.functional.jacobian(final, start)
            assert torch.allclose(jac[lag][b], expected, rtol=1e-10, atol=1e-12), (lag, b)


# ------------------------------------------------------------------------------------------------
# one run: the JSON record


def run_record(task="adding", cell="gru", **overrides):
    train = tiny_train(task, cell)
    model = tiny_model(train)
    with torch.no_grad():  # orthogonal initial blocks have ρ = 1; trained ones are mostly inside
        for layer in recurrent_layers(model).values():
            layer.weight_hh.mul_(0.7)
    metrics = {"task": task, "model": cell, "seed": 0, "hyperparameters": train.to_params()}
    settings = {
        "n_eval": 24,
        "eps_log10": [-12, -1, 0],
        "random_samples": 2,
        "state_sequences": 3,
        "state_lags": [1, 2],
    }
    config = PerturbationConfig.from_mapping({**settings, **overrides})
    arrays = tiny_arrays(task)
    return perturb_run(model.state_dict(), metrics, arrays, config, code_digest="abc", log=lambda _: None), model


def test_eps_zero_reproduces_the_unperturbed_accuracy():
    record, model = run_record()
    arrays = tiny_arrays("adding")
    index = np.sort(np.random.default_rng([0, 0]).choice(len(arrays["y_test"]), size=24, replace=False))
    data = load_tensors("adding", {"x_test": arrays["x_test"][index], "y_test": arrays["y_test"][index]})
    expected = evaluation.test_metrics("adding", model, data["x_test"], data["y_test"], 1024, torch.device("cpu"))
    for key, value in expected.items():
        assert record["reference"][key] == pytest.approx(value, rel=1e-6), key
    # a level that float32 rounds away (ε = 1e-12) is the unperturbed model again
    for row in record["sweep"]:
        if row["eps_log10"] == -12:
            assert row["accuracy"] == record["reference"]["accuracy"]
            assert row["loss"] == pytest.approx(record["reference"]["loss"], rel=1e-6)


def test_the_record_has_the_documented_keys(tmp_path):
    record, _ = run_record("mnist", "lstm", bisection_steps=1, adversarial_steps=2)
    write_json(tmp_path / "seed0.json", record)
    back = read_json(tmp_path / "seed0.json")
    assert set(back) == {
        "task", "model", "regime", "seed", "config", "code_digest", "precision", "n_test", "n_eval",
        "chance_accuracy", "reference", "blocks", "eps_pred_min", "eps_pred_min_block", "eps_instability_min",
        "eps_instability_min_block", "sweep", "thresholds", "first_crossing_eps_log10", "state",
    }  # fmt: skip
    keys = list(block_keys("mnist", "lstm"))
    assert sorted(back["blocks"]) == sorted(keys) and back["n_eval"] == 24 and back["code_digest"] == "abc"
    assert set(back["reference"]) == {"loss", "accuracy", "flip_rate", "kl", "spectral_radius", "unstable", "on_circle"}
    assert back["reference"]["flip_rate"] == 0
    for block in back["blocks"].values():
        assert set(block) == {
            "norm2", "spectral_radius", "stability", "distance_to_instability", "z_star", "eps_pred",
            "instability_norm", "eps_instability", "instability_rank", "transient_peak", "transient_peak_k",
            "kreiss_constant",
        }  # fmt: skip
        assert block["eps_pred"] == pytest.approx(block["distance_to_instability"] / block["norm2"])
    stable_keys = [k for k in keys if back["blocks"][k]["stability"] == "stable"]
    grid = [row for row in back["sweep"] if row["grid"]]
    assert len(grid) == 3 * (2 + 2 + 1 + 1)  # levels × (2 gaussian + 2 rank-matched + instability + adversarial)
    for row in back["sweep"]:
        assert set(row) - {"attack_loss"} == {
            "family", "sample", "eps_log10", "eps", "eps_absolute", "eps_preactivation", "grid", "loss", "accuracy",
            "flip_rate", "kl", "drop", "spectral_radius", "unstable", "on_circle", "crossed",
        }  # fmt: skip
        assert ("attack_loss" in row) == (row["family"] == "adversarial")
        scale = max(10 ** row["eps_log10"] * back["blocks"][k]["norm2"] for k in keys)
        assert row["eps_absolute"] <= scale * (1 + 1e-9)
        if row["family"] == "gaussian":
            assert row["eps_absolute"] == pytest.approx(scale, rel=1e-9)
        assert sorted(row["spectral_radius"]) == sorted(stable_keys)
    assert set(back["first_crossing_eps_log10"]) == set(FAMILIES)
    assert set(back["thresholds"]) == {"flip5", "drop5"}
    for per_family in back["thresholds"].values():
        assert {f: len(v) for f, v in per_family.items()} == dict(zip(FAMILIES, [2, 2, 1, 1], strict=True))
    stable = [k for k in keys if back["blocks"][k]["stability"] == "stable"]
    if stable:
        assert back["eps_pred_min"] == min(back["blocks"][k]["eps_pred"] for k in stable)
    state = back["state"]["rnn"]
    assert state["state"] == "h,c" and state["lags"] == [1, 2, 28] and state["linear_block"] == "rnn/c"
    assert set(state["amplification"]["28"]) == {"max", "median", "mean", "values"}
    assert len(state["amplification"]["1"]["values"]) == 3
    assert set(state["linear"]) == {"norm_power", "transient_peak", "transient_peak_k", "kreiss_constant"}
    assert sorted(state["linear"]["norm_power"], key=int) == ["1", "2", "28"]
    json.dumps(back)


def test_no_copy_crosses_below_the_predicted_level_and_the_instability_direction_reaches_it():
    levels = [-3, -2, -1.5, -1, -0.75, -0.5, -0.25, 0, 0.25]
    record, _ = run_record("imdb", "rnn", eps_log10=levels, random_samples=2, state_sequences=0,
                           families=["gaussian", "instability"])  # fmt: skip
    assert record["state"] == {} and not record["reference"]["unstable"]
    (key,) = record["blocks"]
    block = record["blocks"][key]
    assert record["eps_pred_min"] == block["eps_pred"] and record["eps_pred_min_block"] == key
    for row in record["sweep"]:  # no perturbation of norm below d reaches the unit circle
        if row["eps"] < block["eps_pred"]:
            assert row["spectral_radius"][key] < 1 and not row["crossed"]
    instability = [row for row in record["sweep"] if row["family"] == "instability" and row["grid"]]
    assert [row["eps_log10"] for row in instability] == levels
    first = record["first_crossing_eps_log10"]["instability"]
    assert first is not None and 10**first >= block["eps_pred"]
    gaussian = record["first_crossing_eps_log10"]["gaussian"]
    assert gaussian is None or 10**gaussian >= block["eps_pred"]
    assert set(record["thresholds"]["flip5"]) == {"gaussian", "instability"}


def test_the_thresholds_are_the_bisected_first_crossings_of_the_sweep():
    levels = [-2, -1.5, -1, -0.5, 0, 0.5, 1]
    record, _ = run_record("adding", "rnn", eps_log10=levels, random_samples=1, state_sequences=0,
                           families=["gaussian", "adversarial"], bisection_steps=4, adversarial_steps=3)  # fmt: skip
    for name, quantity in (("flip5", "flip_rate"), ("drop5", "drop")):
        for family, (t,) in record["thresholds"][name].items():
            rows = {r["eps_log10"]: r for r in record["sweep"] if r["family"] == family}
            grid = first_crossing(levels, [rows[x][quantity] for x in levels], 0.05)
            if grid.censored:
                assert t["censored"] == grid.censored and t["bisections"] == 0
                continue
            assert t["bisections"] == 4 and t["high"] - t["low"] == pytest.approx(0.5 / 16)
            assert grid.low <= t["low"] < t["high"] <= grid.high
            assert rows[t["low"]][quantity] < 0.05 <= rows[t["high"]][quantity]  # measured at both ends
            assert t["eps_log10"] == pytest.approx((t["low"] + t["high"]) / 2)


def test_bisection_finds_a_planted_threshold_to_a_64th_of_a_decade():
    levels = list(np.arange(-4, 1.01, 0.5))
    planted = {("a", 0): -2.3721, ("b", 1): 0.0412, ("c", 0): -3.99}
    curve = lambda key, x: 1 / (1 + math.exp(-40 * (x - planted[key])))  # noqa: E731 (a steep sigmoid)
    calls = []

    def measure(points):
        calls.append(len(points))
        return [curve(key, x) for key, x in points]

    grid = {key: first_crossing(levels, [curve(key, x) for x in levels], 0.5) for key in planted}
    out = bisect_crossings(grid, measure, 0.5, steps=5)
    for key, value in planted.items():
        assert out[key].high - out[key].low == pytest.approx(1 / 64)
        assert abs(out[key].log10 - value) <= 1 / 128
    assert calls == [3] * 5  # one evaluation per curve and step, all curves at once
    assert first_crossing(levels, [0.0] * len(levels), 0.5).censored == "above"
    assert first_crossing(levels, [1.0] * len(levels), 0.5).censored == "below"


# ------------------------------------------------------------------------------------------------
# config


def test_config_yaml_lists_the_defaults_and_the_test_config_is_valid():
    paper = load_config(ROOT / "config.yaml")
    assert PerturbationConfig.from_mapping(paper["perturbation"]) == PerturbationConfig()
    tiny = load_config(ROOT / "config.yaml", ROOT / "tests" / "config" / "config.yaml")
    assert PerturbationConfig.from_mapping(tiny["perturbation"]).n_eval < PerturbationConfig().n_eval
    assert PerturbationConfig.from_mapping(None) == PerturbationConfig()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"n_eval": 0}, r"perturbation\.n_eval = 0; expected an integer >= 1"),
        ({"n_eval": 2.5}, r"perturbation\.n_eval"),
        ({"seed": -1}, r"perturbation\.seed = -1"),
        ({"random_samples": True}, r"perturbation\.random_samples = True"),
        ({"copies_per_pass": 0}, r"perturbation\.copies_per_pass"),
        ({"eps_log10": []}, r"perturbation\.eps_log10 = \[\]; expected a non-empty list"),
        ({"eps_log10": -2}, r"perturbation\.eps_log10 = -2"),
        ({"eps_log10": [-2, float("nan")]}, r"perturbation\.eps_log10 has nan"),
        ({"eps_log10": [-2, 3]}, r"perturbation\.eps_log10 has 3; expected finite numbers <= 1"),
        ({"eps_log10": [-2, -2.0]}, r"repeats a level"),
        ({"state_lags": [0, 1]}, r"perturbation\.state_lags = \[0, 1\]; expected distinct integers >= 1"),
        ({"state_lags": "1"}, r"perturbation\.state_lags"),
        ({"families": ["worst"]}, r"perturbation\.families = \['worst'\]; expected distinct names from"),
        ({"families": []}, r"perturbation\.families = \[\]; expected a non-empty list"),
        ({"adversarial_steps": 0}, r"perturbation\.adversarial_steps = 0; expected an integer >= 1"),
        ({"bisection_steps": -1}, r"perturbation\.bisection_steps = -1"),
        ({"n_evals": 10}, r"perturbation\.n_evals is not a perturbation key; expected one of"),
    ],
)
def test_bad_config_values_name_the_key_and_the_fix(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        PerturbationConfig.from_mapping(values)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "values",
    [
        {"n_eval": 0},
        {"eps_log10": [-2, 3]},
        {"state_lags": [0]},
        {"random_samples": -1},
        {"n_evals": 3},
        {"families": ["random"]},
        {"n_attack": 0},
    ],
)
def test_the_schema_rejects_what_the_dataclass_rejects(values):
    config = deep_merge(load_yaml(ROOT / "config.yaml"), {"perturbation": values})
    with pytest.raises(ConfigError, match="perturbation"):
        check_config(config, load_schema(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    with pytest.raises(ConfigError, match="perturbation"):
        PerturbationConfig.from_mapping(values)


def test_gates_of_the_state_blocks_exist():
    for cell in CELLS:
        assert state_gate(cell) in GATES[cell]
