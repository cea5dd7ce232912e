"""Figure 8: the measured threshold (ε_flip5; ε₅ for older records) against the predicted d/‖W‖₂ over every run, one
panel per direction family, with Spearman's ρ and its bootstrap interval; censored runs drawn open at the grid's end."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure8_prediction import (
    plot_prediction,
    prediction_figure_caption,
    prediction_figure_description,
)
from rnnrobust.reporting.figure_style import report_caption
from rnnrobust.robustness.perturbation.eps5 import load_fragility
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = load_fragility(files_by_run(sm.params.runs, "perturbation", sm.input.perturbation))
stem = sm.output[0].removesuffix(".png")
written = plot_prediction(runs, stem, regimes=sm.params.regimes)
caption = prediction_figure_caption(runs, regimes=sm.params.regimes)
write_text(sm.output.caption, report_caption(prediction_figure_description(), caption))
print("wrote", *written, sm.output.caption)
