"""Milliseconds per stacked training step on a GPU: the eager loop versus one CUDA graph per step.

    python benchmarks/train_step_cuda.py                        # a CUDA machine (sized for 5 minutes of an H200)
    python benchmarks/train_step_cuda.py --device cpu --quick   # the eager columns on CPU (a smoke test)

For each task × cell at the paper's shapes (config.yaml ``train.*``; random data of those shapes, so no
dataset is needed), a group of R = 3 runs stacked, ms per stacked step of

- ``today``: ``epochs.train_one_epoch``'s step: the batch gathered on the host and copied, one sync per
  step for the losses, the foreach optimizer;
- ``static``: ``rnnrobust.training.graphed.StaticStep`` run eagerly: data on the device, no sync, the capturable
  optimizer (fused for Adam);
- ``graphed``: the same step captured once and replayed as one CUDA graph (TF32 off);

the kernels one step launches (torch.profiler: kernels, and copies or fills, of ``today`` and of
``static``, whose kernels are what a replay runs); then the three MNIST groups of one regime replayed at
once, each on its own CUDA stream and host thread, against one after another; and the projected minutes
of the protocol's training steps (epochs × batches per epoch × groups of config.yaml), which leave out
evaluation, checkpoints and the epoch-end hooks.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from train_step import N_TRAIN, PAPER, batch  # the paper's config and data sizes (this script's folder)

from rnnrobust.config import TrainConfig
from rnnrobust.layout import CELLS, TASKS
from rnnrobust.training.graphed import StaticStep
from rnnrobust.training.group import RunGroup
from rnnrobust.training.optimizer import make_optimizer
from rnnrobust.training.tasks import loss_and_accuracy

RUNS = 3
#: Distinct batches of indices the timed steps cycle through.
BATCHES = 4

Step = Callable[[Tensor], None]


def trains_for(task: str, cell: str, device: torch.device) -> list[TrainConfig]:
    """The group of R runs (seeds 0 … R−1) of one task × cell at the paper's settings."""
    train = TrainConfig.for_run(PAPER, task, cell, 0, "baseline").replace(device=device.type)
    return [train.replace(seed=seed) for seed in range(RUNS)]


def random_data(train: TrainConfig, samples: int) -> tuple[Tensor, Tensor]:
    """``samples`` random training samples of the task's shapes and dtypes (as ``tasks.load_tensors`` gives)."""
    return batch(train.replace(batch_size=samples), torch.device("cpu"))


def run_batches(train: TrainConfig, samples: int) -> Tensor:
    """(R, B): a random batch of sample indices for each run."""
    return torch.stack([torch.randperm(samples)[: train.batch_size] for _ in range(RUNS)])


def today_step(trains: list[TrainConfig], x: Tensor, y: Tensor, device: torch.device) -> Step:
    """``train_one_epoch``'s step (without its divergence bookkeeping): host gather, copy, one sync."""
    train = trains[0]
    group = RunGroup(trains, device, torch.float32)
    optimizer = make_optimizer(train, group.parameters())
    group.train()

    def step(idx: Tensor) -> None:
        xb, yb = x[idx].to(device), y[idx].to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = group(xb)
        pairs = [loss_and_accuracy(train.task, logits[r], yb[r]) for r in range(group.size)]
        loss = torch.stack([run_loss for run_loss, _ in pairs])
        torch.stack([loss.detach().double(), torch.stack([acc for _, acc in pairs]).double()]).tolist()  # the sync
        loss.sum().backward()
        if train.clipnorm:
            group.clip_grad_norm_(float(train.clipnorm))
        optimizer.step()
        group.restore_frozen(optimizer)

    return step


def static_step(trains: list[TrainConfig], x: Tensor, y: Tensor, device: torch.device, graph: bool) -> StaticStep:
    """The graphed training's step: capturable optimizer (fused Adam), data on the device."""
    train = trains[0]
    group = RunGroup(trains, device, torch.float32)
    capturable = device.type == "cuda"
    settings = train.replace(optimizer_impl="fused") if capturable else train
    optimizer = make_optimizer(settings, group.parameters(), capturable=capturable)
    group.train()
    loss = functools.partial(loss_and_accuracy, train.task)
    return StaticStep(group, optimizer, x, y, loss, clipnorm=train.clipnorm, graph=graph)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms_per_step(step: Step, batches: Tensor, warm: int, steps: int, device: torch.device) -> float:
    """Wall ms per step over ``steps`` steps after ``warm`` untimed ones (for a graph: warm-up and capture)."""
    for i in range(warm):
        step(batches[i % len(batches)])
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    synchronize(device)
    return 1000 * (time.perf_counter() - start) / steps


def kernels_per_step(step: Step, batches: Tensor, device: torch.device) -> tuple[int, int]:
    """(kernels, copies and fills) that one step puts on the GPU, counted by torch.profiler."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    step(batches[0])  # not the first step of anything: lazy initialisation is done
    synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step(batches[1 % len(batches)])
        synchronize(device)
    kernels = copies = 0
    for event in prof.events():
        if event.device_type != DeviceType.CUDA:
            continue
        if event.name.lower().startswith(("memcpy", "memset")):
            copies += 1
        else:
            kernels += 1
    return kernels, copies


def concurrent_ms(steps: list[StaticStep], batches: list[Tensor], count: int, device: torch.device) -> float:
    """Wall ms for ``count`` replays of each captured step, all at once: one stream and host thread each."""
    streams = [torch.cuda.Stream(device) for _ in steps]
    ready = threading.Barrier(len(steps) + 1)

    def work(step: StaticStep, stream: torch.cuda.Stream, own: Tensor) -> None:
        with torch.cuda.stream(stream):
            ready.wait()
            for i in range(count):
                step.step(own[i % len(own)])

    threads = [threading.Thread(target=work, args=args) for args in zip(steps, streams, batches, strict=True)]
    for thread in threads:
        thread.start()
    synchronize(device)
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    synchronize(device)
    return 1000 * (time.perf_counter() - start)


def steps_per_group(task: str) -> int:
    train = PAPER["train"][task]
    return train["epochs"] * math.ceil(N_TRAIN[task] / train["batch_size"])


def groups_per_pair() -> int:
    """Group jobs of one task × cell: one per regime and per R seeds."""
    return len(PAPER["regimes"]) * math.ceil(len(PAPER["seeds"]) / RUNS)


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def attempt(errors: list[str], label: str, measurement: Callable[..., Any], *args: Any) -> Any:
    """``measurement(*args)``, or None with the error noted: one failing measurement must not hide the others."""
    if any(arg is None for arg in args):
        return None  # what it measures could not be built
    try:
        return measurement(*args)
    except Exception as error:
        errors.append(f"{label}: {type(error).__name__}: {error}")
        return None


def measure(
    task: str, cell: str, device: torch.device, steps: int, errors: list[str]
) -> tuple[dict[str, float | None], dict[str, str], StaticStep | None, Tensor]:
    """One task × cell: ms per step of each variant, kernels per step, and the graphed step (for reuse)."""
    trains = trains_for(task, cell, device)
    samples = BATCHES * trains[0].batch_size
    x, y = random_data(trains[0], samples)
    batches = torch.stack([run_batches(trains[0], samples) for _ in range(BATCHES)])
    on_device = batches.to(device)
    label = f"{task} {cell}"
    today = attempt(errors, f"{label} today", today_step, trains, x, y, device)
    eager = attempt(errors, f"{label} static", static_step, trains, x, y, device, False)
    eager_step = eager.step if eager is not None else None
    row = {
        "today": attempt(errors, f"{label} today", ms_per_step, today, batches, 1, steps, device),
        "static": attempt(errors, f"{label} static", ms_per_step, eager_step, on_device, 1, steps, device),
        "graphed": None,
    }
    kernels = {"today": "—", "static": "—"}
    graphed = None
    if device.type == "cuda":
        for name, step, indices in (("today", today, batches), ("static", eager_step, on_device)):
            counted = attempt(errors, f"{label} kernels", kernels_per_step, step, indices, device)
            kernels[name] = "{} + {}".format(*counted) if counted else "—"
        del today, eager, eager_step
        graphed = attempt(errors, f"{label} graphed", static_step, trains, x, y, device, True)
        graphed_step = graphed.step if graphed is not None else None
        warm = graphed.warmup + 2 if graphed is not None else 0  # the eager warm-up steps, then capture and replay
        row["graphed"] = attempt(
            errors, f"{label} graphed", ms_per_step, graphed_step, on_device, warm, 3 * steps, device
        )
    return row, kernels, graphed, on_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--quick", action="store_true", help="few steps (a smoke test)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 20, quick 2)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--models", nargs="+", default=list(CELLS), choices=CELLS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(
            f"train_step_cuda.py: no CUDA device here (torch {torch.__version__}); the graphed step needs one. "
            "Run `python benchmarks/train_step_cuda.py --device cpu --quick` for the eager path on CPU."
        )
    steps = args.steps or (2 if args.quick else 20)
    torch.set_float32_matmul_precision("highest")  # TF32 off: the faithful cells train in IEEE float32
    warnings.filterwarnings("ignore", message=".*capturable=True.*")  # the eager static step on purpose
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {gpu}, R = {RUNS} runs per stacked step, {steps} timed steps per variant")
    print("ms per stacked step; kernels = GPU kernels per step, + copies/fills (torch.profiler)\n")
    print("| task | model | batch | today ms | static ms | graphed ms | today / graphed | kernels today | "
          "kernels static | graphs |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    results: dict[tuple[str, str], dict[str, float | None]] = {}
    mnist_graphs: dict[str, tuple[StaticStep, Tensor]] = {}
    errors: list[str] = []
    for task in args.tasks:
        for cell in args.models:
            row, kernels, graphed, on_device = measure(task, cell, device, steps, errors)
            results[(task, cell)] = row
            if graphed is not None and graphed.graphs and task == "mnist":
                mnist_graphs[cell] = (graphed, on_device)
            ratio = row["today"] / row["graphed"] if row["today"] and row["graphed"] else None
            graphs = str(graphed.graphs) if graphed is not None else "—"
            print(f"| {task} | {cell} | {PAPER['train'][task]['batch_size']} | {fmt(row['today'])} | "
                  f"{fmt(row['static'])} | {fmt(row['graphed'])} | {fmt(ratio, 1)} | {kernels['today']} | "
                  f"{kernels['static']} | {graphs} |", flush=True)  # fmt: skip
    for error in errors:
        print(f"failed: {error}")
    speedup = concurrency(mnist_graphs, steps, device) if len(mnist_graphs) > 1 else None
    projection(results, speedup)


def concurrency(graphs: dict[str, tuple[StaticStep, Tensor]], steps: int, device: torch.device) -> float | None:
    """The MNIST groups replayed one after another versus all at once; returns the speed-up."""
    count = 10 * steps
    try:
        alone = [ms_per_step(step.step, batches, 0, count, device) * count for step, batches in graphs.values()]
        together = concurrent_ms([s for s, _ in graphs.values()], [b for _, b in graphs.values()], count, device)
    except Exception as error:
        print(f"\nconcurrent replay failed: {type(error).__name__}: {error}")
        return None
    print(f"\n{len(graphs)} MNIST groups ({', '.join(graphs)}), {count} replays each: one after another "
          f"{sum(alone):.0f} ms, at once (a stream and a host thread each) {together:.0f} ms: "
          f"{sum(alone) / together:.2f}× the throughput")  # fmt: skip
    return sum(alone) / together


def projection(results: dict[tuple[str, str], dict[str, float | None]], speedup: float | None) -> None:
    """Projected minutes of the protocol's training steps, per task × cell and in all."""
    groups = groups_per_pair()
    print(f"\nProjected protocol (config.yaml: {len(PAPER['seeds'])} seeds in groups of {RUNS}, "
          f"{len(PAPER['regimes'])} regimes: {groups} group jobs per task × model), training steps only, minutes "
          "one job after another:\n")  # fmt: skip
    print("| task | model | steps per group | today min | static min | graphed min |")
    print("|---|---|---:|---:|---:|---:|")
    totals: dict[str, float | None] = {"today": 0.0, "static": 0.0, "graphed": 0.0}
    for (task, cell), row in results.items():
        steps = steps_per_group(task)
        minutes = {k: None if ms is None else ms * steps * groups / 60000 for k, ms in row.items()}
        for key, value in minutes.items():
            totals[key] = None if value is None or totals[key] is None else totals[key] + value
        print(f"| {task} | {cell} | {steps} | {fmt(minutes['today'], 1)} | {fmt(minutes['static'], 1)} | "
              f"{fmt(minutes['graphed'], 1)} |")  # fmt: skip
    print(f"| all | | | {fmt(totals['today'], 1)} | {fmt(totals['static'], 1)} | {fmt(totals['graphed'], 1)} |")
    if speedup and totals["graphed"]:
        print(f"\ngraphed, the group jobs {len(CELLS)} at a time on one GPU (the MNIST speed-up above): "
              f"≈ {totals['graphed'] / speedup:.1f} min")  # fmt: skip


if __name__ == "__main__":
    main()
