"""σ_min(zI − W) grids of every recurrent gate block of one run."""

from rnnrobust.io import load_npz, save_npz
from rnnrobust.job import start
from rnnrobust.robustness.analysis import pseudospectrum_grids

sm = start(snakemake)

grids = pseudospectrum_grids(load_npz(sm.input.weights), **sm.params.pseudospectra)
save_npz(sm.output[0], grids)
print(f"{len(grids) // 4} grids of {sm.params.pseudospectra['resolution']}² points")
