"""Write every recurrent gate block of a trained model as a float64 H × H array."""

import sys

from rnnrobust.io import save_npz
from rnnrobust.weights import gate_blocks, load_state_dict

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

blocks = gate_blocks(load_state_dict(sm.input.model), sm.wildcards.model)
save_npz(sm.output[0], blocks)
for key, block in blocks.items():
    print(key, block.shape)
