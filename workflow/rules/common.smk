# Config validation and the helpers that rules share. Logic lives in src/rnnrobust.
import itertools
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

rr_params.check_config(config)


wildcard_constraints:
    task="|".join(config["tasks"]),
    model="|".join(config["models"]),
    regime="|".join(config["regimes"]),
    seed=r"\d+",


def library(*modules):
    """Library files (modules or whole packages) a rule's script imports, declared as inputs so that
    editing one reruns exactly the jobs that use it."""
    files = []
    for name in ("__init__", "io", *modules):
        package = LIBRARY / name
        files += sorted(map(str, package.glob("*.py"))) if package.is_dir() else [str(LIBRARY / f"{name}.py")]
    return files


# Locally, `--resources gpu=1` serialises GPU jobs; on SLURM the plugin maps gpu to --gpus.
GPUS_PER_TRAINING_JOB = 1 if config["device"] == "cuda" else 0


def scaled_by_attempt(base):
    """A resource that grows with each retry (--retries), e.g. memory or runtime in minutes."""

    def resource(wildcards, attempt):
        return base * attempt

    return resource


def train_params(wildcards):
    return rr_params.train_params(config, wildcards.task, wildcards.model, int(wildcards.seed), wildcards.regime)


def per_run(pattern):
    """``pattern`` expanded over every task × model × regime × seed of the config."""
    return expand(
        pattern,
        task=config["tasks"],
        model=config["models"],
        regime=config["regimes"],
        seed=config["seeds"],
    )


def per_run_keys():
    """(task, model, regime, seed) of every run, in the order of ``per_run``."""
    return [list(key) for key in itertools.product(config["tasks"], config["models"], config["regimes"], config["seeds"])]


def final_targets():
    return [
        *per_run("results/weights/{task}/{model}/{regime}/seed{seed}.npz"),
        *per_run("results/analysis/{task}/{model}/{regime}/seed{seed}.json"),
        *per_run("results/pseudospectra/{task}/{model}/{regime}/seed{seed}.npz"),
        *expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md", "tex"]),
        *expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=["png", "pdf"]),
        *expand("results/figures/training_{task}.{ext}", task=config["tasks"], ext=["png", "pdf"]),
        *expand(
            "results/figures/eigenvalues_{task}_{regime}.{ext}",
            task=config["tasks"],
            regime=config["regimes"],
            ext=["png", "pdf"],
        ),
    ]
