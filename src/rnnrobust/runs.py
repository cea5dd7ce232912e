"""Run records: a run's key together with its files, what the tables and figure rules pass around.

The aggregate rules derive their inputs and their params from one list of records, and each script
reads a run's key and file from the same record (checking the file is among its inputs), so
nothing is paired by position.

>>> records = run_records("results/paper", [("adding", "rnn", "baseline", 0)], "analysis")
>>> records[0]["analysis"]
'results/paper/analysis/adding/rnn/baseline/seed0.json'
>>> files_by_run(records, "analysis", ["results/paper/analysis/adding/rnn/baseline/seed0.json"])
{('adding', 'rnn', 'baseline', 0): 'results/paper/analysis/adding/rnn/baseline/seed0.json'}
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .layout import RunKey, run_stem

#: Per-run files by kind, below a config's results folder (``results_dir``).
RUN_FILES = {
    "metrics": "models/{stem}/metrics.json",
    "history": "models/{stem}/history.csv",
    "analysis": "analysis/{stem}.json",
    "grid": "pseudospectra/{stem}.npz",
    "perturbation": "perturbation/{stem}.json",
}


def run_records(
    results_dir: str, keys: Iterable[Sequence[Any]], *kinds: str, **extra: Callable[[list], Any]
) -> list[dict[str, Any]]:
    """One record per run key: ``{"run": [task, model, regime, seed], <kind>: its file, ...}``.

    Files are below ``results_dir``; ``extra`` maps a field name to a function of the key (e.g. the
    block a figure panel shows).
    """
    records = []
    for key in keys:
        key = list(key)
        files = {kind: f"{results_dir}/{RUN_FILES[kind].format(stem=run_stem(*key))}" for kind in kinds}
        records.append({"run": key, **files, **{name: value(key) for name, value in extra.items()}})
    return records


def run_keys(config: Mapping[str, Any]) -> list[RunKey]:
    """(task, model, regime, seed) of every run of a checked config, in the workflow's order."""
    keys = itertools.product(config["tasks"], config["models"], config["regimes"], config["seeds"])
    return [(task, model, regime, int(seed)) for task, model, regime, seed in keys]


def run_key(record: Mapping[str, Any]) -> RunKey:
    """The record's run as a typed key (task, model, regime, seed)."""
    task, model, regime, seed = record["run"]
    return task, model, regime, int(seed)


def files_by_run(records: Iterable[Mapping[str, Any]], kind: str, inputs: Iterable[str]) -> dict[RunKey, str]:
    """Run key → its ``kind`` file, both from one record; every file must be among the rule's ``inputs``."""
    files = {run_key(record): record[kind] for record in records}
    stray = sorted(set(files.values()) - set(inputs))
    if stray:
        raise ValueError(f"{kind} files of the rule's params that are not among its inputs: {stray}")
    return files
