"""Adversarial weight perturbations by projected gradient ascent (rnnrobust.robustness.perturbation.adversarial)."""

import copy

import numpy as np
import pytest
import torch

from rnnrobust.layout import GATES
from rnnrobust.robustness.perturbation.adversarial import _ascent_direction, adversarial_perturbations
from rnnrobust.training.evaluation import stacked_test_metrics
from rnnrobust.training.models import build_model, recurrent_layers, stack_models
from rnnrobust.training.tasks import loss_and_accuracy
from rnnrobust.training.weights import gate_blocks

VOCAB = 30


def tiny_model(task, cell, hidden=4, seed=1):
    torch.manual_seed(seed)
    extra = {"vocab_size": VOCAB, "embed_dim": 4} if task == "imdb" else {}
    return build_model(task, cell, hidden_size=hidden, **extra).eval()


def tiny_data(task, n=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if task == "adding":
        return torch.randint(0, 12, (n, 7), generator=gen), torch.randint(0, 12, (n, 4), generator=gen)
    return torch.randint(0, VOCAB, (n, 9), generator=gen), torch.randint(0, 2, (n,), generator=gen)


def blocks_of(model, cell):
    return gate_blocks(model.state_dict(), cell)


def relative_radii(model, cell, eps):
    """r_b = ε·‖W_b‖₂, as the caller passes them."""
    return {key: eps * float(np.linalg.norm(w, 2)) for key, w in blocks_of(model, cell).items()}


@torch.no_grad()
def losses_at(model, task, cell, x, y, deltas):
    """Mean loss of the network at W + ΔW (summed in float64, rounded to the network's dtype), one copy per ΔW,
    evaluated independently of the module: blocks stacked back by hand, Keras' test loop."""
    blocks = blocks_of(model, cell)
    stacked = stack_models([copy.deepcopy(model) for _ in deltas]).eval()
    for name, layer in recurrent_layers(stacked).items():
        for r, delta in enumerate(deltas):
            w = np.concatenate([blocks[f"{name}/{g}"] + delta[f"{name}/{g}"] for g in GATES[cell]])
            layer.weight_hh.data[r] = torch.from_numpy(w).to(layer.weight_hh.dtype)
    metrics = stacked_test_metrics(task, stacked, len(deltas), x, y, 64, torch.device("cpu"))
    return [m["loss"] for m in metrics]


def gaussian_directions(blocks, seed):
    """A Gaussian direction of unit spectral norm per block."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, w in blocks.items():
        g = rng.standard_normal(w.shape)
        out[key] = g / np.linalg.norm(g, 2)
    return out


# ------------------------------------------------------------------------------------------------
# the bounds, the reported loss, and every task and cell


@pytest.mark.parametrize(
    "task, cell", [("adding", "gru"), ("adding", "rnn"), ("imdb", "lstm"), ("imdb", "rnn"), ("imdb", "gru")]
)
def test_perturbations_respect_the_bounds_reach_them_and_raise_the_loss(task, cell):
    model = tiny_model(task, cell)
    x, y = tiny_data(task)
    before = copy.deepcopy(model.state_dict())
    radii = [relative_radii(model, cell, eps) for eps in (0.05, 0.3)]
    deltas, losses = adversarial_perturbations(model, task, cell, x, y, radii, steps=5, batch_size=10)
    assert len(deltas) == len(losses) == 2
    for delta, bounds in zip(deltas, radii, strict=True):
        assert delta.keys() == bounds.keys() == blocks_of(model, cell).keys()
        ratios = []
        for key, d in delta.items():
            assert d.dtype == np.float64 and d.shape == (4, 4) and np.isfinite(d).all()
            sigma = float(np.linalg.norm(d, 2))
            assert sigma <= bounds[key] * (1 + 1e-6), key
            ratios.append(sigma / bounds[key])
        assert max(ratios) >= 1 - 1e-6  # the ascent reaches the boundary of some block's ball
    unperturbed = losses_at(model, task, cell, x, y, [dict.fromkeys(radii[0], 0.0)])[0]
    assert all(loss > unperturbed for loss in losses)
    # the loss reported is that of the returned ΔW, as the stage evaluates it
    assert losses == pytest.approx(losses_at(model, task, cell, x, y, deltas), rel=1e-6)
    # the model is left as it was: same weights, still in eval mode
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_one_step_is_the_radius_times_u_v_transpose_of_the_model_gradient():
    # steps=1: α = 2.5, so the step leaves the ball and the projection brings it back to r·U Vᵀ of the
    # gradient at W, computed here on the plain (unstacked) model: checks that gradients flow through the
    # faithful cells' weight_hh in a stack, block by block, and that the blocks keep their keys
    task, cell = "adding", "lstm"
    model = tiny_model(task, cell)
    x, y = tiny_data(task)
    radii = relative_radii(model, cell, 0.2)
    deltas, losses = adversarial_perturbations(model, task, cell, x, y, [radii], steps=1, batch_size=7)
    alone = copy.deepcopy(model)
    loss0, _ = loss_and_accuracy(task, alone(x), y)
    loss0.backward()
    loss0 = loss0.detach()
    grads = gate_blocks({f"{n}.weight_hh": layer.weight_hh.grad for n, layer in recurrent_layers(alone).items()}, cell)
    assert losses[0] > loss0.item()  # the step raised the loss, so it is kept
    for key, g in grads.items():
        u, _, vt = np.linalg.svd(g)
        np.testing.assert_allclose(deltas[0][key], radii[key] * u @ vt, atol=1e-5 * radii[key], err_msg=key)


# ------------------------------------------------------------------------------------------------
# against other directions, and against brute force where the answer is known


def test_adversarial_loss_is_at_least_that_of_gaussian_directions_of_equal_norm():
    task, cell = "imdb", "gru"
    model = tiny_model(task, cell, hidden=6)
    x, y = tiny_data(task, n=32)
    eps = 0.3
    radii = relative_radii(model, cell, eps)
    _, (adversarial,) = adversarial_perturbations(model, task, cell, x, y, [radii], steps=8)
    blocks = blocks_of(model, cell)
    gaussian = [{k: radii[k] * d for k, d in gaussian_directions(blocks, seed).items()} for seed in range(12)]
    for sign in (1, -1):  # each direction and its opposite
        others = losses_at(model, task, cell, x, y, [{k: sign * d for k, d in g.items()} for g in gaussian])
        assert adversarial >= max(others)


def scalar_case(seed, r=0.8, points=161):
    """imdb, rnn, H = 1: ΔW is a scalar in [−r, r]; the loss on a fine grid of it (brute force)."""
    task, cell = "imdb", "rnn"
    model = tiny_model(task, cell, hidden=1, seed=seed)
    x, y = tiny_data(task, n=40, seed=seed)
    grid = np.linspace(-r, r, points)
    brute = np.array(losses_at(model, task, cell, x, y, [{"rnn/h": np.array([[d]])} for d in grid]))
    (delta,), (loss,) = adversarial_perturbations(model, task, cell, x, y, [{"rnn/h": r}], steps=20)
    return grid, brute, float(delta["rnn/h"][0, 0]), loss


def test_a_scalar_block_with_a_monotone_loss_reaches_the_brute_force_maximum():
    # 1 × 1: U Vᵀ = sign(g) and the projection clips to [−r, r]; with the loss monotone over the interval
    # (checked on the grid) the worst perturbation is the endpoint it increases towards
    grid, brute, delta, loss = scalar_case(seed=1)
    steps = np.sign(np.diff(brute))
    assert (steps == steps[0]).all()  # monotone: the answer is known
    assert delta == pytest.approx(grid[brute.argmax()], abs=1e-12)
    assert loss == pytest.approx(brute.max(), rel=1e-6)


def test_a_scalar_block_shows_that_the_ascent_is_local():
    # the loss falls and then rises over [−r, r] (one minimum inside): the worst case is an endpoint,
    # and the ascent climbs to the endpoint on its own side of the minimum; here that is not the global
    # one, so its loss is a lower bound on the worst loss, and the maximum of the half it ascends
    grid, brute, delta, loss = scalar_case(seed=2)
    assert np.count_nonzero(np.diff(np.sign(np.diff(brute)))) == 1 and brute.argmin() not in (0, len(grid) - 1)
    assert abs(delta) == pytest.approx(grid[-1], abs=1e-12)
    assert loss <= brute.max() * (1 + 1e-6)
    side = grid * np.sign(delta) >= 0
    assert loss == pytest.approx(brute[side].max(), rel=1e-6)
    assert brute.max() - loss > 0.1  # the global worst case is elsewhere (a documented limitation)


def test_the_iterate_of_highest_loss_is_kept_when_the_steps_overshoot():
    # here the loss has a narrow maximum near ΔW = 0.09 and both endpoints ±r are below ΔW = 0: one step
    # of α·r = 2.5 r lands on an endpoint, worse than the start, so the start (ΔW = 0) is the answer
    task, cell = "imdb", "rnn"
    grid, brute, _, _ = scalar_case(seed=0)
    start = brute[np.argmin(np.abs(grid))]
    assert brute[0] < start and brute[-1] < start
    model = tiny_model(task, cell, hidden=1, seed=0)
    x, y = tiny_data(task, n=40, seed=0)
    for steps in (1, 2, 3):
        (delta,), (loss,) = adversarial_perturbations(model, task, cell, x, y, [{"rnn/h": grid[-1]}], steps=steps)
        assert loss >= start  # never below the unperturbed network
    (delta,), (loss,) = adversarial_perturbations(model, task, cell, x, y, [{"rnn/h": grid[-1]}], steps=1)
    assert delta["rnn/h"][0, 0] == 0.0 and loss == pytest.approx(start, rel=1e-7)


# ------------------------------------------------------------------------------------------------
# radius 0, batch size, independence of the copies, errors


def test_radius_zero_gives_no_perturbation_and_the_unperturbed_loss():
    task, cell = "adding", "gru"
    model = tiny_model(task, cell)
    x, y = tiny_data(task)
    zero = dict.fromkeys(relative_radii(model, cell, 0.0), 0.0)
    mixed = {key: (0.0 if key.startswith("encoder") else r) for key, r in relative_radii(model, cell, 0.3).items()}
    deltas, losses = adversarial_perturbations(model, task, cell, x, y, [zero, mixed], steps=3)
    assert all(not d.any() for d in deltas[0].values())
    assert losses[0] == pytest.approx(losses_at(model, task, cell, x, y, [deltas[0]])[0], rel=1e-7)
    # a block of radius 0 stays 0 while the others move
    assert all(not d.any() for k, d in deltas[1].items() if k.startswith("encoder"))
    assert any(d.any() for k, d in deltas[1].items() if k.startswith("decoder"))


def test_a_block_without_gradient_does_not_move():
    # a decoder that ignores its input makes the loss independent of the encoder: the encoder's gradient is 0,
    # whose SVD is any pair of orthogonal matrices; an ascent along their U Vᵀ would move for nothing, while
    # the decoder's blocks (a nonzero bias keeps its state away from 0) raise the loss
    task, cell = "adding", "gru"
    model = tiny_model(task, cell)
    with torch.no_grad():
        model.decoder.weight_ih.zero_()
        model.decoder.bias.uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    x, y = tiny_data(task)
    (delta,), _ = adversarial_perturbations(model, task, cell, x, y, [relative_radii(model, cell, 0.3)], steps=2)
    assert all(not d.any() for k, d in delta.items() if k.startswith("encoder"))
    assert all(d.any() for k, d in delta.items() if k.startswith("decoder"))


def test_an_overflowing_gradient_stops_that_copy_instead_of_failing():
    # backpropagation through 200 IMDB steps at a large radius overflowed float32 (a GRU at maxlen 200): the
    # SVD of a non-finite gradient raised and lost the whole job; now that copy's direction is 0, the others'
    # are U Vᵀ of their gradients
    g = torch.randn(3, 2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g[1, 0, 2, 3] = float("nan")
    g[2, 1, 0, 0] = float("inf")
    d = _ascent_direction(g)
    assert torch.all(d[1, 0] == 0) and torch.all(d[2, 1] == 0)
    for c, b in ((0, 0), (0, 1), (1, 1), (2, 0)):
        u, _, vh = torch.linalg.svd(g[c, b])
        torch.testing.assert_close(d[c, b], u @ vh)


def test_results_do_not_depend_on_the_batch_size():
    task, cell = "imdb", "lstm"
    model = tiny_model(task, cell)
    x, y = tiny_data(task, n=30)
    radii = [relative_radii(model, cell, 0.2)]
    small, loss_small = adversarial_perturbations(model, task, cell, x, y, radii, steps=4, batch_size=7)
    whole, loss_whole = adversarial_perturbations(model, task, cell, x, y, radii, steps=4, batch_size=64)
    assert loss_small == pytest.approx(loss_whole, rel=1e-5)
    for key in whole[0]:
        np.testing.assert_allclose(small[0][key], whole[0][key], atol=1e-5 * radii[0][key], err_msg=key)


def test_each_copy_is_independent_of_the_others():
    task, cell = "adding", "rnn"
    model = tiny_model(task, cell)
    x, y = tiny_data(task)
    target = relative_radii(model, cell, 0.2)
    others = [relative_radii(model, cell, 0.05), relative_radii(model, cell, 0.6)]
    alone, (loss_alone,) = adversarial_perturbations(model, task, cell, x, y, [target], steps=4)
    together, losses = adversarial_perturbations(model, task, cell, x, y, [others[0], target, others[1]], steps=4)
    assert losses[1] == pytest.approx(loss_alone, rel=1e-6)
    assert losses[0] != pytest.approx(losses[2], rel=1e-3)  # the others really are other problems
    for key in alone[0]:
        np.testing.assert_allclose(together[1][key], alone[0][key], atol=1e-6 * target[key], err_msg=key)


def test_invalid_arguments_are_refused():
    task, cell = "imdb", "rnn"
    model = tiny_model(task, cell)
    x, y = tiny_data(task, n=4)
    radii = relative_radii(model, cell, 0.1)
    with pytest.raises(ValueError, match="steps"):
        adversarial_perturbations(model, task, cell, x, y, [radii], steps=0)
    with pytest.raises(ValueError, match="rnn/h"):
        adversarial_perturbations(model, task, cell, x, y, [radii, {}], steps=1)
    with pytest.raises(ValueError, match="≥ 0"):
        adversarial_perturbations(model, task, cell, x, y, [{"rnn/h": -1.0}], steps=1)
    with pytest.raises(ValueError, match="not gru"):
        adversarial_perturbations(model, task, "gru", x, y, [{"rnn/z": 0.1, "rnn/r": 0.1, "rnn/h": 0.1}])
    assert adversarial_perturbations(model, task, cell, x, y, []) == ([], [])
