"""Tiny runs of every task for the training tests: their settings and data, a killed job, their outputs.

The IMDB run and data shared with other test folders are in ``tests/fixtures.py``.
"""

import numpy as np
from fixtures import imdb_arrays, imdb_params

from rnnrobust.config import TrainConfig
from rnnrobust.data.adding import generate_adding

#: The seeds of a tiny group.
SEEDS = (3, 4, 5)


def quiet(message):
    """A log that drops every line."""


class Kill(Exception):
    """The job was killed (raised by :class:`KillAfter`)."""


class KillAfter:
    """An epoch-end hook that simulates the job being killed once ``epoch`` is done."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, model, epoch):
        if epoch == self.epoch:
            raise Kill
        return {}


def mnist_arrays(n_train=48, n_test=24):
    """Random MNIST-shaped pixels and labels (nothing to learn)."""
    rng = np.random.default_rng(1)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "y_test": rng.integers(0, 10, n_test),
    }


def run_params(task, **overrides):
    """A tiny run of ``task`` whose training is three optimizer steps (one epoch of three batches)."""
    base = {"seed": 0, "regime": "baseline", "epochs": 1, "batch_size": 16, "device": "cpu"}
    if task == "imdb":
        return imdb_params(**{**base, "model": "gru", "hidden_size": 8, "embed_dim": 8, "dropout": 0.0,
                              "recurrent_dropout": 0.0, **overrides})  # fmt: skip
    if task == "adding":
        params = {"task": "adding", "model": "lstm", "optimizer": "adam", "lr": 0.01, "hidden_size": 8}
    else:
        params = {"task": "mnist", "model": "rnn", "optimizer": "rmsprop", "lr": 1e-3, "hidden_size": 12,
                  "rnn_activation": "relu"}  # fmt: skip
    return TrainConfig(**{**base, **params, **overrides})


def arrays_for(task):
    """48 training samples of ``task`` for :func:`run_params`."""
    if task == "imdb":
        return imdb_arrays(n_train=48)
    if task == "adding":
        return generate_adding(n_samples=60, digits=3, val_fraction=0.2, seed=0)  # 48 training questions
    return mnist_arrays()


def toy_imdb(n_train, length, seed):
    """Random word ids; the test labels repeat the first training labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_train)
    x_train, x_test = rng.integers(3, 30, (n_train, length)), rng.integers(3, 30, (16, length))
    return {"x_train": x_train, "y_train": y, "x_test": x_test, "y_test": y[:16]}


def stabilized_params(model, seed, epochs, estimator, **extra):
    """A tiny imdb run of the stabilized regime with Algorithm 1's default options but ``estimator``."""
    stabilization = {"quantity": "radius", "estimator": estimator, "n_iter": 1, "vector": "persistent",
                     "apply": "always", "gamma": 1.0, "scope": "per_gate_block"}  # fmt: skip
    return TrainConfig.from_params({
        "task": "imdb", "model": model, "seed": seed, "regime": "stabilized", "epochs": epochs, "batch_size": 16,
        "optimizer": "adam", "lr": 0.01, "hidden_size": 5, "vocab_size": 30, "embed_dim": 4, "device": "cpu",
        "stabilization": stabilization, **extra,
    })  # fmt: skip


def model_bytes(tmp_path, kind, seed):
    """The bytes of ``<kind>/seed<seed>/model.pt``."""
    return (tmp_path / f"{kind}/seed{seed}/model.pt").read_bytes()


def history(tmp_path, kind, seed):
    """The rows of ``<kind>/seed<seed>/history.csv`` as text, without the ``seconds`` column."""
    rows = (tmp_path / f"{kind}/seed{seed}/history.csv").read_text().splitlines()
    header = rows[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "seconds"]
    return [[row.split(",")[i] for i in keep] for row in rows]
