"""The sentences that the captions of Table 4 and Figures 7–8 share: the runs, grid and samples, what the threshold
is, each family's threshold and the prediction per regime, the paired comparisons with the reference regime, and
Spearman's ρ.

The numbers are those of :mod:`rnnrobust.robustness.perturbation.eps5` and
:mod:`rnnrobust.robustness.perturbation.comparisons`, written with :mod:`rnnrobust.reporting.perturbation_text`;
every function takes the threshold it writes about (``eps5.THRESHOLD_NAMES``, default the primary one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from rnnrobust.layout import REFERENCE, RunKey
from rnnrobust.reporting.perturbation_text import (
    FAMILY_LABELS,
    PERTURBATION_SIZE,
    THRESHOLD_LABELS,
    comparison_sentence,
    family_text,
    rho_text,
    scales_sentence,
    threshold_definition,
    value_text,
)
from rnnrobust.robustness.pareto import MATCH_POINTS
from rnnrobust.robustness.perturbation.comparisons import (
    compare_regimes,
    compare_scales,
    measured_families,
    prediction_correlation,
)
from rnnrobust.robustness.perturbation.contrasts import family_contrasts
from rnnrobust.robustness.perturbation.eps5 import PRIMARY, RunFragility, grid_bounds
from rnnrobust.stats import min_p_value

__all__ = [
    "bisected",
    "cells_text",
    "comparisons_text",
    "contrast_text",
    "correlation_text",
    "grid_text",
    "matched_text",
    "n_eval_text",
    "samples_text",
    "scales_text",
]


def bisected(runs: Iterable[RunFragility]) -> bool:
    """Whether the runs' records have the stage's bisected thresholds (ε_flip5 among them); records of the stage
    before it bisected have none, and their ε₅ is interpolated on the grid."""
    return any(run.flip5 for run in runs)


def samples_text(runs: Iterable[RunFragility], threshold: str = PRIMARY) -> str:
    """Each family's directions per run, as the records have them (``a/b`` when runs differ), e.g.
    ``"Gaussian 3, instability 1"``."""
    runs = list(runs)
    parts = []
    for family in measured_families(runs, threshold):
        per_run = [r.thresholds(threshold).get(family) for r in runs]
        counts = sorted({len(t.samples) for t in per_run if t is not None})
        parts.append(f"{FAMILY_LABELS.get(family, family)} {'/'.join(map(str, counts))}")
    return "; ".join(parts)


def grid_text(runs: Mapping[RunKey, RunFragility], threshold: str = PRIMARY) -> str:
    """The runs, their grid, directions and test examples (from their records), and what the threshold is."""
    seeds = sorted({key[3] for key in runs})
    low, high = grid_bounds(runs.values())
    levels = sorted({x for run in runs.values() for x in run.levels})
    definition = threshold_definition(threshold, bisected(runs.values()))
    attack = ""
    if "adversarial" in measured_families(runs.values(), threshold):
        attack = " (the adversarial ascent runs on training examples, disjoint from them)"
    return (
        f"{len(runs)} runs (seeds {', '.join(map(str, seeds))}); ε grid 10^{low:g} … 10^{high:g} ({len(levels)} "
        f"levels); directions per run: {samples_text(runs.values(), threshold)}; {n_eval_text(runs)} test examples "
        f"per perturbed copy{attack}. {THRESHOLD_LABELS[threshold]}: {PERTURBATION_SIZE} {definition}. Numbers are "
        "log10, mean ± sd [95 % CI] over runs (n)."
    )


def n_eval_text(runs: Mapping[RunKey, RunFragility]) -> str:
    """The number of test examples each perturbed copy was evaluated on, as the runs recorded it (``a/b`` when they
    differ)."""
    return "/".join(str(n) for n in sorted({run.n_eval for run in runs.values()}))


def _by_regime(cells: Mapping[str, Sequence[RunFragility]], text: Callable[[Sequence[RunFragility]], str]) -> str:
    """Each regime's text side by side; one regime's without its name (the line names it)."""
    if len(cells) == 1:
        return text(next(iter(cells.values())))
    return "; ".join(f"{regime} {text(runs)}" for regime, runs in cells.items() if runs)


def cells_text(cells: Mapping[str, Sequence[RunFragility]], families: Sequence[str], threshold: str = PRIMARY) -> str:
    """The log10 ``threshold`` per family and the prediction, each regime's runs (``cells``: regime -> runs) side by
    side."""
    label = THRESHOLD_LABELS[threshold]
    parts = [
        f"log10 {label}, {FAMILY_LABELS.get(f, f)}: "
        f"{_by_regime(cells, lambda runs, f=f: family_text(runs, f, threshold))}"
        for f in families
    ]
    parts.append(f"predicted log10 ε: {_by_regime(cells, lambda runs: value_text(r.predicted for r in runs))}")
    return "; ".join(parts)


def comparisons_text(
    runs: Mapping[RunKey, RunFragility], task: str, regimes: Sequence[str] | None, threshold: str = PRIMARY
) -> str:
    """The paired comparisons of the task's regimes with the reference, or why there are none."""
    comparisons = [c for c in compare_regimes(runs, regimes=regimes, threshold=threshold) if c.task == task]
    if comparisons:
        return " ".join(comparison_sentence(c) for c in comparisons)
    present = {key[2] for key in runs if key[0] == task}
    if REFERENCE not in present:
        return f"{task}: no {REFERENCE} runs, so no regime is compared with {REFERENCE}."
    return f"{task}: only {REFERENCE} runs, so no regime is compared with {REFERENCE}."


def matched_text(
    runs: Mapping[RunKey, RunFragility], task: str, regimes: Sequence[str] | None, threshold: str = PRIMARY
) -> str:
    """The task's paired comparisons restricted to pairs of matched accuracy (``compare_regimes(matched=True)``),
    for the regimes with an unmatched pair (the others are the comparisons as they are); ``""`` when none has."""
    comparisons = [
        c for c in compare_regimes(runs, regimes=regimes, threshold=threshold, matched=True)
        if c.task == task and c.unmatched
    ]  # fmt: skip
    return " ".join(
        f"Matched accuracy only (within {MATCH_POINTS:g} point; {c.unmatched} unmatched pair"
        f"{'s' * (c.unmatched != 1)} left out): {comparison_sentence(c)}"
        for c in comparisons
    )


def contrast_text(runs: Mapping[RunKey, RunFragility], task: str, threshold: str = PRIMARY) -> str:
    """The instability direction against its rank-matched control over the task's runs (``contrasts``), or ``""``
    when no run has both."""
    contrast = next((c for c in family_contrasts(runs, threshold=threshold) if c.task == task), None)
    if contrast is None or contrast.difference.n == 0:
        return ""
    d = contrast.difference
    censored = f", {contrast.censored} run{'s' * (contrast.censored != 1)} with a bound left out" * bool(
        contrast.censored
    )
    return (
        f"{FAMILY_LABELS[contrast.a]} − {FAMILY_LABELS[contrast.b]}, log10 {THRESHOLD_LABELS[threshold]}, paired by "
        f"run: {d.mean:+.2f} [{d.ci_low:.2f}, {d.ci_high:.2f}] over {d.n} runs{censored}, "
        f"p = {d.p_value:.2g} (Holm over the tasks {contrast.p_holm:.2g}; the least p with {d.n} runs is "
        f"{min_p_value(d.n):.2g}); below 0: the instability direction flips predictions at a smaller perturbation."
    )


def scales_text(
    runs: Mapping[RunKey, RunFragility], task: str, regimes: Sequence[str] | None, threshold: str = PRIMARY
) -> str:
    """The task's regimes against the reference on every scale (``eps5.SCALES``): each comparison's mean paired
    differences per scale and the families whose sign changes between scales (:func:`scales_sentence`); ``""`` when
    no run has the threshold on a scale but the relative one (records of the stage before it bisected)."""
    comparisons = [c for c in compare_scales(runs, regimes=regimes, threshold=threshold) if c.task == task]
    return " ".join(
        scales_sentence(c) for c in comparisons if any(len(by_scale) > 1 for by_scale in c.differences.values())
    )


def correlation_text(runs: Mapping[RunKey, RunFragility], family: str, threshold: str = PRIMARY) -> str:
    """Spearman's ρ of prediction against measurement over all runs, with how censored and unpredicted runs count."""
    corr = prediction_correlation(runs, family, threshold)
    text = f"{FAMILY_LABELS.get(family, family)}: Spearman {rho_text(corr.all)}"
    if corr.censored:
        text += (
            f" ({corr.censored} with a censored {THRESHOLD_LABELS[threshold]}, ranked as ties beyond the grid's end; "
            f"uncensored runs only: {rho_text(corr.measured)})"
        )
    if corr.unpredicted:
        text += f"; {corr.unpredicted} run{'s' * (corr.unpredicted != 1)} without a stable block left out"
    return text
