"""One of the tables (accuracies in the paper's layout and in detail, Henrici numbers, robustness scalars, each regime
against the baseline seed by seed) beside the paper's values, as CSV, Markdown, LaTeX and HTML, with its caption from
the data."""

from pathlib import Path

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting import captions, render, tables
from rnnrobust.runs import files_by_run

sm = start(snakemake)


metrics = files_by_run(sm.params.runs, "metrics", sm.input.metrics)
analysis = files_by_run(sm.params.runs, "analysis", sm.input.analysis)
eps_log10 = float(sm.params.eps_log10)
regimes = sm.params.regimes  # the config's order
seeds = sorted({key[3] for key in metrics})
if len(seeds) > 1:
    over = f"mean ± sd [95 % bootstrap CI] over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
else:
    over = f"one seed ({seeds[0]}): no spread"
builders = {
    "table1_accuracy": lambda: (
        tables.table1_accuracy(metrics, regimes=regimes),
        f"Test accuracy (%), {over}, with the paper's Table 1; rescaled regimes: after the final rescale.",
    ),
    "table1_detail": lambda: (
        tables.table1_detail(metrics, analysis=analysis, regimes=regimes),
        f"Table 1 in detail: test accuracy after and before the final rescale (%), {over}; outcome per seed.",
    ),
    "table2_henrici": lambda: (
        tables.table2_henrici(analysis, metrics=metrics, regimes=regimes),
        f"Henrici departure from normality per recurrent matrix, {over}, with the paper's Table 2.",
    ),
    "table3_robustness": lambda: (
        tables.table3_robustness(analysis, eps_log10, metrics=metrics, regimes=regimes),
        f"Robustness scalars (ε = {render.format_eps(eps_log10)}; worst matrix per run), {over}.",
    ),
    "table5_paired": lambda: (
        tables.table5_paired(metrics, analysis, regimes=regimes),
        f"Each regime − {tables.REFERENCE}, paired by seed: test accuracy, Henrici / ‖W‖_F and distance to "
        f"instability; mean ± sd [95 % bootstrap CI] of the differences and the {tables.PAIRED_TEST}.",
    ),
}
name = sm.wildcards.table
frame, caption = builders[name]()
for path in render.write_table(frame, Path(sm.output[0]).with_suffix(""), caption):
    print("wrote", path)
write_text(sm.output.caption, captions.table_caption(name, metrics, analysis))
