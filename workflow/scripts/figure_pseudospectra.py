"""Figures 1–6: ε-pseudospectra of one recurrent matrix per model, EigTool style."""

import sys

from rnnrobust import figures

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

panels = [
    figures.Panel(task, model, regime, int(seed), block, npz_path=grid, analysis_path=summary)
    for (task, model, regime, seed, block), grid, summary in zip(
        sm.params.panels, sm.input.grids, sm.input.analysis, strict=True
    )
]
written = figures.plot_pseudospectra(
    panels, sm.output[0].removesuffix(".png"), eps_log10=sm.params.eps_log10, relative=sm.params.relative
)
print("wrote", *written)
