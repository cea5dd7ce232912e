"""The perturbation stage's numbers in words: cells, caption phrases and the regime comparisons' sentences.

The numbers are those of :mod:`rnnrobust.robustness.perturbation.eps5` (the thresholds ε_flip5, ε₅ and the
normalised ε₅, their censoring) and :mod:`rnnrobust.robustness.perturbation.comparisons` (the paired regime
comparisons, Spearman's ρ); this module only writes them, with :mod:`rnnrobust.reporting.formatting`'s formats, for
Table 4 and the captions of Table 4 and Figures 7 and 8.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rnnrobust.reporting.formatting import format_mean_std, format_summary, format_value
from rnnrobust.reporting.table_common import over_seeds_summary
from rnnrobust.robustness.perturbation.comparisons import (
    ALPHA,
    ZERO_TOLERANCE,
    RegimeComparison,
    ScaleComparison,
    ci_side,
)
from rnnrobust.robustness.perturbation.eps5 import (
    DROP,
    PRIMARY,
    FamilyCell,
    FamilyThreshold,
    RunFragility,
    family_summary,
    grid_bounds,
)
from rnnrobust.stats import PairedDifference, SpearmanResult, min_p_value

__all__ = [
    "FAMILY_LABELS",
    "PERTURBATION_SIZE",
    "SCALE_DEFINITIONS",
    "SCALE_LABELS",
    "THRESHOLD_LABELS",
    "censored_cell",
    "comparison_sentence",
    "direction_reason",
    "family_text",
    "rho_text",
    "scales_sentence",
    "threshold_definition",
    "threshold_text",
    "value_text",
]

#: Printed names of the families of weight perturbations (``layout.FAMILIES``), and of the family ``worst`` of
#: records before issue 19 (towards instability, unstable blocks included; ``eps5`` keeps its name).
FAMILY_LABELS = {
    "gaussian": "Gaussian",
    "gaussian_rank": "Gaussian, rank-matched",
    "instability": "instability",
    "adversarial": "adversarial (PGD)",
    "worst": "instability, all blocks (older records)",
}
#: Printed names of the thresholds (``eps5.THRESHOLD_NAMES``); words rather than a subscript "flip5", which the
#: LaTeX of the tables cannot set (``latex.latex_escape`` subscripts one character).
THRESHOLD_LABELS = {"flip5": "ε at 5 % flips", "eps5": "ε₅", "eps5_normalized": "normalised ε₅"}
#: Printed names of the scales a threshold is read on (``eps5.SCALES``).
SCALE_LABELS = {"relative": "relative", "absolute": "absolute", "preactivation": "pre-activation"}
#: What each scale measures, for a caption's definition of the scales.
SCALE_DEFINITIONS = {
    "relative": "ε with ‖ΔW_b‖₂ = ε‖W_b‖₂ for every gate block b (≤ for the adversarial family)",
    "absolute": "max_b ‖ΔW_b‖₂",
    "preactivation": "max_b ‖ΔW_b S_b‖_F/‖P_b‖_F, with S_b the states block b multiplies and P_b the gate's full "
    "pre-activations along the unperturbed network's trajectories on the evaluation subset",
}


#: What every threshold measures, before its :func:`threshold_definition`.
PERTURBATION_SIZE = "the relative weight perturbation ‖ΔW‖₂/‖W‖₂ (every recurrent gate block at once)"


def threshold_definition(threshold: str = PRIMARY, bisected: bool = True) -> str:
    """Where a threshold lies, as the clause after :data:`PERTURBATION_SIZE`: ``"at which …"``; ``bisected``: the
    records have the stage's bisected thresholds (else ε₅ is interpolated on the grid, as for records of the stage
    before it bisected).

    >>> threshold_definition("eps5", bisected=False)
    'at which test accuracy first falls 5 points below the unperturbed accuracy, interpolated linearly in log10 ε'
    """
    bisection = "bisected in log10 ε to 1/64 decade"
    interpolation = "interpolated linearly in log10 ε"
    if threshold == "flip5":
        return (
            "at which 5 % of the predictions on the evaluation subset first differ from the unperturbed network's "
            f"(per output character for adding, per review for IMDB, per image for MNIST), {bisection}"
        )
    if threshold == "eps5":
        found = bisection if bisected else interpolation
        return f"at which test accuracy first falls {100 * DROP:g} points below the unperturbed accuracy, {found}"
    if threshold == "eps5_normalized":
        return (
            f"at which the accuracy drop first reaches {100 * DROP:g} % of the unperturbed accuracy's margin over "
            f"chance, (a₀ − a)/(a₀ − chance) ≥ {DROP:g}, {interpolation} on the grid"
        )
    raise ValueError(f"unknown threshold {threshold!r}")


def _samples_tail(above: int, below: int, samples: int) -> str:
    """``"k of m samples above the grid"`` (and/or below), or ``""`` when none is censored."""
    noun = "sample" if samples == 1 else "samples"
    counts = [f"{k} of {samples} {noun} {side} the grid" for k, side in ((above, "above"), (below, "below")) if k]
    return ", ".join(counts)


def threshold_text(threshold: FamilyThreshold) -> str:
    """One run's log10 threshold of a family as printed: its median over samples, ``"≥ …"`` (``"≤ …"``) when that
    is a bound (:attr:`~rnnrobust.robustness.perturbation.eps5.FamilyThreshold.censored`), and the censored samples.

    >>> from rnnrobust.robustness.perturbation.eps5 import Threshold
    >>> threshold_text(FamilyThreshold((Threshold(-0.875), Threshold(-0.875), Threshold(0.0, "above"))))
    '-0.875 (1 of 3 samples above the grid)'
    >>> threshold_text(FamilyThreshold((Threshold(-0.875), Threshold(0.0, "above"))))  # median (−0.875 + 0) / 2
    '≥ -0.4375 (1 of 2 samples above the grid)'
    >>> threshold_text(FamilyThreshold((Threshold(-1.5),)))
    '-1.5'
    """
    if math.isnan(threshold.log10):
        return ""
    sign = {"above": "≥ ", "below": "≤ "}.get(threshold.censored, "")
    tail = _samples_tail(threshold.above, threshold.below, threshold.n)
    return f"{sign}{format_value(threshold.log10)}" + (f" ({tail})" if tail else "")


def censored_cell(cell: FamilyCell, bounds: tuple[float, float]) -> str:
    """The printed cell of a log10 threshold over runs some of whose values are bounds (``cell.above`` /
    ``cell.below``: at least half of a run's samples beyond the largest / below the smallest level of ``bounds``);
    ``""`` when none is (the summary is exact, whatever samples were censored: :func:`family_text` counts them).

    Compact, to fit a table of four families on a page: every run at the upper bound, ``"> max, n/n above"``; every
    run at the lower, ``"≤ min, n/n below"``; else some above (none below): the mean is a lower bound, ``"≥ mean ±
    sd, k/n above"``; some below: ``"≤ …"``; both: no bound, the mean and both counts. The interval is left out: it
    would be one of bounds (the CSV has it).

    >>> from rnnrobust.stats import summarize
    >>> censored_cell(FamilyCell(summarize([0.0, 0.0, 0.0]), above=3), (-4.0, 0.0))
    '> 0, 3/3 above'
    >>> censored_cell(FamilyCell(summarize([-2.0, -1.0, 0.0]), above=1), (-4.0, 0.0))
    '≥ -1.0 ± 1.0, 1/3 above'
    >>> censored_cell(FamilyCell(summarize([-0.875]), samples_above=1, samples=3), (-4.0, 0.0))
    ''
    """
    summary, above, below = cell.summary, cell.above, cell.below
    n = summary.n
    if n == 0 or not (above or below):
        return ""
    counts = ", ".join(f"{k}/{n} {side}" for k, side in ((above, "above"), (below, "below")) if k)
    # Every run at the grid's end (values never exceed it): the cell is that bound, strictly beyond for "above".
    if above == n and summary.mean >= bounds[1]:
        return f"> {format_value(bounds[1])}, {counts}"
    if below == n and summary.mean <= bounds[0]:
        return f"≤ {format_value(bounds[0])}, {counts}"
    sign = "" if above and below else "≥ " if above else "≤ "
    return f"{sign}{format_mean_std(summary.mean, summary.sd)}, {counts}"


def family_text(runs: Sequence[RunFragility], family: str, threshold: str = PRIMARY) -> str:
    """A caption's ``"mean ± sd [lo, hi] (n = k)"`` of the log10 ``threshold`` of ``family``, or the censored form
    (:func:`censored_cell`), with the samples censored in runs whose median is exact.

    >>> from rnnrobust.robustness.perturbation.eps5 import Threshold
    >>> run = RunFragility(("adding", "rnn", "baseline", 0), 0.9, (-1.0, 0.0), {}, {}, 0.0, 0.0, flip5={
    ...     "gaussian": FamilyThreshold((Threshold(-0.875), Threshold(-0.875), Threshold(0.0, "above")))})
    >>> family_text([run], "gaussian")
    '-0.875 (1 of 3 samples above the grid) (n = 1)'
    """
    cell = family_summary(runs, family, threshold)
    summary = cell.summary
    if summary.n == 0:
        return "no runs"
    text = censored_cell(cell, grid_bounds(runs))
    if not text:
        text = format_summary(summary.mean, summary.sd, summary.ci_low, summary.ci_high)
        samples = _samples_tail(cell.samples_above, cell.samples_below, cell.samples)
        text += f" ({samples})" if samples else ""
    return f"{text} (n = {summary.n})"


def value_text(values: Iterable[float], unit: str = "") -> str:
    """A caption's ``"mean ± sd [lo, hi] (n = k)"`` of plain values (NaN missing), ``unit`` after the numbers; the
    interval of :func:`~rnnrobust.reporting.table_common.over_seeds_summary`.

    >>> value_text([1.0, 2.0, 3.0], " %")  # 2 ± t₂ · 1 / √3
    '2.0 ± 1.0 [-0.5, 4.5] % (n = 3)'
    """
    s = over_seeds_summary(values)
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


def direction_reason(diff: PairedDifference, p_holm: float | None = None) -> str:
    """Why a paired difference is resolved or not (:func:`~rnnrobust.robustness.perturbation.comparisons.direction`),
    on its Holm-adjusted p when given."""
    if diff.n < 2 or math.isnan(diff.ci_low):
        return "fewer than 2 pairs"
    side = ci_side(diff)
    if not side:
        return "CI includes 0"
    name, p = ("p", diff.p_value) if p_holm is None else ("Holm-adjusted p", p_holm)
    if not p < ALPHA:
        floor = min_p_value(diff.n)
        return f"CI {side} 0 but {name} ≥ {ALPHA:g} (the least p with {diff.n} pairs is {floor:.2g})"
    return f"CI {side} 0, {name} < {ALPHA:g}"


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
    scale = "" if comparison.scale == "relative" else f" ({SCALE_LABELS[comparison.scale]} scale)"
    head = (
        f"{comparison.task}, {comparison.regime} − {comparison.reference} paired by model and seed, log10 "
        f"{THRESHOLD_LABELS[comparison.threshold]}{scale}: "
        + "; ".join(parts)
        + (f"; predicted log10 ε {_difference_text(predicted)}" if predicted is not None else "")
        + "."
    )
    directions = comparison.directions
    detail = "; ".join(
        f"{_label(f)}: {direction_reason(comparison.differences[f], comparison.p_holm.get(f))}" for f in directions
    )
    holm = " Holm adjusts each regime's p over its task × family tests." if comparison.p_holm else ""
    return f"{head} By these measurements {_claim(comparison, directions)} ({detail}).{holm}"


def _signed(x: float) -> str:
    """A mean difference with its sign, to 2 decimals, or 1 significant digit below 0.005 so that the sign shows;
    ``"0"`` within ``comparisons.ZERO_TOLERANCE`` of 0.

    >>> _signed(-0.401), _signed(0.05), _signed(0.0012), _signed(-1e-17)
    ('-0.40', '+0.05', '+0.001', '0')
    """
    if abs(x) <= ZERO_TOLERANCE:
        return "0"
    return f"{x:+.2f}" if abs(x) >= 0.005 else f"{x:+.1g}"


def _scale_values(by_scale: dict[str, PairedDifference]) -> str:
    """``"-0.40 relative, -0.12 absolute, +0.05 pre-activation"``: the mean difference on each scale, signed
    (``"no pairs"`` on a scale without any), then the pairs per scale where they differ."""
    parts = [f"{_signed(d.mean)} {SCALE_LABELS[s]}" if d.n else f"no pairs {SCALE_LABELS[s]}"
             for s, d in by_scale.items()]  # fmt: skip
    counts = [d.n for d in by_scale.values()]
    return ", ".join(parts) + (f" ({'/'.join(map(str, counts))} pairs)" if len(set(counts)) > 1 else "")


def scales_sentence(comparison: ScaleComparison) -> str:
    """The mean paired differences of a regime against the reference on every scale (from
    :func:`~rnnrobust.robustness.perturbation.comparisons.compare_scales`), numbers first, and the families whose
    sign changes between scales, named plainly.

    >>> from rnnrobust.stats import paired_difference
    >>> diff = lambda *values: paired_difference(list(values), [0.0] * len(values))
    >>> c = ScaleComparison("adding", "stabilized", "baseline", "flip5", {"adversarial": {
    ...     "relative": diff(-0.5, -0.3), "absolute": diff(-0.1, -0.14), "preactivation": diff(0.05, 0.05)}})
    >>> print(scales_sentence(c))  # doctest: +NORMALIZE_WHITESPACE
    adding, stabilized − baseline, mean paired difference of log10 ε at 5 % flips by scale: adversarial (PGD)
    -0.40 relative, -0.12 absolute, +0.05 pre-activation. The sign changes between scales: adversarial (PGD)
    (below 0 relative and absolute, above 0 pre-activation).
    """
    parts = "; ".join(f"{_label(f)} {_scale_values(by_scale)}" for f, by_scale in comparison.differences.items())
    head = (
        f"{comparison.task}, {comparison.regime} − {comparison.reference}, mean paired difference of log10 "
        f"{THRESHOLD_LABELS[comparison.threshold]} by scale: {parts}."
    )
    changes = []
    for family in comparison.sign_changes:
        by_scale = comparison.differences[family]
        sides = [" and ".join(SCALE_LABELS[s] for s, d in by_scale.items() if d.n and test(d.mean))
                 for test in (lambda m: m < -ZERO_TOLERANCE, lambda m: m > ZERO_TOLERANCE)]  # fmt: skip
        changes.append(f"{_label(family)} (below 0 {sides[0]}, above 0 {sides[1]})")
    if not changes:
        return f"{head} No family's sign changes between scales."
    return f"{head} The sign changes between scales: {'; '.join(changes)}."
