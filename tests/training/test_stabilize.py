"""Spectral stabilization (Algorithm 1 and variants) on known matrices and in training."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from tiny_runs import Kill, KillAfter, stabilized_params, toy_imdb

from rnnrobust.config import Stabilization, TrainConfig
from rnnrobust.layout import split_gates
from rnnrobust.training.loop import train_run
from rnnrobust.training.models import build_model
from rnnrobust.training.outputs import BEFORE_RESCALE_FILE
from rnnrobust.training.stabilize import SpectralStabilizer, estimate, stabilization_hooks
from rnnrobust.training.weights import gate_blocks, load_state_dict


def rotation(theta, scale):
    return scale * torch.tensor(
        [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=torch.float64
    )


def unit(*values):
    v = torch.tensor(values, dtype=torch.float64)
    return v / v.norm()


def test_estimators_on_known_matrices():
    w = rotation(1.2, 0.5)  # a complex dominant pair 0.5·e^{±1.2i}
    v = unit(1.0, 0.3)
    radius = Stabilization()
    assert estimate(w, v, radius)[0] == pytest.approx(0.5, rel=1e-14)  # ‖Wv‖ is exact for a scaled rotation
    lit = estimate(w, v, Stabilization(estimator="rayleigh_abs"))[0]
    assert lit == pytest.approx(0.5 * abs(math.cos(1.2)), rel=1e-12)  # |vᵀWv| is biased towards 0
    assert estimate(w, v, Stabilization(estimator="exact"))[0] == pytest.approx(0.5, rel=1e-14)

    d = torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64))
    lam, v1 = estimate(d, unit(1.0, 1.0), radius)
    assert lam == pytest.approx(math.hypot(4.0, 0.25) / math.hypot(2.0, 0.5), rel=1e-14)  # one power step
    many = estimate(d, unit(1.0, 1.0), Stabilization(n_iter=60))
    assert many[0] == pytest.approx(2.0, rel=1e-12)
    torch.testing.assert_close(v1, unit(2.0, 0.5))

    jordan = torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)  # ρ = 0, σ_max = 1
    assert estimate(jordan, unit(1.0, 1.0), Stabilization(estimator="exact"))[0] == 0.0
    norm_exact = Stabilization(quantity="norm", estimator="exact")
    assert estimate(jordan, unit(1.0, 1.0), norm_exact)[0] == pytest.approx(1.0, rel=1e-14)
    assert estimate(jordan, unit(1.0, 1.0), Stabilization(quantity="norm", n_iter=3))[0] == pytest.approx(1.0)


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError, match="estimator"):
        Stabilization(estimator="power")
    with pytest.raises(ValueError, match="stacked"):
        Stabilization(scope="stacked")
    baseline = {"task": "imdb", "model": "gru", "seed": 0, "regime": "baseline", "epochs": 1, "batch_size": 2,
                "optimizer": "adam", "lr": 0.1, "hidden_size": 2}  # fmt: skip
    assert stabilization_hooks(TrainConfig(**baseline)) == []


def lstm_model():
    torch.manual_seed(0)
    return build_model("imdb", "lstm", hidden_size=6, vocab_size=30, embed_dim=4).double()


def test_only_recurrent_blocks_change_and_radius_hits_target():
    model = lstm_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hook = SpectralStabilizer(Stabilization(estimator="exact", gamma=0.9), seed=0)
    log = hook(model, 1)
    after = model.state_dict()
    for key in before:
        assert torch.equal(before[key], after[key]) == (key != "rnn.weight_hh"), key
    for gate, block in split_gates(model.rnn.weight_hh, "lstm").items():
        key = f"rnn/{gate}"
        rho = float(torch.linalg.eigvals(block.detach()).abs().max())
        assert rho == pytest.approx(0.9, rel=1e-12)
        assert log[f"radius_after/{key}"] == pytest.approx(0.9, rel=1e-12)
        assert log[f"radius_est/{key}"] == pytest.approx(log[f"radius_before/{key}"], rel=1e-12)


def test_persistent_vector_carries_over_and_fresh_does_not():
    model = lstm_model()
    persistent = SpectralStabilizer(Stabilization(), seed=1)
    persistent(model, 1)
    first = {k: v.clone() for k, v in persistent.vectors.items()}
    block = split_gates(model.rnn.weight_hh, "lstm")["f"].detach().double()
    expected = block @ first["rnn/f"]  # the next epoch continues from the stored vector
    persistent(model, 2)
    torch.testing.assert_close(persistent.vectors["rnn/f"], expected / expected.norm())

    fresh = SpectralStabilizer(Stabilization(vector="fresh"), seed=1)
    fresh(lstm_model(), 1)
    start_a = fresh._start_vector("rnn/f", 6)
    start_b = fresh._start_vector("rnn/f", 6)
    assert not torch.allclose(start_a, start_b)

    restored = SpectralStabilizer(Stabilization(), seed=99)
    restored.load_state_dict(persistent.state_dict())
    torch.testing.assert_close(restored.vectors["rnn/f"], persistent.vectors["rnn/f"])


def test_if_greater_only_shrinks_and_stacked_norm():
    model = lstm_model()
    with torch.no_grad():
        model.rnn.weight_hh.mul_(0.1)
    before = model.rnn.weight_hh.detach().clone()
    SpectralStabilizer(Stabilization(estimator="exact", apply="if_greater"), seed=0)(model, 1)
    assert torch.equal(before, model.rnn.weight_hh.detach())
    stacked = Stabilization(quantity="norm", estimator="exact", scope="stacked")
    SpectralStabilizer(stacked, seed=0)(model, 1)
    assert float(torch.linalg.matrix_norm(model.rnn.weight_hh.detach(), ord=2)) == pytest.approx(1.0, rel=1e-12)


def test_stabilized_training_with_exact_estimator_ends_on_the_unit_circle(tmp_path):
    arrays = toy_imdb(64, 10, seed=0)
    params = stabilized_params("gru", seed=0, epochs=3, estimator="exact", dtype="float64")
    metrics = train_run(params, arrays, tmp_path, log=lambda s: None, hooks=stabilization_hooks(params))
    for key, block in gate_blocks(load_state_dict(tmp_path / "model.pt"), "gru").items():
        assert abs(np.abs(np.linalg.eigvals(block)).max() - 1.0) < 1e-9, key
    assert set(metrics["test_before_final_rescale"]) == {"loss", "accuracy"}
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {f"radius_est/rnn/{g}" for g in "zrh"} <= set(rows[-1])
    assert all(abs(float(rows[e][f"radius_after/rnn/{g}"]) - 1.0) < 1e-9 for e in (1, 2, 3) for g in "zrh")
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["hyperparameters"]["stabilization"]["estimator"] == "exact"
    )


def test_the_kernels_before_the_final_rescale_are_kept_beside_the_model(tmp_path):
    """before_rescale.pt holds the weights that test_before_final_rescale measured: the final ones times λ̂/γ."""
    arrays = toy_imdb(64, 10, seed=0)
    params = stabilized_params("gru", seed=0, epochs=2, estimator="norm_ratio", dtype="float64")
    train_run(params, arrays, tmp_path, log=lambda s: None, hooks=stabilization_hooks(params))
    with open(tmp_path / "history.csv") as handle:
        last = list(csv.DictReader(handle))[-1]
    before = gate_blocks(load_state_dict(tmp_path / BEFORE_RESCALE_FILE), "gru")
    after = gate_blocks(load_state_dict(tmp_path / "model.pt"), "gru")
    assert set(before) == set(after) == {f"rnn/{g}" for g in "zrh"}
    for key, block in before.items():
        lam = float(last[f"radius_est/{key}"])
        np.testing.assert_allclose(block * (params.stabilization.gamma / lam), after[key], rtol=1e-13, atol=0)
        assert np.abs(np.linalg.eigvals(block)).max() == pytest.approx(float(last[f"radius_before/{key}"]), rel=1e-9)
    baseline = params.replace(stabilization=None, regime="baseline")
    train_run(baseline, arrays, tmp_path / "baseline", log=lambda s: None)
    assert load_state_dict(tmp_path / "baseline" / BEFORE_RESCALE_FILE) == {}


def test_killed_stabilized_run_resumes_with_its_power_iteration_vectors(tmp_path):
    arrays = toy_imdb(48, 8, seed=1)
    params = stabilized_params("lstm", seed=2, epochs=4, estimator="norm_ratio")

    train_run(params, arrays, tmp_path / "full", log=lambda s: None, hooks=stabilization_hooks(params))
    with pytest.raises(Kill):
        hooks = [*stabilization_hooks(params), KillAfter(2)]
        train_run(params, arrays, tmp_path / "resumed", log=lambda s: None, hooks=hooks)
    train_run(params, arrays, tmp_path / "resumed", log=lambda s: None, hooks=stabilization_hooks(params))
    full, resumed = load_state_dict(tmp_path / "full/model.pt"), load_state_dict(tmp_path / "resumed/model.pt")
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    kept = [load_state_dict(tmp_path / run / BEFORE_RESCALE_FILE) for run in ("full", "resumed")]
    assert set(kept[0]) == {"rnn.weight_hh"} and torch.equal(kept[0]["rnn.weight_hh"], kept[1]["rnn.weight_hh"])
