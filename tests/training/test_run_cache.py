"""The cache of finished runs: what its key covers, and that only runs it lacks are trained."""

import numpy as np
from fixtures import imdb_arrays, imdb_params

from rnnrobust.config import RobustTraining
from rnnrobust.io import save_prepared
from rnnrobust.training.methods import PARAMETRIZATION_FILE
from rnnrobust.training.run_cache import (
    COMPLETE,
    RUN_FILES,
    CachedGroup,
    entry,
    file_digest,
    restore,
    run_key,
    store,
    train_group_cached,
    train_groups_cached,
)


def test_the_key_covers_settings_code_and_data():
    train = imdb_params()
    key = run_key(train, "code", "data")
    assert key == run_key(imdb_params(), "code", "data")
    others = [
        run_key(train.replace(lr=0.02), "code", "data"),
        run_key(train.replace(seed=4), "code", "data"),
        run_key(train, "other code", "data"),
        run_key(train, "code", "other data"),
        run_key(train.replace(optimizer_impl="fused"), "code", "data"),
    ]
    assert key not in others and len(set(others)) == len(others)


def test_an_incomplete_entry_is_never_restored(tmp_path):
    cached, out = tmp_path / "cache" / "key", tmp_path / "out"
    cached.mkdir(parents=True)
    for name in RUN_FILES:
        (cached / name).write_text(name)
    assert not restore(cached, out) and not out.exists()  # no completion marker: a store was cut short
    (cached / COMPLETE).touch()
    assert restore(cached, out) and (out / "metrics.json").read_text() == "metrics.json"


def test_storing_replaces_the_runs_other_versions(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in RUN_FILES:
        (out / name).write_text("new")
    old = tmp_path / "cache" / "run" / "old-key"
    old.mkdir(parents=True)
    store(out, tmp_path / "cache" / "run" / "new-key")
    assert [p.name for p in (tmp_path / "cache" / "run").iterdir()] == ["new-key"]


def test_only_missing_runs_are_trained(tmp_path):
    data = tmp_path / "data"
    save_prepared(data, imdb_arrays(), {"task": "imdb"})
    trains = [imdb_params(seed=seed, epochs=2) for seed in (0, 1)]
    lines = {0: [], 1: []}
    logs = [lines[0].append, lines[1].append]
    outs = [tmp_path / f"seed{seed}" for seed in (0, 1)]
    first = train_group_cached(trains[:1], data / "data.npz", outs[:1], tmp_path / "cache", code_digest="c",
                               hooks=lambda train: [], logs=logs[:1])  # fmt: skip
    model0 = (outs[0] / "model.pt").read_bytes()
    (outs[0] / "model.pt").unlink()  # as Snakemake removes a job's outputs before it reruns the job
    both = train_group_cached(trains, data / "data.npz", outs, tmp_path / "cache", code_digest="c",
                              hooks=lambda train: [], logs=logs)  # fmt: skip
    assert any("restored from" in line for line in lines[0]) and any("epoch 2/2" in line for line in lines[1])
    assert (outs[0] / "model.pt").read_bytes() == model0 and both[0] == first[0]
    assert both[1]["group"]["seeds"] == [1]
    assert entry(tmp_path / "cache", trains[1], run_key(trains[1], "c", file_digest(data / "data.npz"))).exists()


def test_restored_files_are_newer_than_the_data(tmp_path):
    cached, out = tmp_path / "key", tmp_path / "out"
    cached.mkdir()
    for name in RUN_FILES:
        (cached / name).write_text(name)
    (cached / COMPLETE).touch()
    data = tmp_path / "data.npy"
    np.save(data, np.zeros(1))
    restore(cached, out)
    assert all((out / name).stat().st_mtime >= data.stat().st_mtime for name in RUN_FILES)


def test_a_group_that_starts_from_another_trains_after_it_and_follows_it(tmp_path):
    """init_from through the cache (train_grouping: all): the frozen group is listed first yet trains after its
    source; parametrization.pt is cached and restored; a retrained source retrains what starts from it."""
    data = tmp_path / "data"
    save_prepared(data, imdb_arrays(), {"task": "imdb"})
    schur = RobustTraining(parametrization="schur")
    frozen = RobustTraining(parametrization="schur", init_from="schur", freeze_eigenvalues=True, nonnormality=1.0)
    sources = [imdb_params(model="rnn", seed=seed, epochs=2, regime="schur", robust_training=schur) for seed in (0, 1)]
    starting = [t.replace(regime="frozen", robust_training=frozen) for t in sources]
    dirs = {regime: [tmp_path / regime / f"seed{t.seed}" for t in sources] for regime in ("schur", "frozen")}

    def run(lr=0.01):
        groups = [
            CachedGroup(starting, data / "data.npz", dirs["frozen"], [print, print], dirs["schur"]),
            CachedGroup([t.replace(lr=lr) for t in sources], data / "data.npz", dirs["schur"], [print, print]),
        ]
        train_groups_cached(groups, tmp_path / "cache", code_digest="c", hooks=lambda train: [])
        return [(d / "model.pt").read_bytes() for d in dirs["frozen"]]

    first = run()
    assert all((d / PARAMETRIZATION_FILE).exists() for d in dirs["schur"] + dirs["frozen"])
    for d in dirs["schur"] + dirs["frozen"]:
        (d / PARAMETRIZATION_FILE).unlink()
    assert run() == first  # restored, parametrization.pt with it
    assert all((d / PARAMETRIZATION_FILE).exists() for d in dirs["frozen"])
    assert run(lr=0.02) != first  # another source: the frozen runs start elsewhere
