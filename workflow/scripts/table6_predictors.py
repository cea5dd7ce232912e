"""Table 6: which predictor ranks the measured perturbation threshold ε_flip5 within a task, stratified by cell, as
CSV, Markdown, LaTeX and HTML, with its caption from the data."""

from pathlib import Path

from rnnrobust.io import read_json, write_text
from rnnrobust.job import start
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table6_predictors import (
    table6_predictors,
    table6_predictors_caption,
    table6_predictors_report_caption,
)
from rnnrobust.robustness.perturbation.eps5 import load_fragility
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = load_fragility(files_by_run(sm.params.runs, "perturbation", sm.input.perturbation))
predictor_files = files_by_run(sm.params.runs, "predictors", sm.input.predictors)
predictors = {key: read_json(path) for key, path in predictor_files.items()}
frame = table6_predictors(runs, predictors)
for path in write_table(frame, Path(sm.output[0]).with_suffix(""), table6_predictors_caption()):
    print("wrote", path)
write_text(sm.output.caption, table6_predictors_report_caption(sorted(runs)))
print("wrote", sm.output.caption)
