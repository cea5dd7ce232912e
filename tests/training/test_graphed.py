"""Graphed training (rnnrobust.training.graphed): the static-buffer step equals the eager loop.

On CPU the static step runs eagerly with the ordinary optimizer and the same operations in the same
order as ``train_one_epoch`` (the gradients are zeroed and accumulated into rather than set to None,
and 0 + g is g), so whole trainings are compared bit for bit: weights, histories, divergence, resume.
The CUDA tests (skipped without a GPU) capture and replay the graphs and compare them with the same step
run eagerly on the GPU, and a GPU run with a CPU run under the same dropout masks.
"""

import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch
from tiny_runs import SEEDS, Kill, KillAfter, arrays_for, history, model_bytes, quiet, run_params
from torch.utils._python_dispatch import TorchDispatchMode

from rnnrobust.layout import CELLS, TASKS
from rnnrobust.training import models
from rnnrobust.training.graphed import StaticStep, check_graphable
from rnnrobust.training.group import RunGroup
from rnnrobust.training.loop import train_group
from rnnrobust.training.optimizer import make_optimizer, optimizer_impl
from rnnrobust.training.tasks import load_tensors, loss_and_accuracy
from rnnrobust.training.weights import load_state_dict

# One torch thread, the workflow's setting for training (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")
BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "train_step_cuda.py"
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (graph capture and replay)")


def tiny(task, cell, **overrides):
    """Two epochs of 16, 16 and a ragged 8 samples; dropout on for imdb; a group of three seeds."""
    options = {"model": cell, "epochs": 2, "max_train_samples": 40, "rnn_activation": "tanh"}
    if task == "imdb":
        options.update(dropout=0.2, recurrent_dropout=0.2)
    return [run_params(task, seed=seed, **{**options, **overrides}) for seed in SEEDS]


def with_graphed(trains, graphed=True):
    """The runs with their ``graphed`` setting (config key ``graphed``) changed."""
    return [t.replace(graphed=graphed) for t in trains]


def train_both(tmp_path, trains, arrays, **options):
    """The eager loop into ``eager/``, graphed training into ``graphed/``; both metrics lists."""
    runs = []
    for kind, graphed in (("eager", False), ("graphed", True)):
        out_dirs = [tmp_path / f"{kind}/seed{t.seed}" for t in trains]
        runs.append(train_group(with_graphed(trains, graphed), arrays, out_dirs, **options))
    return runs[0], runs[1]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", TASKS)
def test_graphed_training_on_cpu_is_the_eager_loop_bitwise(tmp_path, task, cell):
    trains = tiny(task, cell)
    eager, graphed = train_both(tmp_path, trains, arrays_for(task), log=quiet)
    for train in trains:
        assert model_bytes(tmp_path, "graphed", train.seed) == model_bytes(tmp_path, "eager", train.seed)
        assert history(tmp_path, "graphed", train.seed) == history(tmp_path, "eager", train.seed)
    assert [m["group"]["optimizer"] for m in graphed] == ["foreach"] * 3  # no capture on CPU: the same optimizer
    assert [m["test"] for m in graphed] == [m["test"] for m in eager]


@pytest.mark.parametrize(
    ("task", "cell", "overrides", "seeds"),
    [
        ("imdb", CELLS[0], {"hidden_size": 5, "embed_dim": 6, "clipnorm": 0.1}, SEEDS),  # odd shapes, clipping
        ("mnist", CELLS[2], {"dtype": "float64"}, SEEDS),
        ("adding", CELLS[1], {}, SEEDS[:1]),  # a run alone: today's unstacked model
    ],
)
def test_graphed_training_on_cpu_with_clipping_float64_and_alone(tmp_path, task, cell, overrides, seeds):
    trains = [t for t in tiny(task, cell, **overrides) if t.seed in seeds]
    train_both(tmp_path, trains, arrays_for(task), log=quiet)
    for train in trains:
        assert model_bytes(tmp_path, "graphed", train.seed) == model_bytes(tmp_path, "eager", train.seed)
        assert history(tmp_path, "graphed", train.seed) == history(tmp_path, "eager", train.seed)


def blow_up_after_epoch_1(model, epoch):
    """Run 1's recurrence explodes after epoch 1: its losses of epoch 2 are not finite."""
    if epoch == 1:
        with torch.no_grad():
            model.rnn.weight_hh.mul_(1e20)
    return {}


def test_a_diverged_run_is_found_at_the_epochs_end_with_the_eager_outcome(tmp_path):
    trains = [run_params("mnist", seed=s, epochs=3, max_train_samples=40) for s in SEEDS]  # a ReLU RNN
    lines = {"eager": [], "graphed": []}
    metrics = {}
    for kind in lines:
        metrics[kind] = train_group(
            with_graphed(trains, kind == "graphed"), arrays_for("mnist"), [tmp_path / f"{kind}/seed{s}" for s in SEEDS],
            log=lines[kind].append, hooks=[[], [blow_up_after_epoch_1], []],
        )  # fmt: skip
    for kind in lines:
        assert [m["status"] for m in metrics[kind]] == ["not_converged", "diverged", "not_converged"]
        assert [m["epochs_completed"] for m in metrics[kind]] == [3, 1, 3]
        assert "seed 4: epoch 2: non-finite loss or weights; stopping and keeping the weights of epoch 1" in lines[kind]
    for seed in SEEDS:  # the diverged run frozen at its epoch-1 weights, the others untouched by its NaNs
        assert model_bytes(tmp_path, "graphed", seed) == model_bytes(tmp_path, "eager", seed)
        assert history(tmp_path, "graphed", seed) == history(tmp_path, "eager", seed)
    frozen = load_state_dict(tmp_path / "graphed/seed4/model.pt")
    assert all(bool(torch.isfinite(v).all()) for v in frozen.values())


def test_a_killed_graphed_group_resumes_to_the_uninterrupted_result(tmp_path):
    trains = with_graphed(tiny("imdb", "lstm", epochs=3))
    arrays = arrays_for("imdb")
    full = [tmp_path / f"full/seed{s}" for s in SEEDS]
    train_group(trains, arrays, full, log=quiet)
    resumed = [tmp_path / f"resumed/seed{s}" for s in SEEDS]
    with pytest.raises(Kill):
        train_group(trains, arrays, resumed, log=quiet, hooks=[[], [KillAfter(2)], []])
    train_group(trains, arrays, resumed, log=quiet)
    for seed in SEEDS:
        assert model_bytes(tmp_path, "full", seed) == model_bytes(tmp_path, "resumed", seed)
        assert history(tmp_path, "full", seed) == history(tmp_path, "resumed", seed)


def group_and_step(trains, device, arrays, *, graph):
    """A group on ``device``, its optimizer (capturable on CUDA) and static step over ``arrays``' training data."""
    train = trains[0]
    group = RunGroup(trains, device, torch.float32)
    capturable = device.type == "cuda"
    optimizer = make_optimizer(train, group.parameters(), capturable=capturable)
    x, y = arrays_tensors(train, arrays)
    step = StaticStep(group, optimizer, x, y, lambda logits, target: loss_and_accuracy(train.task, logits, target),
                      clipnorm=train.clipnorm, graph=graph)  # fmt: skip
    group.train()
    return group, step


def arrays_tensors(train, arrays):
    data = load_tensors(train.task, {k: arrays[k] for k in ("x_train", "y_train")})
    return data["x_train"], data["y_train"]


def epoch_batches(n, batch_size, epoch):
    """Each run's batches of one epoch: (R, B) slices of per-run permutations, the last one ragged."""
    order = torch.stack([torch.randperm(n, generator=torch.Generator().manual_seed(100 * epoch + r)) for r in SEEDS])
    return [order[:, start : start + batch_size] for start in range(0, n, batch_size)]


def test_static_step_checks_what_a_graph_needs():
    trains = tiny("mnist", "rnn")
    group = RunGroup(trains, torch.device("cpu"), torch.float32)
    plain = make_optimizer(trains[0], group.parameters())
    x, y = arrays_tensors(trains[0], arrays_for("mnist"))
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        StaticStep(group, plain, x, y, loss_and_accuracy, graph=True)
    with pytest.raises(ValueError, match="capturable=True"):
        check_graphable(torch.device("cuda"), plain)  # host-side checks only: no GPU needed
    capturable = make_optimizer(trains[0].replace(optimizer_impl="fused"), group.parameters(), capturable=True)
    assert all(g["capturable"] for g in capturable.param_groups)
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        with pytest.raises(ValueError, match="TF32"):
            check_graphable(torch.device("cuda"), capturable)
    finally:
        torch.set_float32_matmul_precision(precision)
    with pytest.raises(ValueError, match="warmup"):
        StaticStep(group, plain, x, y, loss_and_accuracy, warmup=0)
    assert optimizer_impl(trains[0], True) == "foreach+capturable"  # RMSprop: foreach whatever optimizer_impl says
    assert optimizer_impl(trains[0].replace(optimizer_impl="fused")) == "foreach"
    assert optimizer_impl(run_params("adding", optimizer_impl="fused"), True) == "fused+capturable"
    assert optimizer_impl(run_params("adding", optimizer_impl="fused")) == "fused"


def test_static_step_sums_the_epoch_on_the_device():
    trains = tiny("adding", "gru")
    arrays = arrays_for("adding")
    _, step = group_and_step(trains, torch.device("cpu"), arrays, graph=False)
    step.reset()
    batches = epoch_batches(40, 16, 1)
    for indices in batches:
        step.step(indices)
    loss, accuracy, nonfinite = step.totals()
    assert len(loss) == len(accuracy) == len(nonfinite) == 3 and nonfinite == [False] * 3
    assert all(0 < value for value in loss) and all(0 <= value <= 40 for value in accuracy)
    assert step.graphs == 0  # nothing is captured on CPU
    step.reset()
    assert step.totals() == ([0.0] * 3, [0.0] * 3, [False] * 3)


class StandInGraph:
    """What a captured graph does when replayed, on CPU: the step over the static buffers it was captured with."""

    def __init__(self, step, indices, events):
        self.step, self.indices, self.events = step, indices, events
        events.append(("capture", indices.shape[1]))

    def replay(self):
        self.events.append(("replay", self.indices.shape[1]))
        self.step._compute(self.indices)


def test_each_step_runs_once_warmed_up_captured_or_replayed(monkeypatch):
    """The capture bookkeeping, with a stand-in graph: ``warmup`` eager steps per batch shape, one capture
    per shape (recording computes nothing: the step is the replay that follows), a new capture when the
    frozen runs change or after invalidate(), and the weights of the plain eager step at the end."""
    trains = tiny("mnist", "lstm")
    arrays = arrays_for("mnist")
    _, eager = group_and_step(trains, torch.device("cpu"), arrays, graph=False)
    group, step = group_and_step(trains, torch.device("cpu"), arrays, graph=False)
    step.graphed = True  # the graph's control flow, with CPU stand-ins for the CUDA parts
    events = []
    monkeypatch.setattr(
        step, "_warm_up", lambda indices: (events.append(("warm", indices.shape[1])), step._compute(indices))
    )
    monkeypatch.setattr(step, "_capture", lambda indices: StandInGraph(step, indices, events))
    for epoch in (1, 2, 3, 4):
        if epoch == 4:
            group.frozen[1] = True  # (its saved state aside: only the graphs' bookkeeping is checked here)
            eager.group.frozen[1] = True
        for indices in epoch_batches(40, 16, epoch):
            step.step(indices)
            eager.step(indices)
    step.invalidate()
    step.step(epoch_batches(40, 16, 5)[0])
    eager.step(epoch_batches(40, 16, 5)[0])
    assert events == [
        ("warm", 16), ("warm", 16), ("warm", 8),  # epoch 1
        ("capture", 16), ("replay", 16), ("replay", 16), ("warm", 8),  # epoch 2
        ("replay", 16), ("replay", 16), ("capture", 8), ("replay", 8),  # epoch 3
        ("capture", 16), ("replay", 16), ("replay", 16), ("capture", 8), ("replay", 8),  # epoch 4: run 1 frozen
        ("capture", 16), ("replay", 16),  # after invalidate()
    ]  # fmt: skip
    assert step.graphs == 1  # the ragged batch's graph is captured again when it next comes
    for a, b in zip(group.parameters(), eager.group.parameters(), strict=True):
        assert torch.equal(a, b)


class HostReads(TorchDispatchMode):
    """Records the operations that would make the host wait for a GPU: reading a value (``.item()``,
    ``.tolist()``, ``bool(tensor)``) or an output whose shape depends on the values. A graph cannot hold them."""

    SYNCS = frozenset({"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique2", "unique_consecutive"})

    def __init__(self):
        super().__init__()
        self.found = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in self.SYNCS and not self._one_hot_check():
            self.found.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))

    @staticmethod
    def _one_hot_check():
        """one_hot's bounds check (the adding model's input), which ATen makes on CPU only."""
        return any("functional.one_hot(" in (frame.line or "") for frame in traceback.extract_stack())


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", TASKS)
def test_the_step_never_reads_a_value_back(monkeypatch, task, cell):
    """A CPU proxy for capturability: forward, losses, accumulators, backward, clipping and putting a frozen
    run back read no value on the host. (The optimizer is left out: on CPU it is the ordinary one, which
    reads its step count; the capturable one, which a graph needs, does not.)"""
    trains = tiny(task, cell, clipnorm=0.5)
    group, step = group_and_step(trains, torch.device("cpu"), arrays_for(task), graph=False)
    batches = epoch_batches(40, 16, 1)
    step.step(batches[0])  # creates the optimizer state and the gradients
    group.freeze(1, {"model": group.state_dict(), "optimizer": step.optimizer.state_dict()})
    monkeypatch.setattr(step.optimizer, "step", lambda: None)
    with HostReads() as reads:
        step.step(batches[1])
    assert reads.found == []


# ------------------------------------------------------------------------------------------------
# CUDA: capture and replay


def relative(a, b):
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


CUDA_CASES = [
    ("imdb", {"model": "lstm", "dropout": 0.2, "recurrent_dropout": 0.2}),  # dropout: registered generators
    ("adding", {"model": "gru"}),
    ("mnist", {"model": "rnn", "rnn_activation": "relu", "clipnorm": 0.5, "optimizer": "rmsprop"}),
]


@cuda
@pytest.mark.parametrize(("task", "overrides"), CUDA_CASES)
def test_graph_replay_equals_the_eager_static_step_on_cuda(task, overrides):
    trains = [
        run_params(task, seed=s, device="cuda", max_train_samples=40, optimizer_impl="fused", **overrides)
        for s in SEEDS
    ]
    device = torch.device("cuda")
    arrays = arrays_for(task)
    eager_group, eager = group_and_step(trains, device, arrays, graph=False)
    graph_group, graphed = group_and_step(trains, device, arrays, graph=True)
    for epoch in (1, 2, 3):
        for step in (eager, graphed):
            step.reset()
            for indices in epoch_batches(40, 16, epoch):
                step.step(indices.to(device))
        totals_eager, totals_graphed = eager.totals(), graphed.totals()
        assert totals_graphed[2] == totals_eager[2] == [False] * 3
        for a, b in zip(totals_graphed[:2], totals_eager[:2], strict=True):
            assert max((abs(u - v) / abs(v) for u, v in zip(a, b, strict=True) if v), default=0.0) <= 1e-6
    assert graphed.graphs == 2  # the full batches' graph and the ragged last batch's
    for (name, p_graph), p_eager in zip(graph_group.model.named_parameters(), eager_group.parameters(), strict=True):
        assert relative(p_graph, p_eager) <= 1e-6, name
    for g_graph, g_eager in zip(graph_group.generators, eager_group.generators, strict=True):
        assert torch.equal(g_graph.get_state(), g_eager.get_state())  # each replay advanced the dropout stream


class FixedMasks:
    """Dropout masks drawn on the CPU from a counter, whatever the device and generator: a CPU and a GPU
    run that call it in the same order get the same masks."""

    def __init__(self):
        self.calls = 0

    def __call__(self, rate, k, like, generator=None):
        if rate <= 0.0:
            return None
        self.calls += 1
        shape = (len(generator), k, *like.shape[1:]) if isinstance(generator, list) else (k, *like.shape)
        keep = torch.full(shape, 1.0 - rate, dtype=like.dtype)
        masks = torch.bernoulli(keep, generator=torch.Generator().manual_seed(self.calls)) / (1.0 - rate)
        return masks.to(like.device)


@cuda
def test_a_gpu_run_equals_the_cpu_run_after_one_step_with_the_same_masks(monkeypatch):
    trains = [run_params("imdb", seed=s, model="lstm", dropout=0.2, recurrent_dropout=0.2) for s in SEEDS]
    arrays = arrays_for("imdb")
    indices = epoch_batches(48, 16, 1)[0]
    grads, sums = {}, {}
    for name in ("cpu", "cuda"):
        monkeypatch.setattr(models, "_dropout_masks", FixedMasks())
        device = torch.device(name)
        group, step = group_and_step([t.replace(device=name) for t in trains], device, arrays, graph=False)
        step.reset()
        step.step(indices.to(device))
        grads[name] = {n: p.grad.detach().cpu() for n, p in group.model.named_parameters()}
        sums[name] = step.totals()[0]
    for param, cpu_grad in grads["cpu"].items():
        for r in range(len(SEEDS)):
            assert relative(grads["cuda"][param][r], cpu_grad[r]) <= 1e-5, (param, r)
    assert max(abs(a - b) / abs(b) for a, b in zip(sums["cuda"], sums["cpu"], strict=True)) <= 1e-5


@cuda
def test_graphed_training_on_cuda_matches_eager_cuda_training(tmp_path):
    trains = [t.replace(device="cuda") for t in tiny("imdb", "gru")]
    eager, graphed = train_both(tmp_path, trains, arrays_for("imdb"), log=quiet)
    assert [m["group"]["optimizer"] for m in graphed] == ["foreach+capturable"] * 3
    assert [m["status"] for m in graphed] == [m["status"] for m in eager]
    for seed in SEEDS:  # the capturable optimizer rounds its bias corrections on the device
        a = load_state_dict(tmp_path / f"graphed/seed{seed}/model.pt")
        b = load_state_dict(tmp_path / f"eager/seed{seed}/model.pt")
        assert all(relative(a[k], b[k]) <= 1e-5 for k in b), seed


@cuda
def test_a_diverged_run_is_frozen_at_the_epochs_end_on_cuda(tmp_path):
    trains = [run_params("mnist", seed=s, epochs=3, max_train_samples=40, device="cuda", graphed=True) for s in SEEDS]
    lines = []
    metrics = train_group(trains, arrays_for("mnist"), [tmp_path / f"seed{s}" for s in SEEDS], log=lines.append,
                          hooks=[[], [blow_up_after_epoch_1], []])  # fmt: skip
    assert [m["status"] == "diverged" for m in metrics] == [False, True, False]
    assert [m["epochs_completed"] for m in metrics] == [3, 1, 3]
    assert "seed 4: epoch 2: non-finite loss or weights; stopping and keeping the weights of epoch 1" in lines
    assert all(bool(torch.isfinite(v).all()) for v in load_state_dict(tmp_path / "seed4/model.pt").values())


# ------------------------------------------------------------------------------------------------
# the benchmark


def test_the_benchmark_runs_its_eager_path_on_cpu():
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--device", "cpu", "--quick", "--steps", "1", "--tasks", "mnist",
         "--models", "rnn"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| mnist | rnn | 32 |" in result.stdout and "Projected protocol" in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_the_benchmark_without_cuda_says_so():
    result = subprocess.run([sys.executable, str(BENCHMARK)], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "no CUDA device" in result.stderr and "--device cpu --quick" in result.stderr
    assert "Traceback" not in result.stderr
