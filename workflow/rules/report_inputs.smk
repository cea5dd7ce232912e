# The runs and files of the tables and figure rules (rnnrobust.runs): inputs and params from one list.
from rnnrobust.reporting import paper
from rnnrobust.runs import run_records

# The paper's Figures 1–6 (rnnrobust.reporting.paper.FIGURES) that the configured tasks and regimes produce.
FIGURES = {
    name: (task, regime)
    for name, (task, regime) in paper.FIGURES.items()
    if task in config["tasks"] and regime in config["regimes"]
}
TABLES = ["table1_accuracy", "table1_epochs", "table1_detail", "table2_henrici", "table3_robustness", "table5_paired"]


def record_files(records, kind):
    """Input function: the ``kind`` file of every record that ``records(wildcards)`` returns."""

    def inputs(wildcards):
        return [record[kind] for record in records(wildcards)]

    return inputs


def table_runs(wildcards):
    """Every run of the config, with its metrics and analysis files."""
    return run_records(config["results_dir"], per_run_keys(), "metrics", "analysis")


def before_rescale_runs(wildcards):
    """Table 3 only: every run of a regime with a rescale (``stabilization`` in its settings), with the analysis of
    its kernels before the final rescale (rows "<regime>, before final rescale"); analyze_before_rescale fails by
    design for a run without one, so no other regime's runs are asked for."""
    if wildcards.table != "table3_robustness":
        return []
    rescaled = [name for name, settings in config["regimes"].items() if "stabilization" in (settings or {})]
    keys = [key for key in per_run_keys() if key[2] in rescaled]
    return run_records(config["results_dir"], keys, "analysis_before_rescale")


def history_runs(wildcards):
    """Table 1 by epoch only: every run of the config, with its history file."""
    if wildcards.table != "table1_epochs":
        return []
    return run_records(config["results_dir"], per_run_keys(), "history")


def figure_panels(wildcards):
    """One panel per model: the configured run and matrix of the figure's task and regime."""
    task, regime = FIGURES[wildcards.figure]
    fig = config["figures"]
    keys = [(task, model, regime, fig["seed"]) for model in config["models"]]
    return run_records(
        config["results_dir"], keys, "grid", "analysis", block=lambda key: f"{fig['layer'][task]}/{fig['gate'][key[1]]}"
    )


def training_runs(wildcards):
    """Every model × regime × seed of a task, with its history and metrics files."""
    keys = [(wildcards.task, *key[1:]) for key in per_run_keys() if key[0] == wildcards.task]
    return run_records(config["results_dir"], keys, "history", "metrics")


def eigenvalue_runs(wildcards):
    """Every model of a task × regime at the figures' seed, with its analysis and metrics files."""
    seed = config["figures"]["seed"]
    keys = [(wildcards.task, m, wildcards.regime, seed) for m in config["models"]]
    return run_records(config["results_dir"], keys, "analysis", "metrics")


def perturbation_runs(wildcards):
    """Every run of the config, with its perturbation file."""
    return run_records(config["results_dir"], per_run_keys(), "perturbation")


def task_perturbation_runs(wildcards):
    """Every model × regime × seed of a task, with its perturbation file."""
    keys = [key for key in per_run_keys() if key[0] == wildcards.task]
    return run_records(config["results_dir"], keys, "perturbation")


def pareto_runs(wildcards):
    """Every run of the config, with its metrics, analysis and perturbation files (Table 7, Figure 9)."""
    return run_records(config["results_dir"], per_run_keys(), "metrics", "analysis", "perturbation")


def predictor_runs(wildcards):
    """Every run of the config, with its perturbation and predictors files (Table 6)."""
    return run_records(config["results_dir"], per_run_keys(), "perturbation", "predictors")
