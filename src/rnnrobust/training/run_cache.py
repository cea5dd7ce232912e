"""Finished runs kept outside the workflow's outputs, so that a group's job trains only the runs it lacks.

The workflow trains the runs of one task × model × regime (one per seed) in one job. Snakemake deletes
every output of a job before it runs it, so adding a seed to the config would otherwise retrain the
seeds already finished. Each finished run's ``model.pt``, ``metrics.json``, ``history.csv`` and
``before_rescale.pt`` are
therefore also kept in ``<cache_root>/<task>/<model>/<regime>/seed<seed>/<key>/`` (hard links where the
file system allows, else copies), where ``key`` digests everything a run's result depends on:

- its hyperparameters (``TrainConfig.to_params()``, the regime's stabilization options included),
- the digest of the training code (the workflow's ``code`` param) and the torch version,
- the optimizer implementation, and the SHA-256 of the training data file,
- for a run that ``robust_training.init_from`` starts from another run: the SHA-256 of that run's
  ``model.pt`` and ``parametrization.pt`` (retraining the source retrains what starts from it).

A parametrised run's ``parametrization.pt`` is kept and restored with its other files.

A run whose key is in the cache is restored into its output folder instead of trained; any other
change gives another key and trains it anew. Keeping a run's files from the group it was first trained
in is the one reproducibility caveat: ``metrics.json`` records that group (``group.seeds``), and on CPU
a run trained in another group equals it bit for bit anyway (``tests/training/test_group.py``). Storing a run
replaces the other keys of the same run, so the cache holds one version per run; deleting the cache
folder is always safe (it costs retraining, nothing else).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnrobust.config import TrainConfig
from rnnrobust.io import load_prepared, read_json
from rnnrobust.layout import run_stem
from rnnrobust.training.checkpoint import params_digest
from rnnrobust.training.loop import GroupJob, train_groups
from rnnrobust.training.methods import PARAMETRIZATION_FILE, load_start
from rnnrobust.training.optimizer import optimizer_impl
from rnnrobust.training.outputs import BEFORE_RESCALE_FILE
from rnnrobust.training.session import EpochEndHook, Log

#: The files of a finished run, as ``outputs.write_outputs`` writes them.
RUN_FILES = ("model.pt", "metrics.json", "history.csv", BEFORE_RESCALE_FILE)
#: Kept with them where the run wrote it (``robust_training.parametrization``).
OPTIONAL_RUN_FILES = (PARAMETRIZATION_FILE,)
#: Written last into a cache entry: an entry without it is incomplete and ignored.
COMPLETE = "complete"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def run_key(train: TrainConfig, code_digest: str, data_digest: str, *, start_digest: str | None = None) -> str:
    """The digest under which a finished run is cached (module docstring lists what it covers);
    ``start_digest``: :func:`start_digest` of the run it starts from, if any."""
    fields = {
        "params": train.to_params(),
        "code": code_digest,
        "torch": str(torch.__version__),
        "optimizer": optimizer_impl(train),
        "data": data_digest,
    }
    if start_digest is not None:
        fields["start"] = start_digest
    return params_digest(fields)[:16]


def start_digest(run_dir: str | Path) -> str:
    """SHA-256 over the files a run started from another (``init_from``) reads from that run's folder."""
    return params_digest({name: file_digest(Path(run_dir) / name) for name in ("model.pt", PARAMETRIZATION_FILE)})


def entry(cache_root: str | Path, train: TrainConfig, key: str) -> Path:
    """The cache folder of one run under ``key``."""
    return Path(cache_root) / run_stem(train.task, train.model, train.regime, train.seed) / key


def restore(cached: Path, out_dir: Path) -> bool:
    """Put a cached run's files into ``out_dir``; False (and nothing written) when ``cached`` is incomplete.

    The restored files get the current time as their modification time, so that Snakemake's mtime
    trigger sees them as newer than the job's inputs.
    """
    if not (cached / COMPLETE).exists() or not all((cached / name).exists() for name in RUN_FILES):
        return False
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*RUN_FILES, *OPTIONAL_RUN_FILES):
        if (cached / name).exists():
            _link_or_copy(cached / name, out_dir / name)
            os.utime(out_dir / name)
        elif (out_dir / name).exists():  # left by an earlier version of the run that had it
            (out_dir / name).unlink()
    return True


def store(out_dir: Path, cached: Path) -> None:
    """Keep a finished run's files as ``cached``, replacing the run's other cache entries."""
    staging = cached.parent / f".{cached.name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir(parents=True)
    for name in RUN_FILES:
        _link_or_copy(out_dir / name, staging / name)
    for name in OPTIONAL_RUN_FILES:
        if (out_dir / name).exists():
            _link_or_copy(out_dir / name, staging / name)
    (staging / COMPLETE).touch()
    for other in cached.parent.iterdir():
        if other != staging:
            shutil.rmtree(other, ignore_errors=True)
    staging.rename(cached)


def train_group_cached(
    trains: Sequence[TrainConfig],
    data_path: str | Path,
    out_dirs: Sequence[str | Path],
    cache_root: str | Path,
    *,
    code_digest: str,
    hooks: Callable[[TrainConfig], Sequence[EpochEndHook]],
    logs: Sequence[Log],
    start_dirs: Sequence[str | Path] | None = None,
) -> list[dict[str, Any]]:
    """Restore the runs of a group that the cache holds, train the others as one group, cache them.

    ``hooks(train)`` gives a run's epoch-end hooks (e.g. ``stabilize.stabilization_hooks``); ``logs``
    one callable per run; ``start_dirs`` the folder of the run each starts from (``init_from``).
    Returns every run's ``metrics.json`` content, in the order of ``trains``.
    """
    starts = None if start_dirs is None else [Path(d) for d in start_dirs]
    group = CachedGroup(list(trains), Path(data_path), [Path(d) for d in out_dirs], list(logs), starts)
    return train_groups_cached([group], cache_root, code_digest=code_digest, hooks=hooks)[0]


@dataclass(frozen=True)
class CachedGroup:
    """A group's runs, training data file, output folders, logs and (``init_from``) start folders, one per run."""

    trains: list[TrainConfig]
    data_path: Path
    out_dirs: list[Path]
    logs: list[Log]
    start_dirs: list[Path] | None = None


def train_groups_cached(
    groups: Sequence[CachedGroup],
    cache_root: str | Path,
    *,
    code_digest: str,
    hooks: Callable[[TrainConfig], Sequence[EpochEndHook]],
) -> list[list[dict[str, Any]]]:
    """:func:`train_group_cached` for several groups, whose missing runs train concurrently
    (``loop.train_groups``); a group that starts from another group's runs (``init_from``) trains after
    it. Returns each group's metrics, in order."""
    data_digests: dict[Path, str] = {}
    arrays: dict[Path, dict] = {}  # the groups of a task share its data: read it once
    pending = list(groups)
    while pending:
        waiting_for = {out for group in pending for out in group.out_dirs}
        wave = [g for g in pending if not waiting_for.intersection(g.start_dirs or ())]
        if not wave:
            raise ValueError("robust_training.init_from: these groups start from each other's runs (a cycle)")
        _train_wave(wave, cache_root, code_digest, hooks, data_digests, arrays)
        pending = [g for g in pending if g not in wave]
    return [[read_json(out / "metrics.json") for out in group.out_dirs] for group in groups]


def _train_wave(groups, cache_root, code_digest, hooks, data_digests, arrays) -> None:
    """Restore what the cache holds of ``groups``; train the rest at once and cache it."""
    jobs, stores = [], []
    for group in groups:
        if group.data_path not in data_digests:
            data_digests[group.data_path] = file_digest(group.data_path)
        starts = group.start_dirs or [None] * len(group.trains)
        cached = [
            entry(cache_root, t, run_key(t, code_digest, data_digests[group.data_path], start_digest=_digest(s)))
            for t, s in zip(group.trains, starts, strict=True)
        ]
        todo = []
        for r, (out, cache) in enumerate(zip(group.out_dirs, cached, strict=True)):
            if restore(cache, out):
                group.logs[r](f"finished earlier with these settings; restored from {cache}, not retrained")
            else:
                todo.append(r)
        if todo:
            trains = [group.trains[r] for r in todo]
            if group.data_path not in arrays:
                arrays[group.data_path] = load_prepared(group.data_path)
            jobs.append(
                GroupJob(
                    trains,
                    arrays[group.data_path],
                    [group.out_dirs[r] for r in todo],
                    [group.logs[r] for r in todo],
                    [list(hooks(t)) for t in trains],
                    None if group.start_dirs is None else [load_start(group.start_dirs[r]) for r in todo],
                )
            )
            stores += [(group.out_dirs[r], cached[r]) for r in todo]
    if jobs:
        train_groups(jobs, code_digest=code_digest)
        for out, cache in stores:
            store(out, cache)


def _digest(start_dir: Path | None) -> str | None:
    return None if start_dir is None else start_digest(start_dir)


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` becomes ``source``'s content, atomically: a hard link where possible, else a copy."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        os.link(source, tmp)
    except OSError:  # another file system, or links not supported
        shutil.copy2(source, tmp)
    os.replace(tmp, target)
