"""The perturbation stage: worst-case directions, batched evaluation of perturbed copies, state Jacobians,
config checks and the JSON record (rnnrobust.robustness.perturbation.run)."""

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
from rnnrobust.layout import CELLS, GATES, TASKS, block_keys
from rnnrobust.robustness.perturbation.copies import evaluate_copies
from rnnrobust.robustness.perturbation.directions import perturbed_blocks, random_directions, worst_case
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
# worst-case and random directions on matrices with a known distance to instability


def test_real_minimiser_gives_a_rank_one_perturbation_of_norm_d():
    w = np.diag([0.8, -0.2, 0.1])
    wc = worst_case(w)
    assert wc.distance == pytest.approx(0.2, abs=1e-12) and wc.z == 1 and wc.rank == 1
    assert wc.norm == pytest.approx(0.2, abs=1e-12)
    assert np.linalg.norm(wc.direction, 2) == pytest.approx(1.0, abs=1e-12)
    assert np.abs(np.linalg.eigvals(w + wc.norm * wc.direction)).max() == pytest.approx(1.0, abs=1e-8)
    # a random direction of the same norm stays inside: only the worst one reaches the circle
    for sample in range(5):
        g = random_directions({"b": w}, seed=0, sample=sample)["b"]
        assert np.abs(np.linalg.eigvals(w + wc.norm * g)).max() < 1 - 1e-3


def test_complex_minimiser_gives_a_real_rank_two_perturbation():
    # normal: eigenvalues 0.7 e^{±i}, 0.3; the nearest point of the circle is e^{i}, at d = 0.3
    w = np.zeros((3, 3))
    w[:2, :2], w[2, 2] = rotation(0.7, 1.0), 0.3
    wc = worst_case(w)
    assert wc.distance == pytest.approx(0.3, abs=1e-10) and wc.rank == 2
    assert abs(wc.z - np.exp(1j)) < 1e-6 or abs(wc.z - np.exp(-1j)) < 1e-6
    assert wc.norm == pytest.approx(0.3, abs=1e-10)  # a normal block needs no more than d
    perturbed = w + wc.norm * wc.direction
    assert np.isrealobj(perturbed) and distance_to_circle(np.linalg.eigvals(perturbed), wc.z) < 1e-8
    g = random_directions({"b": w}, seed=1, sample=0)["b"]
    assert np.abs(np.linalg.eigvals(w + wc.norm * g)).max() < 1 - 1e-3


def test_non_normal_complex_minimiser_reaches_the_circle_with_a_norm_of_at_least_d():
    w = np.zeros((4, 4))
    w[:2, :2] = w[2:, 2:] = rotation(0.6, 0.8)
    w[:2, 2:] = 0.5 * np.eye(2)
    wc = worst_case(w)
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
    assert record["z_star"] == [1.0, 0.0] and record["worst_rank"] == 1
    assert record["eps_worst"] == pytest.approx(record["eps_pred"], rel=1e-12)
    w = np.array([[a, c], [0.0, a]])
    assert powers[3] == pytest.approx(np.linalg.norm(np.linalg.matrix_power(w, 3), 2), rel=1e-12)
    # the sweep's worst copy at ε = eps_worst has ρ = 1 exactly
    at = perturbed_blocks({"b": w}, {"b": wc.direction}, record["eps_worst"])["b"]
    assert np.abs(np.linalg.eigvals(at)).max() == pytest.approx(1.0, abs=1e-8)


def test_random_directions_are_seeded_per_sample():
    blocks = {"a/h": np.eye(4), "b/h": np.eye(4)}
    first, again = random_directions(blocks, 3, 0), random_directions(blocks, 3, 0)
    other = random_directions(blocks, 3, 1)
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
    if task == "imdb":
        return {"x_test": rng.integers(0, 60, (n_test, 9)), "y_test": rng.integers(0, 2, n_test)}
    return {"x_test": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8), "y_test": rng.integers(0, 10, n_test)}


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
        assert result.keys() == expected.keys()
        for key in expected:
            assert result[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-6), key


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
    record, _ = run_record("mnist", "lstm")
    write_json(tmp_path / "seed0.json", record)
    back = read_json(tmp_path / "seed0.json")
    assert set(back) == {
        "task", "model", "regime", "seed", "config", "code_digest", "n_test", "n_eval", "reference", "blocks",
        "eps_pred_min", "eps_pred_min_block", "eps_worst_min", "eps_worst_min_block", "sweep",
        "first_crossing_eps_log10", "state",
    }  # fmt: skip
    keys = list(block_keys("mnist", "lstm"))
    assert sorted(back["blocks"]) == sorted(keys) and back["n_eval"] == 24 and back["code_digest"] == "abc"
    assert set(back["reference"]) == {"loss", "accuracy", "spectral_radius", "unstable"}
    for block in back["blocks"].values():
        assert set(block) == {
            "norm2", "spectral_radius", "distance_to_instability", "z_star", "eps_pred", "worst_norm", "eps_worst",
            "worst_rank", "transient_peak", "transient_peak_k", "kreiss_constant",
        }  # fmt: skip
        assert block["eps_pred"] == pytest.approx(block["distance_to_instability"] / block["norm2"])
    assert len(back["sweep"]) == 3 * (1 + 2)  # levels × (the worst direction + 2 random samples)
    for row in back["sweep"]:
        assert set(row) == {
            "family", "sample", "eps_log10", "eps", "loss", "accuracy", "spectral_radius", "unstable", "crossed",
        }  # fmt: skip
        assert sorted(row["spectral_radius"]) == sorted(keys)
    assert set(back["first_crossing_eps_log10"]) == {"worst", "random"}
    stable = [k for k in keys if k not in back["reference"]["unstable"]]
    if stable:
        assert back["eps_pred_min"] == min(back["blocks"][k]["eps_pred"] for k in stable)
    state = back["state"]["rnn"]
    assert state["state"] == "h,c" and state["lags"] == [1, 2, 28] and state["linear_block"] == "rnn/c"
    assert set(state["amplification"]["28"]) == {"max", "median", "mean", "values"}
    assert len(state["amplification"]["1"]["values"]) == 3
    assert set(state["linear"]) == {"norm_power", "transient_peak", "transient_peak_k", "kreiss_constant"}
    assert sorted(state["linear"]["norm_power"], key=int) == ["1", "2", "28"]
    json.dumps(back)


def test_no_copy_crosses_below_the_predicted_level_and_the_worst_one_reaches_it():
    levels = [-3, -2, -1.5, -1, -0.75, -0.5, -0.25, 0, 0.25]
    record, _ = run_record("imdb", "rnn", eps_log10=levels, random_samples=2, state_sequences=0)
    assert record["state"] == {} and not record["reference"]["unstable"]
    (key,) = record["blocks"]
    block = record["blocks"][key]
    assert record["eps_pred_min"] == block["eps_pred"] and record["eps_pred_min_block"] == key
    for row in record["sweep"]:  # no perturbation of norm below d reaches the unit circle
        if row["eps"] < block["eps_pred"]:
            assert row["spectral_radius"][key] < 1 and not row["crossed"]
    worst = [row for row in record["sweep"] if row["family"] == "worst"]
    assert [row["eps_log10"] for row in worst] == levels
    first = record["first_crossing_eps_log10"]["worst"]
    assert first is not None and 10**first >= block["eps_pred"]
    random = record["first_crossing_eps_log10"]["random"]
    assert random is None or 10**random >= block["eps_pred"]


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
        ({"n_evals": 10}, r"perturbation\.n_evals is not a perturbation key; expected one of"),
    ],
)
def test_bad_config_values_name_the_key_and_the_fix(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        PerturbationConfig.from_mapping(values)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "values", [{"n_eval": 0}, {"eps_log10": [-2, 3]}, {"state_lags": [0]}, {"random_samples": -1}, {"n_evals": 3}]
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
