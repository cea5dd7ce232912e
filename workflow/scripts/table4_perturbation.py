"""Table 4: per task × model × regime the perturbation size at which 5 % of predictions flip, per direction family,
beside the predicted threshold (ε₅, its normalised form and the state amplification in the CSV), as CSV, Markdown,
LaTeX and HTML, with its caption from the data."""

from pathlib import Path

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table4_perturbation import (
    table4_perturbation,
    table4_perturbation_caption,
    table4_perturbation_report_caption,
)
from rnnrobust.robustness.perturbation.eps5 import load_fragility
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = load_fragility(files_by_run(sm.params.runs, "perturbation", sm.input.perturbation))
regimes = sm.params.regimes
frame = table4_perturbation(runs, regimes=regimes)
for path in write_table(frame, Path(sm.output[0]).with_suffix(""), table4_perturbation_caption(runs)):
    print("wrote", path)
write_text(sm.output.caption, table4_perturbation_report_caption(runs, regimes=regimes))
print("wrote", sm.output.caption)
