"""Figure 10: each predictor of Table 6 against the measured log10 ε_flip5 (Gaussian directions), one row per task,
one column per predictor, with Table 6's stratified ρ in each panel's title; censored runs drawn open."""

from rnnrobust.io import read_json, write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure10_predictors import plot_predictors, predictors_figure_caption
from rnnrobust.robustness.perturbation.eps5 import load_fragility
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = load_fragility(files_by_run(sm.params.runs, "perturbation", sm.input.perturbation))
predictor_files = files_by_run(sm.params.runs, "predictors", sm.input.predictors)
predictors = {key: read_json(path) for key, path in predictor_files.items()}
stem = sm.output[0].removesuffix(".png")
written = plot_predictors(runs, predictors, stem)
write_text(sm.output.caption, predictors_figure_caption(runs, predictors))
print("wrote", *written, sm.output.caption)
