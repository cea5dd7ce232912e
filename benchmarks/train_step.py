"""Milliseconds per training step at the paper's shapes: faithful versus fused cells, single versus stacked runs.

Paper shapes (protocol §1): adding batch 128 (7 + 4 steps, H 128), imdb batch 32 (80 steps,
embedding 20000 × 128, H 16/32/32, dropout 0.2/0.2 for the faithful cells), mnist batch 32
(28 steps × 28, H 100). One step = forward, loss, backward, optimiser step.

    python benchmarks/train_step.py [--repeats 30] [--threads N] [--device cpu]
        faithful Keras cells versus PyTorch's fused cells (the costs in workflow/resources.yaml)
    python benchmarks/train_step.py --runs 3 [--rounds 5] [--steps 5] [--tasks imdb] [--models gru]
        a run alone (train_run's path) versus a stack of one and a stack of R (rnnrobust.training.group), ms of
        CPU time per run-step, interleaved rounds, medians; kernel-launching ops per run-step (a GPU
        proxy); for Adam the optimizer implementations: per-tensor (torch's CPU default until now),
        foreach (what training uses, bitwise the same) and fused
    python benchmarks/train_step.py --runs 3 --estimate 2 [--overhead 1.86]
        the same, then the projected wall time of the full protocol (config.yaml: every task × model ×
        regime × seed) on N cores, runs alone versus one group job per task × model × regime
    python benchmarks/train_step.py --methods [--runs 1] [--tasks adding imdb] [--models rnn gru]
        the robust-training methods' step (rnnrobust.training.methods: the Schur parametrisation, the
        barrier, its safeguard alone, Algorithm 1 and the norm clip after every step) against the plain
        step, ms of CPU time per run-step, interleaved rounds, medians (docs/robust-training.md)

Times are CPU time (``time.process_time``) of one thread, so that a loaded machine still gives fair
ratios; the projection assumes one thread per job, as the workflow runs training, and scales the
step time by ``--overhead`` for what an epoch costs beyond its steps (evaluation, hooks; measured
1.06–2.14, median 1.86, in workflow/resources.yaml).
"""

from __future__ import annotations

import argparse
import heapq
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from rnnrobust.config import RobustTraining, TrainConfig
from rnnrobust.config.files import load_config
from rnnrobust.layout import CELLS, TASKS
from rnnrobust.training.group import RunGroup
from rnnrobust.training.methods import build_methods
from rnnrobust.training.models import build_model
from rnnrobust.training.optimizer import make_optimizer
from rnnrobust.training.tasks import loss_and_accuracy

# The paper's protocol: every shape and hyperparameter comes from the repository's config.yaml.
PAPER = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
#: Training samples per epoch of the paper's data (adding: 50,000 questions less 10 % held out).
N_TRAIN = {"adding": 45000, "imdb": 25000, "mnist": 60000}


def batch(train: TrainConfig, device: torch.device, runs: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A random training batch; with ``runs``, one per run (leading R)."""
    n = train.batch_size
    lead = () if runs is None else (runs,)
    if train.task == "adding":
        return torch.randint(0, 12, (*lead, n, 7), device=device), torch.randint(0, 12, (*lead, n, 4), device=device)
    if train.task == "imdb":
        words, maxlen = train.vocab_size, PAPER["data"]["imdb"]["maxlen"]
        x = torch.randint(0, words, (*lead, n, maxlen), device=device)
        return x, torch.randint(0, 2, (*lead, n), device=device)
    return torch.rand(*lead, n, 28, 28, device=device), torch.randint(0, 10, (*lead, n), device=device)


# ------------------------------------------------------------------------------------------------
# faithful versus builtin cells (the default table)


def ms_per_step(task: str, cell: str, cell_impl: str, repeats: int, device: torch.device) -> float:
    train = TrainConfig.for_run(PAPER, task, cell, 0, "baseline").replace(cell_impl=cell_impl)
    torch.manual_seed(0)
    model = build_model(task, cell, **train.model_options()).to(device).train()
    optimizer = make_optimizer(train, model.parameters())
    x, y = batch(train, device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = loss_and_accuracy(task, model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - start) / repeats


def cells_table(args: argparse.Namespace, device: torch.device) -> None:
    print("| task | model | batch | faithful ms | builtin ms | faithful / builtin |")
    print("|---|---|---:|---:|---:|---:|")
    for task in args.tasks:
        for cell in args.models:
            faithful = ms_per_step(task, cell, "faithful", args.repeats, device)
            builtin = ms_per_step(task, cell, "builtin", args.repeats, device)
            size = PAPER["train"][task]["batch_size"]
            row = f"| {task} | {cell} | {size} | {faithful:.2f} | {builtin:.2f} | {faithful / builtin:.2f} |"
            print(row, flush=True)


# ------------------------------------------------------------------------------------------------
# single versus stacked runs


class LaunchCounter(TorchDispatchMode):
    """Counts the ATen ops that would launch a kernel on a GPU: all but views and bare allocations."""

    SKIP = frozenset({"empty", "empty_strided", "new_empty", "new_empty_strided", "detach", "lift_fresh", "alias"})

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view and func.overloadpacket.__name__.lstrip("_").removesuffix("_") not in self.SKIP:
            self.count += 1
        return func(*args, **(kwargs or {}))


def group_step(train: TrainConfig, runs: int, stacked: bool, optimizer_impl: str, device: torch.device):
    """A training step of ``runs`` runs (train_group's: forward, per-run losses, backward, optimizer)."""
    trains = [train.replace(seed=seed) for seed in range(runs)]
    group = RunGroup(trains, device, torch.float32, stacked=stacked)
    if optimizer_impl == "per_tensor":  # torch's CPU default, what training used before foreach
        optimizer = torch.optim.Adam(
            group.parameters(), lr=train.lr, betas=(train.beta_1, train.beta_2), eps=train.epsilon, foreach=False
        )
    else:
        optimizer = make_optimizer(train.replace(optimizer_impl=optimizer_impl), group.parameters())
    x, y = batch(train, device, runs)
    group.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits = group(x)
        pairs = [loss_and_accuracy(train.task, logits[r], y[r]) for r in range(runs)]
        loss = torch.stack([loss for loss, _ in pairs])
        torch.stack([loss.detach().double(), torch.stack([acc for _, acc in pairs]).double()]).tolist()
        loss.sum().backward()
        optimizer.step()
        group.restore_frozen(optimizer)

    return step


def launches_per_step(step: Callable[[], None]) -> int:
    step()
    with LaunchCounter() as counter:
        step()
    return counter.count


def compare(variants: dict[str, tuple[Callable[[], None], int]], rounds: int, steps: int) -> dict[str, float]:
    """Median CPU ms per run-step of each variant over ``rounds`` interleaved rounds of ``steps`` steps."""
    for step, _ in variants.values():
        for _ in range(2):
            step()  # warm up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (step, runs) in variants.items():
            start = time.process_time()
            for _ in range(steps):
                step()
            times[name].append(1000 * (time.process_time() - start) / steps / runs)
    return {name: statistics.median(values) for name, values in times.items()}


def group_table(args: argparse.Namespace, device: torch.device) -> dict[tuple[str, str], dict[str, float]]:
    runs = args.runs
    print(f"ms of CPU time per run-step (medians of {args.rounds} interleaved rounds of {args.steps} steps); "
          f"launches: kernel-launching ops per run-step\n")  # fmt: skip
    print(f"| task | model | alone ms | stack of 1 ms | 1 / alone | stack of {runs} ms/run | speed-up | "
          f"launches alone | launches stack of {runs} / run |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    results = {}
    for task in args.tasks:
        for cell in args.models:
            train = TrainConfig.for_run(PAPER, task, cell, 0, "baseline")
            variants = {
                "alone": (group_step(train, 1, False, "foreach", device), 1),
                "stack1": (group_step(train, 1, True, "foreach", device), 1),
                "stackR": (group_step(train, runs, True, "foreach", device), runs),
            }
            ms = compare(variants, args.rounds, args.steps)
            launches = {name: launches_per_step(step) / r for name, (step, r) in variants.items()}
            results[(task, cell)] = ms
            print(f"| {task} | {cell} | {ms['alone']:.2f} | {ms['stack1']:.2f} | {ms['stack1'] / ms['alone']:.2f} | "
                  f"{ms['stackR']:.2f} | {ms['alone'] / ms['stackR']:.2f} | {launches['alone']:.0f} | "
                  f"{launches['stackR']:.0f} |", flush=True)  # fmt: skip
    adam = [t for t in args.tasks if PAPER["train"][t]["optimizer"] == "adam"]
    if adam:
        print(f"\nAdam implementations, stack of {runs}, ms per run-step: per_tensor = torch's CPU default "
              "(training's until now), foreach = training's now (bitwise the same), fused = opt-in\n")  # fmt: skip
        print("| task | model | per_tensor | foreach | fused | per_tensor / foreach | per_tensor / fused |")
        print("|---|---|---:|---:|---:|---:|---:|")
    for task in adam:
        for cell in args.models:
            train = TrainConfig.for_run(PAPER, task, cell, 0, "baseline")
            impls = ("per_tensor", "foreach", "fused")
            ms = compare(
                {impl: (group_step(train, runs, True, impl, device), runs) for impl in impls}, args.rounds, args.steps
            )
            per_tensor, foreach, fused = (ms[impl] for impl in impls)
            print(f"| {task} | {cell} | {per_tensor:.2f} | {foreach:.2f} | {fused:.2f} | "
                  f"{per_tensor / foreach:.2f} | {per_tensor / fused:.2f} |", flush=True)  # fmt: skip
    return results


# ------------------------------------------------------------------------------------------------
# the robust-training methods against the plain step

#: One setting per method, at the study's middle β (workflow/configs/robust_training.yaml).
METHODS = {
    "schur": RobustTraining(parametrization="schur", nonnormality=1e-3),
    "barrier": RobustTraining(barrier=1e-3),
    "safeguard": RobustTraining(barrier=0.0),
    "radius_step": RobustTraining(projection="radius"),
    "norm_step": RobustTraining(projection="norm"),
}


def method_step(train: TrainConfig, runs: int, device: torch.device):
    """A training step as ``rnnrobust.training.epochs`` runs it, with the run's robust-training methods."""
    group = RunGroup([train.replace(seed=seed) for seed in range(runs)], device, torch.float32)
    methods = build_methods(group, None)
    optimizer = make_optimizer(train, group.parameters())
    x, y = batch(train, device, runs)
    group.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits, penalty = (group(x), None) if methods is None else methods.forward(group, x)
        loss = torch.stack([loss_and_accuracy(train.task, logits[r], y[r])[0] for r in range(runs)])
        if penalty is not None:
            loss = loss + penalty.to(loss.dtype)
        loss.sum().backward()
        optimizer.step()
        if methods is not None:
            methods.after_step(group)

    return step


def methods_table(args: argparse.Namespace, device: torch.device) -> None:
    runs = args.runs or 1
    names = ["plain", *METHODS]
    print(f"ms of CPU time per run-step, {runs} run(s) per step (medians of {args.rounds} interleaved rounds of "
          f"{args.steps} steps), from the Keras initialisation; in brackets: / plain\n")  # fmt: skip
    print("| task | model | " + " | ".join(names) + " |")
    print("|---|---|" + "---:|" * len(names))
    for task in args.tasks:
        for cell in args.models:
            train = TrainConfig.for_run(PAPER, task, cell, 0, "baseline")
            variants = {"plain": (method_step(train, runs, device), runs)}
            for name, options in METHODS.items():
                variants[name] = (method_step(train.replace(robust_training=options), runs, device), runs)
            ms = compare(variants, args.rounds, args.steps)
            cells = [f"{ms['plain']:.1f}"] + [f"{ms[n]:.1f} ({ms[n] / ms['plain']:.1f}×)" for n in METHODS]
            print(f"| {task} | {cell} | " + " | ".join(cells) + " |", flush=True)


# ------------------------------------------------------------------------------------------------
# projection of the full protocol


def steps_per_run(task: str) -> int:
    train = PAPER["train"][task]
    return train["epochs"] * math.ceil(N_TRAIN[task] / train["batch_size"])


def makespan(jobs: list[float], cores: int) -> float:
    """Wall time of independent one-thread jobs on ``cores`` cores, longest first (what a scheduler does)."""
    finish = [0.0] * cores
    for job in sorted(jobs, reverse=True):
        earliest = heapq.heappop(finish)
        heapq.heappush(finish, earliest + job)
    return max(finish)


def estimate(results: dict[tuple[str, str], dict[str, float]], args: argparse.Namespace) -> None:
    seeds, regimes, runs = len(PAPER["seeds"]), len(PAPER["regimes"]), args.runs
    alone_jobs, group_jobs = [], []
    print(f"\nProjected full protocol ({seeds} seeds × {regimes} regimes of every task × model), one thread per job, "
          f"step times × {args.overhead} for the rest of an epoch:\n")  # fmt: skip
    print("| task | model | steps per run | run alone h | group of runs h |")
    print("|---|---|---:|---:|---:|")
    for (task, cell), ms in results.items():
        steps = steps_per_run(task)
        alone_h = ms["alone"] * steps * args.overhead / 3.6e6
        per_run_h = ms["stackR"] * steps * args.overhead / 3.6e6
        alone_jobs += [alone_h] * (seeds * regimes)
        groups_per_regime = math.ceil(seeds / runs)
        for _ in range(regimes):
            for g in range(groups_per_regime):
                size = min(runs, seeds - g * runs)
                group_jobs.append(per_run_h * size)
        print(f"| {task} | {cell} | {steps} | {alone_h:.2f} | {per_run_h * min(runs, seeds):.2f} |")
    total_alone, total_group = sum(alone_jobs), sum(group_jobs)
    cores = args.estimate
    print(f"\n{len(alone_jobs)} runs alone: {total_alone:.1f} CPU hours, "
          f"{makespan(alone_jobs, cores):.1f} h on {cores} cores")  # fmt: skip
    print(f"{len(group_jobs)} group jobs of up to {runs} runs: {total_group:.1f} CPU hours, "
          f"{makespan(group_jobs, cores):.1f} h on {cores} cores")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="steps per cell (faithful/builtin table)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 with --runs, else all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=None, help="compare a run alone with stacks of 1 and of RUNS")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument("--steps", type=int, default=5, help="steps per variant and round")
    parser.add_argument("--estimate", type=int, default=None, metavar="CORES", help="project the full protocol")
    parser.add_argument("--overhead", type=float, default=1.0, help="epoch cost / step cost for --estimate")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--models", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--methods", action="store_true", help="the robust-training methods against the plain step")
    args = parser.parse_args()
    if args.estimate and not args.runs:
        parser.error("--estimate needs --runs")
    threads = args.threads or (1 if args.runs or args.methods else torch.get_num_threads())
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads\n")
    if args.methods:
        methods_table(args, device)
        return
    if args.runs is None:
        cells_table(args, device)
        return
    results = group_table(args, device)
    if args.estimate:
        estimate(results, args)


if __name__ == "__main__":
    main()
