# Config checks and the helpers that rules share. Logic lives in src/rnnrobust.
import os
import sys
from pathlib import Path

REPO = Path(workflow.basedir)
SRC = REPO / "src"
# Every job imports this checkout's library, whatever else is installed: src/ goes first on the
# path of this process and of every job it starts (locally, in conda environments and on cluster
# nodes alike); rnnrobust.job.start checks it in each job.
sys.path.insert(0, str(SRC))
from rnnrobust.job import use_checkout_library  # noqa: E402

use_checkout_library(SRC)

from rnnrobust import config as rr_config, provenance  # noqa: E402
from rnnrobust.config import checks as rr_checks, files as rr_files  # noqa: E402
from rnnrobust.data.mirror import check_mirror  # noqa: E402
from rnnrobust.layout import RUN_FILES, RUN_PATTERN, run_stem  # noqa: E402
from rnnrobust.runs import run_keys  # noqa: E402

# config.yaml lies beneath --configfile files and --config values, as with Snakemake's configfile:
# directive, but is read here so that a YAML error names its file and line. The files are layered
# again here (rnnrobust.config.files.layer_configs) so that a list of regime names selects regimes that a
# file below defines; Snakemake's own merge replaces a mapping by a list.
_layered = rr_files.load_yaml(REPO / "config.yaml")
for _path in workflow.overwrite_configfiles:
    _layered = rr_files.layer_configs(_layered, rr_files.load_yaml(_path))
_checked = rr_checks.check_config(
    rr_files.layer_configs(_layered, config),
    rr_checks.load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml"),
)
config.clear()
config.update(_checked)
if config["data_mirror"]:
    check_mirror(rr_config.data_mirror(config), config["tasks"])

ENV = "../../envs/rnnrobust.yaml"


def results(path):
    """``path`` below this config's results folder (``results_dir``), so configs never share outputs."""
    return f"{config['results_dir']}/{path}"


def run_file(kind):
    """A run's file of ``kind`` (``rnnrobust.layout.RUN_FILES``), as a pattern over the run wildcards."""
    return results(RUN_FILES[kind].format(stem=RUN_PATTERN))


def run_folder(task, model, regime, seed):
    """The folder of one run's training outputs (model, metrics, history)."""
    return os.path.dirname(results(RUN_FILES["model"].format(stem=run_stem(task, model, regime, seed))))


def run_log(rule):
    """The log of a per-run job of ``rule``."""
    return results(f"logs/{rule}/{RUN_PATTERN}.log")


def run_benchmark(rule):
    """The benchmark file of a per-run job of ``rule``."""
    return results(f"benchmarks/{rule}/{RUN_PATTERN}.tsv")


# Each rule reruns when the meaning of its script or of a library module the script imports changes
# (a digest of their syntax trees, without comments or docstrings), never for a touch or a comment.
CODE = provenance.script_digests(sorted((REPO / "workflow" / "scripts").glob("*.py")), SRC)


wildcard_constraints:
    task="|".join(config["tasks"]),
    model="|".join(config["models"]),
    regime="|".join(config["regimes"]),
    seed=r"\d+",


# Locally, `--resources gpu=1` serialises GPU jobs; on SLURM the plugin maps gpu to --gpus.
GPUS_PER_TRAINING_JOB = 1 if config["device"] == "cuda" else 0


def group_run_settings(task, model, regime):
    """The settings of each run of a training group (one per seed), as plain values."""
    return [rr_config.TrainConfig.for_run(config, task, model, seed, regime).to_params() for seed in config["seeds"]]


def train_params(wildcards):
    return group_run_settings(wildcards.task, wildcards.model, wildcards.regime)


def start_regime(task, model, regime):
    """The regime whose runs this group's runs start from (robust_training.init_from), or None."""
    options = rr_config.TrainConfig.for_run(config, task, model, config["seeds"][0], regime).robust_training
    return None if options is None else options.init_from


def start_folders(task, model, regime):
    """For train_grouping: all, the run folders a group's runs start from, trained earlier in the same job."""
    source = start_regime(task, model, regime)  # one of the config's regimes (rnnrobust.config.checks)
    if source is None:
        return None
    return [run_folder(task, model, source, seed) for seed in config["seeds"]]


def train_starts(wildcards):
    """The model.pt of each run that a group's runs start from (the same seed; none without init_from).
    The source's parametrization.pt lies beside it, written by the same job."""
    source = start_regime(wildcards.task, wildcards.model, wildcards.regime)
    if source is None:
        return []
    return per_seed(run_file("model").replace("{regime}", source))


def all_train_groups(wildcards):
    """Every training group of the config: its task, model, regime, data file, run folders, log and run settings."""
    groups = []
    for task, model, regime in dict.fromkeys(tuple(key[:3]) for key in per_run_keys()):
        stem = f"{task}/{model}/{regime}"
        groups.append(
            {
                "data": results(f"data/{task}/data.npz"),
                "out_dirs": [run_folder(task, model, regime, seed) for seed in config["seeds"]],
                "log": results(f"logs/train/{stem}.log"),
                "runs": group_run_settings(task, model, regime),
                "start_dirs": start_folders(task, model, regime),
            }
        )
    return groups


def per_seed(pattern):
    """``pattern`` for every configured seed, its other wildcards kept (the outputs of a training group)."""
    return [pattern.replace("{seed}", str(seed)) for seed in config["seeds"]]


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
    return [list(key) for key in run_keys(config)]


def final_targets():
    return [
        *per_run(run_file("weights")),
        *per_run(run_file("analysis")),
        *per_run(run_file("grid")),
        *per_run(run_file("perturbation")),
        *per_run(run_file("predictors")),
        *expand(results("tables/{table}.{ext}"), table=TABLES, ext=["html", "csv", "md", "tex"]),
        *expand(results("tables/table4_perturbation.{ext}"), ext=["html", "csv", "md", "tex"]),
        *expand(results("tables/table6_predictors.{ext}"), ext=["html", "csv", "md", "tex"]),
        *expand(results("figures/figure7_perturbation_{task}.{ext}"), task=config["tasks"], ext=["png", "pdf"]),
        *expand(results("figures/figure8_prediction.{ext}"), ext=["png", "pdf"]),
        *expand(results("figures/figure10_predictors.{ext}"), ext=["png", "pdf"]),
        *expand(
            results("tables/{table}.{ext}"), table=["table7_pareto", "table7_fronts"], ext=["html", "csv", "md", "tex"]
        ),
        *expand(results("figures/figure9_pareto.{ext}"), ext=["png", "pdf"]),
        *expand(results("figures/{figure}.{ext}"), figure=FIGURES, ext=["png", "pdf"]),
        *expand(results("figures/training_{task}.{ext}"), task=config["tasks"], ext=["png", "pdf"]),
        *expand(
            results("figures/eigenvalues_{task}_{regime}.{ext}"),
            task=config["tasks"],
            regime=config["regimes"],
            ext=["png", "pdf"],
        ),
    ]
