# The report of the robust-training study (issue 18, docs/robust-training.md): Table 7 and Figure 9, the
# accuracy–robustness fronts of every training method (rnnrobust.reporting.table7_pareto, figure9_pareto). Both read
# every run's metrics, analysis and perturbation files (pareto_runs in report_inputs.smk).


rule table7_pareto:
    input:
        metrics=record_files(pareto_runs, "metrics"),
        analysis=record_files(pareto_runs, "analysis"),
        perturbation=record_files(pareto_runs, "perturbation"),
    output:
        arms=report(
            results("tables/table7_pareto.html"),
            caption="../report/table7_pareto.rst",
            category="7. Robust training",
            subcategory="table7_pareto",
            labels={"table": "table7_pareto"},
        ),
        arms_files=report(
            multiext(results("tables/table7_pareto"), ".csv", ".md", ".tex"),
            caption="../report/table7_pareto.rst",
            category="5. Table files",
            subcategory="table7_pareto",
        ),
        arms_caption=results("tables/table7_pareto.caption.rst"),
        fronts=report(
            results("tables/table7_fronts.html"),
            caption="../report/table7_fronts.rst",
            category="7. Robust training",
            subcategory="table7_fronts",
            labels={"table": "table7_fronts"},
        ),
        fronts_files=report(
            multiext(results("tables/table7_fronts"), ".csv", ".md", ".tex"),
            caption="../report/table7_fronts.rst",
            category="5. Table files",
            subcategory="table7_fronts",
        ),
        fronts_caption=results("tables/table7_fronts.caption.rst"),
        runs=results("tables/table7_pareto.runs.csv"),
    log:
        results("logs/tables/table7_pareto.log"),
    benchmark:
        results("benchmarks/tables/table7_pareto.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=pareto_runs,
        regimes=config["regimes"],
        gates=config["figures"]["gate"],
        code=CODE["table7_pareto"],
    script:
        "../scripts/table7_pareto.py"


rule figure9_pareto:
    input:
        metrics=record_files(pareto_runs, "metrics"),
        analysis=record_files(pareto_runs, "analysis"),
        perturbation=record_files(pareto_runs, "perturbation"),
    output:
        report(
            multiext(results("figures/figure9_pareto"), ".png", ".pdf"),
            caption="../report/figure9_pareto.rst",
            category="7. Robust training",
            subcategory="figure9_pareto",
        ),
        caption=results("figures/figure9_pareto.caption.rst"),
    log:
        results("logs/figures/figure9_pareto.log"),
    benchmark:
        results("benchmarks/figures/figure9_pareto.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=pareto_runs,
        regimes=config["regimes"],
        gates=config["figures"]["gate"],
        code=CODE["figure9_pareto"],
    script:
        "../scripts/figure9_pareto.py"
