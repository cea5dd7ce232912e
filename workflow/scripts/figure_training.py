"""Training curves of one task: every model, baseline against stabilized."""

import sys

from rnnrobust import figures

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

histories = {tuple(run): path for run, path in zip(sm.params.runs, sm.input.histories, strict=True)}
written = figures.plot_training_curves(histories, sm.output[0].removesuffix(".png"), task=sm.wildcards.task)
print("wrote", *written)
