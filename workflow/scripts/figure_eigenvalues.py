"""Eigenvalues of every recurrent gate block, one panel per model."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting import captions, figures
from rnnrobust.runs import files_by_run

sm = start(snakemake)

# one task, regime and seed (the config's figures.seed, by design): a panel is a model
runs = files_by_run(sm.params.runs, "analysis", sm.input.analysis)
analysis = {key[1]: f for key, f in runs.items()}
(seed,) = {key[3] for key in runs}
stem = sm.output[0].removesuffix(".png")
written = figures.plot_eigenvalues(analysis, stem, task=sm.wildcards.task, regime=sm.wildcards.regime, seed=seed)
write_text(sm.output.caption, captions.eigenvalues_caption(analysis, seed=seed))
print("wrote", *written, sm.output.caption)
