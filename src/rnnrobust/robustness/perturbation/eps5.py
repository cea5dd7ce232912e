"""What the perturbation stage measured, run by run: ε₅ beside its prediction, and how regimes compare.

Reads the per-run records of ``rnnrobust.robustness.perturbation.run`` (``{results_dir}/perturbation/<run>.json``; its module
docstring has the schema) and reduces each run to a few numbers, all as log10 (they span decades):

- **ε₅** of a family of weight perturbations: the relative size ‖ΔW‖₂/‖W‖₂ at which the test accuracy (on the
  stage's evaluation subset) first falls :data:`DROP` (5 percentage points) below the unperturbed accuracy
  (``reference``). On the grid of levels x = log10 ε it is interpolated linearly in log10 ε: with x_i the first
  level whose accuracy a_i ≤ a₀ − 0.05 and x_{i−1} the level before it,
  log10 ε₅ = x_{i−1} + (a_{i−1} − (a₀ − 0.05)) / (a_{i−1} − a_i) · (x_i − x_{i−1}) (:func:`eps5`). The first crossing
  counts: a curve that recovers at larger ε does not move it. ``worst``: the one worst-case direction; ``random``:
  the mean over the run's random samples of their log10 ε₅ (one curve per sample).
- **predicted**: log10 ``eps_pred_min`` = d/‖W‖₂ of the run's stable block closest to instability (NaN when no
  block is stable); ``reach``: log10 ``eps_worst_min``, where the worst-case direction puts an eigenvalue on the
  unit circle (≥ the prediction).
- **state amplification**: for each recurrent layer the largest over lags k of the median over sequences of
  σ₁(∂s_T/∂s_{T−k}); the run's value is that of the layer where it is largest, beside the **linear prediction**
  of the same layer, the transient peak max_k ‖W^k‖₂ of its linear block (``state.<layer>.linear``). A linear
  block with ρ > 1 (``layout.UNSTABLE_RADIUS``) has no finite transient peak (its powers grow until the
  computation stops); such runs are flagged ``linear_unstable``.

**Censoring.** A curve that never falls by 5 points on the grid has ε₅ > 10^max: it is *right-censored*
(``"above"``) and carried as the bound, log10 ε₅ = max(eps_log10). A curve that has fallen already at the
smallest level has ε₅ ≤ 10^min: *left-censored* (``"below"``), carried as min(eps_log10). A run's random value is
censored when any of its samples is. The bounds enter means as values, so a mean over values of which some are
right-censored and none left-censored is a lower bound of the true mean (printed "≥ …", with the count), and vice
versa ("≤ …"); :func:`censored_cell` writes such cells. Spearman's ρ (:func:`prediction_correlation`) ranks
censored values as ties at the grid's end, which is their true rank relative to every measured value (they lie
beyond it); ρ over the uncensored runs alone is given beside it. Paired comparisons of regimes
(:func:`compare_regimes`) leave out the pairs with a censored value, and count them.

**Verdicts.** A regime is called less (more) robust than the reference by a family when the paired differences of
log10 ε₅, by model and seed within a task, have a 95 % CI below (above) 0 *and* the exact sign-flip test gives
p < :data:`ALPHA`; the CI alone is too narrow with few seeds (``rnnrobust.stats``). The p-values are not corrected
for the several tasks and families.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import CELLS, REFERENCE, TASKS, UNSTABLE_RADIUS, RunKey
from rnnrobust.reporting.render import format_summary, format_value
from rnnrobust.stats import (
    PairedDifference,
    SpearmanResult,
    Summary,
    min_p_value,
    paired_difference,
    spearman_ci,
    summarize,
)

__all__ = [
    "ALPHA",
    "DROP",
    "FAMILIES",
    "FAMILY_LABELS",
    "REFERENCE",
    "FamilyThreshold",
    "PredictionCorrelation",
    "RegimeComparison",
    "RunFragility",
    "Threshold",
    "as_fragility",
    "censored_cell",
    "compare_regimes",
    "eps5",
    "load_fragility",
    "log10",
    "prediction_correlation",
    "regime_order",
    "run_fragility",
]

#: The accuracy drop that defines ε₅: 5 percentage points (accuracies are fractions).
DROP = 0.05
#: Families of weight perturbations, in the order tables and figures show them.
FAMILIES = ("random", "worst")
#: Printed names of the families.
FAMILY_LABELS = {"random": "random", "worst": "worst case"}
#: Level of the paired test below which (with the CI on the same side of 0) a difference counts as resolved.
ALPHA = 0.05
#: The regime every other regime is compared with (plain training, as ``tables.REFERENCE``).
# Accuracies are fractions k / n_eval: a drop that equals DROP up to rounding counts as a drop.
_TOLERANCE = 1e-12


def log10(x: float | None) -> float:
    """log10 of a non-negative number: −∞ for 0, NaN for None or NaN, ∞ for ∞.

    >>> log10(0.01), log10(0.0), log10(None)
    (-2.0, -inf, nan)
    """
    if x is None:
        return math.nan
    x = float(x)
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log10(x)


@dataclass(frozen=True)
class Threshold:
    """log10 ε₅ of one accuracy curve: the value, or the grid's bound when ``censored`` (``"above"``: no 5-point
    drop up to the largest level; ``"below"``: dropped already at the smallest); NaN when undefined."""

    log10: float
    censored: str = ""


def eps5(levels: Sequence[float], accuracies: Sequence[float], reference: float, drop: float = DROP) -> Threshold:
    """log10 ε₅ of one curve: where the accuracy first falls ``drop`` below ``reference`` (module docstring).

    Parameters
    ----------
    levels
        log10 ε of the curve's points (any order; sorted here).
    accuracies
        Accuracy (fraction) at each level; NaN points are left out.
    reference
        The unperturbed accuracy.
    drop
        The fall that counts (fraction: 0.05 = 5 percentage points).

    Examples
    --------
    From 0.88 at 10⁻² to 0.80 at 10⁻¹, 0.85 is crossed 3/8 of the way: log10 ε₅ = −2 + 0.375 = −1.625.

    >>> round(eps5([-3, -2, -1], [0.90, 0.88, 0.80], reference=0.90).log10, 12)
    -1.625
    >>> eps5([-3, -2, -1], [0.90, 0.89, 0.88], reference=0.90)
    Threshold(log10=-1.0, censored='above')
    >>> eps5([-3, -2, -1], [0.10, 0.10, 0.10], reference=0.90)
    Threshold(log10=-3.0, censored='below')
    """
    if reference is None or math.isnan(float(reference)):
        return Threshold(math.nan)
    points = sorted((float(x), float(a)) for x, a in zip(levels, accuracies, strict=True) if not math.isnan(float(a)))
    if not points:
        return Threshold(math.nan)
    target = float(reference) - drop
    for i, (x, a) in enumerate(points):
        if a <= target + _TOLERANCE:
            if i == 0:
                return Threshold(x, "below")
            x0, a0 = points[i - 1]
            fraction = (a0 - target) / (a0 - a) if a0 > a else 1.0
            return Threshold(x0 + min(max(fraction, 0.0), 1.0) * (x - x0))
    return Threshold(points[-1][0], "above")


@dataclass(frozen=True)
class FamilyThreshold:
    """A run's log10 ε₅ of one family: the mean over its samples (their bounds where censored), and the samples."""

    log10: float
    samples: tuple[Threshold, ...]

    @property
    def above(self) -> int:
        """Samples censored above the grid (no 5-point drop)."""
        return sum(t.censored == "above" for t in self.samples)

    @property
    def below(self) -> int:
        """Samples censored below the grid (dropped at the smallest level)."""
        return sum(t.censored == "below" for t in self.samples)

    @property
    def censored(self) -> str:
        """``""``, ``"above"``, ``"below"`` or ``"both"``: which way the run's value is a bound."""
        return {(False, False): "", (True, False): "above", (False, True): "below"}.get(
            (self.above > 0, self.below > 0), "both"
        )


@dataclass(frozen=True)
class RunFragility:
    """One run's perturbation numbers (module docstring), all log10 except the accuracies (fractions).

    ``levels``: the grid (log10 ε, sorted); ``curves``: family -> level -> accuracy (random: the mean over the
    samples); ``eps5``: family -> :class:`FamilyThreshold` (families the sweep has); ``predicted``, ``reach``:
    log10 of ``eps_pred_min`` and ``eps_worst_min``; ``amplification`` and ``transient_peak`` of
    ``amplification_layer`` (NaN and None without state measurements).
    """

    run: RunKey
    reference_accuracy: float
    levels: tuple[float, ...]
    curves: Mapping[str, Mapping[float, float]]
    eps5: Mapping[str, FamilyThreshold]
    predicted: float
    reach: float
    amplification: float = math.nan
    amplification_layer: str | None = None
    transient_peak: float = math.nan
    linear_unstable: bool = False
    random_samples: int = 0
    n_eval: int = 0


def _state_numbers(state: Mapping[str, Any], blocks: Mapping[str, Any]) -> tuple[float, str | None, float, bool]:
    """(log10 amplification, layer, log10 transient peak, linear block unstable) of the most amplifying layer."""
    best: tuple[float, str | None, float, bool] = (math.nan, None, math.nan, False)
    for layer, record in state.items():
        medians = [float(v["median"]) for v in record.get("amplification", {}).values()]
        if not medians:
            continue
        value = log10(max(medians))
        if best[1] is None or value > best[0]:
            linear = record.get("linear", {})
            radius = float(blocks.get(record.get("linear_block"), {}).get("spectral_radius", math.nan))
            best = (value, layer, log10(linear.get("transient_peak")), radius > UNSTABLE_RADIUS)
    return best


def run_fragility(record: Mapping[str, Any], drop: float = DROP) -> RunFragility:
    """The :class:`RunFragility` of one perturbation record (the loaded JSON of ``rnnrobust.robustness.perturbation.run``)."""
    run = (record["task"], record["model"], record["regime"], int(record["seed"]))
    reference = float(record["reference"]["accuracy"])
    levels = tuple(sorted({float(row["eps_log10"]) for row in record["sweep"]}))
    by_sample: dict[str, dict[int, dict[float, float]]] = {}
    for row in record["sweep"]:
        curve = by_sample.setdefault(row["family"], {}).setdefault(int(row["sample"]), {})
        curve[float(row["eps_log10"])] = float(row["accuracy"])
    curves, thresholds = {}, {}
    for family in [f for f in FAMILIES if f in by_sample] + sorted(set(by_sample) - set(FAMILIES)):
        samples = by_sample[family]
        per_sample = tuple(eps5(list(c), list(c.values()), reference, drop) for _, c in sorted(samples.items()))
        values = [t.log10 for t in per_sample if not math.isnan(t.log10)]
        thresholds[family] = FamilyThreshold(float(np.mean(values)) if values else math.nan, per_sample)
        curves[family] = {x: float(np.nanmean([c.get(x, math.nan) for c in samples.values()])) for x in levels}
    amplification, layer, peak, unstable = _state_numbers(record.get("state") or {}, record.get("blocks") or {})
    return RunFragility(
        run=run,
        reference_accuracy=reference,
        levels=levels,
        curves=curves,
        eps5=thresholds,
        predicted=log10(record.get("eps_pred_min")),
        reach=log10(record.get("eps_worst_min")),
        amplification=amplification,
        amplification_layer=layer,
        transient_peak=peak,
        linear_unstable=unstable,
        random_samples=len(by_sample.get("random", {})),
        n_eval=int(record.get("n_eval") or 0),
    )


def load_fragility(paths: Mapping[RunKey, PathLike], drop: float = DROP) -> dict[RunKey, RunFragility]:
    """Run key -> :class:`RunFragility` of its perturbation JSON; a file that records another run is refused."""
    out = {}
    for key, path in paths.items():
        task, model, regime, seed = key
        record = read_json(path)
        recorded = (record.get("task"), record.get("model"), record.get("regime"), record.get("seed"))
        if recorded != (task, model, regime, int(seed)):
            raise ValueError(f"{path}: perturbation of {recorded}, but the run key is {key!r}")
        out[(task, model, regime, int(seed))] = run_fragility(record, drop)
    return out


def as_fragility(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility], drop: float = DROP
) -> dict[RunKey, RunFragility]:
    """The runs' :class:`RunFragility`, given as they are or loaded from their perturbation files."""
    if all(isinstance(v, RunFragility) for v in perturbation.values()):
        return dict(perturbation)  # type: ignore[arg-type]
    return load_fragility(perturbation, drop)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Cells of several runs.


def grid_bounds(runs: Iterable[RunFragility]) -> tuple[float, float]:
    """(smallest, largest) log10 ε of the runs' grids (NaN, NaN for none)."""
    levels = [x for run in runs for x in run.levels]
    return (min(levels), max(levels)) if levels else (math.nan, math.nan)


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


def family_summary(runs: Sequence[RunFragility], family: str) -> tuple[Summary, int, int]:
    """Summary over runs of their log10 ε₅ of ``family`` (bounds for censored runs), and the runs censored
    above and below; runs without the family are missing (NaN)."""
    values, above, below = [], 0, 0
    for run in runs:
        threshold = run.eps5.get(family)
        values.append(math.nan if threshold is None else threshold.log10)
        if threshold is not None and not math.isnan(threshold.log10):
            above += threshold.censored in ("above", "both")
            below += threshold.censored in ("below", "both")
    return summarize(values), above, below


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


def regime_order(keys: Iterable[RunKey], regimes: Sequence[str] | None = None) -> list[str]:
    """Every regime of ``regimes``, then those of the runs that it does not list, in the order they first appear."""
    return list(dict.fromkeys([*(regimes or ()), *(k[2] for k in keys)]))


def ordered_keys(keys: Iterable[RunKey], regimes: Sequence[str] | None = None) -> list[RunKey]:
    """Run keys in the order task, model (the project's), regime (:func:`regime_order`), seed."""
    keys = list(keys)
    order = regime_order(keys, regimes)

    def rank(value: str, canonical: Sequence[str]) -> tuple[int, str]:
        return (canonical.index(value) if value in canonical else len(canonical), value)

    return sorted(keys, key=lambda k: (rank(k[0], TASKS), rank(k[1], CELLS), order.index(k[2]), k[3]))


# --------------------------------------------------------------------------------------------------
# Regimes against the reference, seed by seed.


def _direction(diff: PairedDifference) -> tuple[str, str]:
    """(side, why): ``"below"`` / ``"above"`` when the 95 % CI of the mean difference lies on that side of 0 and the
    paired test gives p < :data:`ALPHA`; else ``"unresolved"``, with the reason."""
    if diff.n < 2 or math.isnan(diff.ci_low):
        return "unresolved", "fewer than 2 pairs"
    side = "below" if diff.ci_high < 0 else "above" if diff.ci_low > 0 else ""
    if not side:
        return "unresolved", "CI includes 0"
    if not diff.p_value < ALPHA:
        floor = min_p_value(diff.n)
        return "unresolved", f"CI {side} 0 but p ≥ {ALPHA:g} (the least p with {diff.n} pairs is {floor:.2g})"
    return side, f"CI {side} 0, p < {ALPHA:g}"


@dataclass(frozen=True)
class RegimeComparison:
    """One regime against the reference within a task, paired by (model, seed).

    ``differences`` maps each family of the runs (and ``"predicted"``) to the :class:`~rnnrobust.stats.
    PairedDifference` of log10 ε₅ (log10 ε_pred), regime − reference; ``censored`` counts per family the pairs
    left out because a value is censored; ``verdict`` says for which families the difference is resolved, i.e. its
    95 % CI lies on one side of 0 and the paired sign-flip test gives p < :data:`ALPHA` (ε₅ lower: less robust).
    """

    task: str
    regime: str
    reference: str
    differences: Mapping[str, PairedDifference]
    censored: Mapping[str, int] = field(default_factory=dict)

    @property
    def families(self) -> list[str]:
        """The measured families compared (the keys of ``differences`` but ``"predicted"``)."""
        return [f for f in self.differences if f != "predicted"]

    def _directions(self) -> dict[str, str]:
        return {f: _direction(self.differences[f])[0] for f in self.families}

    @property
    def verdict(self) -> str:
        """``"less robust"`` / ``"more robust"`` (every family resolved, on that side), ``"mixed"`` (some family
        resolved, another not, or on the other side) or ``"not resolved"`` (no family resolved)."""
        directions = set(self._directions().values())
        if directions == {"below"}:
            return "less robust"
        if directions == {"above"}:
            return "more robust"
        return "mixed" if directions & {"below", "above"} else "not resolved"

    def sentence(self) -> str:
        """The comparison in words, numbers first: each difference, its pairs and p-value, then the verdict."""
        parts = []
        for family in self.families:
            d = self.differences[family]
            left = self.censored.get(family, 0)
            parts.append(f"{FAMILY_LABELS.get(family, family)} {_difference_text(d)}"
                         + (f", {left} censored pair{'s' * (left != 1)} left out" if left else ""))  # fmt: skip
        predicted = self.differences.get("predicted")
        head = (
            f"{self.task}, {self.regime} − {self.reference} paired by model and seed: log10 ε₅ "
            + "; ".join(parts)
            + (f"; predicted log10 ε {_difference_text(predicted)}" if predicted is not None else "")
            + "."
        )
        directions = self._directions()
        detail = "; ".join(f"{FAMILY_LABELS.get(f, f)}: {_direction(self.differences[f])[1]}" for f in directions)
        runs = f"{self.regime} runs"
        if self.verdict in ("less robust", "more robust"):
            claim = f"{runs} are {self.verdict} than {self.reference} runs"
        elif self.verdict == "not resolved":
            claim = f"{runs} are shown neither less nor more robust than {self.reference} runs"
        else:

            def named(side: str) -> str:
                return " and ".join(FAMILY_LABELS.get(f, f) for f, d in directions.items() if d == side)

            sides = [f"{label} robust under {named(side)} perturbations" for side, label in
                     (("below", "less"), ("above", "more")) if named(side)]  # fmt: skip
            rest = [FAMILY_LABELS.get(f, f) for f, d in directions.items() if d not in ("below", "above")]
            claim = f"{runs} are {' but '.join(sides)} than {self.reference} runs"
            if rest:
                claim += f", and not resolved under {' and '.join(rest)} perturbations"
        return f"{head} By these measurements {claim} ({detail})."


def _difference_text(d: PairedDifference) -> str:
    if d.n == 0:
        return "no pairs"
    text = format_summary(d.mean, d.sd, d.ci_low, d.ci_high)
    p = "" if math.isnan(d.p_value) else f", p = {d.p_value:.2g}"
    return f"{text} over {d.n} pair{'s' * (d.n != 1)}{p}"


def compare_regimes(
    runs: Mapping[RunKey, RunFragility], *, regimes: Sequence[str] | None = None, reference: str = REFERENCE
) -> list[RegimeComparison]:
    """Every regime but ``reference`` against it, per task, paired by (model, seed) (:class:`RegimeComparison`).

    Pairs are runs of the same task, model and seed; a pair whose ε₅ of a family is censored on either side is
    left out of that family's difference (its difference is only a bound) and counted. Tasks in the project's
    order, regimes in ``regimes`` (else as the runs first name them); none when the reference has no runs.
    """
    keys = ordered_keys(runs, regimes)
    order = list(dict.fromkeys(k[2] for k in keys))
    out = []
    for task in dict.fromkeys(k[0] for k in keys):
        ref = {(k[1], k[3]): runs[k] for k in keys if k[0] == task and k[2] == reference}
        if not ref:
            continue
        for regime in order:
            if regime == reference:
                continue
            own = {(k[1], k[3]): runs[k] for k in keys if k[0] == task and k[2] == regime}
            if not own:
                continue
            families = [f for f in FAMILIES if any(f in r.eps5 for r in [*own.values(), *ref.values()])]
            differences, censored = {}, {}
            for family in families:
                a, b, left = {}, {}, 0
                for pair in own.keys() & ref.keys():
                    ta, tb = own[pair].eps5.get(family), ref[pair].eps5.get(family)
                    if ta is None or tb is None or math.isnan(ta.log10) or math.isnan(tb.log10):
                        continue
                    if ta.censored or tb.censored:
                        left += 1
                        continue
                    a[pair], b[pair] = ta.log10, tb.log10
                differences[family] = paired_difference(a, b)
                censored[family] = left
            both = own.keys() & ref.keys()
            differences["predicted"] = paired_difference(
                {p: own[p].predicted for p in both if math.isfinite(own[p].predicted)},
                {p: ref[p].predicted for p in both if math.isfinite(ref[p].predicted)},
            )
            out.append(RegimeComparison(task, regime, reference, differences, censored))
    return out


# --------------------------------------------------------------------------------------------------
# Predicted against measured.


@dataclass(frozen=True)
class PredictionCorrelation:
    """Spearman's ρ of log10 ε_pred against log10 ε₅ of one family over runs.

    ``all``: every run with both numbers, censored ε₅ as ties at their bound (their true rank relative to the
    measured values); ``measured``: the uncensored runs only; ``censored``: runs in ``all`` but not in ``measured``;
    ``unpredicted``: runs left out for want of a prediction (no stable block).
    """

    family: str
    all: SpearmanResult
    measured: SpearmanResult
    censored: int
    unpredicted: int


def prediction_correlation(runs: Mapping[RunKey, RunFragility], family: str) -> PredictionCorrelation:
    """:class:`PredictionCorrelation` of ``family`` over ``runs`` (:func:`rnnrobust.stats.spearman_ci`)."""
    rows = [(r.predicted, r.eps5[family]) for r in runs.values() if family in r.eps5]
    usable = [(x, t) for x, t in rows if math.isfinite(x) and not math.isnan(t.log10)]
    measured = [(x, t) for x, t in usable if not t.censored]
    unpredicted = sum(not math.isfinite(x) for x, t in rows if not math.isnan(t.log10))
    return PredictionCorrelation(
        family=family,
        all=spearman_ci([x for x, _ in usable], [t.log10 for _, t in usable]),
        measured=spearman_ci([x for x, _ in measured], [t.log10 for _, t in measured]),
        censored=len(usable) - len(measured),
        unpredicted=unpredicted,
    )


def rho_text(result: SpearmanResult) -> str:
    """``"ρ = 0.71 [0.40, 0.90] over 18 runs"``; ``"ρ undefined (…)"`` for fewer than 3 runs or constant ranks.

    >>> rho_text(spearman_ci([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]))
    'ρ = 0.80 [0.11, 1.00] over 5 runs'
    >>> rho_text(spearman_ci([1, 2], [1, 2]))
    'ρ undefined (2 runs; needs 3 with distinct ranks)'
    """
    if math.isnan(result.rho):
        return f"ρ undefined ({result.n} run{'s' * (result.n != 1)}; needs 3 with distinct ranks)"
    interval = "" if math.isnan(result.ci_low) else f" [{result.ci_low:.2f}, {result.ci_high:.2f}]"
    return f"ρ = {result.rho:.2f}{interval} over {result.n} runs"
