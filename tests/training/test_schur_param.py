"""The Schur parametrisation W = P(Λ + N)Pᵀ (rnnrobust.training.schur_param): bounds, initialisation, gradient."""

import numpy as np
import pytest
import torch

from rnnrobust import spectra
from rnnrobust.layout import GATES
from rnnrobust.training.models import KerasRecurrent, build_model
from rnnrobust.training.schur_param import (
    INIT_MARGIN,
    PARAMETRIZED_GATE,
    SchurBlock,
    SchurParametrization,
    schur_matrix,
)


def random_block(hidden, gamma, seed, real=()):
    """A block with random parameters (float64); positions in ``real`` hold real eigenvalues, the rest pairs."""
    block = SchurBlock(hidden, gamma).double()
    kinds, i = [], 0
    while i < hidden:
        if i in real or i == hidden - 1:
            kinds.append(0)
            i += 1
        else:
            kinds += [1, 2]
            i += 2
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in block.parameters():
            param.copy_(2 * torch.randn(param.shape, generator=generator, dtype=torch.float64))
        block.kind.copy_(torch.tensor(kinds))
        block.sign.copy_(torch.where(torch.rand(hidden, generator=generator) < 0.5, -1.0, 1.0))
    return block


@pytest.mark.parametrize(("hidden", "gamma", "real"), [(6, 1.0, ()), (7, 0.95, ()), (9, 0.5, (0, 3)), (12, 1.0, (2,))])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_radius_is_below_gamma_and_henrici_equals_the_norm_of_n(hidden, gamma, real, seed):
    block = random_block(hidden, gamma, seed, real)
    w = block.matrix().detach().numpy()
    radii = np.abs(np.linalg.eigvals(w))
    expected = np.sort(gamma / (1 + np.exp(-block.radius_logit.detach().numpy()))[block.kind.numpy() != 2])
    assert radii.max() <= gamma
    # the eigenvalues' moduli are the blocks' radii, whatever P and N are
    assert np.allclose(np.unique(np.round(radii, 8)), np.unique(np.round(expected, 8)))
    departure = float(block.nonnormality().detach().sqrt())
    assert departure > 1.0  # N is far from zero: the test is not trivial
    assert abs(spectra.henrici(w) - departure) <= 1e-10 * max(1.0, departure)


def test_an_orthogonal_init_starts_at_a_scaled_copy_of_itself():
    """The Keras RNN's W is orthogonal: every |λ| = 1, N = 0, so W₀ = γ(1 − INIT_MARGIN)·W."""
    torch.manual_seed(0)
    for hidden, gamma in ((9, 1.0), (16, 0.95)):
        w = torch.nn.init.orthogonal_(torch.empty(hidden, hidden, dtype=torch.float64))
        block = SchurBlock.nearest(w, gamma)
        w0 = block.matrix().detach()
        assert float((w0 - gamma * (1 - INIT_MARGIN) * w).abs().max()) < 1e-12
        assert float(block.nonnormality().detach()) < 1e-24


def test_a_gated_candidate_block_keeps_its_eigenvalues_and_the_other_blocks_stay():
    torch.manual_seed(0)
    model = build_model("adding", "lstm", hidden_size=16).double()
    before = model.encoder.weight_hh.detach().clone()
    parametrization = SchurParametrization.nearest(model, 1.0)
    weights = parametrization.weights(model)["encoder.weight_hh"].detach()
    gate = GATES["lstm"].index(PARAMETRIZED_GATE["lstm"])
    rows = slice(gate * 16, (gate + 1) * 16)
    kept = torch.ones(64, dtype=torch.bool)
    kept[rows] = False
    assert torch.equal(weights[kept], before[kept])
    eig = np.sort_complex(np.linalg.eigvals(before[rows].numpy()))
    assert np.allclose(np.sort_complex(np.linalg.eigvals(weights[rows].numpy())), eig, atol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_the_gradient_reaches_the_parameters_through_the_hand_written_recurrence(cell):
    """gradcheck (float64): autograd of W's construction after the faithful cell's hand-written backward."""
    torch.manual_seed(0)
    layer = KerasRecurrent(cell, 3, 4).double()
    block = SchurBlock.nearest(layer.weight_hh[-4:].detach(), 0.9)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    gate = GATES[cell].index(PARAMETRIZED_GATE[cell])
    others = layer.weight_hh.detach()[: gate * 4]
    kind, sign = block.kind, block.sign

    def output(skew, radius_logit, angle, nonnormal):
        w = schur_matrix(skew, radius_logit, angle, nonnormal, kind, sign, 0.9)
        w_hh = torch.cat([others, w]) if gate else w
        outputs, _ = torch.func.functional_call(layer, {"weight_hh": w_hh}, (x,))
        return outputs.sum(), outputs[:, -1].square().sum()

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in (block.skew, block.radius_logit, block.angle))
    nonnormal = (torch.randn(4, 4, dtype=torch.float64) * 0.3).requires_grad_(True)
    assert torch.autograd.gradcheck(output, (*inputs, nonnormal), eps=1e-6, atol=1e-7, rtol=1e-5)
