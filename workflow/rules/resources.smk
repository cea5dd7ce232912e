# Time and memory of the training jobs, derived from each run's size and the costs measured in
# workflow/resources.yaml (rnnrobust.resources). Functions only; train.smk's resources block calls them.
from rnnrobust import resources as rr_resources

TRAIN_COSTS = rr_resources.load_costs(REPO / "workflow" / "resources.yaml")


def train_runtime(wildcards, attempt):
    """Minutes for a training job; each retry (train's ``retries:``) asks for more."""
    return rr_resources.train_runtime_minutes(
        config, wildcards.task, wildcards.model, wildcards.regime, TRAIN_COSTS, attempt
    )


def train_mem_mb(wildcards, attempt):
    """Memory (MB) for a training job; each retry asks for more."""
    return rr_resources.train_mem_mb(config, wildcards.task, TRAIN_COSTS, attempt)
