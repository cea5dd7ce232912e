"""Resource requests of training jobs: robust-training regimes ask for the time their methods cost."""

from pathlib import Path

from rnnrobust.config.files import load_config
from rnnrobust.resources import group_settings, load_costs, method_factor, train_runtime_minutes

REPO = Path(__file__).resolve().parents[2]


def test_each_study_regime_asks_for_its_methods_measured_cost():
    config = load_config(REPO / "config.yaml", REPO / "workflow/configs/robust_training.yaml")
    costs = load_costs()
    factors = {
        regime: method_factor(group_settings(config, "adding", "rnn", regime), costs) for regime in config["regimes"]
    }
    assert factors["baseline"] == factors["stabilized"] == 1.0
    assert factors["barrier_g1_b1em2"] == costs.method_factors["barrier"]
    assert factors["barrier_g095_b0"] == costs.method_factors["safeguard"]
    assert factors["schur_frozen_b1em1"] == costs.method_factors["schur"]
    assert factors["norm_projection"] == costs.method_factors["norm"]
    minutes = {r: train_runtime_minutes(config, "adding", "rnn", r, costs) for r in ("baseline", "barrier_g1_b1em3")}
    assert minutes["barrier_g1_b1em3"] >= costs.method_factors["barrier"] * (minutes["baseline"] - 5)
