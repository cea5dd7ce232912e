"""Run records: a run's key together with its files, what the tables and figure rules pass around.

The aggregate rules derive their inputs and their params from one list of records, and each script
reads a run's key and file from the same record (checking the file is among its inputs), so
nothing is paired by position.

>>> records = run_records("results/paper", [("adding", "rnn", "baseline", 0)], "analysis")
>>> records[0]["analysis"]
'results/paper/analysis/adding/rnn/baseline/seed0.json'
>>> files_by_run(records, "analysis", ["results/paper/analysis/adding/rnn/baseline/seed0.json"])
{('adding', 'rnn', 'baseline', 0): 'results/paper/analysis/adding/rnn/baseline/seed0.json'}

Every table and figure orders runs the same way: tasks and cells in the project's order (:data:`rnnrobust.layout.TASKS`,
:data:`~rnnrobust.layout.CELLS`), regimes in the config's order (:func:`regime_order`), seeds by number
(:func:`sort_runs`), and the blocks of a run in layer then gate order (:func:`block_rank`).

>>> keys = [("mnist", "gru", "baseline", 1), ("adding", "gru", "stabilized", 0), ("adding", "rnn", "baseline", 0)]
>>> sort_runs(keys, ["stabilized", "baseline"])
[('adding', 'rnn', 'baseline', 0), ('adding', 'gru', 'stabilized', 0), ('mnist', 'gru', 'baseline', 1)]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rnnrobust.layout import CELLS, RUN_FILES, TASKS, RunKey, block_keys, run_stem


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


# --------------------------------------------------------------------------------------------------
# The order of runs, regimes and blocks.


def rank(value: str, canonical: Sequence[str]) -> tuple[int, str]:
    """Sort key of ``value`` by its place in ``canonical``; values it does not list come after, by name.

    >>> sorted(["gru", "custom", "rnn"], key=lambda cell: rank(cell, CELLS))
    ['rnn', 'gru', 'custom']
    """
    return (canonical.index(value) if value in canonical else len(canonical), value)


def block_rank(task: str, model: str, block: str) -> tuple[int, str]:
    """Sort key of a block ``<layer>/<gate>`` of a run: layers, then gates in Keras order
    (:func:`rnnrobust.layout.block_keys`); the blocks of a task or cell the project does not know sort by name.

    >>> sorted(["rnn/o", "rnn/i", "rnn/f"], key=lambda block: block_rank("imdb", "lstm", block))
    ['rnn/i', 'rnn/f', 'rnn/o']
    """
    try:
        order = block_keys(task, model)
    except KeyError:
        order = ()
    return rank(block, order)


def regime_order(
    keys: Iterable[Sequence[Any]], regimes: Sequence[str] | None = None, *, strict: bool = False
) -> list[str]:
    """The regimes of the runs ``keys`` (task, model, regime, seed) in the order of ``regimes`` (the config's).

    Without ``regimes``: the order in which the runs first name them. With ``regimes`` and ``strict``: the regimes
    of the runs, in the order of ``regimes``; a run of a regime it does not list is a ValueError (a table's columns
    must be the config's). Otherwise: every regime of ``regimes``, present or not (a regime keeps its colour in
    every figure), then those of the runs that it does not list, in the order they first appear.

    >>> keys = [("imdb", "rnn", "custom", 0), ("imdb", "rnn", "baseline", 0)]
    >>> regime_order(keys), regime_order(keys, ["stabilized", "baseline"])
    (['custom', 'baseline'], ['stabilized', 'baseline', 'custom'])
    >>> regime_order(keys, ["stabilized", "baseline", "custom"], strict=True)
    ['baseline', 'custom']
    """
    present = list(dict.fromkeys(key[2] for key in keys))
    if regimes is None:
        return present
    order = list(dict.fromkeys(regimes))
    unknown = [regime for regime in present if regime not in order]
    if not strict:
        return order + unknown
    if unknown:
        raise ValueError(f"runs of regimes {unknown} that are not among the regimes given, {order}")
    return [regime for regime in order if regime in present]


def sort_runs(keys: Iterable[RunKey], regimes: Sequence[str] | None = None) -> list[RunKey]:
    """Run keys in the order task, model (the project's, :func:`rank`), regime (:func:`regime_order`), seed."""
    keys = list(keys)
    order = regime_order(keys, regimes)
    return sorted(keys, key=lambda k: (rank(k[0], TASKS), rank(k[1], CELLS), order.index(k[2]), k[3]))
