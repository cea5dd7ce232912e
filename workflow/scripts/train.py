"""Train one task × model × regime × seed run; the stabilized regime rescales after every epoch."""

from pathlib import Path

import torch

from rnnrobust.config import TrainConfig
from rnnrobust.io import load_prepared
from rnnrobust.job import start
from rnnrobust.stabilize import stabilization_hooks
from rnnrobust.train import train_run

sm = start(snakemake)

torch.set_num_threads(sm.threads)
train = TrainConfig.from_params(sm.params.train)
out = Path(sm.output.model).parent
train_run(train, load_prepared(sm.input.data), out, hooks=stabilization_hooks(train), code_digest=sm.params.code)
