# Tables, figures and their helpers.

# Figures 1–3: pseudospectra after plain training; Figures 4–6: after stabilization (paper numbering).
TASK_ORDER = ("adding", "imdb", "mnist")
FIGURES = {
    f"figure{number}_{task}": (task, regime)
    for number, (regime, task) in enumerate(itertools.product(("baseline", "stabilized"), TASK_ORDER), start=1)
    if task in config["tasks"] and regime in config["regimes"]
}
TABLES = ["table1_accuracy", "table2_henrici", "table3_robustness"]


def figure_panels(wildcards):
    """One panel per model: the configured run and matrix of the figure's task and regime."""
    task, regime = FIGURES[wildcards.figure]
    fig = config["figures"]
    return [[task, m, regime, fig["seed"], f"{fig['layer'][task]}/{fig['gate'][m]}"] for m in config["models"]]


def figure_inputs(stage, ext):
    """Input function: the per-run ``results/<stage>/...<ext>`` file of every panel of a figure."""

    def inputs(wildcards):
        panels = figure_panels(wildcards)
        return [f"results/{stage}/{task}/{model}/{regime}/seed{seed}.{ext}" for task, model, regime, seed, _ in panels]

    return inputs


def training_runs(wildcards):
    return [[model, regime] for model in config["models"] for regime in config["regimes"]]


def training_histories(wildcards):
    seed = config["figures"]["seed"]
    return [
        f"results/models/{wildcards.task}/{model}/{regime}/seed{seed}/history.csv"
        for model, regime in training_runs(wildcards)
    ]


def eigenvalue_inputs(wildcards):
    seed = config["figures"]["seed"]
    return [f"results/analysis/{wildcards.task}/{m}/{wildcards.regime}/seed{seed}.json" for m in config["models"]]



rule tables:
    input:
        metrics=per_run("results/models/{task}/{model}/{regime}/seed{seed}/metrics.json"),
        analysis=per_run("results/analysis/{task}/{model}/{regime}/seed{seed}.json"),
        code=library("tables"),
    output:
        report(
            expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md", "tex"]),
            caption="../report/tables.rst",
            category="Tables",
        ),
    params:
        runs=per_run_keys(),
        eps=config["figures"]["table_eps"],
    log:
        "logs/tables.log",
    benchmark:
        "results/benchmarks/tables.tsv"
    localrule: True
    conda:
        ENV
    script:
        "../scripts/tables.py"


rule figure_pseudospectra:
    input:
        grids=figure_inputs("pseudospectra", "npz"),
        analysis=figure_inputs("analysis", "json"),
        code=library("figures"),
    output:
        report(
            multiext("results/figures/{figure}", ".png", ".pdf"),
            caption="../report/pseudospectra.rst",
            category="Pseudospectra",
            subcategory="{figure}",
        ),
    params:
        panels=figure_panels,
        eps_log10=config["figures"]["eps_log10"],
        relative=config["figures"]["relative"],
    wildcard_constraints:
        figure="|".join(FIGURES),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figure_pseudospectra.py"


rule figure_training:
    input:
        histories=training_histories,
        code=library("figures"),
    output:
        report(
            multiext("results/figures/training_{task}", ".png", ".pdf"),
            caption="../report/training.rst",
            category="Training",
            subcategory="{task}",
        ),
    params:
        runs=training_runs,
    log:
        "logs/figures/training_{task}.log",
    benchmark:
        "results/benchmarks/figures/training_{task}.tsv"
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figure_training.py"


rule figure_eigenvalues:
    input:
        analysis=eigenvalue_inputs,
        code=library("figures"),
    output:
        report(
            multiext("results/figures/eigenvalues_{task}_{regime}", ".png", ".pdf"),
            caption="../report/eigenvalues.rst",
            category="Stabilization",
            subcategory="{task}",
        ),
    params:
        models=config["models"],
    log:
        "logs/figures/eigenvalues_{task}_{regime}.log",
    benchmark:
        "results/benchmarks/figures/eigenvalues_{task}_{regime}.tsv"
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figure_eigenvalues.py"
