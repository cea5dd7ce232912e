# Tables and figures: inputs and params of each rule come from one list of run records (report_inputs.smk).


rule tables:
    input:
        metrics=record_files(table_runs, "metrics"),
        analysis=record_files(table_runs, "analysis"),
        before_rescale=record_files(before_rescale_runs, "analysis_before_rescale"),
        histories=record_files(history_runs, "history"),
    output:
        report(
            results("tables/{table}.html"),
            caption="../report/tables.rst",
            category="1. Tables",
            labels={"table": "{table}"},
        ),
        report(
            multiext(results("tables/{table}"), ".csv", ".md", ".tex"),
            caption="../report/table_files.rst",
            category="5. Table files",
            subcategory="{table}",
        ),
        caption=results("tables/{table}.caption.rst"),
    log:
        results("logs/tables/{table}.log"),
    benchmark:
        results("benchmarks/tables/{table}.tsv")
    wildcard_constraints:
        table="|".join(TABLES),
    localrule: True
    conda:
        ENV
    params:
        runs=table_runs,
        before_rescale=before_rescale_runs,
        histories=history_runs,
        regimes=list(config["regimes"]),
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
            category="2. Pseudospectra",
            subcategory="{figure}",
        ),
        caption=results("figures/{figure}.caption.rst"),
    log:
        results("logs/figures/{figure}.log"),
    benchmark:
        results("benchmarks/figures/{figure}.tsv")
    wildcard_constraints:
        # "(?!)" matches nothing: an empty alternation would let the rule claim every figure (and fail on it)
        figure="|".join(FIGURES) or "(?!)",
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
            category="3. Training",
            subcategory="{task}",
        ),
        caption=results("figures/training_{task}.caption.rst"),
    log:
        results("logs/figures/training_{task}.log"),
    benchmark:
        results("benchmarks/figures/training_{task}.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=training_runs,
        regimes=list(config["regimes"]),
        code=CODE["figure_training"],
    script:
        "../scripts/figure_training.py"


rule figure_eigenvalues:
    input:
        analysis=record_files(eigenvalue_runs, "analysis"),
        metrics=record_files(eigenvalue_runs, "metrics"),
    output:
        report(
            multiext(results("figures/eigenvalues_{task}_{regime}"), ".png", ".pdf"),
            caption="../report/eigenvalues.rst",
            category="4. Stabilization",
            subcategory="{task}",
        ),
        caption=results("figures/eigenvalues_{task}_{regime}.caption.rst"),
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
