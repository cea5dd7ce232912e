"""The perturbation stage's numbers in words: cells, caption phrases and the regime comparisons' sentences.

The numbers are those of :mod:`rnnrobust.robustness.perturbation.eps5` (ε₅, its censoring) and
:mod:`rnnrobust.robustness.perturbation.comparisons` (the paired regime comparisons, Spearman's ρ); this module
only writes them, with :mod:`rnnrobust.reporting.formatting`'s formats, for Table 4 and the captions of Table 4
and Figures 7 and 8.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rnnrobust.reporting.formatting import format_summary, format_value
from rnnrobust.robustness.perturbation.comparisons import ALPHA, RegimeComparison, ci_side
from rnnrobust.robustness.perturbation.eps5 import RunFragility, family_summary, grid_bounds
from rnnrobust.stats import PairedDifference, SpearmanResult, Summary, min_p_value, summarize

__all__ = [
    "FAMILY_LABELS",
    "censored_cell",
    "comparison_sentence",
    "direction_reason",
    "family_text",
    "rho_text",
    "value_text",
]

#: Printed names of the families of weight perturbations.
FAMILY_LABELS = {"random": "random", "worst": "worst case"}


def censored_cell(summary: Summary, above: int, below: int, bounds: tuple[float, float]) -> str:
    """The printed cell of a summary of log10 ε₅ some of whose runs are censored; ``""`` when none is.

    ``above`` / ``below``: runs censored beyond the largest / below the smallest level of ``bounds``. Every run
    above: ``"> max (n/n above the grid)"``; every run below: ``"≤ min (…)"``; some above (none below): the mean is a
    lower bound, ``"≥ mean ± sd [lo, hi] (k/n above the grid)"``; some below: ``"≤ …"``; both: no bound, the counts.

    >>> censored_cell(summarize([0.0, 0.0, 0.0]), 3, 0, (-4.0, 0.0))
    '> 0 (3/3 above the grid)'
    >>> censored_cell(summarize([-2.0, -1.0, 0.0]), 1, 0, (-4.0, 0.0))
    '≥ -1.0 ± 1.0 [-1.8, -0.2] (1/3 above the grid)'
    """
    n = summary.n
    if not (above or below) or n == 0:
        return ""
    counts = []
    if above:
        counts.append(f"{above}/{n} above the grid")
    if below:
        counts.append(f"{below}/{n} below the grid")
    tail = f" ({', '.join(counts)})"
    if above == n:
        return f"> {format_value(bounds[1])}{tail}"
    if below == n:
        return f"≤ {format_value(bounds[0])}{tail}"
    text = format_summary(summary.mean, summary.sd, summary.ci_low, summary.ci_high)
    if above and below:
        return text + tail
    return f"{'≥' if above else '≤'} {text}{tail}"


def family_text(runs: Sequence[RunFragility], family: str) -> str:
    """A caption's ``"mean ± sd [lo, hi] (n = k)"`` of log10 ε₅, or the censored form (:func:`censored_cell`)."""
    summary, above, below = family_summary(runs, family)
    if summary.n == 0:
        return "no runs"
    text = censored_cell(summary, above, below, grid_bounds(runs))
    if not text:
        text = format_summary(summary.mean, summary.sd, summary.ci_low, summary.ci_high)
    return f"{text} (n = {summary.n})"


def value_text(values: Iterable[float], unit: str = "") -> str:
    """A caption's ``"mean ± sd [lo, hi] (n = k)"`` of plain values (NaN missing), ``unit`` after the numbers.

    >>> value_text([1.0, 2.0, 3.0], " %")
    '2.0 ± 1.0 [1.2, 2.8] % (n = 3)'
    """
    s = summarize(values)
    if s.n == 0:
        return "none"
    return f"{format_summary(s.mean, s.sd, s.ci_low, s.ci_high)}{unit} (n = {s.n})"


def rho_text(result: SpearmanResult) -> str:
    """``"ρ = 0.71 [0.40, 0.90] over 18 runs"``; ``"ρ undefined (…)"`` for fewer than 3 runs or constant ranks.

    >>> from rnnrobust.stats import spearman_ci
    >>> rho_text(spearman_ci([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]))
    'ρ = 0.80 [0.11, 1.00] over 5 runs'
    >>> rho_text(spearman_ci([1, 2], [1, 2]))
    'ρ undefined (2 runs; needs 3 with distinct ranks)'
    """
    if math.isnan(result.rho):
        return f"ρ undefined ({result.n} run{'s' * (result.n != 1)}; needs 3 with distinct ranks)"
    interval = "" if math.isnan(result.ci_low) else f" [{result.ci_low:.2f}, {result.ci_high:.2f}]"
    return f"ρ = {result.rho:.2f}{interval} over {result.n} runs"


# --------------------------------------------------------------------------------------------------
# Regimes against the reference, in words.


def direction_reason(diff: PairedDifference) -> str:
    """Why a paired difference is resolved or not (:func:`~rnnrobust.robustness.perturbation.comparisons.direction`)."""
    if diff.n < 2 or math.isnan(diff.ci_low):
        return "fewer than 2 pairs"
    side = ci_side(diff)
    if not side:
        return "CI includes 0"
    if not diff.p_value < ALPHA:
        floor = min_p_value(diff.n)
        return f"CI {side} 0 but p ≥ {ALPHA:g} (the least p with {diff.n} pairs is {floor:.2g})"
    return f"CI {side} 0, p < {ALPHA:g}"


def _difference_text(d: PairedDifference) -> str:
    if d.n == 0:
        return "no pairs"
    text = format_summary(d.mean, d.sd, d.ci_low, d.ci_high)
    p = "" if math.isnan(d.p_value) else f", p = {d.p_value:.2g}"
    return f"{text} over {d.n} pair{'s' * (d.n != 1)}{p}"


def _label(family: str) -> str:
    return FAMILY_LABELS.get(family, family)


def _claim(comparison: RegimeComparison, directions: dict[str, str]) -> str:
    """The verdict of ``comparison`` as a clause: which regime is less or more robust, under which families."""
    runs = f"{comparison.regime} runs"
    reference = f"{comparison.reference} runs"
    verdict = comparison.verdict
    if verdict in ("less robust", "more robust"):
        return f"{runs} are {verdict} than {reference}"
    if verdict == "not resolved":
        return f"{runs} are shown neither less nor more robust than {reference}"

    def named(side: str) -> str:
        return " and ".join(_label(f) for f, d in directions.items() if d == side)

    sides = [f"{label} robust under {named(side)} perturbations" for side, label in
             (("below", "less"), ("above", "more")) if named(side)]  # fmt: skip
    rest = [_label(f) for f, d in directions.items() if d not in ("below", "above")]
    claim = f"{runs} are {' but '.join(sides)} than {reference}"
    if rest:
        claim += f", and not resolved under {' and '.join(rest)} perturbations"
    return claim


def comparison_sentence(comparison: RegimeComparison) -> str:
    """The comparison in words, numbers first: each difference, its pairs and p-value, then the verdict."""
    parts = []
    for family in comparison.families:
        left = comparison.censored.get(family, 0)
        parts.append(f"{_label(family)} {_difference_text(comparison.differences[family])}"
                     + (f", {left} censored pair{'s' * (left != 1)} left out" if left else ""))  # fmt: skip
    predicted = comparison.differences.get("predicted")
    head = (
        f"{comparison.task}, {comparison.regime} − {comparison.reference} paired by model and seed: log10 ε₅ "
        + "; ".join(parts)
        + (f"; predicted log10 ε {_difference_text(predicted)}" if predicted is not None else "")
        + "."
    )
    directions = comparison.directions
    detail = "; ".join(f"{_label(f)}: {direction_reason(comparison.differences[f])}" for f in directions)
    return f"{head} By these measurements {_claim(comparison, directions)} ({detail})."
