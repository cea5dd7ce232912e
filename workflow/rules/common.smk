# Config validation and the helpers that rules share. Logic lives in src/rnnrobust.
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

REPO = Path(workflow.basedir)
LIBRARY = REPO / "src" / "rnnrobust"
ENV = "../../envs/rnnrobust.yaml"
# This checkout's library, also where it is not installed (conda envs, cluster nodes): scripts
# find it through the workflow/scripts/rnnrobust symlink, which Snakemake puts on their sys.path.
sys.path.insert(0, str(REPO / "src"))

from rnnrobust import params as rr_params  # noqa: E402


wildcard_constraints:
    task="|".join(config["tasks"]),
    model="|".join(config["models"]),
    regime="|".join(config["regimes"]),
    seed=r"\d+",


def library(*modules):
    """Library files a rule's script imports, declared as inputs so that editing one reruns its jobs."""
    return [str(LIBRARY / f"{name}.py") for name in ("__init__", "io", *modules)]


# Locally, `--resources gpu=1` serialises GPU jobs; on SLURM the plugin maps gpu to --gpus.
GPUS_PER_TRAINING_JOB = 1 if config["device"] == "cuda" else 0


def scaled_by_attempt(base):
    """A resource that grows with each retry (--retries), e.g. memory or runtime in minutes."""

    def resource(wildcards, attempt):
        return base * attempt

    return resource


def train_params(wildcards):
    return rr_params.train_params(config, wildcards.task, wildcards.model, int(wildcards.seed), wildcards.regime)


def weights_files():
    return expand(
        "results/weights/{task}/{model}/{regime}/seed{seed}.npz",
        task=config["tasks"],
        model=config["models"],
        regime=config["regimes"],
        seed=config["seeds"],
    )
