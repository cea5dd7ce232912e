"""Robustness scalars of a rescaled run's recurrent gate blocks before its final rescale."""

from rnnrobust.io import write_json
from rnnrobust.job import start
from rnnrobust.robustness.analysis import analyze_blocks
from rnnrobust.training.weights import gate_blocks, load_state_dict

sm = start(snakemake)

kernels = load_state_dict(sm.input.kernels)
if not kernels:
    raise ValueError(
        f"{sm.input.kernels} is empty: run {sm.wildcards.task}/{sm.wildcards.model}/{sm.wildcards.regime}"
        f"/seed{sm.wildcards.seed} had no epoch-end rescale; only regimes with stabilization have one"
    )
summary = analyze_blocks(gate_blocks(kernels, sm.wildcards.model), sm.params.eps_log10)
write_json(sm.output[0], summary)
for key, values in summary.items():
    print(f"{key}: radius {values['spectral_radius']:.4f}, henrici {values['henrici']:.4f}")
