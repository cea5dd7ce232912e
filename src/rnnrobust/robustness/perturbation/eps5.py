"""What the perturbation stage measured, run by run: ε₅ beside its prediction.

Numbers only (their words are in ``rnnrobust.reporting.perturbation_text``; regimes and predictions compared
over runs in ``rnnrobust.robustness.perturbation.comparisons``). Reads the per-run records of
``rnnrobust.robustness.perturbation.run`` (``{results_dir}/perturbation/<run>.json``; schema in
``docs/output-formats.md``, "Perturbation records") and reduces each run to a few numbers, all as log10 (they
span decades):

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
versa ("≤ …"; ``rnnrobust.reporting.perturbation_text.censored_cell`` writes such cells).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import FAMILIES, UNSTABLE_RADIUS, RunKey
from rnnrobust.stats import Summary, summarize

__all__ = [
    "DROP",
    "FamilyThreshold",
    "RunFragility",
    "Threshold",
    "as_fragility",
    "eps5",
    "family_summary",
    "grid_bounds",
    "load_fragility",
    "log10",
    "run_fragility",
]

#: The accuracy drop that defines ε₅: 5 percentage points (accuracies are fractions).
DROP = 0.05
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
    """The :class:`RunFragility` of one perturbation record (the loaded JSON of the perturbation stage)."""
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


#: Runs' perturbation records as their JSON files or as loaded :class:`RunFragility`, as Table 4 and
#: Figures 7–8 take them.
PerturbationRecords = Mapping[RunKey, PathLike] | Mapping[RunKey, RunFragility]


def as_fragility(perturbation: PerturbationRecords, drop: float = DROP) -> dict[RunKey, RunFragility]:
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
