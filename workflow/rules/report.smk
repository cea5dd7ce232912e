# Tables and figures: inputs and params of each rule come from one list of run records (report_inputs.smk).


rule tables:
    input:
        metrics=record_files(table_runs, "metrics"),
        analysis=record_files(table_runs, "analysis"),
    output:
        report(
            expand(results("tables/{table}.{ext}"), table=TABLES, ext=["csv", "md", "tex"]),
            caption="../report/tables.rst",
            category="Tables",
        ),
    log:
        results("logs/tables.log"),
    benchmark:
        results("benchmarks/tables.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=table_runs,
        eps_log10=config["tables"]["eps_log10"],
        code=CODE["tables"],
    script:
        "../scripts/tables.py"


rule figure_pseudospectra:
    input:
        grids=record_files(figure_panels, "grid"),
        analysis=record_files(figure_panels, "analysis"),
    output:
        report(
            multiext(results("figures/{figure}"), ".png", ".pdf"),
            caption="../report/pseudospectra.rst",
            category="Pseudospectra",
            subcategory="{figure}",
        ),
    log:
        results("logs/figures/{figure}.log"),
    benchmark:
        results("benchmarks/figures/{figure}.tsv")
    wildcard_constraints:
        figure="|".join(FIGURES),
    localrule: True
    conda:
        ENV
    params:
        panels=figure_panels,
        eps_log10=config["analysis"]["eps_log10"],
        relative=config["figures"]["relative"],
        code=CODE["figure_pseudospectra"],
    script:
        "../scripts/figure_pseudospectra.py"


rule figure_training:
    input:
        histories=record_files(training_runs, "history"),
        metrics=record_files(training_runs, "metrics"),
    output:
        report(
            multiext(results("figures/training_{task}"), ".png", ".pdf"),
            caption="../report/training.rst",
            category="Training",
            subcategory="{task}",
        ),
    log:
        results("logs/figures/training_{task}.log"),
    benchmark:
        results("benchmarks/figures/training_{task}.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=training_runs,
        code=CODE["figure_training"],
    script:
        "../scripts/figure_training.py"


rule figure_eigenvalues:
    input:
        analysis=record_files(eigenvalue_runs, "analysis"),
    output:
        report(
            multiext(results("figures/eigenvalues_{task}_{regime}"), ".png", ".pdf"),
            caption="../report/eigenvalues.rst",
            category="Stabilization",
            subcategory="{task}",
        ),
    log:
        results("logs/figures/eigenvalues_{task}_{regime}.log"),
    benchmark:
        results("benchmarks/figures/eigenvalues_{task}_{regime}.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=eigenvalue_runs,
        code=CODE["figure_eigenvalues"],
    script:
        "../scripts/figure_eigenvalues.py"
