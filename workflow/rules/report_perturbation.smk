# The report of the perturbation stage: Table 4, Figure 7 per task, Figure 8, Table 6 and Figure 10
# (rnnrobust.reporting.table4_perturbation, figure7_perturbation, figure8_prediction, table6_predictors,
# figure10_predictors). Inputs and params of each rule come from one list of run records
# (perturbation_runs in report_inputs.smk), as in report.smk.


rule table4_perturbation:
    input:
        perturbation=record_files(perturbation_runs, "perturbation"),
    output:
        report(
            results("tables/table4_perturbation.html"),
            caption="../report/table4_perturbation.rst",
            category="6. Perturbation",
            subcategory="table4_perturbation",
            labels={"table": "table4_perturbation"},
        ),
        report(
            multiext(results("tables/table4_perturbation"), ".csv", ".md", ".tex"),
            caption="../report/table4_perturbation.rst",
            category="5. Table files",
            subcategory="table4_perturbation",
        ),
        caption=results("tables/table4_perturbation.caption.rst"),
    log:
        results("logs/tables/table4_perturbation.log"),
    benchmark:
        results("benchmarks/tables/table4_perturbation.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=perturbation_runs,
        regimes=list(config["regimes"]),
        code=CODE["table4_perturbation"],
    script:
        "../scripts/table4_perturbation.py"


rule figure7_perturbation:
    input:
        perturbation=record_files(task_perturbation_runs, "perturbation"),
    output:
        report(
            multiext(results("figures/figure7_perturbation_{task}"), ".png", ".pdf"),
            caption="../report/figure7_perturbation.rst",
            category="6. Perturbation",
            subcategory="figure7_perturbation",
            labels={"task": "{task}"},
        ),
        caption=results("figures/figure7_perturbation_{task}.caption.rst"),
    log:
        results("logs/figures/figure7_perturbation_{task}.log"),
    benchmark:
        results("benchmarks/figures/figure7_perturbation_{task}.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=task_perturbation_runs,
        regimes=list(config["regimes"]),
        code=CODE["figure7_perturbation"],
    script:
        "../scripts/figure7_perturbation.py"


rule figure8_prediction:
    input:
        perturbation=record_files(perturbation_runs, "perturbation"),
    output:
        report(
            multiext(results("figures/figure8_prediction"), ".png", ".pdf"),
            caption="../report/figure8_prediction.rst",
            category="6. Perturbation",
            subcategory="figure8_prediction",
        ),
        caption=results("figures/figure8_prediction.caption.rst"),
    log:
        results("logs/figures/figure8_prediction.log"),
    benchmark:
        results("benchmarks/figures/figure8_prediction.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=perturbation_runs,
        regimes=list(config["regimes"]),
        code=CODE["figure8_prediction"],
    script:
        "../scripts/figure8_prediction.py"


rule table6_predictors:
    input:
        perturbation=record_files(perturbation_runs, "perturbation"),
        predictors=record_files(predictor_runs, "predictors"),
    output:
        report(
            results("tables/table6_predictors.html"),
            caption="../report/table6_predictors.rst",
            category="6. Perturbation",
            subcategory="table6_predictors",
            labels={"table": "table6_predictors"},
        ),
        report(
            multiext(results("tables/table6_predictors"), ".csv", ".md", ".tex"),
            caption="../report/table6_predictors.rst",
            category="5. Table files",
            subcategory="table6_predictors",
        ),
        caption=results("tables/table6_predictors.caption.rst"),
    log:
        results("logs/tables/table6_predictors.log"),
    benchmark:
        results("benchmarks/tables/table6_predictors.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=predictor_runs,
        code=CODE["table6_predictors"],
    script:
        "../scripts/table6_predictors.py"


rule figure10_predictors:
    input:
        perturbation=record_files(perturbation_runs, "perturbation"),
        predictors=record_files(predictor_runs, "predictors"),
    output:
        report(
            multiext(results("figures/figure10_predictors"), ".png", ".pdf"),
            caption="../report/figure10_predictors.rst",
            category="6. Perturbation",
            subcategory="figure10_predictors",
        ),
        caption=results("figures/figure10_predictors.caption.rst"),
    log:
        results("logs/figures/figure10_predictors.log"),
    benchmark:
        results("benchmarks/figures/figure10_predictors.tsv")
    localrule: True
    conda:
        ENV
    params:
        runs=predictor_runs,
        code=CODE["figure10_predictors"],
    script:
        "../scripts/figure10_predictors.py"
