"""The sentences that the captions of Table 4 and Figures 7–8 share: the runs and grid, each family's ε₅ and the
prediction per regime, the paired comparisons with the reference regime, and Spearman's ρ.

The numbers are those of :mod:`rnnrobust.robustness.perturbation.eps5`, written with
:mod:`rnnrobust.reporting.perturbation_text`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rnnrobust.layout import FAMILIES, REFERENCE, RunKey
from rnnrobust.reporting.perturbation_text import (
    FAMILY_LABELS,
    comparison_sentence,
    family_text,
    rho_text,
    value_text,
)
from rnnrobust.robustness.perturbation.comparisons import compare_regimes, prediction_correlation
from rnnrobust.robustness.perturbation.eps5 import DROP, RunFragility, grid_bounds

__all__ = ["cells_text", "comparisons_text", "correlation_text", "grid_text", "measured_families", "n_eval_text"]


def grid_text(runs: Mapping[RunKey, RunFragility]) -> str:
    """The runs, their grid, random directions and test examples (from their records), and what ε₅ is."""
    seeds = sorted({key[3] for key in runs})
    low, high = grid_bounds(runs.values())
    levels = sorted({x for run in runs.values() for x in run.levels})
    samples = "/".join(str(s) for s in sorted({run.random_samples for run in runs.values()}))
    return (
        f"{len(runs)} runs (seeds {', '.join(map(str, seeds))}); ε grid 10^{low:g} … 10^{high:g} ({len(levels)} "
        f"levels); {samples} random direction(s) per run; {n_eval_text(runs)} test examples per perturbed copy. ε₅: "
        f"where test accuracy first falls {100 * DROP:g} points below the unperturbed accuracy, interpolated in log10 "
        "ε; numbers are log10, mean ± sd [95 % CI] over runs (n)."
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


def cells_text(cells: Mapping[str, Sequence[RunFragility]], families: Sequence[str]) -> str:
    """log10 ε₅ per family and the prediction, each regime's runs (``cells``: regime -> runs) side by side."""
    parts = [
        f"log10 ε₅ {FAMILY_LABELS.get(f, f)}: {_by_regime(cells, lambda runs, f=f: family_text(runs, f))}"
        for f in families
    ]
    parts.append(f"predicted log10 ε: {_by_regime(cells, lambda runs: value_text(r.predicted for r in runs))}")
    return "; ".join(parts)


def comparisons_text(runs: Mapping[RunKey, RunFragility], task: str, regimes: Sequence[str] | None) -> str:
    """The paired comparisons of the task's regimes with the reference, or why there are none."""
    comparisons = [c for c in compare_regimes(runs, regimes=regimes) if c.task == task]
    if comparisons:
        return " ".join(comparison_sentence(c) for c in comparisons)
    present = {key[2] for key in runs if key[0] == task}
    if REFERENCE not in present:
        return f"{task}: no {REFERENCE} runs, so no regime is compared with {REFERENCE}."
    return f"{task}: only {REFERENCE} runs, so no regime is compared with {REFERENCE}."


def measured_families(runs: Mapping[RunKey, RunFragility]) -> list[str]:
    """The families of perturbations of which some run has an ε₅, in :data:`rnnrobust.layout.FAMILIES` order."""
    return [f for f in FAMILIES if any(f in r.eps5 for r in runs.values())]


def correlation_text(runs: Mapping[RunKey, RunFragility], family: str) -> str:
    """Spearman's ρ of prediction against measurement over all runs, with how censored and unpredicted runs count."""
    corr = prediction_correlation(runs, family)
    text = f"{FAMILY_LABELS.get(family, family)}: Spearman {rho_text(corr.all)}"
    if corr.censored:
        text += (
            f" ({corr.censored} with a censored ε₅, ranked as ties beyond the grid's end; uncensored runs only: "
            f"{rho_text(corr.measured)})"
        )
    if corr.unpredicted:
        text += f"; {corr.unpredicted} run{'s' * (corr.unpredicted != 1)} without a stable block left out"
    return text
