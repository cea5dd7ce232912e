"""σ_min(zI − W) grids of every recurrent gate block of one run."""

import sys

from rnnrobust.analysis import pseudospectrum_grids
from rnnrobust.io import load_npz, save_npz

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

grids = pseudospectrum_grids(load_npz(sm.input.weights), **sm.params.grid)
save_npz(sm.output[0], grids)
print(f"{len(grids) // 4} grids of {sm.params.grid['resolution']}² points")
