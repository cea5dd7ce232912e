"""Train one task × model × regime × seed run; the stabilized regime rescales after every epoch."""

import sys
from pathlib import Path

import torch

from rnnrobust.data import load_prepared
from rnnrobust.stabilize import stabilization_hooks
from rnnrobust.train import train_run

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

torch.set_num_threads(sm.threads)
params = dict(sm.params.hyper)
train_run(params, load_prepared(sm.input.data), Path(sm.output.model).parent, hooks=stabilization_hooks(params))
