"""Resolution of the validated workflow config into the hyperparameters of one job.

Snakemake records a job's ``params`` and reruns the job when they change, so each job must get
exactly its own slice of the config: changing MNIST settings must not rerun IMDB jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Keys of ``config['train'][task]`` that are not hyperparameters of one run (resolved per model).
PER_MODEL = ("hidden_size",)


def train_params(config: dict[str, Any], task: str, model: str, seed: int, regime: str) -> dict[str, Any]:
    """Everything ``train_run`` needs for one task × model × regime × seed, as plain values."""
    params: dict[str, Any] = dict(config["train"][task])
    for key in PER_MODEL:
        if isinstance(params.get(key), dict):
            params[key] = params[key][model]
    if task == "imdb":
        params["vocab_size"] = config["data"]["imdb"]["num_words"]
    if regime == "stabilized":
        params["stabilization"] = dict(config["stabilization"])
    params.update(
        task=task,
        model=model,
        seed=int(seed),
        regime=regime,
        device=config["device"],
        impl=config["cell_impl"],
    )
    return params


def data_mirror(config: dict[str, Any]) -> str | None:
    """The configured mirror as an absolute path (or a URL as given), or None."""
    mirror = config.get("data_mirror")
    if not mirror:
        return None
    if "://" in str(mirror):
        return str(mirror)
    return str(Path(mirror).expanduser().resolve())


def check_config(config: dict[str, Any]) -> None:
    """Checks across keys that the JSON schema cannot express; raises ValueError naming key and fix."""
    figures = config["figures"]
    if figures["seed"] not in config["seeds"]:
        raise ValueError(f"figures.seed = {figures['seed']} is not one of seeds {config['seeds']}; choose one of them")
    if not any(abs(figures["table_eps"] - e) <= 1e-12 * e for e in config["analysis"]["eps_levels"]):
        raise ValueError(
            f"figures.table_eps = {figures['table_eps']} is not one of analysis.eps_levels "
            f"{config['analysis']['eps_levels']}; add it there or choose one of them"
        )
