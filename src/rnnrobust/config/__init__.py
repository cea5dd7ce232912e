"""The typed, torch-free face of ``config.yaml``: one run's settings, with the defaults of optional keys.

``config.yaml`` is the paper's protocol; ``workflow/schemas/config.schema.yaml`` holds the types,
allowed values and descriptions of its keys; the defaults of optional keys are written once, here,
as dataclass field defaults. A key keeps its name from ``config.yaml`` to the code that uses it:
``train.<task>.lr`` is ``TrainConfig.lr`` is the optimizer's ``lr``.

Regimes are named: ``regimes`` maps each name (a path segment of the results) to the settings that
its runs change. ``stabilization`` turns Algorithm 1 on, with the options under the top-level
``stabilization`` key overridden by the regime's own; ``robust_training`` turns on the training methods
of ``rnnrobust.training.methods`` (the Schur parametrisation, the stability barrier, per-step
projections) the same way; ``train`` overrides ``train.<task>`` options, for every task
(``train: {lr: 0.01}``) or one (``train: {mnist: {recurrent_init: identity}}``).

This package's own file is what a training job needs. Its children are what reads and checks the
files, which a training job never imports (a job's code digest covers every module it imports):
``rnnrobust.config.checks`` (the schema and the checks across keys, with readable messages),
``rnnrobust.config.files`` (YAML files layered as ``--configfile`` layers them) and
``rnnrobust.config.cli`` (``python -m rnnrobust.config``).

>>> Stabilization().quantity, Stabilization().gamma
('radius', 1.0)
>>> RobustTraining(parametrization="schur", nonnormality=1e-3).methods()
['parametrization', 'nonnormality']
>>> regime_train_options({"train": {"lr": 0.01, "mnist": {"recurrent_init": "identity"}}}, "mnist")
{'lr': 0.01, 'recurrent_init': 'identity'}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnrobust.layout import TASKS

#: A run whose final test accuracy is below chance + this margin has status ``not_converged``
#: (``train.<task>.convergence_margin``; the default of runs whose metrics do not record one).
DEFAULT_CONVERGENCE_MARGIN = 0.05


class ConfigError(ValueError):
    """An invalid workflow config; the message names the key and the fix."""


def regime_train_options(settings: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The ``train.<task>`` options that a regime's settings override: those for every task, then the task's own."""
    train = settings.get("train") or {}
    options = {key: value for key, value in train.items() if key not in TASKS}
    options.update(train.get(task) or {})
    return options


#: Allowed values of the stabilization options (the schema lists them too, for the config's reader).
STABILIZATION_CHOICES = {
    "quantity": ("radius", "norm"),
    "estimator": ("norm_ratio", "rayleigh_abs", "exact"),
    "vector": ("persistent", "fresh"),
    "apply": ("always", "if_greater"),
    "scope": ("per_gate_block", "stacked"),
}


@dataclass(frozen=True)
class Stabilization:
    """Algorithm 1 and its variants (see ``rnnrobust.training.stabilize`` and docs/protocol.md).

    ``quantity`` is rescaled to ``gamma`` after every epoch: the spectral ``radius`` or ``norm``.
    """

    quantity: str = "radius"
    estimator: str = "norm_ratio"
    n_iter: int = 1
    vector: str = "persistent"
    apply: str = "always"
    gamma: float = 1.0
    scope: str = "per_gate_block"

    def __post_init__(self) -> None:
        for key, allowed in STABILIZATION_CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"stabilization.{key} = {getattr(self, key)!r}; expected one of {allowed}")
        if self.n_iter < 1:
            raise ConfigError(f"stabilization.n_iter = {self.n_iter}; expected an integer >= 1")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise ConfigError(f"stabilization.gamma = {self.gamma}; expected a positive number")
        if self.estimator == "rayleigh_abs" and self.quantity == "norm":
            raise ConfigError(
                "stabilization.estimator 'rayleigh_abs' estimates a spectral radius; use quantity 'radius', "
                "or estimator 'norm_ratio' or 'exact' for the norm"
            )
        if self.scope == "stacked" and self.quantity == "radius":
            raise ConfigError(
                "stabilization.scope 'stacked' needs quantity 'norm': a k·H × H matrix has no spectral radius"
            )


#: Allowed values of the robust-training options.
ROBUST_TRAINING_CHOICES = {
    "parametrization": ("none", "schur"),
    "projection": ("none", "radius", "norm"),
    "estimator": STABILIZATION_CHOICES["estimator"],
    "apply": STABILIZATION_CHOICES["apply"],
}


@dataclass(frozen=True)
class RobustTraining:
    """Training methods that act on the recurrent matrices during training (``rnnrobust.training.methods``).

    ``parametrization: schur`` trains W = P(Λ + N)Pᵀ (ρ(W) < ``gamma``, Henrici departure ‖N‖_F) with
    ``nonnormality`` β on ‖N‖_F²; ``barrier`` β on Σ_b log tr P_b (None: off; 0: its per-step safeguard
    alone); ``projection`` after every optimizer step: ``radius`` (Algorithm 1 with ``estimator``,
    ``n_iter``, ``apply``) or ``norm`` (singular values clipped to ``gamma``); ``init_from`` a regime whose
    trained parametrisation the run starts from, ``freeze_eigenvalues`` keeps its Λ (docs/robust-training.md).
    """

    parametrization: str = "none"
    gamma: float = 1.0
    nonnormality: float = 0.0
    barrier: float | None = None
    projection: str = "none"
    estimator: str = "norm_ratio"
    n_iter: int = 1
    apply: str = "always"
    init_from: str | None = None
    freeze_eigenvalues: bool = False

    def __post_init__(self) -> None:
        for key, allowed in ROBUST_TRAINING_CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"robust_training.{key} = {getattr(self, key)!r}; expected one of {allowed}")
        if not (isinstance(self.gamma, int | float) and math.isfinite(self.gamma) and self.gamma > 0):
            raise ConfigError(f"robust_training.gamma = {self.gamma}; expected a positive number")
        for key in ("nonnormality", "barrier"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"robust_training.{key} = {value}; expected a number >= 0")
        if self.n_iter < 1:
            raise ConfigError(f"robust_training.n_iter = {self.n_iter}; expected an integer >= 1")
        schur = self.parametrization == "schur"
        for key in ("nonnormality", "init_from", "freeze_eigenvalues"):
            if getattr(self, key) and not schur:
                raise ConfigError(
                    f"robust_training.{key} acts on the Schur parametrisation; set parametrization: schur"
                )
        if schur and self.projection != "none":
            raise ConfigError(
                "robust_training.projection would break W = P(Λ + N)Pᵀ of parametrization: schur (which keeps ρ < γ)"
            )
        if self.freeze_eigenvalues and not self.init_from:
            raise ConfigError(
                "robust_training.freeze_eigenvalues needs init_from: the regime whose eigenvalues it keeps"
            )

    def methods(self) -> list[str]:
        """The methods these options turn on (an empty list: plain training)."""
        on = {
            "parametrization": self.parametrization != "none",
            "nonnormality": self.nonnormality > 0,
            "barrier": self.barrier is not None,
            "projection": self.projection != "none",
        }
        return [name for name, active in on.items() if active]


#: Fields of TrainConfig that are options of ``rnnrobust.training.models.build_model``.
MODEL_FIELDS = (
    "hidden_size",
    "cell_impl",
    "recurrent_init",
    "input_init",
    "init_stddev",
    "rnn_activation",
    "dropout",
    "recurrent_dropout",
    "vocab_size",
    "embed_dim",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs: ``config.yaml``'s ``train.<task>`` resolved for one run.

    Build it with :meth:`for_run`; the workflow passes :meth:`to_params` to the job and the job
    rebuilds it with :meth:`from_params`.
    """

    task: str
    model: str
    seed: int
    regime: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    hidden_size: int
    beta_1: float = 0.9
    beta_2: float = 0.999
    rho: float = 0.9
    epsilon: float = 1e-7  # Keras 2.1.6's K.epsilon(); torch's defaults differ
    clipnorm: float | None = None
    recurrent_init: str = "orthogonal"
    input_init: str = "glorot_uniform"
    init_stddev: float = 0.001  # of the random_normal initialisers (Keras' mnist_irnn.py)
    rnn_activation: str = "tanh"
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    embed_dim: int | None = None
    vocab_size: int | None = None
    convergence_margin: float = DEFAULT_CONVERGENCE_MARGIN
    max_train_samples: int | None = None
    max_test_samples: int | None = None
    eval_batch_size: int = 1024
    dtype: str = "float32"
    device: str = "auto"
    cell_impl: str = "faithful"
    optimizer_impl: str = "foreach"
    graphed: bool = False
    stabilization: Stabilization | None = field(default=None)
    robust_training: RobustTraining | None = field(default=None)

    @classmethod
    def for_run(cls, config: Mapping[str, Any], task: str, model: str, seed: int, regime: str) -> TrainConfig:
        """The run's settings from a checked workflow config; only the run's own slice of it."""
        settings = config["regimes"][regime]
        options = {**config["train"][task], **regime_train_options(settings, task)}
        if isinstance(options["hidden_size"], Mapping):
            options["hidden_size"] = options["hidden_size"][model]
        if task == "imdb":
            options["vocab_size"] = config["data"]["imdb"]["num_words"]
        overrides = settings.get("stabilization")
        stabilization = None if overrides is None else Stabilization(**{**config["stabilization"], **overrides})
        robust = settings.get("robust_training")
        if robust is not None:
            robust = RobustTraining(**{**(config.get("robust_training") or {}), **robust})
        return cls(
            task=task,
            model=model,
            seed=int(seed),
            regime=regime,
            device=config["device"],
            cell_impl=config["cell_impl"],
            optimizer_impl=config["optimizer_impl"],
            graphed=config["graphed"],
            stabilization=stabilization,
            robust_training=robust,
            **options,
        )

    def to_params(self) -> dict[str, Any]:
        """Plain values (for Snakemake's ``params`` and ``metrics.json``); ``robust_training`` only where set,
        so that the runs of the regimes without it keep their settings' digests."""
        params = dataclasses.asdict(self)
        if params["robust_training"] is None:
            del params["robust_training"]
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_params`."""
        values = dict(params)
        if values.get("stabilization") is not None:
            values["stabilization"] = Stabilization(**values["stabilization"])
        if values.get("robust_training") is not None:
            values["robust_training"] = RobustTraining(**values["robust_training"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def model_options(self) -> dict[str, Any]:
        """Keyword options of ``build_model`` (those that apply to this task)."""
        options = {key: getattr(self, key) for key in MODEL_FIELDS}
        if self.task != "imdb":
            del options["vocab_size"], options["embed_dim"]
        return options


def data_mirror(config: Mapping[str, Any]) -> str | None:
    """The configured mirror as an absolute path (or a URL as given), or None."""
    mirror = config.get("data_mirror")
    if not mirror:
        return None
    if "://" in str(mirror):
        return str(mirror)
    return str(Path(mirror).expanduser().resolve())
