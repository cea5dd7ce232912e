"""Training curves of one task: every model, baseline against stabilized; diverged runs labelled."""

from rnnrobust import captions, figures
from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.runs import files_by_run

sm = start(snakemake)


# one task and seed: a curve is a (model, regime)
histories = {key[1:3]: f for key, f in files_by_run(sm.params.runs, "history", sm.input.histories).items()}
metrics = {key[1:3]: f for key, f in files_by_run(sm.params.runs, "metrics", sm.input.metrics).items()}
stem = sm.output[0].removesuffix(".png")
written = figures.plot_training_curves(histories, stem, task=sm.wildcards.task, metrics=metrics)
write_text(sm.output.caption, captions.training_caption(metrics))
print("wrote", *written, sm.output.caption)
