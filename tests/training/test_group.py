"""Groups of runs trained at once (rnnrobust.training.group): each run of a stack is the run alone, bit for bit.

Bitwise equality with the single runs is checked with one thread, the workflow's setting for training:
with more threads MKL may split a single product differently from the same product inside a batch.
"""

import shutil

import pytest
import torch
from tiny_runs import (
    SEEDS,
    Kill,
    KillAfter,
    arrays_for,
    history,
    model_bytes,
    quiet,
    run_params,
    stabilized_params,
    toy_imdb,
)

from rnnrobust.layout import CELLS, TASKS
from rnnrobust.training.checkpoint import save_state_dict
from rnnrobust.training.group import RunGroup
from rnnrobust.training.loop import GroupJob, train_group, train_groups, train_run
from rnnrobust.training.models import build_model, stack_models
from rnnrobust.training.stabilize import stabilization_hooks
from rnnrobust.training.tasks import loss_and_accuracy
from rnnrobust.training.weights import load_state_dict

# One torch thread, the workflow's setting for training (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def singles_and_group(tmp_path, trains, arrays, hooks=None, **group_options):
    """Train each run alone and all of them as one group; return the two folders' model.pt bytes per seed."""
    for r, train in enumerate(trains):
        train_run(train, arrays, tmp_path / f"single/seed{train.seed}", log=quiet, hooks=hooks[r] if hooks else ())
    group_hooks = [stabilization_hooks(t) for t in trains] if hooks else None
    dirs = [tmp_path / f"group/seed{t.seed}" for t in trains]
    metrics = train_group(trains, arrays, dirs, log=quiet, hooks=group_hooks, **group_options)
    return metrics


@pytest.mark.parametrize(
    ("task", "overrides"),
    [
        ("imdb", {}),
        ("adding", {}),
        ("mnist", {}),
        ("imdb", {"model": "lstm", "dropout": 0.2, "recurrent_dropout": 0.2}),  # dropout: per-run generators
        ("imdb", {"model": "rnn", "hidden_size": 5, "embed_dim": 6, "clipnorm": 0.1}),  # odd shapes, clipping
        ("mnist", {"model": "gru", "dtype": "float64", "rnn_activation": "tanh"}),
    ],
)
def test_each_run_of_a_group_equals_the_run_alone_bitwise(tmp_path, task, overrides):
    trains = [run_params(task, seed=seed, **overrides) for seed in SEEDS]
    metrics = train_group(trains, arrays_for(task), [tmp_path / f"group/seed{s}" for s in SEEDS], log=quiet)
    for train in trains:
        train_run(train, arrays_for(task), tmp_path / f"single/seed{train.seed}", log=quiet)
        assert model_bytes(tmp_path, "group", train.seed) == model_bytes(tmp_path, "single", train.seed)
        assert history(tmp_path, "group", train.seed) == history(tmp_path, "single", train.seed)
    assert [m["group"] for m in metrics] == [
        {"seeds": list(SEEDS), "index": r, "stacked": True, "optimizer": "foreach"} for r in range(3)
    ]
    assert not list(tmp_path.glob("group/checkpoint*"))


def test_first_step_gradients_with_dropout_match_the_runs_alone():
    """With dropout each run draws its masks from its own generator, continuing the global generator
    from where it stood after the run's model was built (where a run alone has always drawn them)."""
    train = run_params("imdb", model="lstm", dropout=0.2, recurrent_dropout=0.2, hidden_size=6, embed_dim=5)
    group = RunGroup([train.replace(seed=s) for s in SEEDS], torch.device("cpu"), torch.float32)
    x = torch.randint(3, 100, (3, 16, 12), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 2, (3, 16), generator=torch.Generator().manual_seed(1))
    group.train()
    logits = group(x)
    torch.stack([loss_and_accuracy("imdb", logits[r], y[r])[0] for r in range(3)]).sum().backward()
    for r, seed in enumerate(SEEDS):
        torch.manual_seed(seed)  # a run alone, as train_run has always run it: masks from the global generator
        model = build_model("imdb", "lstm", **train.model_options()).train()
        loss_and_accuracy("imdb", model(x[r]), y[r])[0].backward()
        for name, param in model.named_parameters():
            stacked = group.model.get_parameter(name).grad[r]
            assert float((stacked - param.grad).norm() / param.grad.norm()) <= 1e-5, name
            assert torch.equal(stacked, param.grad), name  # in fact bitwise


def test_a_diverged_run_is_frozen_and_the_others_go_on_unchanged(tmp_path):
    trains = [run_params("mnist", seed=s, epochs=4) for s in SEEDS]  # a ReLU RNN
    arrays = arrays_for("mnist")
    snapshots = {}

    def blow_up(model, epoch):  # run 1's recurrence explodes after epoch 1: its next loss is not finite
        if epoch == 1:
            with torch.no_grad():
                model.rnn.weight_hh.mul_(1e20)
            snapshots["weights"] = {k: v.clone() for k, v in model.state_dict().items()}
        return {}

    def copy_checkpoint(model, epoch):  # keep the checkpoints of epochs 1 and 2 (written after the hooks)
        if epoch in (2, 3):
            shutil.copy(tmp_path / "group/checkpoint.seeds-3-4-5.pt", tmp_path / f"epoch{epoch - 1}.pt")
        return {}

    lines = []
    metrics = train_group(trains, arrays, [tmp_path / f"group/seed{s}" for s in SEEDS], log=lines.append,
                          hooks=[[copy_checkpoint], [blow_up], []])  # fmt: skip
    assert [m["status"] for m in metrics] == ["not_converged", "diverged", "not_converged"]  # random labels
    assert [m["epochs_completed"] for m in metrics] == [4, 1, 4]
    assert "seed 4: epoch 2: non-finite loss or weights; stopping and keeping the weights of epoch 1" in lines
    frozen = load_state_dict(tmp_path / "group/seed4/model.pt")
    assert all(torch.equal(frozen[k], snapshots["weights"][k]) for k in frozen)  # its last finite epoch's weights
    for seed in (3, 5):  # the others: bitwise the runs alone
        train_run(trains[SEEDS.index(seed)], arrays, tmp_path / f"single/seed{seed}", log=quiet)
        assert model_bytes(tmp_path, "group", seed) == model_bytes(tmp_path, "single", seed)
    # nor did the frozen run's optimizer state move after it was frozen (RMSprop's average would move it)
    before, after = (torch.load(tmp_path / f"epoch{e}.pt", weights_only=True) for e in (1, 2))
    assert after["frozen"] == [False, True, False]
    for index, name in enumerate(before["model"]):
        assert torch.equal(before["model"][name][1], after["model"][name][1]), name
        assert not torch.equal(before["model"][name][0], after["model"][name][0]), name
        state_before, state_after = before["optimizer"]["state"][index], after["optimizer"]["state"][index]
        assert torch.equal(state_before["square_avg"][1], state_after["square_avg"][1]), name
        assert not torch.equal(state_before["square_avg"][0], state_after["square_avg"][0]), name


def test_a_killed_group_resumes_to_the_uninterrupted_result(tmp_path):
    trains = [run_params("imdb", seed=s, epochs=3, model="lstm", dropout=0.2, recurrent_dropout=0.2) for s in SEEDS]
    arrays = arrays_for("imdb")
    full = [tmp_path / f"full/seed{s}" for s in SEEDS]
    train_group(trains, arrays, full, log=quiet)
    resumed = [tmp_path / f"resumed/seed{s}" for s in SEEDS]
    with pytest.raises(Kill):
        train_group(trains, arrays, resumed, log=quiet, hooks=[[], [KillAfter(2)], []])
    assert (tmp_path / "resumed/checkpoint.seeds-3-4-5.pt").exists()
    logs = {s: [] for s in SEEDS}
    train_group(trains, arrays, resumed, log=[logs[s].append for s in SEEDS])
    for seed in SEEDS:
        assert any(m.startswith("resuming") and "after epoch 1" in m for m in logs[seed])
        assert [m.split()[1] for m in logs[seed] if m.startswith("epoch ")] == ["0/3", "1/3", "2/3", "3/3"]
        assert model_bytes(tmp_path, "full", seed) == model_bytes(tmp_path, "resumed", seed)
        assert history(tmp_path, "full", seed) == history(tmp_path, "resumed", seed)
    assert not (tmp_path / "resumed/checkpoint.seeds-3-4-5.pt").exists()


def test_stabilized_runs_of_a_group_equal_their_runs_alone(tmp_path):
    trains = [stabilized_params("gru", seed=s, epochs=3, estimator="norm_ratio", hidden_size=8) for s in SEEDS]
    arrays = toy_imdb(48, 10, seed=0)
    hooks = [stabilization_hooks(t) for t in trains]
    singles_and_group(tmp_path, trains, arrays, hooks=hooks)
    for seed in SEEDS:
        assert model_bytes(tmp_path, "group", seed) == model_bytes(tmp_path, "single", seed)
        rows = history(tmp_path, "group", seed)
        assert rows == history(tmp_path, "single", seed) and "radius_after/rnn/z" in rows[0]


@pytest.mark.parametrize("task", TASKS)
def test_run_state_dict_is_todays_state_dict(tmp_path, task):
    for cell in CELLS:
        train = run_params(task, model=cell, rnn_activation="tanh")
        group = RunGroup([train.replace(seed=s) for s in SEEDS], torch.device("cpu"), torch.float32)
        for r, seed in enumerate(SEEDS):
            torch.manual_seed(seed)
            alone = build_model(task, cell, **train.model_options()).state_dict()
            state = group.run_state_dict(r)
            assert list(state) == list(alone)
            assert all(torch.equal(state[k], alone[k]) for k in alone)
            save_state_dict(tmp_path / "a.pt", state)
            save_state_dict(tmp_path / "b.pt", alone)
            assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()  # model.pt unchanged


def test_a_stack_of_one_is_the_run_alone(tmp_path):
    train = run_params("adding", model="gru", epochs=2)
    train_group([train], arrays_for("adding"), [tmp_path / "group/seed0"], log=quiet, stacked=True)
    train_run(train, arrays_for("adding"), tmp_path / "single/seed0", log=quiet)
    assert model_bytes(tmp_path, "group", 0) == model_bytes(tmp_path, "single", 0)


def test_stacked_model_views_and_group_checks():
    torch.manual_seed(0)
    models = [build_model("mnist", "lstm", hidden_size=4) for _ in range(2)]
    first = models[0].rnn.weight_hh.detach().clone()
    stacked = stack_models(models)
    assert stacked.rnn.weight_hh.shape == (2, 16, 4) and torch.equal(stacked.rnn.weight_hh[0], first)
    with torch.no_grad():
        models[1].rnn.weight_hh.mul_(2.0)  # a run's own model writes into the stack (epoch-end hooks do)
    assert torch.equal(stacked.rnn.weight_hh[1], models[1].rnn.weight_hh)
    with pytest.raises(ValueError, match="distinct seeds"):
        RunGroup([run_params("mnist"), run_params("mnist")], torch.device("cpu"), torch.float32)
    with pytest.raises(ValueError, match=r"differ only in their seed.*\['lr'\]"):
        RunGroup([run_params("mnist"), run_params("mnist", seed=1, lr=0.5)], torch.device("cpu"), torch.float32)


def test_groups_trained_concurrently_equal_each_group_trained_alone(tmp_path):
    """train_groups (the workflow's train_grouping: all): each group in its own thread computes what it would alone."""
    groups = {
        "imdb": [run_params("imdb", seed=s, epochs=2, dropout=0.2, recurrent_dropout=0.2) for s in SEEDS[:2]],
        "mnist": [run_params("mnist", seed=s, epochs=2) for s in SEEDS],
        "adding": [run_params("adding", seed=SEEDS[2], epochs=2)],
    }
    for task, trains in groups.items():
        train_group(trains, arrays_for(task), [tmp_path / f"alone/{task}/seed{t.seed}" for t in trains], log=quiet)
    jobs = [
        GroupJob(trains, arrays_for(task), [tmp_path / f"together/{task}/seed{t.seed}" for t in trains],
                 [quiet] * len(trains), [[] for _ in trains])
        for task, trains in groups.items()
    ]  # fmt: skip
    results = train_groups(jobs)
    assert [len(r) for r in results] == [2, 3, 1]
    for task, trains in groups.items():
        for t in trains:
            alone, together = tmp_path / f"alone/{task}/seed{t.seed}", tmp_path / f"together/{task}/seed{t.seed}"
            assert (alone / "model.pt").read_bytes() == (together / "model.pt").read_bytes(), (task, t.seed)
            assert history(tmp_path, f"alone/{task}", t.seed) == history(tmp_path, f"together/{task}", t.seed)
