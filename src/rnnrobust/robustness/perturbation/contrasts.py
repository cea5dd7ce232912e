"""One family of directions against another on the same runs: is the instability direction worse than its control?

Within a run the families share everything but the direction, so the contrast of two families is paired by run:
for each run with both, d = log10 ε_a − log10 ε_b of the run's threshold (the median over a family's samples,
``rnnrobust.robustness.perturbation.eps5``); d < 0: family a breaks the network at a smaller perturbation. Runs
whose value of either family is censored (a bound, :attr:`FamilyThreshold.censored`) are left out and counted. Per
task the differences are summarised over runs with the project's interval (Student's t up to 10, else the
bootstrap) and the exact sign-flip test (``stats.paired_difference``), then Holm-adjusted across the tasks.

The question it was built for (issue 19): at equal spectral norm a full-rank Gaussian moves hidden states several
times more than a rank-1 or rank-2 matrix, so the instability direction is compared with its rank-matched control
(``gaussian_rank``), not with ``gaussian``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rnnrobust.layout import RunKey
from rnnrobust.robustness.perturbation.eps5 import PRIMARY, RunFragility
from rnnrobust.stats import PairedDifference, holm, paired_difference

__all__ = ["FamilyContrast", "family_contrasts"]


@dataclass(frozen=True)
class FamilyContrast:
    """log10 ε of family ``a`` − family ``b`` over the runs of one task (module docstring).

    ``difference``: the paired summary and test; ``censored``: runs left out because a value is a bound;
    ``p_holm``: the test's p adjusted across the tasks compared.
    """

    task: str
    a: str
    b: str
    threshold: str
    difference: PairedDifference
    censored: int
    p_holm: float


def _values(runs: Mapping[RunKey, RunFragility], family: str, threshold: str) -> tuple[dict, set]:
    """{run: log10 threshold of ``family``} of the runs with an exact value, and the runs where it is a bound."""
    values, bounds = {}, set()
    for key, run in runs.items():
        t = run.thresholds(threshold).get(family)
        if t is None or math.isnan(t.log10):
            continue
        if t.censored:
            bounds.add(key)
        else:
            values[key] = t.log10
    return values, bounds


def family_contrasts(
    runs: Mapping[RunKey, RunFragility], a: str = "instability", b: str = "gaussian_rank", threshold: str = PRIMARY
) -> list[FamilyContrast]:
    """Per task, the paired contrast of family ``a`` with family ``b`` over the runs that have both.

    >>> from rnnrobust.robustness.perturbation.eps5 import FamilyThreshold, Threshold
    >>> def run(key, x, y):
    ...     flips = {"instability": FamilyThreshold((Threshold(x),)), "gaussian_rank": FamilyThreshold((Threshold(y),))}
    ...     return RunFragility(key, 0.9, (), {}, {}, math.nan, math.nan, flip5=flips)
    >>> keys = [("imdb", "gru", "baseline", s) for s in range(5)]
    >>> runs = {key: run(key, -1.0 - key[3] / 10, 0.5) for key in keys}
    >>> (c,) = family_contrasts(runs)
    >>> c.task, c.difference.n, round(c.difference.mean, 12), c.censored
    ('imdb', 5, -1.7, 0)
    """
    out = []
    for task in dict.fromkeys(key[0] for key in runs):
        own = {key: run for key, run in runs.items() if key[0] == task}
        values_a, bounds_a = _values(own, a, threshold)
        values_b, bounds_b = _values(own, b, threshold)
        both = values_a.keys() & values_b.keys()
        censored = len(((values_a.keys() | bounds_a) & (values_b.keys() | bounds_b)) - both)
        diff = paired_difference(
            {k: values_a[k] for k in sorted(both)}, {k: values_b[k] for k in sorted(both)}, interval="auto"
        )
        out.append(FamilyContrast(task, a, b, threshold, diff, censored, math.nan))
    tested = [i for i, c in enumerate(out) if not math.isnan(c.difference.p_value)]
    adjusted = dict(zip(tested, holm([out[i].difference.p_value for i in tested]), strict=True))
    return [
        FamilyContrast(c.task, c.a, c.b, c.threshold, c.difference, c.censored, float(adjusted.get(i, math.nan)))
        for i, c in enumerate(out)
    ]
