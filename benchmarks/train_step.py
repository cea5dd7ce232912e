"""Milliseconds per training batch, faithful Keras cells versus PyTorch's fused cells.

Paper shapes (protocol §1): adding batch 128 (7 + 4 steps, H 128), imdb batch 32 (80 steps,
embedding 20000 × 128, H 16/32/32, dropout 0.2/0.2 for the faithful cells), mnist batch 32
(28 steps × 28, H 100). One step = forward, loss, backward, optimiser step.

    python benchmarks/train_step.py [--repeats 30] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rnnrobust.config import TrainConfig, load_config
from rnnrobust.layout import CELLS, TASKS
from rnnrobust.models import build_model
from rnnrobust.train import loss_and_accuracy, make_optimizer

# The paper's protocol: every shape and hyperparameter comes from the repository's config.yaml.
PAPER = load_config(Path(__file__).resolve().parents[1] / "config.yaml")


def batch(train: TrainConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    n = train.batch_size
    if train.task == "adding":
        return torch.randint(0, 12, (n, 7), device=device), torch.randint(0, 12, (n, 4), device=device)
    if train.task == "imdb":
        words, maxlen = train.vocab_size, PAPER["data"]["imdb"]["maxlen"]
        return torch.randint(0, words, (n, maxlen), device=device), torch.randint(0, 2, (n,), device=device)
    return torch.rand(n, 28, 28, device=device), torch.randint(0, 10, (n,), device=device)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, {args.repeats} repeats\n")
    print("| task | model | batch | faithful ms | builtin ms | faithful / builtin |")
    print("|---|---|---:|---:|---:|---:|")
    for task in TASKS:
        for cell in CELLS:
            faithful = ms_per_step(task, cell, "faithful", args.repeats, device)
            builtin = ms_per_step(task, cell, "builtin", args.repeats, device)
            size = PAPER["train"][task]["batch_size"]
            row = f"| {task} | {cell} | {size} | {faithful:.2f} | {builtin:.2f} | {faithful / builtin:.2f} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
