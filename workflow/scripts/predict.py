"""What one trained run's weights and dynamics predict about its fragility, on the perturbation stage's examples."""

import torch

from rnnrobust.io import load_prepared, read_json, write_json
from rnnrobust.job import start
from rnnrobust.robustness.perturbation.settings import PerturbationConfig
from rnnrobust.robustness.predictors import predict_run
from rnnrobust.training.weights import load_state_dict

sm = start(snakemake)

torch.set_num_threads(sm.threads)
# the evaluation subset is the perturbation stage's: drawn from its n_eval and seed
evaluation = PerturbationConfig.from_mapping(sm.params.perturbation)
timings = {}
result = predict_run(
    load_state_dict(sm.input.model),
    read_json(sm.input.metrics),
    load_prepared(sm.input.data),
    **dict(sm.params.predictors or {}),
    n_eval=evaluation.n_eval,
    seed=evaluation.seed,
    code_digest=sm.params.code,
    timings=timings,
)
write_json(sm.output[0], result)
print(", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items()))
print(f"summary {result['summary']}")
