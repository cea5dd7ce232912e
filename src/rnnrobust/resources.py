"""Resource requests that a scheduler can trust: a training job's time limit and memory from its size.

A training job trains a group: the runs of one task × model × regime, one per configured seed (R runs,
stacked into one model). It asks for

    minutes = startup + R × epochs × batches per epoch × ms per batch × method × loop overhead × safety factor,

never less than a floor, rounded up (to 5 minutes); ``batches per epoch`` is the training set over the
batch size, ``ms per batch`` the cost of one training step of the run's task and cell at the paper's
shapes, measured by ``benchmarks/train_step.py`` and kept with the date and machine in
``workflow/resources.yaml`` (scaled up, never down, for a larger batch, hidden size, sequence or
float64), ``method`` the measured cost of the regime's ``robust_training`` methods against the plain step
(:func:`method_factor`), and ``loop overhead`` what a real epoch costs beyond its steps (the test-set evaluation
after every epoch, the stabilization rescale, the loop itself), measured once against whole epochs.
Stacking gains up to 1.3× per run on a CPU (docs/benchmarks.md), which the request does not count on.
Memory is the task's measured peak for one run plus its measured cost of each further run of the
group, times a safety factor. Both grow with each retry (``attempt``):
a job that ran out of time or memory is resubmitted with twice, then three times, as much, and
resumes from its last epoch's checkpoint.

Torch-free: the workflow (``workflow/rules/resources.smk``) calls it for every training job.

    python -m rnnrobust.resources [OVERLAY.yaml ...]   # the requests of config.yaml (+ overlays)

>>> costs = TrainCosts.from_mapping(EXAMPLE)
>>> config = {"device": "cpu", "cell_impl": "faithful", "optimizer_impl": "foreach", "graphed": False, "seeds": [0],
...           "regimes": {"baseline": {}},
...           "stabilization": {},
...           "data": {"adding": {"n_samples": 50000, "digits": 3, "val_fraction": 0.1}},
...           "train": {"adding": {"epochs": 199, "batch_size": 128, "optimizer": "adam", "lr": 1e-3,
...                                "hidden_size": 128}}}
>>> batches_per_epoch(config, group_settings(config, "adding", "rnn", "baseline"), costs)
352
>>> train_runtime_minutes(config, "adding", "rnn", "baseline", costs)  # 2 + 199·352·5 ms·2·2 = 25.4 min, rounded up
30
>>> train_runtime_minutes(config, "adding", "rnn", "baseline", costs, attempt=2)
60
>>> train_mem_mb(config, "adding", costs), train_mem_mb(config, "adding", costs, attempt=3)
(700, 2100)
>>> train_mem_mb(dict(config, seeds=[0, 1, 2]), "adding", costs)  # (450 + 2·100) MB · 1.5
1000
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rnnrobust.config import TrainConfig
from rnnrobust.data.adding import train_size

#: The measured costs kept in the repository, beside the workflow that uses them.
COSTS_FILE = Path(__file__).resolve().parents[2] / "workflow" / "resources.yaml"

#: A small, self-consistent cost table for the examples above and the tests (not measured).
EXAMPLE: dict[str, Any] = {
    "ms_per_batch": {"cpu": {"faithful": {"adding": {"rnn": 5.0}}}},
    "shapes": {"adding": {"batch_size": 128, "hidden_size": 128, "digits": 3}},
    "train_samples": {},
    "loop_overhead": 2.0,
    "safety_factor": 2.0,
    "startup_minutes": 2,
    "floor_minutes": 10,
    "round_minutes": 5,
    "unmeasured_device_factor": 2.0,
    "float64_factor": 2.0,
    "method_factors": {"schur": 4.0, "barrier": 8.0, "safeguard": 3.0, "radius": 1.0, "norm": 2.0},
    "memory_mb": {"adding": 450},
    "memory_mb_per_extra_run": {"adding": 100},
    "memory_safety_factor": 1.5,
    "cuda_extra_memory_mb": 2000,
}


@dataclass(frozen=True)
class TrainCosts:
    """The measured costs and the policy of ``workflow/resources.yaml`` (its comments say what each is)."""

    ms_per_batch: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]  # device → impl → task → cell
    shapes: Mapping[str, Mapping[str, Any]]  # task → the shape that ms_per_batch was measured at
    train_samples: Mapping[str, int]  # task → training samples of the canonical data set
    loop_overhead: float
    safety_factor: float
    startup_minutes: float
    floor_minutes: float
    round_minutes: int
    unmeasured_device_factor: float
    float64_factor: float
    method_factors: Mapping[str, float]  # robust_training method → its step's cost / the plain step's
    memory_mb: Mapping[str, float]  # task → peak resident memory of a training job of one run
    memory_mb_per_extra_run: Mapping[str, float]  # task → what each further run of a group adds
    memory_safety_factor: float
    cuda_extra_memory_mb: float

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainCosts:
        """From the parsed YAML (extra keys, such as ``measured``, are the record of how and where)."""
        fields = cls.__dataclass_fields__
        missing = sorted(set(fields) - set(values))
        if missing:
            raise ValueError(f"resource costs miss {', '.join(missing)}")
        return cls(**{key: values[key] for key in fields})

    @classmethod
    def from_yaml(cls, path: str | Path = COSTS_FILE) -> TrainCosts:
        import yaml

        return cls.from_mapping(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=4)
def load_costs(path: str | Path = COSTS_FILE) -> TrainCosts:
    """The costs in ``path`` (by default the repository's ``workflow/resources.yaml``), read once."""
    return TrainCosts.from_yaml(path)


def group_settings(config: Mapping[str, Any], task: str, model: str, regime: str) -> TrainConfig:
    """The settings that the runs of a training group share (its first seed's)."""
    return TrainConfig.for_run(config, task, model, config["seeds"][0], regime)


def train_samples(config: Mapping[str, Any], train: TrainConfig, costs: TrainCosts) -> int:
    """Training samples per epoch: the adding task's from its config, the others' from the data set.

    ``max_train_samples`` caps them, as in training.
    """
    if train.task == "adding":
        data = config["data"]["adding"]
        n = train_size(data["n_samples"], data["val_fraction"])
    else:
        n = int(costs.train_samples[train.task])
    cap = train.max_train_samples
    return min(n, int(cap)) if cap else n


def batches_per_epoch(config: Mapping[str, Any], train: TrainConfig, costs: TrainCosts) -> int:
    """Training batches in one epoch of ``task`` (the last one may be short)."""
    return math.ceil(train_samples(config, train, costs) / train.batch_size)


def ms_per_batch(config: Mapping[str, Any], train: TrainConfig, costs: TrainCosts) -> float:
    """The measured cost of one training batch, scaled up for shapes larger than those measured.

    A batch's work grows with the batch size, the square of the hidden size and the sequence length;
    a smaller shape keeps the measured cost (start-up and per-step overheads do not shrink).
    """
    task, model = train.task, train.model
    device = "cuda" if train.device == "cuda" else "cpu"  # auto trains on the CPU of a node without a GPU
    tables = costs.ms_per_batch
    factor = 1.0
    if device not in tables:
        device, factor = "cpu", costs.unmeasured_device_factor
    ms = float(tables[device][train.cell_impl][task][model]) * factor
    shape = costs.shapes[task]
    hidden = shape["hidden_size"][model] if isinstance(shape["hidden_size"], Mapping) else shape["hidden_size"]
    scale = max(1.0, train.batch_size / shape["batch_size"]) * max(1.0, (train.hidden_size / hidden) ** 2)
    if task == "imdb":
        scale *= max(1.0, config["data"]["imdb"]["maxlen"] / shape["maxlen"])
    if task == "adding":
        scale *= max(1.0, config["data"]["adding"]["digits"] / shape["digits"])
    if train.dtype == "float64":
        scale *= costs.float64_factor
    return ms * scale


def method_factor(train: TrainConfig, costs: TrainCosts) -> float:
    """A step's cost with the run's ``robust_training`` methods against the plain step: 1 plus the extra cost of
    each (the barrier at β = 0 is its safeguard alone).

    >>> from rnnrobust.config import RobustTraining
    >>> costs = TrainCosts.from_mapping(EXAMPLE)
    >>> run = TrainConfig(task="adding", model="rnn", seed=0, regime="r", epochs=1, batch_size=128, optimizer="adam",
    ...                   lr=1e-3, hidden_size=128)
    >>> method_factor(run, costs), method_factor(run.replace(robust_training=RobustTraining(barrier=0.0)), costs)
    (1.0, 3.0)
    >>> method_factor(run.replace(robust_training=RobustTraining(parametrization="schur", barrier=1e-3)), costs)
    11.0
    """
    options = train.robust_training
    if options is None:
        return 1.0
    methods = []
    if options.parametrization == "schur":
        methods.append("schur")
    if options.barrier is not None:
        methods.append("barrier" if options.barrier > 0 else "safeguard")
    if options.projection != "none":
        methods.append(options.projection)
    return 1.0 + sum(float(costs.method_factors[m]) - 1.0 for m in methods)


def train_runtime_minutes(
    config: Mapping[str, Any], task: str, model: str, regime: str, costs: TrainCosts | None = None, attempt: int = 1
) -> int:
    """The time limit of one training job (a group of every configured seed), in minutes (Snakemake's
    ``runtime``), for its ``attempt``-th try."""
    costs = costs or load_costs()
    train = group_settings(config, task, model, regime)
    step_ms = ms_per_batch(config, train, costs) * method_factor(train, costs)
    step_ms *= costs.loop_overhead * costs.safety_factor
    runs = len(config["seeds"])
    minutes = costs.startup_minutes + runs * train.epochs * batches_per_epoch(config, train, costs) * step_ms / 60_000
    minutes = max(float(costs.floor_minutes), minutes)
    step = int(costs.round_minutes)
    return int(attempt) * step * math.ceil(minutes / step - 1e-9)


def train_mem_mb(config: Mapping[str, Any], task: str, costs: TrainCosts | None = None, attempt: int = 1) -> int:
    """The memory of one training job (a group of every configured seed), in MB (Snakemake's ``mem_mb``),
    for its ``attempt``-th try."""
    costs = costs or load_costs()
    extra_runs = len(config["seeds"]) - 1
    mb = float(costs.memory_mb[task]) + extra_runs * float(costs.memory_mb_per_extra_run[task])
    mb *= costs.memory_safety_factor
    if config["device"] == "cuda":
        mb += costs.cuda_extra_memory_mb
    return int(attempt) * 100 * math.ceil(mb / 100 - 1e-9)


def requests_table(config: Mapping[str, Any], costs: TrainCosts | None = None) -> str:
    """A Markdown table of the first-attempt request of every training job (a task × model × regime, each
    training the ``runs`` seeds as a group) and how it arose."""
    costs = costs or load_costs()
    rows = [
        "| task | model | regime | runs | epochs | batches/epoch | ms/batch | runtime (min) | mem_mb |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for task in config["tasks"]:
        for model in config["models"]:
            for regime in config["regimes"]:
                train = group_settings(config, task, model, regime)
                rows.append(
                    f"| {task} | {model} | {regime} | {len(config['seeds'])} | {train.epochs} "
                    f"| {batches_per_epoch(config, train, costs)} | {ms_per_batch(config, train, costs):.2f} "
                    f"| {train_runtime_minutes(config, task, model, regime, costs)} "
                    f"| {train_mem_mb(config, task, costs)} |"
                )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Print the training requests of config.yaml with overlays layered over it."""
    import argparse

    from rnnrobust.config import ConfigError
    from rnnrobust.config.cli import add_config_arguments, config_from_arguments

    parser = argparse.ArgumentParser(prog="python -m rnnrobust.resources", description=main.__doc__)
    add_config_arguments(parser)
    parser.set_defaults(base=str(COSTS_FILE.parents[1] / "config.yaml"))
    try:
        config = config_from_arguments(parser.parse_args(argv))
    except ConfigError as err:
        print(f"invalid config: {err}")
        return 1
    print(requests_table(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
