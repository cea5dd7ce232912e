"""Robustness scalars of every recurrent gate block of one run."""

from rnnrobust.io import load_npz, write_json
from rnnrobust.job import start
from rnnrobust.robustness.analysis import analyze_blocks

sm = start(snakemake)

summary = analyze_blocks(load_npz(sm.input.weights), sm.params.eps_log10)
write_json(sm.output[0], summary)
for key, values in summary.items():
    print(f"{key}: radius {values['spectral_radius']:.4f}, henrici {values['henrici']:.4f}")
