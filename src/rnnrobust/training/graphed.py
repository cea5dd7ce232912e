"""A group's training step as static-buffer code: on CUDA captured once as a graph and replayed.

On a GPU one step of the faithful cells is hundreds of tiny kernels (a few per time step, forward and
backward), so the host's launches, not the arithmetic, set its cost. :class:`StaticStep` writes the
step (forward, per-run losses, backward, clipping, optimizer, frozen runs put back) so that every tensor
it reads or writes stays at one address from step to step; then a ``torch.cuda.CUDAGraph`` records its
kernels once and each later step is one graph launch. What is static:

- the training data, moved to the device once;
- an (R, B) index buffer per batch size, into which each step's indices are copied before the replay:
  one graph for the full batches and one for the ragged last batch of an epoch;
- the gradients: zeroed in place and accumulated into (``zero_grad(set_to_none=False)``), not set to
  None, so that both graphs write the tensors the optimizer reads (0 + g is g: the weights are those of
  the eager loop, which sets them to None);
- the per-run accumulators of the epoch, read once at its end (no ``.item()`` in a step): the sums of
  loss × batch and accuracy × batch in float64 (the arithmetic ``train_one_epoch`` does in Python, so
  the history is bitwise the same) and a flag per run that is set when its loss was not finite.

**Dropout.** The masks come from the group's per-run generators (``RunGroup.generators``), as in the
eager loop. On CUDA those are CUDA generators (``group.dropout_generator``), and every graph registers
them (``CUDAGraph.register_generator_state``): a replay reads the generator's Philox seed and offset when
it is launched and advances the offset by what the graph draws, so replay k draws the masks that eager
step k draws, and the generator states saved in the checkpoint stay exact. We did not upload masks drawn
from per-run CPU generators instead: CPU-identical masks are a property eager CUDA training never had
(its stream has always been a CUDA generator seeded with the seed), they would not make the weights
bitwise the CPU's anyway (the GPU's products round differently), and drawing and copying them would put
host work back into every step. ``tests/training/test_graphed.py`` compares a GPU run with a CPU run under masks
that the test fixes.

**Clipping** (``RunGroup.clip_grad_norm_``) is device work only (norms, a clamp, a multiply, no branch on
the norm's value), so it is captured with the rest.

**Optimizer.** A captured ``step()`` needs ``capturable=True`` (Adam, fused or foreach; RMSprop, foreach):
the step count lives on the device and the bias corrections are computed there, rounded differently
from the ordinary optimizer (float32 ulps per step), so graphed training is reproducible per setting, as
fused Adam is. On CPU nothing is captured: the step runs eagerly with the ordinary optimizer and is
bitwise the eager loop's.

**Divergence.** A run whose loss stops being finite is found at the end of the epoch (its flag), not at
the batch; ``rnnrobust.training.epochs`` then freezes it as the eager loop does, with the weights of its last
finished epoch. The runs are independent (batched products, element-wise updates), so the others never
see its NaNs; the rest of its epoch is computed in vain.

**When to capture again.** A graph holds the addresses of the parameters, gradients, optimizer state and
the frozen runs' saved weights. Parameters loaded or rescaled in place (checkpoints, epoch-end hooks)
keep them; ``optimizer.load_state_dict`` replaces the state's tensors: call :meth:`StaticStep.invalidate`
after it. The graphs are captured again by themselves when the set of frozen runs changes.

Float32 products must be IEEE on CUDA (TF32 would change every product): a graphed step refuses to start
when ``torch.get_float32_matmul_precision()`` is not ``"highest"``. Graphs are meant for the faithful
cells, whose step is many small kernels; the builtin (cuDNN) cells have not been captured.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnrobust.training.group import RunGroup

#: (logits, target) of one run's batch → (mean loss, accuracy), e.g. ``tasks.loss_and_accuracy`` of a task.
LossFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass
class _BatchShape:
    """The static buffer and graph of one batch size."""

    indices: Tensor
    eager_steps: int = 0
    graph: torch.cuda.CUDAGraph | None = None
    frozen: tuple[bool, ...] = ()  # the frozen runs the graph was captured with


def check_graphable(device: torch.device, optimizer: torch.optim.Optimizer) -> None:
    """Raise ValueError unless a training step on ``device`` with ``optimizer`` can be captured."""
    if device.type != "cuda":
        raise ValueError(f"CUDA graphs need a CUDA device; the group is on {device}")
    if not all(group.get("capturable", False) for group in optimizer.param_groups):
        raise ValueError("a captured step needs an optimizer built with capturable=True (see optimizer.make_optimizer)")
    if torch.get_float32_matmul_precision() != "highest":
        raise ValueError(
            "TF32 is on (torch.get_float32_matmul_precision() is "
            f"{torch.get_float32_matmul_precision()!r}); the faithful cells train in IEEE float32: "
            'call torch.set_float32_matmul_precision("highest")'
        )


class StaticStep:
    """A group's training step over static buffers; :meth:`step` runs it for one batch of indices.

    ``x``, ``y``: the training data (moved to the group's device once); ``loss``: one run's batch loss and
    accuracy; ``clipnorm``: per-run gradient clipping (None: none). ``graph``: capture and replay CUDA
    graphs (default: on CUDA); ``False`` runs the same code eagerly. The first ``warmup`` steps of each
    batch size run eagerly: they create the optimizer state and the gradients the graph must find in place.
    """

    def __init__(
        self,
        group: RunGroup,
        optimizer: torch.optim.Optimizer,
        x: Tensor,
        y: Tensor,
        loss: LossFn,
        *,
        clipnorm: float | None = None,
        graph: bool | None = None,
        warmup: int = 2,
    ) -> None:
        self.group = group
        self.optimizer = optimizer
        self.device = next(iter(group.parameters())).device
        self.graphed = self.device.type == "cuda" if graph is None else bool(graph)
        if self.graphed:
            check_graphable(self.device, optimizer)
        if warmup < 1:
            raise ValueError("a captured step needs at least one eager step before it (warmup >= 1)")
        self.warmup = int(warmup)
        self.loss = loss
        self.clipnorm = float(clipnorm) if clipnorm else None
        self.x, self.y = x.to(self.device), y.to(self.device)
        runs = group.size
        self.loss_sum = torch.zeros(runs, dtype=torch.float64, device=self.device)
        self.accuracy_sum = torch.zeros(runs, dtype=torch.float64, device=self.device)
        self.nonfinite = torch.zeros(runs, dtype=torch.bool, device=self.device)
        self._shapes: dict[tuple[int, ...], _BatchShape] = {}

    # ---------------------------------------------------------------- the epoch's accumulators
    def reset(self) -> None:
        """Zero the accumulators (at the start of an epoch)."""
        self.loss_sum.zero_()
        self.accuracy_sum.zero_()
        self.nonfinite.zero_()

    def totals(self) -> tuple[list[float], list[float], list[bool]]:
        """Per run since :meth:`reset`: the sum of loss × batch, the sum of accuracy × batch, and whether
        any loss was not finite. One transfer from the device (the epoch's one sync)."""
        loss, accuracy, nonfinite = torch.stack([self.loss_sum, self.accuracy_sum, self.nonfinite.double()]).tolist()
        return loss, accuracy, [bool(flag) for flag in nonfinite]

    # ---------------------------------------------------------------- the step
    def step(self, indices: Tensor) -> None:
        """One training step on the samples ``indices`` (R, B) (run r's batch is row r), on the step's device.

        Nothing is read back: the losses go into the accumulators.
        """
        shape = self._shapes.get(tuple(indices.shape))
        if shape is None:
            shape = self._shapes[tuple(indices.shape)] = _BatchShape(torch.empty_like(indices, device=self.device))
        shape.indices.copy_(indices)
        if not self.graphed:
            self._compute(shape.indices)
            return
        frozen = tuple(self.group.frozen)
        if shape.graph is not None and shape.frozen != frozen:
            shape.graph = None  # putting the frozen runs back is part of the graph: capture it again
        if shape.graph is None and shape.eager_steps < self.warmup:
            self._warm_up(shape.indices)
            shape.eager_steps += 1
            return
        if shape.graph is None:
            shape.graph, shape.frozen = self._capture(shape.indices), frozen
        shape.graph.replay()  # the capture computed nothing: this is the step

    @property
    def graphs(self) -> int:
        """How many batch shapes have a captured graph now."""
        return sum(shape.graph is not None for shape in self._shapes.values())

    def invalidate(self) -> None:
        """Forget the captured graphs (after the optimizer's state tensors were replaced)."""
        for shape in self._shapes.values():
            shape.graph = None

    def _compute(self, indices: Tensor) -> None:
        """The step itself: the eager loop's step with in-place gradients and device accumulators."""
        group, optimizer = self.group, self.optimizer
        xb, yb = self.x[indices], self.y[indices]
        optimizer.zero_grad(set_to_none=False)
        logits = group(xb)
        pairs = [self.loss(logits[r], yb[r]) for r in range(group.size)]
        loss = torch.stack([run_loss for run_loss, _ in pairs])
        with torch.no_grad():
            batch = indices.shape[1]
            self.loss_sum.add_(loss.double() * batch)
            self.accuracy_sum.add_(torch.stack([accuracy for _, accuracy in pairs]).double() * batch)
            self.nonfinite.logical_or_(~torch.isfinite(loss))
        loss.sum().backward()  # each run's gradient is its own loss's: d(sum)/d(loss_r) = 1
        if self.clipnorm:
            group.clip_grad_norm_(self.clipnorm)
        optimizer.step()
        group.restore_frozen(optimizer)

    def _warm_up(self, indices: Tensor) -> None:
        """An eager step on a side stream (torch's recipe before a capture)."""
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side), warnings.catch_warnings():
            # the optimizer warns that a capturable instance runs uncaptured: here it is on purpose
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            self._compute(indices)
        current.wait_stream(side)

    def _capture(self, indices: Tensor) -> torch.cuda.CUDAGraph:
        """Record the step's kernels (recording computes nothing: the caller replays it)."""
        graph = torch.cuda.CUDAGraph()
        for generator in self.group.generators:
            graph.register_generator_state(generator)  # each run's dropout stream advances with every replay
        with torch.cuda.graph(graph):
            self._compute(indices)
        return graph
