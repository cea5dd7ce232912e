"""Train the runs of one task × model × regime (one per seed) as a group, restoring those finished earlier."""

from pathlib import Path

import torch

from rnnrobust.config import TrainConfig
from rnnrobust.job import start
from rnnrobust.training.run_cache import train_group_cached
from rnnrobust.training.stabilize import stabilization_hooks

sm = start(snakemake)

torch.set_num_threads(sm.threads)
trains = [TrainConfig.from_params(params) for params in sm.params.train]
train_group_cached(
    trains,
    sm.input.data,
    [Path(model).parent for model in sm.output.models],
    sm.params.cache,
    code_digest=sm.params.code,
    hooks=stabilization_hooks,
    logs=[lambda message, seed=train.seed: print(f"seed {seed}: {message}") for train in trains],
    start_dirs=[Path(model).parent for model in sm.input.starts] or None,
)
