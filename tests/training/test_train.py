"""Training: bitwise determinism, resume after a kill, divergence handling, output contract.

``train_run`` is a group of one (``rnnrobust.training.group``, ``tests/training/test_group.py``); since the groups came,
dropout masks come from a generator per run that starts where torch's global generator stood after the
model was built, which is where a run alone drew them before: the results did not change.
"""

import csv
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures import imdb_arrays, imdb_params
from tiny_runs import Kill, KillAfter

from rnnrobust import provenance
from rnnrobust.config import TrainConfig
from rnnrobust.data.adding import generate_adding
from rnnrobust.layout import block_keys
from rnnrobust.training import loop
from rnnrobust.training.loop import train_run
from rnnrobust.training.weights import gate_blocks, load_state_dict


def state(path):
    return load_state_dict(path / "model.pt")


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_same_seed_gives_bitwise_identical_weights(tmp_path):
    arrays = imdb_arrays()
    metrics = train_run(imdb_params(), arrays, tmp_path / "a", log=lambda s: None)
    assert metrics["status"] == "converged" and metrics["test"]["accuracy"] >= 0.9  # the label is learnable
    train_run(imdb_params(), arrays, tmp_path / "b", log=lambda s: None)
    assert_same_weights(state(tmp_path / "a"), state(tmp_path / "b"))
    train_run(imdb_params(seed=4), arrays, tmp_path / "c", log=lambda s: None)
    assert not torch.equal(state(tmp_path / "a")["rnn.weight_hh"], state(tmp_path / "c")["rnn.weight_hh"])


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    arrays = imdb_arrays()
    train_run(imdb_params(), arrays, tmp_path / "full", log=lambda s: None)
    with pytest.raises(Kill):
        train_run(imdb_params(), arrays, tmp_path / "resumed", log=lambda s: None, hooks=[KillAfter(3)])
    assert (tmp_path / "resumed" / "checkpoint.pt").exists()
    assert not (tmp_path / "resumed" / "model.pt").exists()
    messages = []
    train_run(imdb_params(), arrays, tmp_path / "resumed", log=messages.append)
    assert any("resuming" in m and "after epoch 2" in m for m in messages)
    replayed = [m.split()[1] for m in messages if m.startswith("epoch ")]
    assert replayed == ["0/4", "1/4", "2/4", "3/4", "4/4"]  # the log shows the epochs before the kill again
    assert_same_weights(state(tmp_path / "full"), state(tmp_path / "resumed"))
    assert not (tmp_path / "resumed" / "checkpoint.pt").exists()
    with open(tmp_path / "resumed" / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2, 3, 4]


def test_checkpoint_of_other_hyperparameters_is_not_resumed(tmp_path):
    arrays = imdb_arrays()
    with pytest.raises(Kill):
        train_run(imdb_params(), arrays, tmp_path / "run", log=lambda s: None, hooks=[KillAfter(2)])
    messages = []
    train_run(imdb_params(lr=0.02), arrays, tmp_path / "run", log=messages.append)
    assert any("other hyperparameters" in m for m in messages)
    train_run(imdb_params(lr=0.02), arrays, tmp_path / "fresh", log=lambda s: None)
    assert_same_weights(state(tmp_path / "run"), state(tmp_path / "fresh"))


def test_outputs_and_learning_on_adding(tmp_path):
    arrays = generate_adding(n_samples=2000, digits=3, val_fraction=0.1, seed=0)
    params = {
        "task": "adding", "model": "gru", "seed": 0, "regime": "baseline", "epochs": 3, "batch_size": 64,
        "optimizer": "adam", "lr": 0.005, "hidden_size": 32, "device": "cpu",
    }  # fmt: skip
    lines = []
    metrics = train_run(TrainConfig(**params), arrays, tmp_path, log=lines.append)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["status"] in {"converged", "not_converged"}
    assert saved["hyperparameters"]["lr"] == 0.005 and saved["versions"]["torch"] == torch.__version__
    assert set(saved["test"]) == {"loss", "accuracy", "exact_match"}
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert float(rows[-1]["test_loss"]) < float(rows[0]["test_loss"])
    assert sum("ETA" in line for line in lines) == 4
    blocks = gate_blocks(state(tmp_path), "gru")
    assert sorted(blocks) == sorted(block_keys("adding", "gru"))
    assert all(b.shape == (32, 32) and b.dtype == np.float64 for b in blocks.values())


def test_divergence_stops_with_status_and_finite_weights(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (64, 28, 28)).astype(np.uint8),
        "y_train": rng.integers(0, 10, 64),
        "x_test": rng.integers(0, 256, (16, 28, 28)).astype(np.uint8),
        "y_test": rng.integers(0, 10, 16),
    }
    params = {
        "task": "mnist", "model": "rnn", "seed": 0, "regime": "baseline", "epochs": 5, "batch_size": 16,
        "optimizer": "rmsprop", "lr": 1e30, "hidden_size": 8, "rnn_activation": "relu", "device": "cpu",
    }  # fmt: skip
    metrics = train_run(TrainConfig(**params), arrays, tmp_path, log=lambda s: None)
    assert metrics["status"] == "diverged"
    assert metrics["epochs_completed"] < 5
    weights = state(tmp_path)
    assert all(bool(torch.isfinite(t).all()) for t in weights.values())


def test_identical_runs_write_identical_model_bytes(tmp_path):
    arrays = imdb_arrays()
    train_run(imdb_params(epochs=1), arrays, tmp_path / "a", log=lambda s: None)
    train_run(imdb_params(epochs=1), arrays, tmp_path / "b", log=lambda s: None)
    assert (tmp_path / "a/model.pt").read_bytes() == (tmp_path / "b/model.pt").read_bytes()


def test_checkpoint_of_other_code_is_set_aside(tmp_path):
    arrays = imdb_arrays()
    with pytest.raises(Kill):
        train_run(imdb_params(), arrays, tmp_path / "run", log=lambda s: None, hooks=[KillAfter(2)], code_digest="old")
    messages = []
    metrics = train_run(imdb_params(), arrays, tmp_path / "run", log=messages.append, code_digest="new")
    assert any("set" in m and "aside" in m and "other training code" in m for m in messages), messages
    assert not any(m.startswith("resuming") for m in messages)
    assert (tmp_path / "run/checkpoint.stale.pt").exists() and metrics["code_digest"] == "new"
    train_run(imdb_params(), arrays, tmp_path / "fresh", log=lambda s: None, code_digest="new")
    assert_same_weights(state(tmp_path / "run"), state(tmp_path / "fresh"))


def test_default_code_digest_follows_the_training_modules():
    src = Path(loop.__file__).parents[2]
    modules = provenance.library_modules(loop.__file__, src, "rnnrobust.training.loop")
    parts = ("tasks", "evaluation", "optimizer", "checkpoint", "session", "epochs", "outputs", "group", "graphed")
    expected = {f"rnnrobust.training.{part}" for part in (*parts, "models", "recurrence")}
    assert expected | {"rnnrobust.config", "rnnrobust.io"} <= set(modules)
    assert "rnnrobust.spectra" not in modules
    assert not any(name.startswith("rnnrobust.config.") for name in modules)  # the checks, files and CLI
    assert loop.default_code_digest() == provenance.module_digest("rnnrobust.training.loop", src)


def test_a_run_alone_records_its_group_of_one(tmp_path):
    metrics = train_run(imdb_params(epochs=1), imdb_arrays(), tmp_path, log=lambda s: None)
    assert metrics["group"] == {"seeds": [3], "index": 0, "stacked": False, "optimizer": "foreach"}
    assert not (tmp_path / "checkpoint.pt").exists()


def test_the_old_import_path_still_works_and_warns():
    sys.modules.pop("rnnrobust.train", None)
    with pytest.warns(DeprecationWarning, match=r"rnnrobust\.training\.loop"):
        old = importlib.import_module("rnnrobust.train")
    assert (old.train_run, old.train_group, old.train_groups) == (loop.train_run, loop.train_group, loop.train_groups)


def test_fused_adam_is_the_same_update_rounded_differently_and_recorded(tmp_path):
    """optimizer_impl: fused trains the same run to within float32 rounding and says so in metrics.json."""
    runs = {}
    for impl in ("foreach", "fused"):
        params = imdb_params(epochs=2, optimizer_impl=impl)
        metrics = train_run(params, imdb_arrays(), tmp_path / impl, log=lambda s: None)
        assert metrics["group"]["optimizer"] == metrics["hyperparameters"]["optimizer_impl"] == impl
        runs[impl] = state(tmp_path / impl)
    for key, foreach in runs["foreach"].items():
        torch.testing.assert_close(runs["fused"][key], foreach, rtol=1e-3, atol=1e-5)
