"""Weight and hidden-state perturbations of one trained run, beside its robustness numbers' predictions."""

import torch

from rnnrobust.io import load_prepared, read_json, write_json
from rnnrobust.job import start
from rnnrobust.robustness.perturbation.run import perturb_run
from rnnrobust.robustness.perturbation.settings import PerturbationConfig
from rnnrobust.training.weights import load_state_dict

sm = start(snakemake)

torch.set_num_threads(sm.threads)
config = PerturbationConfig.from_mapping(sm.params.perturbation)
timings = {}
result = perturb_run(
    load_state_dict(sm.input.model),
    read_json(sm.input.metrics),
    load_prepared(sm.input.data),
    config,
    code_digest=sm.params.code,
    timings=timings,
)
write_json(sm.output[0], result)
print(", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items()))
flip5 = {family: [t["eps_log10"] for t in samples] for family, samples in result["thresholds"]["flip5"].items()}
print(f"reference accuracy {result['reference']['accuracy']:.4f}; eps_pred_min {result['eps_pred_min']}; "
      f"log10 eps_flip5 {flip5}")  # fmt: skip
