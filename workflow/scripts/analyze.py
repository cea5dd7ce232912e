"""Robustness scalars of every recurrent gate block of one run."""

import sys

from rnnrobust.analysis import analyze_blocks
from rnnrobust.io import load_npz, write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

summary = analyze_blocks(load_npz(sm.input.weights), sm.params.eps_levels)
write_json(sm.output[0], summary)
for key, values in summary.items():
    print(f"{key}: radius {values['spectral_radius']:.4f}, henrici {values['henrici']:.4f}")
