"""Cost of the perturbation and predictor stages (rnnrobust.robustness.perturbation, rnnrobust.robustness.predictors)
against a run's training time, paper settings.

    python benchmarks/perturb.py [--tasks adding imdb mnist] [--models rnn lstm gru] [--train-samples 4096]
        [--configfile OVERLAY.yaml ...]

For every task × model, in its own process (one thread, as the workflow runs the job): a model at the
paper's shapes and hyperparameters (config.yaml, overlays layered over it) trained for one short epoch
on ``--train-samples`` examples (adding: the real generator; imdb and mnist: random inputs of the real
shapes, random labels), so that its recurrent blocks have left their orthogonal initialisation; then
``perturb_run`` with the config's ``perturbation`` block on a test set of the paper's size (adding 5000,
imdb 25000, mnist 10000), and ``predict_run`` with its ``predictors`` block on the same examples. Their cost
depends on the weights through the iterations of their linear algebra (distance to instability, Kreiss constant,
transient growth, ε_T: stable blocks cost most) and through where the thresholds lie (bisection), else on the shapes.

Columns: CPU seconds of the perturbation stage (``time.process_time``, fair on a loaded machine) and of its phases,
CPU seconds of the predictors, the process's peak resident memory, the run's training time in minutes by the
workflow's cost model without its safety margins (epochs × batches per epoch × measured ms per batch × loop overhead,
``workflow/resources.yaml``; ``python -m rnnrobust.resources`` adds the margins), and the ratio of both stages
to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Test-set sizes of the paper's data (adding: 10 % of 50,000 questions held out).
N_TEST = {"imdb": 25000, "mnist": 10000}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    from rnnrobust.layout import CELLS, TASKS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--models", nargs="+", default=list(CELLS), choices=CELLS)
    ap.add_argument("--train-samples", type=int, default=4096, help="examples of the short training epoch")
    ap.add_argument("--configfile", nargs="*", default=[], help="config files layered over config.yaml")
    ap.add_argument("--case", nargs=2, metavar=("TASK", "MODEL"), help=argparse.SUPPRESS)  # a child process
    return ap.parse_args(argv)


def arrays(config: dict, task: str) -> dict:
    """Training and test arrays of the paper's shapes and test-set size."""
    import numpy as np

    from rnnrobust.data.adding import generate_adding

    if task == "adding":
        return generate_adding(**config["data"]["adding"])
    rng = np.random.default_rng(0)
    n = N_TEST[task]
    if task == "imdb":
        words, maxlen = config["data"]["imdb"]["num_words"], config["data"]["imdb"]["maxlen"]
        x = rng.integers(1, words, (2 * n, maxlen))
        y = rng.integers(0, 2, 2 * n)
    else:
        x = rng.integers(0, 256, (2 * n, 28, 28)).astype(np.uint8)
        y = rng.integers(0, 10, 2 * n)
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


def run_case(args: argparse.Namespace) -> dict:
    """One task × model in this process: train briefly, then time the stage."""
    import tempfile

    import torch

    from rnnrobust.config import TrainConfig
    from rnnrobust.config.files import load_config
    from rnnrobust.io import read_json
    from rnnrobust.robustness.perturbation.run import perturb_run
    from rnnrobust.robustness.perturbation.settings import PerturbationConfig
    from rnnrobust.robustness.predictors import predict_run
    from rnnrobust.training.loop import train_run
    from rnnrobust.training.weights import load_state_dict

    torch.set_num_threads(1)
    task, cell = args.case
    config = load_config(ROOT / "config.yaml", *args.configfile)
    data = arrays(config, task)
    train = TrainConfig.for_run(config, task, cell, 0, "baseline")
    train = train.replace(epochs=1, max_train_samples=args.train_samples, max_test_samples=256, device="cpu")
    with tempfile.TemporaryDirectory() as out:
        train_run(train, data, out, log=lambda _: None)
        state, metrics = load_state_dict(Path(out) / "model.pt"), read_json(Path(out) / "metrics.json")
    settings = PerturbationConfig.from_mapping(config["perturbation"])
    timings: dict[str, float] = {}
    cpu, wall = time.process_time(), time.perf_counter()
    result = perturb_run(state, metrics, data, settings, log=lambda _: None, timings=timings)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    predictors = time.process_time()
    predict_run(
        state, metrics, data, **config["predictors"], n_eval=settings.n_eval, seed=settings.seed, log=lambda _: None
    )
    predictors = time.process_time() - predictors
    return {"cpu_s": cpu, "wall_s": wall, "phases": timings, "hidden": train.hidden_size,
            "copies": 1 + len(result["sweep"]), "predictors_cpu_s": predictors}  # fmt: skip


def training_minutes(config: dict, task: str, cell: str) -> float:
    """The run's training time by the workflow's cost model, without its safety factor and floor."""
    from rnnrobust import resources

    costs = resources.load_costs()
    train = resources.group_settings(config, task, cell, next(iter(config["regimes"])))
    batches = resources.batches_per_epoch(config, train, costs)
    ms = resources.ms_per_batch(config, train, costs)
    return train.epochs * batches * ms * costs.loop_overhead / 60000


def main() -> None:
    args = parse()
    if args.case:
        print(json.dumps(run_case(args)))
        return
    from rnnrobust.config.files import load_config

    config = load_config(ROOT / "config.yaml", *args.configfile)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["RNNROBUST_BLAS_THREADS"] = "1"
    print(f"perturbation: {config['perturbation']}\n")
    print("| task | model | H | copies | stage CPU s | linear algebra (wall s) | weight sweep (wall s) "
          "| state (wall s) | predictors CPU s | peak MB | training min | both / training |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for task in args.tasks:
        for cell in args.models:
            command = [sys.executable, __file__, "--case", task, cell, "--train-samples", str(args.train_samples)]
            if args.configfile:
                command += ["--configfile", *args.configfile]
            child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
            output = child.stdout.read() if child.stdout else ""
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode:
                print(f"| {task} | {cell} | failed with exit code {child.returncode} |")
                continue
            case = json.loads(output.strip().splitlines()[-1])
            phases = case["phases"]
            minutes = training_minutes(config, task, cell)
            ratio = (case["cpu_s"] + case["predictors_cpu_s"]) / 60 / minutes
            print(f"| {task} | {cell} | {case['hidden']} | {case['copies']} | {case['cpu_s']:.1f} | "
                  f"{phases.get('linear algebra', 0):.1f} | {phases.get('weight sweep', 0):.1f} | "
                  f"{phases.get('state', 0):.1f} | {case['predictors_cpu_s']:.1f} | {usage.ru_maxrss / 1024:.0f} | "
                  f"{minutes:.0f} | {ratio:.4f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
