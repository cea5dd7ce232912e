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
  block that is unstable in its weights' precision (the record's ``blocks.<block>.stability``, else
  ``layout.stability`` of its ρ in the record's ``precision``; float32, training's default, for records that have
  neither) has no finite transient peak (its powers grow until the computation stops); such runs are flagged
  ``linear_unstable``. A block on the circle (within 4 machine epsilons of 1) is not.
- **curves**: per family and level of the grid (the stage's bisection points left out), the mean over the samples
  of the accuracy (``curves``) and of the flip rate (``flip_curves``; records before the stage measured flips have
  none).

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

**Scales.** A threshold is a size of perturbation, read on each of :data:`SCALES` (:meth:`RunFragility.thresholds`):
``"relative"``, log10 ‖ΔW_b‖₂/‖W_b‖₂ (the record's ``eps_log10``: the grid's scale, and every table's and figure's
unless it says otherwise), ``"absolute"``, log10 max_b ‖ΔW_b‖₂ (``eps_absolute_log10``), and ``"preactivation"``,
log10 max_b ‖ΔW_b S_b‖_F/‖P_b‖_F along the unperturbed trajectories (``eps_preactivation_log10``). The stage
records the other two at each bisected threshold (for a censored one at the grid's end, and it stays censored the
same way), so only bisected thresholds have them: ε₅ normalised, and ε₅ of records before the stage bisected, are
relative only. On the relative scale a censored sample's bound is the grid's end, beyond every measured value; on
the others it is the curve's own value there, which need not be, so a run's median there is a bound whenever a
censored sample reaches the middle of its samples (:attr:`FamilyThreshold.censored`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnrobust.config import TrainConfig
from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import FAMILIES, RunKey, stability
from rnnrobust.robustness.perturbation.censoring import DROP, FamilyThreshold, Threshold, eps5, log10
from rnnrobust.stats import Summary, summarize

__all__ = [
    "DROP",
    "FLIP_RATE",
    "PRIMARY",
    "SCALES",
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

#: The thresholds a run carries, by name: ε_flip5 (5 % of predictions flipped; the primary one, bisected by the
#: stage), ε₅ (accuracy 5 points down; bisected) and ε₅ normalised ((a₀ − a)/(a₀ − chance) ≥ 5 %; on the grid).
THRESHOLD_NAMES = ("flip5", "eps5", "eps5_normalized")
#: The threshold that tables and figures rank and compare runs by.
PRIMARY = "flip5"
#: The flip rate that defines ε_flip5: 5 % of the predictions (the stage's ``run.THRESHOLDS["flip5"]``).
FLIP_RATE = 0.05
#: The scales a threshold is read on (module docstring, "Scales"): the relative size ‖ΔW_b‖₂/‖W_b‖₂ (the grid's
#: and the default), the absolute max_b ‖ΔW_b‖₂ and the pre-activation max_b ‖ΔW_b S_b‖_F/‖P_b‖_F.
SCALES = ("relative", "absolute", "preactivation")
# The record's field of each scale but the relative one (``thresholds.<name>.<family>[i]``).
_SCALE_FIELDS = {"absolute": "eps_absolute_log10", "preactivation": "eps_preactivation_log10"}
# Records of the stage before issue 19 named the Gaussian family "random" (the same directions, seeds and norm);
# their "worst" perturbed unstable blocks too, unlike "instability", and keeps its name.
_LEGACY_FAMILIES = {"random": "gaussian"}


@dataclass(frozen=True)
class RunFragility:
    """One run's perturbation numbers (module docstring), all log10 except the accuracies (fractions).

    ``levels``: the grid (log10 ε, sorted); ``curves`` and ``flip_curves``: family -> level -> accuracy and flip
    rate (the mean over the samples, grid levels only); ``eps5``, ``flip5`` and ``eps5_normalized``: family ->
    :class:`FamilyThreshold` (families the sweep has; its ``log10`` the median over the samples) of the accuracy
    drop, the flip rate and the normalised drop on the relative scale (:func:`run_fragility`); ``scaled``: (name,
    scale) -> the same on another scale of :data:`SCALES` where the record has it; ``predicted``, ``reach``: log10 of
    ``eps_pred_min`` and ``eps_instability_min``; ``amplification`` and ``transient_peak`` of
    ``amplification_layer`` (NaN and None without state measurements). :meth:`thresholds` reads them all.
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
    scaled: Mapping[tuple[str, str], Mapping[str, FamilyThreshold]] = dataclasses.field(default_factory=dict)
    flip_curves: Mapping[str, Mapping[float, float]] = dataclasses.field(default_factory=dict)

    def thresholds(self, name: str = PRIMARY, scale: str = "relative") -> Mapping[str, FamilyThreshold]:
        """family -> threshold of ``name`` (:data:`THRESHOLD_NAMES`: ``flip5``, the primary one, ``eps5``,
        ``eps5_normalized``) on ``scale`` (:data:`SCALES`; module docstring, "Scales"): empty where the record has
        none on that scale."""
        if name not in THRESHOLD_NAMES:
            raise ValueError(f"unknown threshold {name!r}; expected one of {list(THRESHOLD_NAMES)}")
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {list(SCALES)}")
        return getattr(self, name) if scale == "relative" else self.scaled.get((name, scale), {})


def _block_unstable(block: Mapping[str, Any], precision: str) -> bool:
    """Whether a block of the record is ``"unstable"`` in its weights' ``precision``: the record's own label
    (``stability``), else :func:`rnnrobust.layout.stability` of its ρ (False without one)."""
    label = block.get("stability")
    if label is None:
        radius = float(block.get("spectral_radius", math.nan))
        label = "stable" if math.isnan(radius) else stability(radius, precision)
    return label == "unstable"


def _state_numbers(
    state: Mapping[str, Any], blocks: Mapping[str, Any], precision: str = TrainConfig.dtype
) -> tuple[float, str | None, float, bool]:
    """(log10 amplification, layer, log10 transient peak, linear block unstable) of the most amplifying layer;
    ``precision``: the dtype of the run's weights (the record's ``precision``)."""
    best: tuple[float, str | None, float, bool] = (math.nan, None, math.nan, False)
    for layer, record in state.items():
        medians = [float(v["median"]) for v in record.get("amplification", {}).values()]
        if not medians:
            continue
        value = log10(max(medians))
        if best[1] is None or value > best[0]:
            linear = record.get("linear", {})
            unstable = _block_unstable(blocks.get(record.get("linear_block"), {}), precision)
            best = (value, layer, log10(linear.get("transient_peak")), unstable)
    return best


def _recorded_thresholds(record: Mapping[str, Any], name: str, scale: str = "relative") -> dict[str, FamilyThreshold]:
    """family -> :class:`FamilyThreshold` of a threshold the stage bisected (``record["thresholds"][name]``) on
    ``scale``; a family none of whose samples has that scale is left out."""
    field = _SCALE_FIELDS.get(scale, "eps_log10")
    out = {}
    for family, samples in (record.get("thresholds") or {}).get(name, {}).items():
        values = [math.nan if t.get(field) is None else float(t[field]) for t in samples]
        if not all(math.isnan(v) for v in values):
            out[family] = FamilyThreshold(
                tuple(Threshold(v, t.get("censored") or "") for v, t in zip(values, samples, strict=True))
            )
    return out


def _grid_samples(record: Mapping[str, Any], quantity: str) -> dict[str, dict[int, dict[float, float]]]:
    """family -> sample -> level -> ``quantity`` of the record's grid rows that have it (families renamed as now)."""
    out: dict[str, dict[int, dict[float, float]]] = {}
    for row in record["sweep"]:
        if row.get("grid", True) and row.get(quantity) is not None:
            family = _LEGACY_FAMILIES.get(row["family"], row["family"])
            curve = out.setdefault(family, {}).setdefault(int(row["sample"]), {})
            curve[float(row["eps_log10"])] = float(row[quantity])
    return out


def _mean_curves(by_sample: Mapping[str, Mapping[int, Mapping[float, float]]], levels: Sequence[float]) -> dict:
    """family -> level -> the mean over the family's samples (NaN where none has the level)."""
    return {
        family: {x: float(np.nanmean([c.get(x, math.nan) for c in samples.values()])) for x in levels}
        for family, samples in by_sample.items()
    }


def _interpolated(
    by_sample: Mapping[str, Mapping[int, Mapping[float, float]]], reference: float, chance: Any, drop: float
) -> tuple[dict[str, FamilyThreshold], dict[str, FamilyThreshold]]:
    """(ε₅, ε₅ normalised) per family, interpolated on the grid's accuracies (:func:`eps5`)."""
    span = reference - float(chance) if chance is not None else math.nan
    interpolated, normalized = {}, {}
    for family, by_level in by_sample.items():
        samples = [c for _, c in sorted(by_level.items())]
        interpolated[family] = FamilyThreshold(tuple(eps5(list(c), list(c.values()), reference, drop) for c in samples))
        normalized[family] = FamilyThreshold(
            tuple(
                eps5(list(c), list(c.values()), reference, drop * span) if span > 0 else Threshold(math.nan)
                for c in samples
            )
        )
    return interpolated, normalized


def run_fragility(record: Mapping[str, Any], drop: float = DROP) -> RunFragility:
    """The :class:`RunFragility` of one perturbation record (the loaded JSON of the perturbation stage).

    ``eps5`` and ``flip5`` are the stage's bisected thresholds (``thresholds``), on every scale (``scaled``); a
    record without them (of an older stage) gets ε₅ interpolated on the grid (:func:`eps5`), relative only, and no
    ε_flip5. ``eps5_normalized`` is interpolated on the grid: the level where (a₀ − a)/(a₀ − chance) reaches
    ``drop``.
    """
    run = (record["task"], record["model"], record["regime"], int(record["seed"]))
    reference = float(record["reference"]["accuracy"])
    by_sample = _grid_samples(record, "accuracy")
    levels = tuple(sorted({x for samples in by_sample.values() for c in samples.values() for x in c}))
    order = [f for f in FAMILIES if f in by_sample] + sorted(set(by_sample) - set(FAMILIES))
    by_sample = {f: by_sample[f] for f in order}
    interpolated, normalized = _interpolated(by_sample, reference, record.get("chance_accuracy"), drop)
    names = {"flip5": "flip5", "eps5": "drop5"} if drop == DROP else {"flip5": "flip5"}
    scaled = {(name, scale): _recorded_thresholds(record, recorded, scale)
              for name, recorded in names.items() for scale in SCALES[1:]}  # fmt: skip
    bisected = _recorded_thresholds(record, "drop5") if drop == DROP else {}
    precision = record.get("precision") or TrainConfig.dtype  # records before the stage wrote it: training's default
    amplification, layer, peak, unstable = _state_numbers(
        record.get("state") or {}, record.get("blocks") or {}, precision
    )
    return RunFragility(
        run=run,
        reference_accuracy=reference,
        levels=levels,
        curves=_mean_curves(by_sample, levels),
        eps5=bisected or interpolated,
        flip5=_recorded_thresholds(record, "flip5"),
        eps5_normalized=normalized,
        scaled={key: value for key, value in scaled.items() if value},
        flip_curves=_mean_curves(_grid_samples(record, "flip_rate"), levels),
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


def family_summary(
    runs: Sequence[RunFragility], family: str, threshold: str = PRIMARY, scale: str = "relative"
) -> FamilyCell:
    """:class:`FamilyCell` of the runs' log10 ``threshold`` (:data:`THRESHOLD_NAMES`) of ``family`` on ``scale``
    (:data:`SCALES`); runs without the family (on that scale) are missing (NaN).

    The summary's interval is Student's t up to 10 runs (``interval="auto"``, as every aggregate over seeds)."""
    per_run = [run.thresholds(threshold, scale) for run in runs]
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
