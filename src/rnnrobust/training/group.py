"""A group of runs trained at once: the runs of one task × cell × regime that differ only in their seed.

The R runs become one "wide" model whose every parameter carries a leading run dimension
(``models.stack_models``), trained by one optimizer over the stacked parameters. What stays per run:

- **initialisation**: run r's model is built exactly as a run alone builds it
  (``torch.manual_seed(seed)``, then ``build_model``) before the parameters are stacked, so its
  initial weights are bitwise a single run's;
- **dropout**: a ``torch.Generator`` per run (:func:`dropout_generator`) that starts where the global
  generator stood after building the run's model, which is where a run alone drew its masks from;
- **data order**, **history**, **status**, **epoch-end hooks** (Algorithm 1 acts on run r's own
  model, whose parameters are views of row r of the stack) — see ``rnnrobust.training.loop``;
- **gradient clipping**: the norm of each run's own gradients (:meth:`RunGroup.clip_grad_norm_`);
- **divergence**: a run whose loss or weights stop being finite is *frozen* (:meth:`RunGroup.freeze`):
  its weights and optimizer state go back to the last finished epoch and are put back after every
  later optimizer step (Adam's momentum would move them otherwise), while the other runs go on.

Adam and RMSprop update element by element, so one optimizer over the stack is each run's optimizer.
On CPU, run r of a group computes exactly what run r alone computes, bit for bit (the batched products
are arranged so that each run's products are a single run's: ``rnnrobust.training.recurrence``), and
``tests/training/test_group.py`` checks it; the promise we make is the weaker one that a run's results are
bitwise reproducible for the same group configuration (the same seeds trained together).

A group of one runs today's single-run model, not a stack of one (``stacked=False``): that is
``train_run``, and it keeps today's results bit for bit.

With ``robust_training.parametrization: schur`` each run also has its Schur parametrisation
(``rnnrobust.training.schur_param``), built from the run's initial weights and stacked like them: its
parameters are the group's too (optimizer, clipping, freezing, checkpoint under ``parametrization.``), the
training forward takes the recurrent weights built from them (:meth:`RunGroup.recurrent_weights`), and
:meth:`RunGroup.sync_parametrization` writes them into the models' ``weight_hh``, which everything else reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rnnrobust.config import TrainConfig
from rnnrobust.training.models import build_model, stack_models
from rnnrobust.training.schur_param import SchurParametrization, stack_parametrizations

#: The prefix of the parametrisation's entries in the group's state (its checkpoint).
PARAMETRIZATION = "parametrization."


def check_group(trains: Sequence[TrainConfig]) -> None:
    """Raise ValueError unless ``trains`` are runs that differ only in their (distinct) seeds."""
    if not trains:
        raise ValueError("a group needs at least one run")
    seeds = [t.seed for t in trains]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs of a group need distinct seeds; got {seeds}")
    first = {k: v for k, v in trains[0].to_params().items() if k != "seed"}
    for train in trains[1:]:
        other = {k: v for k, v in train.to_params().items() if k != "seed"}
        if other != first:
            differ = sorted(k for k in first if first[k] != other.get(k))
            raise ValueError(
                f"the runs of a group may differ only in their seed; seed {train.seed} differs in {differ}"
            )


def dropout_generator(seed: int, device: torch.device) -> torch.Generator:
    """The run's dropout stream, as a run alone has always drawn it.

    On CPU: a copy of torch's global generator as it stands now, i.e. right after ``manual_seed(seed)``
    and the model's initialisation. On CUDA (where a run alone drew from the CUDA generator that
    ``manual_seed(seed)`` seeded and nothing else used): a CUDA generator seeded with ``seed``.
    """
    if device.type == "cpu":
        generator = torch.Generator()
        generator.set_state(torch.get_rng_state())
        return generator
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


class RunGroup:
    """R runs of one task × cell × regime as one model; ``group(x)`` maps (R, B, ...) to (R, B, ...).

    ``models[r]`` is run r as today's model class, keys and all (its parameters are views of the
    stack); ``model`` is what the optimizer trains (the stack, or the one run's model when not stacked).
    """

    def __init__(
        self, trains: Sequence[TrainConfig], device: torch.device, dtype: torch.dtype, *, stacked: bool | None = None
    ) -> None:
        check_group(trains)
        self.trains = list(trains)
        self.size = len(self.trains)
        self.stacked = self.size > 1 if stacked is None else bool(stacked)
        if self.size > 1 and not self.stacked:
            raise ValueError("a group of several runs is always stacked")
        self.models: list[nn.Module] = []
        self.generators: list[torch.Generator] = []
        for train in self.trains:
            torch.manual_seed(train.seed)  # each run is initialised exactly as a run alone
            model = build_model(train.task, train.model, **train.model_options())
            self.generators.append(dropout_generator(train.seed, device))
            self.models.append(model.to(device=device, dtype=dtype))
        self.model = stack_models(self.models) if self.stacked else self.models[0]
        self.parametrizations, self.parametrization = self._parametrize()
        self.frozen = [False] * self.size
        self._frozen_state: dict[int, list[tuple[Tensor, dict[str, Tensor]]]] = {}

    def _parametrize(self) -> tuple[list[SchurParametrization], SchurParametrization | None]:
        """Each run's Schur parametrisation, from its initial weights (none without one), and theirs stacked."""
        options = self.trains[0].robust_training
        if options is None or options.parametrization != "schur":
            return [], None
        runs = [SchurParametrization.nearest(model, options.gamma) for model in self.models]
        stacked = stack_parametrizations(runs) if self.stacked else runs[0]
        if options.freeze_eigenvalues:
            stacked.freeze_eigenvalues()
        stacked.sync_(self.model)
        return runs, stacked

    # ---------------------------------------------------------------- the model
    def __call__(self, x: Tensor, weights: Mapping[str, Tensor] | None = None) -> Tensor:
        """Logits (R, B, ...) of inputs (R, B, ...), each run with its own dropout stream; ``weights``
        (parameter name → tensor) stand in for the model's own (:meth:`recurrent_weights`)."""
        if self.stacked:
            return self._forward(x, weights, self.generators)
        return self._forward(x[0], weights, self.generators[0]).unsqueeze(0)

    def _forward(self, x: Tensor, weights: Mapping[str, Tensor] | None, generator) -> Tensor:
        if weights is None:
            return self.model(x, generator=generator)
        return torch.func.functional_call(self.model, dict(weights), (x,), {"generator": generator})

    def recurrent_weights(self) -> dict[str, Tensor] | None:
        """The recurrent weights with each parametrised block built from its parameters (autograd reaches
        them through the recurrence), by parameter name; None without a parametrisation."""
        return None if self.parametrization is None else self.parametrization.weights(self.model)

    def sync_parametrization(self) -> None:
        """Write the parametrised blocks into the models' ``weight_hh`` (after every optimizer step)."""
        if self.parametrization is not None:
            self.parametrization.sync_(self.model)

    def train(self) -> None:
        self.model.train()

    def eval(self) -> None:
        self.model.eval()

    def parameters(self) -> Iterator[nn.Parameter]:
        """What the optimizer trains: the model's parameters, then the parametrisation's."""
        return (param for _, param in self.named_parameters())

    def named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """:meth:`parameters` with their names in :meth:`state_dict`."""
        own = self.model.named_parameters()
        if self.parametrization is None:
            return own
        extra = ((PARAMETRIZATION + n, p) for n, p in self.parametrization.named_parameters())
        return itertools.chain(own, extra)

    def _run(self, tensor: Tensor, r: int) -> Tensor:
        """Run r's part of a parameter-shaped tensor (a parameter, its gradient, its optimizer state)."""
        return tensor[r] if self.stacked else tensor

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Tensor]:
        """Every run's weights (the stacked state, for the group's checkpoint), the parametrisation's included."""
        state = self.model.state_dict()
        if self.parametrization is not None:
            state.update({PARAMETRIZATION + k: v for k, v in self.parametrization.state_dict().items()})
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        own = {k: v for k, v in state.items() if not k.startswith(PARAMETRIZATION)}
        self.model.load_state_dict(own)
        if self.parametrization is not None:
            n = len(PARAMETRIZATION)
            self.parametrization.load_state_dict({k[n:]: v for k, v in state.items() if k.startswith(PARAMETRIZATION)})

    def run_state_dict(self, r: int) -> dict[str, Tensor]:
        """Run r's weights with today's keys and values: what ``model.pt`` holds (own storage, so that
        ``torch.save`` writes only this run's numbers)."""
        state = self.models[r].state_dict()
        if self.stacked:
            for key in state:
                state[key] = state[key].clone()
        return state

    def load_run_state_dict(self, r: int, state: Mapping[str, Tensor]) -> None:
        self.models[r].load_state_dict(state)

    def run_parametrization_state(self, r: int) -> dict[str, Tensor]:
        """Run r's Schur parametrisation (own storage), what ``parametrization.pt`` holds."""
        return {k: v.clone() for k, v in self.parametrizations[r].state_dict().items()}

    def start_from(self, r: int, model: Mapping[str, Tensor], parametrization: Mapping[str, Tensor]) -> None:
        """Run r starts from a trained run's weights and parametrisation (``robust_training.init_from``)."""
        with torch.no_grad():
            self.models[r].load_state_dict(model)
            self.parametrizations[r].load_state_dict(parametrization)
        self.sync_parametrization()

    def generator_states(self) -> list[Tensor]:
        return [g.get_state() for g in self.generators]

    def load_generator_states(self, states: Sequence[Tensor]) -> None:
        for generator, state in zip(self.generators, states, strict=True):
            generator.set_state(state.cpu())

    def finite(self) -> list[bool]:
        """Per run: are all its weights finite?"""
        flags = torch.ones(self.size, dtype=torch.bool)
        for p in self.parameters():
            values = p.detach().reshape(self.size, -1) if self.stacked else p.detach().reshape(1, -1)
            flags &= torch.isfinite(values).all(dim=1).cpu()
        return flags.tolist()

    # ---------------------------------------------------------------- per-run training steps
    def clip_grad_norm_(self, max_norm: float) -> None:
        """Keras ``clipnorm`` per run: each run's gradients scaled to a total norm of at most ``max_norm``."""
        if not self.stacked:
            nn.utils.clip_grad_norm_(self.parameters(), max_norm)
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        for r in range(self.size):  # as clip_grad_norm_ does for a run alone, on the run's slices
            run_grads = [g[r] for g in grads]
            total = nn.utils.get_total_norm(run_grads, 2.0)
            torch._foreach_mul_(run_grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))

    def freeze(self, r: int, checkpoint: Mapping[str, Any]) -> None:
        """Stop training run r: from now on its weights and optimizer state are those in ``checkpoint``
        (a group checkpoint, i.e. the last finished epoch), put back by :meth:`restore_frozen`."""
        self.frozen[r] = True
        params = dict(self.named_parameters())
        opt_states = checkpoint["optimizer"]["state"]
        saved = []
        for index, name in enumerate(params):
            param = params[name]
            state = opt_states.get(index, {})
            slices = {
                k: self._run(v, r).clone() for k, v in state.items() if torch.is_tensor(v) and v.shape == param.shape
            }
            saved.append((self._run(checkpoint["model"][name], r).clone(), slices))
        self._frozen_state[r] = saved

    @torch.no_grad()
    def restore_frozen(self, optimizer: torch.optim.Optimizer) -> None:
        """Put the frozen runs' weights and optimizer state back (after every optimizer step)."""
        if not self._frozen_state:
            return
        params = list(self.parameters())
        for r, saved in self._frozen_state.items():
            for param, (weights, slices) in zip(params, saved, strict=True):
                self._run(param, r).copy_(weights)
                for key, value in optimizer.state.get(param, {}).items():
                    if torch.is_tensor(value) and value.shape == param.shape:
                        if key in slices:
                            self._run(value, r).copy_(slices[key])
                        else:  # no state yet when the run was frozen (it diverged in epoch 1)
                            self._run(value, r).zero_()
