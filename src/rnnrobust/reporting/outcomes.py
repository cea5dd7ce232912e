"""The outcome of a run (the tables' reader-facing label) and the status training wrote, counted over seeds.

``metrics.json["status"]`` stays as training wrote it and is kept in the tables' CSVs as ``status``
(:func:`status_cell`). The **outcome** (:func:`run_outcome`), with *a* the accuracy after the final rescale, *c* the
chance accuracy and *m* the run's ``convergence_margin`` (``rnnrobust.config.DEFAULT_CONVERGENCE_MARGIN`` where its
metrics do not record one), is, in this order:

- ``diverged``: training stopped on a non-finite loss or weights (status ``diverged``);
- ``collapsed at rescale``: a rescaled run whose accuracy fell by more than :data:`COLLAPSE_DROP` (10 percentage
  points) at the final rescale;
- ``near chance``: *a* < *c* + *m* (training's ``not_converged``);
- ``learned``: *a* ≥ *c* + :data:`LEARNED_FRACTION` · (1 − *c*), i.e. the run closed at least half of the gap
  between chance and 100 %;
- ``above chance``: otherwise (e.g. 38 % on the adding task, whose chance is 33 %).

A cell of several seeds counts them: ``"3/3 learned"``, ``"2/3 learned, 1/3 near chance"`` (:func:`outcome_cell`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rnnrobust.config import DEFAULT_CONVERGENCE_MARGIN
from rnnrobust.io import PathLike
from rnnrobust.layout import STATUSES, RunKey
from rnnrobust.reporting.table_common import load_runs

__all__ = [
    "COLLAPSE_DROP",
    "LEARNED_FRACTION",
    "OUTCOMES",
    "OUTCOME_RULE",
    "outcome_cell",
    "run_outcome",
    "run_outcomes",
    "run_statuses",
    "status_cell",
]

#: Reader-facing outcomes of a run, best first (see the module docstring for the rule).
OUTCOMES = ("learned", "above chance", "near chance", "collapsed at rescale", "diverged")
#: "learned": the accuracy closes at least this fraction of the gap between chance and 100 %.
LEARNED_FRACTION = 0.5
#: "collapsed at rescale": the final rescale cost more than this accuracy (a fraction: 10 percentage points).
COLLAPSE_DROP = 0.10

#: The outcome rule in one sentence, printed in the notes of Table 1.
OUTCOME_RULE = (
    f"Outcome per seed, from the accuracy a after the final rescale, chance c and margin m = "
    f"{DEFAULT_CONVERGENCE_MARGIN:g}: diverged (non-finite loss or weights); collapsed at rescale (the final rescale "
    f"cost more than {100 * COLLAPSE_DROP:g} points); near chance (a < c + m); learned (a ≥ c + "
    f"{LEARNED_FRACTION:g}·(1 − c), half the gap from chance to 100 %); above chance otherwise."
)


def run_outcome(metrics: Mapping[str, Any]) -> str:
    """The reader-facing outcome of one run (one of :data:`OUTCOMES`) from its metrics.json.

    The rule is the module docstring's: ``diverged``, then ``collapsed at rescale`` (the accuracy fell by more
    than :data:`COLLAPSE_DROP` at the final rescale), ``near chance`` (accuracy after the final rescale below
    chance + ``convergence_margin``), ``learned`` (at least :data:`LEARNED_FRACTION` of the way from chance to
    100 %), else ``above chance``.

    >>> run_outcome({"status": "converged", "test": {"accuracy": 0.38}, "chance_accuracy": 0.33})
    'above chance'
    >>> run_outcome({"status": "converged", "test": {"accuracy": 0.60}, "chance_accuracy": 0.33,
    ...              "test_before_final_rescale": {"accuracy": 0.95}})
    'collapsed at rescale'
    """
    status = metrics["status"]
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {STATUSES}")
    if status == "diverged":
        return "diverged"
    after = float(metrics["test"]["accuracy"])
    before = (metrics.get("test_before_final_rescale") or {}).get("accuracy")
    if before is not None and float(before) - after > COLLAPSE_DROP:
        return "collapsed at rescale"
    chance = float(metrics.get("chance_accuracy") or 0.0)
    margin = (metrics.get("hyperparameters") or {}).get("convergence_margin")
    margin = DEFAULT_CONVERGENCE_MARGIN if margin is None else float(margin)
    if after < chance + margin:
        return "near chance"
    if after >= chance + LEARNED_FRACTION * (1.0 - chance):
        return "learned"
    return "above chance"


def outcome_cell(outcomes: Sequence[str]) -> str:
    """Outcomes of a cell of seeds, counted in the order of :data:`OUTCOMES`; ``""`` for no seeds.

    >>> outcome_cell(["learned"] * 3), outcome_cell(["near chance", "learned", "learned"])
    ('3/3 learned', '2/3 learned, 1/3 near chance')
    """
    unknown = set(outcomes) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"unknown outcome {sorted(unknown)}; expected one of {OUTCOMES}")
    n = len(outcomes)
    return ", ".join(f"{outcomes.count(o)}/{n} {o}" for o in OUTCOMES if o in outcomes)


def status_cell(statuses: Sequence[str]) -> str:
    """Status of a cell of seeds.

    Returns
    -------
    str
        ``"converged"`` when every seed converged, ``"non-convergence (…)"`` when none did (counts of not
        converged and diverged seeds), else the counts such as ``"1/3 not converged"``; ``""`` for no seeds.
    """
    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown run status {sorted(unknown)}; expected one of {STATUSES}")
    n = len(statuses)
    if n == 0:
        return ""
    failures = [s for s in STATUSES if s != "converged"]
    counts = [(statuses.count(s), s.replace("_", " ")) for s in failures]
    parts = ", ".join(f"{c}/{n} {label}" for c, label in counts if c)
    failed = sum(c for c, _ in counts)
    if failed == 0:
        return "converged"
    if failed == n:
        return f"non-convergence ({parts})"
    return parts


def run_statuses(metrics: Mapping[RunKey, PathLike] | None) -> dict[RunKey, str]:
    """Run key -> the status training wrote; ``{}`` without metrics."""
    if metrics is None:
        return {}
    return {key: data["status"] for key, data in load_runs(metrics, "metrics").items()}


def run_outcomes(metrics: Mapping[RunKey, PathLike] | None) -> dict[RunKey, str]:
    """Run key -> :func:`run_outcome`; ``{}`` without metrics."""
    if metrics is None:
        return {}
    return {key: run_outcome(data) for key, data in load_runs(metrics, "metrics").items()}
