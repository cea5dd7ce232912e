# rnnrobust: Sengupta & Friston (2018), "How Robust are Deep Neural Networks?", reproduced.
# Run: snakemake --cores 8   (see README.md for the quick config, mirrors and SLURM profiles)
from snakemake.utils import min_version

min_version("9.19")


# config.yaml (the paper's protocol) is read and checked in common.smk, beneath --configfile files
# (quick, tests) and --config values.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/perturbation.smk"
include: "workflow/rules/report_inputs.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/report_perturbation.smk"
include: "workflow/rules/report_robust_training.smk"


rule all:
    default_target: True
    input:
        final_targets(),
