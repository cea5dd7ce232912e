"""Figure 9: test accuracy against fragility (log10 ε₅) per task × model, one point per run, each method's front and
each arm's mean with t-intervals."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure9_pareto import pareto_figure_caption, pareto_figure_description, plot_pareto
from rnnrobust.reporting.figure_style import report_caption
from rnnrobust.reporting.pareto_runs import pareto_runs
from rnnrobust.runs import files_by_run

sm = start(snakemake)

runs = pareto_runs(
    *(files_by_run(sm.params.runs, kind, sm.input[kind]) for kind in ("metrics", "analysis", "perturbation")),
    regimes=sm.params.regimes,
    gates=sm.params.gates,
)
stem = sm.output[0].removesuffix(".png")
written = plot_pareto(runs, stem, regimes=list(sm.params.regimes))
write_text(sm.output.caption, report_caption(pareto_figure_description(), pareto_figure_caption(runs)))
print("wrote", *written, sm.output.caption)
