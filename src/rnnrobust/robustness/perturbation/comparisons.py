"""The perturbation stage's runs compared: each regime against the reference, and predicted against measured.

Numbers only (their words are in ``rnnrobust.reporting.perturbation_text``); the runs are the
:class:`~rnnrobust.robustness.perturbation.eps5.RunFragility` of ``rnnrobust.robustness.perturbation.eps5``.
Every comparison is of one **threshold** (``eps5.THRESHOLD_NAMES``): by default the primary one, ε_flip5
(``eps5.PRIMARY``: 5 % of predictions flipped), else ε₅ (accuracy 5 points down) or the normalised ε₅; the
families are those of ``layout.FAMILIES`` of which some run has a value (:func:`measured_families`). Every threshold
is read on one **scale** (``eps5.SCALES``; ``scale``, default ``"relative"``, ‖ΔW_b‖₂/‖W_b‖₂, the one that
predictions are on): :func:`compare_scales` puts a comparison's mean differences on every scale side by side.

A run's log10 threshold of a family is the median over its samples (``eps5.FamilyThreshold``): exact unless a
censored sample can move it (on the relative scale: at least half of its samples censored one way), and then
*censored* (a bound).

**Paired comparisons** (:func:`compare_regimes`): pairs are runs of the same task, model and seed; a pair whose
threshold of a family is censored on either side is left out of that family's difference (its difference is only
a bound), and counted. A regime is called less (more) robust than the reference by a family when the paired
differences of the log10 threshold have a 95 % CI below (above) 0 *and* the exact sign-flip test gives
p < :data:`ALPHA`. The CI is Student's t up to 10 pairs (``interval="auto"``, as every aggregate over seeds; a
percentile bootstrap is too narrow with few seeds, ``rnnrobust.stats``), and the p-values are Holm-adjusted across
each regime's task × family tests (on each scale apart).

**Predicted against measured** (:func:`prediction_correlation`): Spearman's ρ of log10 ε_pred against the log10
threshold ranks a censored value at its bound: with one sample (the instability and adversarial families), or an
odd number of Gaussian samples, its median is then a censored sample, so censored runs tie at the grid's end,
their true rank relative to every measured value (they lie beyond it); ρ over the uncensored runs alone is given
beside it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rnnrobust.layout import FAMILIES, REFERENCE, RunKey
from rnnrobust.robustness.pareto import MATCH_POINTS
from rnnrobust.robustness.perturbation.eps5 import PRIMARY, SCALES, RunFragility
from rnnrobust.runs import sort_runs
from rnnrobust.stats import PairedDifference, SpearmanResult, holm, paired_difference, spearman_ci

__all__ = [
    "ALPHA",
    "ZERO_TOLERANCE",
    "PredictionCorrelation",
    "RegimeComparison",
    "ScaleComparison",
    "ci_side",
    "compare_regimes",
    "compare_scales",
    "direction",
    "measured_families",
    "prediction_correlation",
    "reported_threshold",
]

#: Level of the paired test below which (with the CI on the same side of 0) a difference counts as resolved.
ALPHA = 0.05
#: A mean difference (log10) within this of 0 counts as 0, not as a sign: rounding, not a measured difference.
ZERO_TOLERANCE = 1e-9


def _has_value(run: RunFragility, family: str, threshold: str, scale: str = "relative") -> bool:
    """Whether the run has a value (not NaN) of ``threshold`` for ``family`` on ``scale``."""
    value = run.thresholds(threshold, scale).get(family)
    return value is not None and not math.isnan(value.log10)


def measured_families(runs: Iterable[RunFragility], threshold: str = PRIMARY, scale: str = "relative") -> list[str]:
    """The families of which some run has a value of ``threshold`` on ``scale``: ``layout.FAMILIES`` in order, then
    others."""
    runs = list(runs)
    present = {f for run in runs for f in run.thresholds(threshold, scale) if _has_value(run, f, threshold, scale)}
    return [f for f in FAMILIES if f in present] + sorted(present - set(FAMILIES))


def reported_threshold(runs: Iterable[RunFragility]) -> str:
    """The threshold that tables and figures report: the primary one (``eps5.PRIMARY``) when some run has it,
    else ε₅ (``"eps5"``: records of the stage before it bisected thresholds have no ε_flip5)."""
    return PRIMARY if measured_families(runs, PRIMARY) else "eps5"


def ci_side(diff: PairedDifference) -> str:
    """``"below"`` / ``"above"`` when the 95 % CI of the mean difference lies on that side of 0; ``""`` when it
    includes 0 or is undefined (fewer than 2 pairs)."""
    if diff.n < 2 or math.isnan(diff.ci_low):
        return ""
    return "below" if diff.ci_high < 0 else "above" if diff.ci_low > 0 else ""


def direction(diff: PairedDifference) -> str:
    """``"below"`` / ``"above"`` when the 95 % CI of the mean difference lies on that side of 0 (:func:`ci_side`)
    and the paired test gives p < :data:`ALPHA`; else ``"unresolved"``."""
    side = ci_side(diff)
    return side if side and diff.p_value < ALPHA else "unresolved"


@dataclass(frozen=True)
class RegimeComparison:
    """One regime against the reference within a task, paired by (model, seed).

    ``differences`` maps each family of the runs (and ``"predicted"``) to the :class:`~rnnrobust.stats.
    PairedDifference` of the log10 ``threshold`` on ``scale`` (log10 ε_pred, relative), regime − reference;
    ``censored`` counts per family
    the pairs left out because a value is censored; ``p_holm`` the families' p Holm-adjusted across the regime's
    task × family tests (:func:`compare_regimes`); ``verdict`` says for which families the difference is resolved,
    i.e. its 95 % CI lies on one side of 0 and the Holm-adjusted p of the paired sign-flip test is < :data:`ALPHA`
    (a lower threshold: less robust).
    """

    task: str
    regime: str
    reference: str
    differences: Mapping[str, PairedDifference]
    censored: Mapping[str, int] = field(default_factory=dict)
    threshold: str = PRIMARY
    p_holm: Mapping[str, float] = field(default_factory=dict)
    scale: str = "relative"
    unmatched: int = 0

    @property
    def families(self) -> list[str]:
        """The measured families compared (the keys of ``differences`` but ``"predicted"``)."""
        return [f for f in self.differences if f != "predicted"]

    @property
    def directions(self) -> dict[str, str]:
        """Family -> its :func:`direction` (``"below"``, ``"above"`` or ``"unresolved"``), on the Holm-adjusted p
        where the comparison has it."""
        out = {}
        for f in self.families:
            diff = self.differences[f]
            if f in self.p_holm:
                diff = dataclasses.replace(diff, p_value=self.p_holm[f])
            out[f] = direction(diff)
        return out

    @property
    def verdict(self) -> str:
        """``"less robust"`` / ``"more robust"`` (every family resolved, on that side), ``"mixed"`` (some family
        resolved, another not, or on the other side) or ``"not resolved"`` (no family resolved)."""
        directions = set(self.directions.values())
        if directions == {"below"}:
            return "less robust"
        if directions == {"above"}:
            return "more robust"
        return "mixed" if directions & {"below", "above"} else "not resolved"


def _paired_family(
    own: Mapping[tuple[str, int], RunFragility],
    ref: Mapping[tuple[str, int], RunFragility],
    family: str,
    threshold: str,
    scale: str = "relative",
) -> tuple[PairedDifference, int]:
    """The paired difference of the log10 ``threshold`` of ``family`` on ``scale``, own − ref, and the pairs left
    out as censored."""
    a, b, left = {}, {}, 0
    for pair in sorted(own.keys() & ref.keys()):  # a fixed order: sums and resamples follow it
        ta, tb = own[pair].thresholds(threshold, scale).get(family), ref[pair].thresholds(threshold, scale).get(family)
        if ta is None or tb is None or math.isnan(ta.log10) or math.isnan(tb.log10):
            continue
        if ta.censored or tb.censored:
            left += 1
            continue
        a[pair], b[pair] = ta.log10, tb.log10
    return paired_difference(a, b, interval="auto"), left


def _compare(
    own: Mapping[tuple[str, int], RunFragility],
    ref: Mapping[tuple[str, int], RunFragility],
    threshold: str,
    scale: str = "relative",
) -> tuple[dict[str, PairedDifference], dict[str, int]]:
    """(differences, censored pairs) per family the runs have a ``threshold`` of on ``scale``, then the difference
    of the predictions (relative, whatever the scale)."""
    differences, censored = {}, {}
    for family in measured_families([*own.values(), *ref.values()], threshold, scale):
        differences[family], censored[family] = _paired_family(own, ref, family, threshold, scale)
    both = sorted(own.keys() & ref.keys())
    differences["predicted"] = paired_difference(
        {p: own[p].predicted for p in both if math.isfinite(own[p].predicted)},
        {p: ref[p].predicted for p in both if math.isfinite(ref[p].predicted)},
        interval="auto",
    )
    return differences, censored


def compare_regimes(
    runs: Mapping[RunKey, RunFragility],
    *,
    regimes: Sequence[str] | None = None,
    reference: str = REFERENCE,
    threshold: str = PRIMARY,
    scale: str = "relative",
    matched: bool = False,
) -> list[RegimeComparison]:
    """Every regime but ``reference`` against it, per task, paired by (model, seed) (:class:`RegimeComparison`),
    on ``threshold`` (``eps5.THRESHOLD_NAMES``) read on ``scale`` (``eps5.SCALES``).

    ``matched``: only pairs whose unperturbed accuracies (on the stage's evaluation subset) differ by at most
    ``pareto.MATCH_POINTS`` percentage points; the others are counted (``unmatched``). A network that lost its
    accuracy to the regime (a collapsed stabilized run) has no room to lose 5 points and is not compared.

    Pairs whose threshold is censored are left out and counted (module docstring). Each regime's p values are
    Holm-adjusted across its task × family tests (``stats.holm``). Tasks in the project's order, regimes in
    ``regimes`` (else as the runs first name them); none when the reference has no runs.
    """
    keys = sort_runs(runs, regimes)
    order = list(dict.fromkeys(k[2] for k in keys))
    out = []
    for task in dict.fromkeys(k[0] for k in keys):
        ref = {(k[1], k[3]): runs[k] for k in keys if k[0] == task and k[2] == reference}
        if not ref:
            continue
        for regime in order:
            own = {(k[1], k[3]): runs[k] for k in keys if k[0] == task and k[2] == regime}
            if regime == reference or not own:
                continue
            pairs = own.keys() & ref.keys()
            kept = [p for p in pairs if not matched or _matched(own[p], ref[p])]
            differences, censored = _compare({p: own[p] for p in kept}, ref, threshold, scale)
            out.append(RegimeComparison(task, regime, reference, differences, censored, threshold, scale=scale,
                                        unmatched=len(pairs) - len(kept)))  # fmt: skip
    return _with_holm(out)


def _matched(a: RunFragility, b: RunFragility) -> bool:
    """Whether two runs' unperturbed accuracies lie within ``pareto.MATCH_POINTS`` points of each other."""
    return abs(a.reference_accuracy - b.reference_accuracy) * 100 <= MATCH_POINTS + 1e-9


def _with_holm(comparisons: Sequence[RegimeComparison]) -> list[RegimeComparison]:
    """The comparisons with ``p_holm``: each regime's family p values adjusted together across its tasks."""
    tests = [(i, f) for i, c in enumerate(comparisons) for f in c.families if not math.isnan(c.differences[f].p_value)]
    adjusted: dict[int, dict[str, float]] = {i: {} for i in range(len(comparisons))}
    for regime in dict.fromkeys(c.regime for c in comparisons):
        mine = [(i, f) for i, f in tests if comparisons[i].regime == regime]
        for (i, f), p in zip(mine, holm([comparisons[i].differences[f].p_value for i, f in mine]), strict=True):
            adjusted[i][f] = float(p)
    return [dataclasses.replace(c, p_holm=adjusted[i]) for i, c in enumerate(comparisons)]


@dataclass(frozen=True)
class ScaleComparison:
    """One regime against the reference within a task on every scale: the :class:`RegimeComparison` of each scale
    (:func:`compare_scales`); ``differences``: family -> scale -> its paired difference (scales that have the
    family)."""

    task: str
    regime: str
    reference: str
    threshold: str
    differences: Mapping[str, Mapping[str, PairedDifference]]

    @property
    def sign_changes(self) -> list[str]:
        """The families whose mean difference is below 0 on one scale and above 0 on another (beyond
        :data:`ZERO_TOLERANCE`)."""
        out = []
        for family, by_scale in self.differences.items():
            means = [d.mean for d in by_scale.values() if d.n and not math.isnan(d.mean)]
            if any(m < -ZERO_TOLERANCE for m in means) and any(m > ZERO_TOLERANCE for m in means):
                out.append(family)
        return out


def compare_scales(
    runs: Mapping[RunKey, RunFragility],
    *,
    regimes: Sequence[str] | None = None,
    reference: str = REFERENCE,
    threshold: str = PRIMARY,
) -> list[ScaleComparison]:
    """:func:`compare_regimes` on each scale of ``eps5.SCALES``, side by side per task and regime (in the order of
    the relative scale's comparisons; the same pairs, less those censored or without a value on a scale)."""
    by_scale = {
        scale: {(c.task, c.regime): c for c in compare_regimes(runs, regimes=regimes, reference=reference,
                                                               threshold=threshold, scale=scale)}
        for scale in SCALES
    }  # fmt: skip
    out = []
    for key, relative in by_scale["relative"].items():
        scales = {scale: by_scale[scale][key] for scale in SCALES if key in by_scale[scale]}
        families = list(dict.fromkeys(f for c in scales.values() for f in c.families))
        differences = {f: {s: c.differences[f] for s, c in scales.items() if f in c.differences} for f in families}
        out.append(ScaleComparison(relative.task, relative.regime, reference, threshold, differences))
    return out


# --------------------------------------------------------------------------------------------------
# Predicted against measured.


@dataclass(frozen=True)
class PredictionCorrelation:
    """Spearman's ρ of log10 ε_pred against the log10 ``threshold`` of one family over runs.

    ``all``: every run with both numbers, each threshold the median over the run's samples and a censored one at
    its bound (module docstring); ``measured``: the uncensored runs only; ``censored``: runs in ``all`` but not in
    ``measured``; ``unpredicted``: runs left out for want of a prediction (no stable block).
    """

    family: str
    all: SpearmanResult
    measured: SpearmanResult
    censored: int
    unpredicted: int
    threshold: str = PRIMARY


def prediction_correlation(
    runs: Mapping[RunKey, RunFragility], family: str, threshold: str = PRIMARY
) -> PredictionCorrelation:
    """:class:`PredictionCorrelation` of ``family``'s ``threshold`` over ``runs``
    (:func:`rnnrobust.stats.spearman_ci`)."""
    rows = [(r.predicted, r.thresholds(threshold)[family]) for r in runs.values() if family in r.thresholds(threshold)]
    usable = [(x, t) for x, t in rows if math.isfinite(x) and not math.isnan(t.log10)]
    measured = [(x, t) for x, t in usable if not t.censored]
    unpredicted = sum(not math.isfinite(x) for x, t in rows if not math.isnan(t.log10))
    return PredictionCorrelation(
        family=family,
        all=spearman_ci([x for x, _ in usable], [t.log10 for _, t in usable]),
        measured=spearman_ci([x for x, _ in measured], [t.log10 for _, t in measured]),
        censored=len(usable) - len(measured),
        unpredicted=unpredicted,
        threshold=threshold,
    )
