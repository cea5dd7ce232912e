"""Train every group of the config at once (config train_grouping: all), each in its own thread and CUDA stream."""

from pathlib import Path

import torch

from rnnrobust.config import TrainConfig
from rnnrobust.job import start
from rnnrobust.training.run_cache import CachedGroup, train_groups_cached
from rnnrobust.training.stabilize import stabilization_hooks

sm = start(snakemake)

groups, log_files = [], []
for group in sm.params.groups:
    trains = [TrainConfig.from_params(params) for params in group["runs"]]
    Path(group["log"]).parent.mkdir(parents=True, exist_ok=True)
    log_file = open(group["log"], "w", buffering=1, encoding="utf-8")  # the file a group's own job would write
    log_files.append(log_file)
    logs = [lambda message, f=log_file, seed=t.seed: print(f"seed {seed}: {message}", file=f) for t in trains]
    out_dirs = [Path(d) for d in group["out_dirs"]]
    start_dirs = None if group["start_dirs"] is None else [Path(d) for d in group["start_dirs"]]
    groups.append(CachedGroup(trains, Path(group["data"]), out_dirs, logs, start_dirs))
    print(f"{group['log']}: {len(trains)} runs")
# one intra-op thread per group on a CPU: the groups are the parallelism
torch.set_num_threads(max(1, sm.threads // len(groups)))
train_groups_cached(groups, sm.params.cache, code_digest=sm.params.code, hooks=stabilization_hooks)
for log_file in log_files:
    log_file.close()
print("done")
