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
