"""Train one task × model × regime × seed run (rnnrobust.train.train_run)."""

import sys
from pathlib import Path

import torch

from rnnrobust.data import load_prepared
from rnnrobust.train import train_run

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

torch.set_num_threads(sm.threads)
train_run(dict(sm.params.hyper), load_prepared(sm.input.data), Path(sm.output.model).parent)
