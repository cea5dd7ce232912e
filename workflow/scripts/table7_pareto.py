"""Table 7 in two parts, the robust-training study per arm: its numbers (table7_pareto) and its front, hypervolumes
and matched comparisons with its reference (table7_fronts), as CSV, Markdown, LaTeX and HTML, with data captions."""

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
for part, html, caption in (("arms", sm.output.arms, sm.output.arms_caption),
                            ("fronts", sm.output.fronts, sm.output.fronts_caption)):  # fmt: skip
    frame = table7_pareto(runs, references=references, regimes=list(sm.params.regimes), part=part)
    for path in write_table(frame, Path(html).with_suffix(""), table7_pareto_caption(part)):
        print("wrote", path)
    write_text(caption, table7_pareto_report_caption(runs, part))
with atomic_path(sm.output.runs, suffix=".csv") as tmp:  # the per-run points, to pool with another study's
    runs.to_csv(tmp, index=False)
print("wrote", sm.output.runs)
