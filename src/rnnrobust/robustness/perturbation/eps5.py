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
  counts: a curve that recovers at larger ε does not move it. A run's value of a family is the **median** over its
  samples' log10 ε₅ (censored ones at their bound, below): ``worst`` has one sample, the worst-case direction;
  ``random`` one per random direction.
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
smallest level has ε₅ ≤ 10^min: *left-censored* (``"below"``), carried as min(eps_log10). Censored samples are a
run's largest (smallest) values, so they move its median only when at least half of its samples are censored that
way: the run's value is exact while fewer are, else a bound (:attr:`FamilyThreshold.censored`; ``"above"``: a lower
bound). Hence the median and not the mean: a mean over partly censored samples is a bound that depends on where the
grid ends (−0.58 for a run whose 2 of 3 directions cost 5 points at 10^−0.875 and the third never fell up to 10^0;
its median, −0.875, is exact). This one value ranks and compares runs everywhere (Table 4, the paired comparisons
and Spearman's ρ of ``rnnrobust.robustness.perturbation.comparisons``, Figures 7–9, Table 7). Over runs the bounds
enter means as values, so a mean over values of which some are right-censored and none left-censored is a lower
bound of the true mean (printed "≥ …", with the count), and vice versa ("≤ …";
``rnnrobust.reporting.perturbation_text`` writes such cells and each run's value with its censored samples).
"""

from __future__ import annotations

import dataclasses
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
    "PRIMARY",
    "THRESHOLD_NAMES",
    "FamilyCell",
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
#: The thresholds a run carries, by name: ε_flip5 (5 % of predictions flipped; the primary one, bisected by the
#: stage), ε₅ (accuracy 5 points down; bisected) and ε₅ normalised ((a₀ − a)/(a₀ − chance) ≥ 5 %; on the grid).
THRESHOLD_NAMES = ("flip5", "eps5", "eps5_normalized")
#: The threshold that tables and figures rank and compare runs by.
PRIMARY = "flip5"
# Records of the stage before issue 19 named the Gaussian family "random" (the same directions, seeds and norm);
# their "worst" perturbed unstable blocks too, unlike "instability", and keeps its name.
_LEGACY_FAMILIES = {"random": "gaussian"}
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
    """A run's log10 ε₅ of one family: its samples' :class:`Threshold`, and their median (module docstring).

    >>> t = FamilyThreshold((Threshold(-0.875), Threshold(0.0, "above"), Threshold(-0.875)))
    >>> t.log10, t.above, t.censored  # one of three above the grid: the median is exact
    (-0.875, 1, '')
    >>> FamilyThreshold((Threshold(-0.875), Threshold(0.0, "above"), Threshold(0.0, "above"))).censored
    'above'
    """

    samples: tuple[Threshold, ...]

    @property
    def log10(self) -> float:
        """The median of the samples' log10 ε₅, censored ones at their bound; NaN when no sample has a value."""
        values = [t.log10 for t in self.samples if not math.isnan(t.log10)]
        return float(np.median(values)) if values else math.nan

    @property
    def n(self) -> int:
        """Samples with a value (a NaN one, e.g. of an undefined reference, is left out)."""
        return sum(not math.isnan(t.log10) for t in self.samples)

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
        """Which way the median is a bound: ``""`` (exact), ``"above"`` (a lower bound), ``"below"`` (an upper
        bound) or ``"both"`` (no bound: half the samples censored each way).

        Censored samples are the largest (smallest) values, so the median, the middle value or the mean of the two
        middle ones, involves one exactly when at least half (⌈n/2⌉) of the samples are censored that way.
        """
        half = (self.n + 1) // 2
        above, below = self.n > 0 and self.above >= half, self.n > 0 and self.below >= half
        return {(False, False): "", (True, False): "above", (False, True): "below"}.get((above, below), "both")


@dataclass(frozen=True)
class RunFragility:
    """One run's perturbation numbers (module docstring), all log10 except the accuracies (fractions).

    ``levels``: the grid (log10 ε, sorted); ``curves``: family -> level -> accuracy (the mean over the samples);
    ``eps5``, ``flip5`` and ``eps5_normalized``: family -> :class:`FamilyThreshold` (families the sweep has; its
    ``log10`` the median over the samples) of the accuracy drop, the flip rate and the normalised drop
    (:func:`run_fragility`); ``predicted``, ``reach``: log10 of ``eps_pred_min`` and ``eps_instability_min``;
    ``amplification`` and ``transient_peak`` of ``amplification_layer`` (NaN and None without state measurements).
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
    flip5: Mapping[str, FamilyThreshold] = dataclasses.field(default_factory=dict)
    eps5_normalized: Mapping[str, FamilyThreshold] = dataclasses.field(default_factory=dict)

    def thresholds(self, name: str = "flip5") -> Mapping[str, FamilyThreshold]:
        """family -> threshold of ``name`` (:data:`THRESHOLD_NAMES`): ``flip5`` (primary), ``eps5``,
        ``eps5_normalized``."""
        if name not in THRESHOLD_NAMES:
            raise ValueError(f"unknown threshold {name!r}; expected one of {list(THRESHOLD_NAMES)}")
        return getattr(self, name)


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


def _recorded_thresholds(record: Mapping[str, Any], name: str) -> dict[str, FamilyThreshold]:
    """family -> :class:`FamilyThreshold` of a threshold the stage bisected (``record["thresholds"][name]``)."""
    out = {}
    for family, samples in (record.get("thresholds") or {}).get(name, {}).items():
        out[family] = FamilyThreshold(tuple(Threshold(float(t["eps_log10"]), t.get("censored") or "") for t in samples))
    return out


def run_fragility(record: Mapping[str, Any], drop: float = DROP) -> RunFragility:
    """The :class:`RunFragility` of one perturbation record (the loaded JSON of the perturbation stage).

    ``eps5`` and ``flip5`` are the stage's bisected thresholds (``thresholds``); a record without them (of an
    older stage) gets ε₅ interpolated on the grid (:func:`eps5`) and no ε_flip5. ``eps5_normalized`` is
    interpolated on the grid: the level where (a₀ − a)/(a₀ − chance) reaches ``drop``.
    """
    run = (record["task"], record["model"], record["regime"], int(record["seed"]))
    reference = float(record["reference"]["accuracy"])
    grid = [row for row in record["sweep"] if row.get("grid", True)]
    levels = tuple(sorted({float(row["eps_log10"]) for row in grid}))
    by_sample: dict[str, dict[int, dict[float, float]]] = {}
    for row in grid:
        curve = by_sample.setdefault(_LEGACY_FAMILIES.get(row["family"], row["family"]), {}).setdefault(
            int(row["sample"]), {}
        )
        curve[float(row["eps_log10"])] = float(row["accuracy"])
    families = [f for f in FAMILIES if f in by_sample] + sorted(set(by_sample) - set(FAMILIES))
    chance = record.get("chance_accuracy")
    span = reference - float(chance) if chance is not None else math.nan
    curves, interpolated, normalized = {}, {}, {}
    for family in families:
        samples = [c for _, c in sorted(by_sample[family].items())]
        interpolated[family] = FamilyThreshold(tuple(eps5(list(c), list(c.values()), reference, drop) for c in samples))
        normalized[family] = FamilyThreshold(
            tuple(
                eps5(list(c), list(c.values()), reference, drop * span) if span > 0 else Threshold(math.nan)
                for c in samples
            )
        )
        curves[family] = {x: float(np.nanmean([c.get(x, math.nan) for c in samples])) for x in levels}
    bisected = _recorded_thresholds(record, "drop5") if drop == DROP else {}
    amplification, layer, peak, unstable = _state_numbers(record.get("state") or {}, record.get("blocks") or {})
    return RunFragility(
        run=run,
        reference_accuracy=reference,
        levels=levels,
        curves=curves,
        eps5=bisected or interpolated,
        flip5=_recorded_thresholds(record, "flip5"),
        eps5_normalized=normalized,
        predicted=log10(record.get("eps_pred_min")),
        reach=log10(record.get("eps_instability_min", record.get("eps_worst_min"))),
        amplification=amplification,
        amplification_layer=layer,
        transient_peak=peak,
        linear_unstable=unstable,
        random_samples=len(by_sample.get("gaussian", {})),
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


@dataclass(frozen=True)
class FamilyCell:
    """log10 ε₅ of one family over the runs of a cell (:func:`family_summary`).

    ``summary``: over the runs' values (bounds as values); ``above`` / ``below``: runs whose value is a bound that
    way (:attr:`FamilyThreshold.censored`); ``samples_above`` / ``samples_below`` of ``samples``: their samples
    censored each way, of all their samples with a value.
    """

    summary: Summary
    above: int = 0
    below: int = 0
    samples_above: int = 0
    samples_below: int = 0
    samples: int = 0


def family_summary(runs: Sequence[RunFragility], family: str, threshold: str = PRIMARY) -> FamilyCell:
    """:class:`FamilyCell` of the runs' log10 ``threshold`` (:data:`THRESHOLD_NAMES`) of ``family``; runs without
    the family are missing (NaN).

    The summary's interval is Student's t up to 10 runs (``interval="auto"``, as every aggregate over seeds)."""
    per_run = [run.thresholds(threshold) for run in runs]
    thresholds = [t[family] for t in per_run if family in t and not math.isnan(t[family].log10)]
    values = [t[family].log10 if family in t else math.nan for t in per_run]
    return FamilyCell(
        summary=summarize(values, interval="auto"),
        above=sum(t.censored in ("above", "both") for t in thresholds),
        below=sum(t.censored in ("below", "both") for t in thresholds),
        samples_above=sum(t.above for t in thresholds),
        samples_below=sum(t.below for t in thresholds),
        samples=sum(t.n for t in thresholds),
    )
