"""The robust-training methods in training (rnnrobust.training.methods): groups bit for bit, the constraints after
every optimizer step, resume, and the causal arm's start from a trained run with its eigenvalues frozen."""

import csv

import numpy as np
import pytest
import torch
from tiny_runs import SEEDS, Kill, KillAfter, arrays_for, history, model_bytes, quiet, run_params

from rnnrobust.config import RobustTraining
from rnnrobust.training.loop import train_group, train_run
from rnnrobust.training.methods import PARAMETRIZATION_FILE, TrainingMethods, load_start
from rnnrobust.training.projection import SAFEGUARD_MARGIN
from rnnrobust.training.stabilize import gate_block_views, spectral_norm, spectral_radius
from rnnrobust.training.weights import load_state_dict

pytestmark = pytest.mark.usefixtures("one_thread")

#: One regime per method, on the task and cell that exercise it (two epochs of three steps).
METHODS = {
    "schur_rnn": ("mnist", {"parametrization": "schur", "gamma": 0.95, "nonnormality": 1e-2}),
    "schur_gru": ("imdb", {"parametrization": "schur", "nonnormality": 1e-2}),
    "schur_lstm": ("adding", {"parametrization": "schur"}),
    "barrier": ("adding", {"barrier": 1e-2, "gamma": 0.95}),
    "radius": ("mnist", {"projection": "radius"}),
    "norm": ("imdb", {"projection": "norm"}),
}


def robust_params(method, seed, **overrides):
    task, options = METHODS[method]
    return run_params(task, **{"seed": seed, "epochs": 2, "robust_training": RobustTraining(**options), **overrides})


@pytest.mark.parametrize("method", list(METHODS))
def test_each_run_of_a_group_equals_the_run_alone_bitwise(tmp_path, method):
    trains = [robust_params(method, seed) for seed in SEEDS]
    task = trains[0].task
    train_group(trains, arrays_for(task), [tmp_path / f"group/seed{s}" for s in SEEDS], log=quiet)
    for train in trains:
        train_run(train, arrays_for(task), tmp_path / f"single/seed{train.seed}", log=quiet)
        assert model_bytes(tmp_path, "group", train.seed) == model_bytes(tmp_path, "single", train.seed)
        assert history(tmp_path, "group", train.seed) == history(tmp_path, "single", train.seed)
    parametrized = METHODS[method][1].get("parametrization") == "schur"
    assert (tmp_path / f"single/seed{SEEDS[0]}/{PARAMETRIZATION_FILE}").exists() == parametrized
    columns = history(tmp_path, "single", SEEDS[0])[0]
    assert any(c.startswith("radius/") for c in columns) and any(c.startswith("norm/") for c in columns)


def steps_seen(monkeypatch):
    """Every run's gate blocks (float64 copies) after every call of ``TrainingMethods.after_step``."""
    seen = []
    original = TrainingMethods.after_step

    def after_step(self, group):
        original(self, group)
        seen.append([{k: b.detach().double().clone() for k, b in gate_block_views(m).items()} for m in group.models])

    monkeypatch.setattr(TrainingMethods, "after_step", after_step)
    return seen


@pytest.mark.parametrize(
    ("options", "bound"),
    [
        ({"projection": "radius", "estimator": "exact", "gamma": 0.9}, lambda w: spectral_radius(w) / 0.9),
        ({"projection": "norm", "gamma": 0.8}, lambda w: spectral_norm(w) / 0.8),
        ({"barrier": 0.0, "gamma": 0.9}, lambda w: spectral_radius(w) / (0.9 * (1 - SAFEGUARD_MARGIN))),
        ({"barrier": 1e-1, "gamma": 0.9}, lambda w: spectral_radius(w) / (0.9 * (1 - SAFEGUARD_MARGIN))),
    ],
)
def test_the_per_step_constraint_holds_after_every_step(tmp_path, monkeypatch, options, bound):
    seen = steps_seen(monkeypatch)
    trains = [run_params("imdb", seed=s, epochs=2, dtype="float64", robust_training=RobustTraining(**options))
              for s in SEEDS[:2]]  # fmt: skip
    train_group(trains, arrays_for("imdb"), [tmp_path / f"seed{s}" for s in SEEDS[:2]], log=quiet)
    assert len(seen) == 6  # two epochs of three steps
    worst = max(bound(w) for step in seen for run in step for w in run.values())
    assert worst <= 1 + 1e-12


def test_a_parametrized_block_is_its_parameters_w_after_every_step(tmp_path, monkeypatch):
    seen = steps_seen(monkeypatch)
    train = robust_params("schur_gru", 3, dtype="float64")
    train_run(train, arrays_for("imdb"), tmp_path / "run", log=quiet)
    assert max(spectral_radius(step[0]["rnn/h"]) for step in seen) < 1.0
    saved = torch.load(tmp_path / "run" / PARAMETRIZATION_FILE, weights_only=True)
    assert set(saved) >= {"blocks.rnn.skew", "blocks.rnn.radius_logit", "blocks.rnn.angle", "blocks.rnn.nonnormal"}
    assert torch.equal(load_state_dict(tmp_path / "run/model.pt")["rnn.weight_hh"][-8:], seen[-1][0]["rnn/h"])


@pytest.mark.parametrize("method", ["radius", "schur_rnn"])
def test_a_killed_group_resumes_to_the_same_bytes(tmp_path, method):
    trains = [robust_params(method, seed, epochs=3) for seed in SEEDS[:2]]
    task = trains[0].task
    dirs = [tmp_path / f"killed/seed{s}" for s in SEEDS[:2]]
    with pytest.raises(Kill):
        train_group(trains, arrays_for(task), dirs, log=quiet, hooks=[[KillAfter(2)], []])
    train_group(trains, arrays_for(task), dirs, log=quiet, hooks=[[KillAfter(99)], []])
    train_group(trains, arrays_for(task), [tmp_path / f"whole/seed{s}" for s in SEEDS[:2]], log=quiet)
    for seed in SEEDS[:2]:
        assert model_bytes(tmp_path, "killed", seed) == model_bytes(tmp_path, "whole", seed)


#: The causal arm's trained parametrised run and its retraining with frozen eigenvalues.
RUNS = ("source", "frozen")


def test_the_causal_arm_keeps_the_eigenvalues_and_moves_n(tmp_path):
    """init_from a trained parametrised run, eigenvalues frozen, a large β on ‖N‖_F²: Λ stays, ‖N‖_F falls."""
    source = robust_params("schur_rnn", 3, dtype="float64")
    train_run(source, arrays_for("mnist"), tmp_path / "source", log=quiet)
    options = RobustTraining(parametrization="schur", gamma=0.95, nonnormality=10.0, init_from="schur_g095",
                             freeze_eigenvalues=True)  # fmt: skip
    frozen = source.replace(regime="frozen", robust_training=options, epochs=3)
    start = load_start(tmp_path / "source")
    train_group([frozen], arrays_for("mnist"), [tmp_path / "frozen"], log=quiet, starts=[start])
    before, after = (load_state_dict(tmp_path / f"{run}/model.pt")["rnn.weight_hh"].numpy() for run in RUNS)
    eigenvalues = [np.sort_complex(np.linalg.eigvals(w)) for w in (before, after)]
    assert np.allclose(*eigenvalues, atol=1e-10)
    assert not np.allclose(after, before)
    source_n, frozen_n = (last_row(tmp_path / f"{run}/history.csv")["nonnormality/rnn"] for run in RUNS)
    assert float(frozen_n) < 0.5 * float(source_n)


def last_row(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))[-1]


def test_init_from_needs_its_starts_and_graphed_training_is_refused(tmp_path):
    options = RobustTraining(parametrization="schur", init_from="schur_g1", freeze_eigenvalues=True)
    with pytest.raises(ValueError, match="needs one start per run"):
        train_run(run_params("mnist", robust_training=options), arrays_for("mnist"), tmp_path / "a", log=quiet)
    graphed = run_params("mnist", graphed=True, robust_training=RobustTraining(projection="norm"))
    with pytest.raises(ValueError, match="graphed: true does not train robust_training"):
        train_run(graphed, arrays_for("mnist"), tmp_path / "b", log=quiet)
