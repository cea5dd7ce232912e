"""Write every recurrent gate block of a trained model as a float64 H × H array."""

from rnnrobust.io import save_npz
from rnnrobust.job import start
from rnnrobust.training.weights import gate_blocks, load_state_dict

sm = start(snakemake)

blocks = gate_blocks(load_state_dict(sm.input.model), sm.wildcards.model)
save_npz(sm.output[0], blocks)
for key, block in blocks.items():
    print(key, block.shape)
