"""Eigenvalues of every recurrent gate block, one panel per model."""

from rnnrobust import captions, figures
from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.runs import files_by_run

sm = start(snakemake)

# one task, regime and seed: a panel is a model
analysis = {key[1]: f for key, f in files_by_run(sm.params.runs, "analysis", sm.input.analysis).items()}
stem = sm.output[0].removesuffix(".png")
written = figures.plot_eigenvalues(analysis, stem, task=sm.wildcards.task, regime=sm.wildcards.regime)
write_text(sm.output.caption, captions.eigenvalues_caption(analysis))
print("wrote", *written, sm.output.caption)
