"""The perturbation stage's settings: ``config.yaml``'s ``perturbation:`` block, typed and checked.

Torch-free; the checks raise :class:`rnnrobust.config.ConfigError` with the offending key, as the other
config checks do (keys and defaults: ``workflow/schemas/config.schema.yaml``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnrobust.config import ConfigError
from rnnrobust.layout import FAMILIES

__all__ = ["PerturbationConfig"]

#: The least value of each integer setting.
_MINIMUM = {
    "n_eval": 1, "seed": 0, "random_samples": 0, "n_attack": 1, "adversarial_steps": 1, "bisection_steps": 0,
    "scale_sequences": 1, "state_sequences": 0, "copies_per_pass": 1, "batch_size": 1,
}  # fmt: skip


def _default_eps_log10() -> tuple[float, ...]:
    return tuple(float(x) for x in np.linspace(-4.0, 1.0, 11))


@dataclass(frozen=True)
class PerturbationConfig:
    """``config.yaml``'s ``perturbation:`` block; keys left out take these defaults.

    ``n_eval``: test examples evaluated per perturbed copy; ``seed``: of the subset and the random
    directions; ``eps_log10``: the levels log10 ε of ‖ΔW‖₂/‖W‖₂; ``families``: the directions swept
    (``layout.FAMILIES``); ``random_samples``: directions per level of each Gaussian family;
    ``n_attack``: training examples of the adversarial ascent (disjoint from the test set);
    ``adversarial_steps``: its gradient steps; ``bisection_steps``: bisections of each crossing in log ε after
    the grid (5: 1/64 decade from half-decade levels); ``scale_sequences``: test sequences along which a
    perturbation is measured against the pre-activations; ``state_sequences``: test sequences of the
    state-perturbation measure (0: none); ``state_lags``: steps k between a state perturbation and the final
    state (the full length is always added); ``copies_per_pass``: perturbed copies stacked into one forward
    pass; ``batch_size``: test examples per copy and forward pass.

    >>> PerturbationConfig().eps_log10[:3], PerturbationConfig.from_mapping({"n_eval": 500}).n_eval
    ((-4.0, -3.5, -3.0), 500)
    """

    n_eval: int = 2000
    seed: int = 0
    eps_log10: tuple[float, ...] = dataclasses.field(default_factory=_default_eps_log10)
    families: tuple[str, ...] = FAMILIES
    random_samples: int = 3
    n_attack: int = 256
    adversarial_steps: int = 10
    bisection_steps: int = 5
    scale_sequences: int = 64
    state_sequences: int = 32
    state_lags: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    copies_per_pass: int = 8
    batch_size: int = 256

    def __post_init__(self) -> None:
        for key, low in _MINIMUM.items():
            value = getattr(self, key)
            if not _is_int(value) or value < low:
                raise ConfigError(f"perturbation.{key} = {value!r}; expected an integer >= {low}")
        _check_levels(self.eps_log10)
        _check_families(self.families)
        _check_lags(self.state_lags)
        object.__setattr__(self, "eps_log10", tuple(float(x) for x in self.eps_log10))
        object.__setattr__(self, "state_lags", tuple(int(k) for k in self.state_lags))
        object.__setattr__(self, "families", tuple(f for f in FAMILIES if f in self.families))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> PerturbationConfig:
        """The config of a ``perturbation:`` mapping (None: the defaults); unknown keys raise ConfigError."""
        values = dict(values or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"perturbation.{unknown[0]} is not a perturbation key; expected one of {known}")
        return cls(**values)

    def to_params(self) -> dict[str, Any]:
        """Plain values (lists, not tuples), as the JSON output and ``config.yaml`` hold them."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in dataclasses.asdict(self).items()}


def _check_levels(levels: Any) -> None:
    """``eps_log10``: a non-empty list of distinct finite numbers ≤ 1."""
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
        raise ConfigError(f"perturbation.eps_log10 = {levels!r}; expected a non-empty list of numbers, e.g. [-3, -2]")
    for x in levels:
        if not _is_number(x) or not math.isfinite(x) or x > 1:
            raise ConfigError(f"perturbation.eps_log10 has {x!r}; expected finite numbers <= 1 (log10 of ε)")
    if len(set(map(float, levels))) != len(levels):
        raise ConfigError(f"perturbation.eps_log10 = {list(levels)} repeats a level; list each once")


def _check_families(families: Any) -> None:
    """``families``: a non-empty list of distinct names of ``layout.FAMILIES``."""
    if isinstance(families, (str, bytes)) or not isinstance(families, Sequence) or not families:
        raise ConfigError(f"perturbation.families = {families!r}; expected a non-empty list from {list(FAMILIES)}")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or len(set(families)) != len(families):
        raise ConfigError(f"perturbation.families = {list(families)}; expected distinct names from {list(FAMILIES)}")


def _check_lags(lags: Any) -> None:
    """``state_lags``: a list of distinct integers ≥ 1 (may be empty)."""
    if isinstance(lags, (str, bytes)) or not isinstance(lags, Sequence):
        raise ConfigError(f"perturbation.state_lags = {lags!r}; expected a list of integers >= 1, e.g. [1, 4]")
    if any(not _is_int(k) or k < 1 for k in lags) or len(set(lags)) != len(lags):
        raise ConfigError(f"perturbation.state_lags = {list(lags)}; expected distinct integers >= 1")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
