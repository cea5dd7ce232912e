"""The Schur parametrisation of a recurrent matrix (Kerg et al., NeurIPS 2019, "nnRNN"): W = P(Λ + N)Pᵀ.

- P = exp(S − Sᵀ) is orthogonal (S: ``skew``, H × H, unconstrained);
- Λ is block diagonal: a 2 × 2 block r_j R(θ_j) per complex pair of eigenvalues r_j e^{±iθ_j} and a
  1 × 1 block s_j r_j (s_j = ±1, fixed) per real one, with r_j = γ·sigmoid(a_j) (a: ``radius_logit``,
  θ: ``angle``);
- N (``nonnormal``) is strictly block upper triangular: the entries inside Λ's blocks and below are masked.

So ρ(W) = max_j r_j < γ whatever the parameters, and since Λ's blocks are normal and N lies outside them,
the Henrici departure of W is exactly ‖N‖_F: the network's non-normality is a parameter. Which eigenvalues
are real (the block pattern, ``kind``) is fixed at initialisation, from the real Schur form of the
Keras-initialised W (:func:`schur_init`; docs/robust-training.md says what that keeps and what it changes).

A layer's parametrised block is its candidate block (:data:`PARAMETRIZED_GATE`: the RNN's only block, the
LSTM's c, the GRU's h); its other gate blocks train as usual. W is built from the parameters with autograd
before the recurrence runs, so that the recurrence's hand-written gradient of W flows on to S, a, θ and N.
For a stack of runs (leading R, ``rnnrobust.training.group``) every run's W is built alone, with 2-D
operations, and the results stacked: run r of a stack computes bitwise what run r alone computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

from rnnrobust.layout import GATES
from rnnrobust.training.models import KerasRecurrent, recurrent_layers, stack_models

#: The gate block each cell's parametrisation acts on: the candidate (the block that the hidden state feeds).
PARAMETRIZED_GATE = {"rnn": GATES["rnn"][0], "lstm": GATES["lstm"][2], "gru": GATES["gru"][2]}
#: Initial radii are at most γ(1 − INIT_MARGIN): sigmoid never reaches 1, and an orthogonal W has every |λ| = 1.
INIT_MARGIN = 1e-2
#: ... and at least γ·MIN_RADIUS, so that every radius has a finite logit.
MIN_RADIUS = 1e-6
#: ``kind`` of each position of Λ: a real eigenvalue, the first or the second row of a 2 × 2 block.
REAL, PAIR_FIRST, PAIR_SECOND = 0, 1, 2


def block_mask(kind: Tensor, dtype: torch.dtype) -> Tensor:
    """The strictly block upper triangular mask of N: ones above the diagonal, except inside Λ's 2 × 2 blocks."""
    hid = kind.shape[-1]
    first = (kind[:-1] == PAIR_FIRST).to(dtype)
    return torch.triu(torch.ones(hid, hid, dtype=dtype, device=kind.device), 1) - torch.diag(first, 1)


def eigenvalue_blocks(radius_logit: Tensor, angle: Tensor, kind: Tensor, sign: Tensor, gamma: float) -> Tensor:
    """Λ: r_j R(θ_j) on each 2 × 2 block (the first position's a and θ), s_j r_j on each 1 × 1 block."""
    radius = gamma * torch.sigmoid(radius_logit)
    cos, sin = radius * torch.cos(angle), radius * torch.sin(angle)
    real, first = kind == REAL, kind == PAIR_FIRST
    diagonal = torch.where(real, sign * radius, torch.where(first, cos, torch.roll(cos, 1)))
    pair_sin = torch.where(first[:-1], sin[:-1], torch.zeros_like(sin[:-1]))
    return torch.diag(diagonal) - torch.diag(pair_sin, 1) + torch.diag(pair_sin, -1)


def schur_matrix(
    skew: Tensor, radius_logit: Tensor, angle: Tensor, nonnormal: Tensor, kind: Tensor, sign: Tensor, gamma: float
) -> Tensor:
    """W = P(Λ + N ∘ mask)Pᵀ with P = exp(S − Sᵀ), for one run (2-D parameters), differentiable by autograd."""
    p = torch.linalg.matrix_exp(skew - skew.T)
    core = eigenvalue_blocks(radius_logit, angle, kind, sign, gamma) + nonnormal * block_mask(kind, nonnormal.dtype)
    return p @ core @ p.T


def _logit(radius: np.ndarray, gamma: float) -> np.ndarray:
    fraction = np.clip(radius / gamma, MIN_RADIUS, 1 - INIT_MARGIN)
    return np.log(fraction) - np.log1p(-fraction)


def schur_init(w: np.ndarray, gamma: float) -> dict[str, np.ndarray]:
    """Parameters whose W is nearest the given one (float64): P from its real Schur vectors, Λ and N from T.

    T = Pᵀ W P with P = exp(S − Sᵀ) the real Schur vectors (a sign flipped where their determinant is −1,
    S from their logarithm). Each 2 × 2 diagonal block of T becomes the normal block r R(θ) with its
    eigenvalues (a non-normal one loses its inner departure), each radius is clipped into
    [γ·MIN_RADIUS, γ(1 − INIT_MARGIN)], and N is T's strictly block upper part. For an orthogonal W (the
    Keras RNN initialisation) every |λ| = 1, so W₀ = γ(1 − INIT_MARGIN)·W up to rounding.
    """
    schur_form, vectors = scipy.linalg.schur(w, output="real")
    if np.linalg.det(vectors) < 0:
        vectors[:, -1] *= -1  # a real logarithm needs det P = +1; the flip keeps T quasi-triangular
    log = np.real(scipy.linalg.logm(vectors))
    skew = np.triu((log - log.T) / 2, 1)  # S − Sᵀ = the skew-symmetric logarithm
    p = scipy.linalg.expm(skew - skew.T)
    t = p.T @ w @ p
    hid = len(w)
    kind, sign = np.full(hid, REAL), np.ones(hid)
    radius, angle = np.abs(np.diag(t)).copy(), np.zeros(hid)
    sign[np.diag(t) < 0] = -1.0
    i = 0
    while i < hid:
        if i + 1 < hid and schur_form[i + 1, i] != 0:  # LAPACK leaves exact zeros below its 1 × 1 blocks
            (a, b), (c, d) = t[i : i + 2, i : i + 2]
            mean, imag = (a + d) / 2, np.sqrt(max(-b * c - ((a - d) / 2) ** 2, 0.0))  # λ = mean ± i·imag
            radius[i : i + 2] = np.hypot(mean, imag)
            angle[i : i + 2] = np.arctan2(imag if c - b >= 0 else -imag, mean)  # the rotation nearest the block
            kind[i : i + 2], sign[i : i + 2] = (PAIR_FIRST, PAIR_SECOND), 1.0
            i += 2
        else:
            i += 1
    mask = block_mask(torch.from_numpy(kind), torch.float64).numpy()
    return {"skew": skew, "radius_logit": _logit(radius, gamma), "angle": angle, "nonnormal": t * mask,
            "kind": kind, "sign": sign}  # fmt: skip


class SchurBlock(nn.Module):
    """One H × H matrix W = P(Λ + N)Pᵀ (module docstring); stacked, every tensor has a leading run dimension."""

    def __init__(self, hidden_size: int, gamma: float) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.skew = nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.radius_logit = nn.Parameter(torch.zeros(hidden_size))
        self.angle = nn.Parameter(torch.zeros(hidden_size))
        self.nonnormal = nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.register_buffer("kind", torch.zeros(hidden_size, dtype=torch.long))
        self.register_buffer("sign", torch.ones(hidden_size))

    @classmethod
    def nearest(cls, w: Tensor, gamma: float) -> SchurBlock:
        """The block whose W is nearest ``w`` (:func:`schur_init`), with ``w``'s dtype and device."""
        block = cls(w.shape[-1], gamma).to(torch.float64)
        values = schur_init(w.detach().to("cpu", torch.float64).numpy(), gamma)
        with torch.no_grad():
            for name, value in values.items():
                getattr(block, name).copy_(torch.from_numpy(value))
        return block.to(device=w.device, dtype=w.dtype)

    def _parts(self, r: int | None) -> tuple[Tensor, ...]:
        names = ("skew", "radius_logit", "angle", "nonnormal", "kind", "sign")
        return tuple(getattr(self, n) if r is None else getattr(self, n)[r] for n in names)

    def _runs(self) -> list[int | None]:
        return [None] if self.skew.dim() == 2 else list(range(self.skew.shape[0]))

    def matrix(self) -> Tensor:
        """W: (H, H), or (R, H, H) for a stack, each run's built alone."""
        built = [schur_matrix(*self._parts(r), self.gamma) for r in self._runs()]
        return built[0] if self.skew.dim() == 2 else torch.stack(built)

    def nonnormality(self) -> Tensor:
        """‖N‖_F² (the squared Henrici departure of W): a scalar, or one per run."""
        values = []
        for r in self._runs():
            _, _, _, nonnormal, kind, _ = self._parts(r)
            values.append((nonnormal * block_mask(kind, nonnormal.dtype)).square().sum())
        return values[0] if self.skew.dim() == 2 else torch.stack(values)


class SchurParametrization(nn.Module):
    """The parametrised block of each recurrent layer of a model (or of a stack of models), by layer name."""

    def __init__(self, cell: str, blocks: dict[str, SchurBlock]) -> None:
        super().__init__()
        self.cell = cell
        self.gate = GATES[cell].index(PARAMETRIZED_GATE[cell])
        self.blocks = nn.ModuleDict(blocks)

    @classmethod
    def nearest(cls, model: nn.Module, gamma: float) -> SchurParametrization:
        """The parametrisation that starts nearest the model's own (Keras-initialised) blocks."""
        layers = recurrent_layers(model)
        cell = next(iter(layers.values())).cell
        gate = GATES[cell].index(PARAMETRIZED_GATE[cell])
        return cls(cell, {name: SchurBlock.nearest(_block(layer, gate), gamma) for name, layer in layers.items()})

    def weights(self, model: nn.Module) -> dict[str, Tensor]:
        """Each layer's recurrent weights with the parametrised block built from the parameters (with autograd)."""
        out = {}
        for name, layer in recurrent_layers(model).items():
            hid, w_hh = layer.hidden_size, layer.weight_hh
            parts = [w_hh[..., : self.gate * hid, :], self.blocks[name].matrix(), w_hh[..., (self.gate + 1) * hid :, :]]
            out[f"{name}.weight_hh"] = torch.cat([p for p in parts if p.shape[-2] > 0], dim=-2)
        return out

    @torch.no_grad()
    def sync_(self, model: nn.Module) -> None:
        """Write every parametrised W into the model's ``weight_hh``, which evaluation, hooks and model.pt read."""
        for name, layer in recurrent_layers(model).items():
            _block(layer, self.gate).copy_(self.blocks[name].matrix())

    def nonnormality(self) -> Tensor:
        """Σ over layers of ‖N‖_F²: a scalar, or one per run."""
        return sum(block.nonnormality() for block in self.blocks.values())  # type: ignore[return-value]

    def freeze_eigenvalues(self) -> None:
        """Keep Λ (the radii and angles) as it is: only P and N train."""
        for block in self.blocks.values():
            block.radius_logit.requires_grad_(False)
            block.angle.requires_grad_(False)


def _block(layer: KerasRecurrent, gate: int) -> Tensor:
    hid = layer.hidden_size
    return layer.weight_hh[..., gate * hid : (gate + 1) * hid, :]


def stack_parametrizations(parametrizations: Sequence[SchurParametrization]) -> SchurParametrization:
    """The runs' parametrisations as one with a leading run dimension; each run's tensors become views of its row.

    Parameters are stacked by ``models.stack_models``; the block patterns (buffers) likewise, here.
    """
    stacked = stack_models(parametrizations)
    for name, block in stacked.blocks.items():
        for buffer in ("kind", "sign"):
            values = [getattr(p.blocks[name], buffer) for p in parametrizations]
            setattr(block, buffer, torch.stack(values))
            for r, value in enumerate(values):
                value.data = getattr(block, buffer)[r]
    return stacked
