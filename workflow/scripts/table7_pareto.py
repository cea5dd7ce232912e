"""Table 7: the robust-training study per arm (accuracy, fragility, spectral numbers, hypervolumes, matched
comparisons with each arm's reference), as CSV, Markdown, LaTeX and HTML, with its caption from the data."""

from pathlib import Path

from rnnrobust.io import atomic_path, write_text
from rnnrobust.job import start
from rnnrobust.layout import REFERENCE
from rnnrobust.reporting.pareto_runs import pareto_runs
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table7_pareto import table7_pareto, table7_pareto_caption, table7_pareto_report_caption
from rnnrobust.robustness.pareto import paired_references
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = pareto_runs(
    *(files_by_run(sm.params.runs, kind, sm.input[kind]) for kind in ("metrics", "analysis", "perturbation")),
    regimes=sm.params.regimes,
    gates=sm.params.gates,
)
references = paired_references(sm.params.regimes, REFERENCE)
frame = table7_pareto(runs, references=references, regimes=list(sm.params.regimes))
for path in write_table(frame, Path(sm.output[0]).with_suffix(""), table7_pareto_caption()):
    print("wrote", path)
write_text(sm.output.caption, table7_pareto_report_caption(runs))
with atomic_path(sm.output.runs, suffix=".csv") as tmp:  # the per-run points, to pool with another study's
    runs.to_csv(tmp, index=False)
print("wrote", sm.output.caption, sm.output.runs)
