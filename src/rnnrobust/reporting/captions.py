"""Report captions written from the data: numbers of the runs a figure or table shows, no adjectives.

Each figure and table job writes ``<output>.caption.rst`` beside its output; the report's caption
(``workflow/report/*.rst``) describes what the item is and includes that file, so no caption can
claim what its run contradicts. Torch-free; inputs are the per-run files (``rnnrobust.runs``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import REGIMES, UNSTABLE_RADIUS, RunKey, run_stem
from rnnrobust.robustness.perturbation import eps5 as frag
from rnnrobust.stats import summarize


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def _outside(eigenvalues: list[list[float]]) -> int:
    return sum(1 for re, im in eigenvalues if (re * re + im * im) ** 0.5 > UNSTABLE_RADIUS)


def max_radius(blocks: Mapping[str, Mapping[str, Any]]) -> float:
    """The largest spectral radius over a run's recurrent matrices (its analysis JSON)."""
    return max(summary["spectral_radius"] for summary in blocks.values())


def block_summary(summary: Mapping[str, Any]) -> str:
    """One matrix: ρ, ‖W‖₂, Henrici (absolute and relative), distance to instability, eigenvalues outside."""
    eigenvalues = summary["eigenvalues"]
    return (
        f"ρ = {summary['spectral_radius']:.3g}, ‖W‖₂ = {summary['spectral_norm']:.3g}, "
        f"Henrici {summary['henrici']:.3g} (relative {summary['henrici_relative']:.3g}), "
        f"distance to instability {summary['distance_to_instability']:.3g}, "
        f"{_outside(eigenvalues)} of {len(eigenvalues)} eigenvalues outside the unit circle"
    )


def _one_seed(seeds: Sequence[int], where: str) -> str:
    """The sentence that says a figure shows one seed by design, and where the other seeds are."""
    shown = ", ".join(str(seed) for seed in sorted(set(seeds)))
    return f"One seed by design (config ``figures.seed``): seed {shown}; every seed's numbers are in {where}.\n"


def pseudospectra_caption(panels: list[tuple[RunKey, str, PathLike]]) -> str:
    """Figures 1–6: per panel (run, block ``<layer>/<gate>``, analysis JSON) the numbers of its matrix, then the
    seed they show (one, by design)."""
    lines = []
    for run, block, analysis in panels:
        summary = read_json(analysis)[block]
        lines.append(f"- {run_stem(*run)}, matrix {block}: {block_summary(summary)}.")
    return "\n".join(lines) + "\n\n" + _one_seed([run[3] for run, _, _ in panels], "``table3_robustness``")


def eigenvalues_caption(analyses: Mapping[str, PathLike], *, seed: int | None = None) -> str:
    """Eigenvalue figures: per model the spectral radius of each gate block and the eigenvalues outside the unit
    circle, then (when ``seed`` is given) the seed they show, one by design."""
    lines = []
    for model, path in analyses.items():
        data = read_json(path)
        blocks = ", ".join(f"{key} {value['spectral_radius']:.3g}" for key, value in data.items())
        outside = sum(_outside(value["eigenvalues"]) for value in data.values())
        total = sum(len(value["eigenvalues"]) for value in data.values())
        lines.append(f"- {model}: ρ per block {blocks}; {outside} of {total} eigenvalues outside the unit circle.")
    tail = "\n" + _one_seed([seed], "``table3_robustness``") if seed is not None else ""
    return "\n".join(lines) + "\n" + tail


def _files(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [paths] if isinstance(paths, str | os.PathLike) else list(paths)


def _pct_summary(values: Sequence[float]) -> str:
    """Accuracies (fractions) of the seeds as ``"mean ± sd % [lo, hi] (per seed a, b, c)"``; one seed: its value."""
    if len(values) == 1:
        return _pct(values[0])
    s = summarize(100 * v for v in values)
    per_seed = ", ".join(f"{100 * v:.2f}" for v in values)
    interval = "" if math.isnan(s.ci_low) else f" [95 % CI {s.ci_low:.2f}, {s.ci_high:.2f}]"
    return f"{s.mean:.2f} ± {s.sd:.2f} %{interval} (per seed {per_seed} %)"


def training_caption(metrics: Mapping[tuple[str, str], PathLike | Sequence[PathLike]]) -> str:
    """Training figures: per (model, regime) curve its seeds, the final test accuracy over them (mean ± sd, 95 %
    bootstrap CI, every seed's value), before and after the final rescale for a rescaled regime, with the epochs
    completed, chance level and statuses; then what the lines and bands are (or that one seed shows no spread)."""
    curves = {key: [read_json(path) for path in _files(paths)] for key, paths in metrics.items()}
    counts = {len(runs) for runs in curves.values()}
    if counts == {1}:
        tail = "One seed per curve: no spread over seeds is shown.\n"
    else:
        tail = (
            "Each line is the mean over seeds and the band around it spans their minimum to maximum; for a regime "
            "with a final rescale, each seed's value after it is a small dot and the star is their mean.\n"
        )
    lines = []
    for (model, regime), runs in curves.items():
        seeds = ", ".join(str(m.get("seed")) for m in runs)
        after = _pct_summary([m["test"]["accuracy"] for m in runs])
        before = [(m.get("test_before_final_rescale") or {}).get("accuracy") for m in runs]
        before = [v for v in before if v is not None]
        accuracy = f"after the final rescale {after}; before it {_pct_summary(before)}" if before else after
        epochs = "/".join(map(str, sorted({m["epochs_completed"] for m in runs})))
        statuses = [m["status"] for m in runs]
        status = ", ".join(f"{statuses.count(x)} {x}" for x in dict.fromkeys(statuses))
        lines.append(
            f"- {model}, {regime} (seed{'s' if len(runs) > 1 else ''} {seeds}; {epochs} epochs): test accuracy "
            f"{accuracy}; chance {_pct(runs[0]['chance_accuracy'])}; status {status}."
        )
    return "\n".join(lines) + "\n\n" + tail


def _runs_text(metrics: Mapping[RunKey, PathLike]) -> str:
    seeds = sorted({run[3] for run in metrics})
    statuses: dict[str, int] = {}
    for path in metrics.values():
        status = read_json(path)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return f"{len(metrics)} runs (seeds {', '.join(map(str, seeds))}): {counts}."


def _pairs_text(metrics: Mapping[RunKey, PathLike], reference: str) -> str:
    runs = set(metrics)
    others = [run for run in runs if run[2] != reference]
    paired = [run for run in others if (*run[:2], reference, run[3]) in runs]
    left = len(others) - len(paired)
    text = f"{len(paired)} runs of other regimes have a {reference} run of the same seed to be compared with"
    return text + (f"; left out for want of one: {left}." if left else ".")


def table_caption(name: str, metrics: Mapping[RunKey, PathLike], analysis: Mapping[RunKey, PathLike]) -> str:
    """A table's runs and the figures a reader checks first (unstable matrices, the range of Henrici numbers; for
    the paired table, the runs that have a baseline partner)."""
    lines = [_runs_text(metrics)]
    if name in ("table2_henrici", "table3_robustness"):
        per_run = {run: read_json(path) for run, path in analysis.items()}
        unstable = [run for run, blocks in per_run.items() if max_radius(blocks) > UNSTABLE_RADIUS]
        henrici = [b["henrici"] for blocks in per_run.values() for b in blocks.values()]
        lines.append(
            f"{len(unstable)} of {len(per_run)} runs have a recurrent matrix with ρ > 1; "
            f"Henrici numbers range from {min(henrici):.3g} to {max(henrici):.3g}."
        )
    if name == "table5_paired":
        lines.append(_pairs_text(metrics, REGIMES[0]))
    return " ".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# The perturbation outputs (Table 4, Figures 7 and 8): numbers from rnnrobust.robustness.perturbation.eps5.


def _grid_text(runs: Mapping[RunKey, frag.RunFragility]) -> str:
    seeds = sorted({key[3] for key in runs})
    low, high = frag.grid_bounds(runs.values())
    levels = sorted({x for run in runs.values() for x in run.levels})
    samples = "/".join(str(s) for s in sorted({run.random_samples for run in runs.values()}))
    n_eval = "/".join(str(n) for n in sorted({run.n_eval for run in runs.values()}))
    return (
        f"{len(runs)} runs (seeds {', '.join(map(str, seeds))}); ε grid 10^{low:g} … 10^{high:g} ({len(levels)} "
        f"levels); {samples} random direction(s) per run; {n_eval} test examples per perturbed copy. ε₅: where test "
        f"accuracy first falls {100 * frag.DROP:g} points below the unperturbed accuracy, interpolated in log10 ε; "
        "numbers are log10, mean ± sd [95 % CI] over runs (n)."
    )


def _by_regime(cells: Mapping[str, Sequence[frag.RunFragility]], text: Any) -> str:
    """Each regime's text side by side; one regime's without its name (the line names it)."""
    if len(cells) == 1:
        return text(next(iter(cells.values())))
    return "; ".join(f"{regime} {text(runs)}" for regime, runs in cells.items() if runs)


def _cells_text(cells: Mapping[str, Sequence[frag.RunFragility]], families: Sequence[str]) -> str:
    """log10 ε₅ per family and the prediction, each regime's runs side by side."""
    parts = [
        f"log10 ε₅ {frag.FAMILY_LABELS.get(f, f)}: {_by_regime(cells, lambda runs, f=f: frag.family_text(runs, f))}"
        for f in families
    ]
    parts.append(f"predicted log10 ε: {_by_regime(cells, lambda runs: frag.value_text(r.predicted for r in runs))}")
    return "; ".join(parts)


def _comparisons_text(runs: Mapping[RunKey, frag.RunFragility], task: str, regimes: Sequence[str] | None) -> str:
    comparisons = [c for c in frag.compare_regimes(runs, regimes=regimes) if c.task == task]
    if comparisons:
        return " ".join(c.sentence() for c in comparisons)
    present = {key[2] for key in runs if key[0] == task}
    if frag.REFERENCE not in present:
        return f"{task}: no {frag.REFERENCE} runs, so no regime is compared with {frag.REFERENCE}."
    return f"{task}: only {frag.REFERENCE} runs, so no regime is compared with {frag.REFERENCE}."


def _families(runs: Mapping[RunKey, frag.RunFragility]) -> list[str]:
    return [f for f in frag.FAMILIES if any(f in r.eps5 for r in runs.values())]


def _correlation_text(runs: Mapping[RunKey, frag.RunFragility], family: str) -> str:
    corr = frag.prediction_correlation(runs, family)
    text = f"{frag.FAMILY_LABELS.get(family, family)}: Spearman {frag.rho_text(corr.all)}"
    if corr.censored:
        text += (
            f" ({corr.censored} with a censored ε₅, ranked as ties beyond the grid's end; uncensored runs only: "
            f"{frag.rho_text(corr.measured)})"
        )
    if corr.unpredicted:
        text += f"; {corr.unpredicted} run{'s' * (corr.unpredicted != 1)} without a stable block left out"
    return text


def perturbation_table_caption(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, frag.RunFragility],
    *,
    regimes: Sequence[str] | None = None,
) -> str:
    """Table 4: the runs and grid, then per task the log10 ε₅ of each family and the prediction per regime (models
    and seeds pooled), the paired comparison of each regime with the reference (:func:`rnnrobust.robustness.perturbation.eps5.
    compare_regimes`, its verdict computed), and Spearman's ρ of prediction against measurement over all runs."""
    runs = frag.as_fragility(perturbation)
    families = _families(runs)
    keys = frag.ordered_keys(runs, regimes)
    lines = [_grid_text(runs), ""]
    for task in dict.fromkeys(k[0] for k in keys):
        cells: dict[str, list[frag.RunFragility]] = {}
        for key in keys:
            if key[0] == task:
                cells.setdefault(key[2], []).append(runs[key])
        lines.append(f"- {task} (models and seeds pooled): {_cells_text(cells, families)}.")
        lines.append(f"  {_comparisons_text(runs, task, regimes)}")
    lines += ["", "Predicted against measured over all runs: " + "; ".join(_correlation_text(runs, f) for f in
              families) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def perturbation_figure_caption(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, frag.RunFragility],
    *,
    task: str,
    regimes: Sequence[str] | None = None,
) -> str:
    """Figure 7 of one task: per model and regime its seeds, unperturbed accuracy, log10 ε₅ of each family and the
    prediction; the task's paired comparisons with their verdicts; what the lines and bands are."""
    runs = {k: v for k, v in frag.as_fragility(perturbation).items() if k[0] == task}
    if not runs:
        return f"No perturbation runs of {task}.\n"
    families = _families(runs)
    keys = frag.ordered_keys(runs, regimes)
    cells: dict[tuple[str, str], list[frag.RunFragility]] = {}
    for key in keys:
        cells.setdefault((key[1], key[2]), []).append(runs[key])
    lines = [_grid_text(runs), ""]
    for (model, regime), cell in cells.items():
        seeds = ", ".join(str(r.run[3]) for r in cell)
        accuracy = frag.value_text((100.0 * r.reference_accuracy for r in cell), " %")
        lines.append(
            f"- {model.upper()}, {regime} (seed{'s' * (len(cell) > 1)} {seeds}): unperturbed accuracy {accuracy}; "
            f"{_cells_text({regime: cell}, families)}."
        )
    lines += ["", _comparisons_text(runs, task, regimes), ""]
    lines.append(
        "Lines: the mean over seeds of the accuracy change (a run's random curve is first the mean over its "
        "samples); bands: minimum to maximum over seeds; vertical dotted lines: 10^(mean over seeds of log10 "
        f"d/‖W‖₂) per regime; horizontal line: the {100 * frag.DROP:g}-point drop."
    )
    return "\n".join(lines) + "\n"


def prediction_figure_caption(
    perturbation: Mapping[RunKey, PathLike] | Mapping[RunKey, frag.RunFragility],
    *,
    regimes: Sequence[str] | None = None,
) -> str:
    """Figure 8: Spearman's ρ per family (censored handling and runs left out counted), and per regime the
    measured − predicted log10 ε over its uncensored runs."""
    runs = frag.as_fragility(perturbation)
    families = _families(runs)
    keys = frag.ordered_keys(runs, regimes)
    lines = [_grid_text(runs), ""]
    lines += [f"- {_correlation_text(runs, f)}." for f in families]
    order = list(dict.fromkeys(k[2] for k in keys))
    for family in families:
        gaps = []
        for regime in order:
            values = [
                runs[k].eps5[family].log10 - runs[k].predicted
                for k in keys
                if k[2] == regime
                and family in runs[k].eps5
                and not runs[k].eps5[family].censored
                and math.isfinite(runs[k].predicted)
            ]
            gaps.append(f"{regime} {frag.value_text(values)}")
        lines.append(
            f"- log10 ε₅ − predicted log10 ε, {frag.FAMILY_LABELS.get(family, family)}, uncensored runs: "
            + "; ".join(gaps)
            + "."
        )
    lines += ["", "Filled markers: measured ε₅; open markers: censored ε₅ drawn at the grid's end; dotted: ε₅ = ε."]
    return "\n".join(lines) + "\n"
