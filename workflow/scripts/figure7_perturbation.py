"""Figure 7 of one task: test accuracy change against the relative weight perturbation ε, one row per direction
family, one line per regime (mean over seeds, min–max band), predicted thresholds and the 5-point drop marked."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure7_perturbation import (
    perturbation_figure_caption,
    perturbation_figure_description,
    plot_perturbation,
)
from rnnrobust.reporting.figure_style import report_caption
from rnnrobust.robustness.perturbation.eps5 import load_fragility
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = load_fragility(files_by_run(sm.params.runs, "perturbation", sm.input.perturbation))
task = sm.wildcards.task
stem = sm.output[0].removesuffix(".png")
written = plot_perturbation(runs, stem, task=task, regimes=sm.params.regimes)
description = perturbation_figure_description(runs, task=task)
caption = perturbation_figure_caption(runs, task=task, regimes=sm.params.regimes)
write_text(sm.output.caption, report_caption(description, caption))
print("wrote", *written, sm.output.caption)
