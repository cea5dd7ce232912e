"""Eigenvalues of every recurrent gate block, one panel per model."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure_eigenvalues import eigenvalues_caption, eigenvalues_description, plot_eigenvalues
from rnnrobust.reporting.figure_style import report_caption
from rnnrobust.reporting.table_common import run_dtype
from rnnrobust.runs import files_by_run

sm = start(snakemake)

# one task, regime and seed (the config's figures.seed, by design): a panel is a model
runs = files_by_run(sm.params.runs, "analysis", sm.input.analysis)
metrics = files_by_run(sm.params.runs, "metrics", sm.input.metrics)
analysis = {key[1]: f for key, f in runs.items()}
dtypes = {key[1]: run_dtype(f) for key, f in metrics.items()}
(seed,) = {key[3] for key in runs}
regime = sm.wildcards.regime
stem = sm.output[0].removesuffix(".png")
written = plot_eigenvalues(analysis, stem, task=sm.wildcards.task, regime=regime, seed=seed)
description = eigenvalues_description(list(metrics.values()), regime=regime, seed=seed)
write_text(sm.output.caption, report_caption(description, eigenvalues_caption(analysis, seed=seed, dtypes=dtypes)))
print("wrote", *written, sm.output.caption)
