"""The robust_training keys: one-line messages for bad values before any job, the study's config, run settings."""

from pathlib import Path

import pytest
import yaml

from rnnrobust.config import ConfigError, RobustTraining, TrainConfig
from rnnrobust.config.checks import check_config, load_schema
from rnnrobust.config.files import deep_merge, load_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
STUDY = REPO / "workflow/configs/robust_training.yaml"


def paper():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def regime(**robust):
    return {"regimes": {"x": {"robust_training": robust}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (regime(parametrization="svd"), "robust_training.parametrization = 'svd' is not one of ['none', 'schur']"),
        (regime(projection="l2"), "robust_training.projection = 'l2' is not one of ['none', 'radius', 'norm']"),
        (regime(barrier=-1.0), "regimes.x: its robust_training makes robust_training.barrier = -1.0"),
        (regime(barrier=0.1, gamma=0), "robust_training.gamma = 0"),
        (regime(parametrization="schur", nonnormality=-0.1), "robust_training.nonnormality = -0.1"),
        (regime(barrier=0.1, n_iter=0), "robust_training.n_iter = 0"),
        (regime(bariier=0.1), "regimes.x: robust_training has no such key ('bariier' was unexpected)"),
        (regime(), "regimes.x: robust_training turns no method on; set parametrization, barrier or projection"),
        (regime(gamma=0.9), "robust_training turns no method on"),
        (regime(nonnormality=0.1), "robust_training.nonnormality acts on the Schur parametrisation"),
        (regime(parametrization="schur", projection="norm"), "projection would break W = P(Λ + N)Pᵀ"),
        (regime(parametrization="schur", freeze_eigenvalues=True), "freeze_eigenvalues needs init_from"),
        (regime(parametrization="schur", init_from="baseline"), "init_from = 'baseline' needs a regime with"),
        (regime(parametrization="schur", init_from="nowhere"), "init_from = 'nowhere' is not another regime"),
        (regime(parametrization="schur", init_from="x"), "init_from = 'x' is not another regime"),
        ({**regime(projection="norm"), "graphed": True}, "robust_training needs graphed: false"),
        (
            {"regimes": {"x": {"stabilization": {}, "robust_training": {"parametrization": "schur"}}}},
            "stabilization would rescale W away from its Schur parametrisation",
        ),
        ({"robust_training": {"barrier": "high"}}, "config key robust_training.barrier = 'high'"),
        ({"robust_training": {"gamma": -1}}, "config key robust_training.gamma = -1"),
        ({"regimes": {"x": {"robust": {}}}}, "('robust' was unexpected)"),
    ],
)
def test_bad_values_give_one_short_message_naming_the_key(change, message):
    with pytest.raises(ConfigError) as err:
        check_config(deep_merge(paper(), change), SCHEMA)
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_the_study_config_passes_and_resolves_its_arms():
    config = load_config(REPO / "config.yaml", STUDY)
    assert config["tasks"] == ["adding", "imdb"] and config["seeds"] == [0, 1, 2, 3, 4]
    barrier = TrainConfig.for_run(config, "adding", "gru", 0, "barrier_g095_b1em3")
    assert barrier.robust_training == RobustTraining(barrier=1e-3, gamma=0.95) and barrier.epochs == 25
    schur = TrainConfig.for_run(config, "imdb", "rnn", 4, "schur_g1_b1em1")
    assert schur.robust_training == RobustTraining(parametrization="schur", nonnormality=0.1) and schur.epochs == 3
    assert TrainConfig.from_params(schur.to_params()) == schur
    assert TrainConfig.for_run(config, "adding", "rnn", 0, "stabilized_step").robust_training.projection == "radius"
    baseline = TrainConfig.for_run(config, "adding", "rnn", 0, "baseline")
    assert baseline.robust_training is None and "robust_training" not in baseline.to_params()  # old runs' digests
    frozen = {"parametrization": "schur", "init_from": "schur_g1_b0", "freeze_eigenvalues": True, "nonnormality": 1e-2}
    causal = check_config(deep_merge(config, {"regimes": {"schur_frozen": {"robust_training": frozen}}}), SCHEMA)
    assert TrainConfig.for_run(causal, "imdb", "gru", 1, "schur_frozen").robust_training.freeze_eigenvalues
