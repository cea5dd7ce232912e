"""Table 4: per task × model × regime the perturbation size at which test accuracy falls 5 points (random and
worst-case directions) beside the predicted threshold, and the state amplification beside its linear prediction, as
CSV, Markdown, LaTeX and HTML, with its caption from the data."""

from pathlib import Path

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting import captions, render
from rnnrobust.reporting.table4_perturbation import table4_perturbation
from rnnrobust.robustness.perturbation.eps5 import load_fragility
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = load_fragility(files_by_run(sm.params.runs, "perturbation", sm.input.perturbation))
regimes = sm.params.regimes
seeds = sorted({key[3] for key in runs})
if len(seeds) > 1:
    over = f"mean ± sd [95 % bootstrap CI] over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
else:
    over = f"one seed ({seeds[0]}): no spread"
caption = (
    "Perturbation thresholds: log10 ε₅ (the relative weight perturbation that costs 5 points of test accuracy; "
    f"random and worst-case directions) beside the predicted log10 d/‖W‖₂, and the state amplification beside its "
    f"linear prediction, {over}."
)
frame = table4_perturbation(runs, regimes=regimes)
for path in render.write_table(frame, Path(sm.output[0]).with_suffix(""), caption):
    print("wrote", path)
write_text(sm.output.caption, captions.perturbation_table_caption(runs, regimes=regimes))
print("wrote", sm.output.caption)
