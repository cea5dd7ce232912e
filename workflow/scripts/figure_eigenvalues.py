"""Eigenvalues of every recurrent gate block, one panel per model."""

import sys

from rnnrobust import figures

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

analysis = dict(zip(sm.params.models, sm.input.analysis, strict=True))
stem = sm.output[0].removesuffix(".png")
written = figures.plot_eigenvalues(analysis, stem, task=sm.wildcards.task, regime=sm.wildcards.regime)
print("wrote", *written)
