"""The paper's tables from the per-run files of the workflow, with the published numbers beside ours.

Inputs are mappings ``RunKey -> path`` with ``RunKey = (task, model, regime, seed)``:

- :func:`table1_accuracy` reads ``results/models/{task}/{model}/{regime}/seed{seed}/metrics.json``;
- :func:`table2_henrici` and :func:`table3_robustness` read ``results/analysis/{task}/{model}/{regime}/seed{seed}.json``
  (``{"<layer>/<gate>": summary}`` as written by ``rnnrobust.analysis.analyze_blocks``).

Each returns a :class:`pandas.DataFrame` whose numeric columns stay machine readable: every aggregate is a
``<name>_mean`` / ``<name>_std`` pair (mean and *sample* standard deviation, ddof = 1, over seeds; the std is
NaN for a single seed) and ``<regime>_n`` counts the seeds. Infinite values (a Kreiss bound of a matrix with
ρ > 1, the eigenvector condition of a defective matrix) propagate: the mean is then ∞ and the std NaN.
Per-seed values are ``{seed: value}`` dicts. :func:`write_table` writes the frame as CSV (numbers) and as
GitHub markdown and LaTeX/booktabs (``"mean ± std"`` strings, see :func:`display_frame`).

Display metadata travels in ``DataFrame.attrs``: ``"headers"`` maps a column (or a ``_mean``/``_std`` prefix)
to its printed header and ``"hidden"`` lists columns kept in the CSV but left out of the .md and .tex.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .io import read_json, write_text

RunKey = tuple[str, str, str, int]
PathLike = str | os.PathLike[str]

TASKS = ("adding", "imdb", "mnist")
MODELS = ("rnn", "lstm", "gru")
REGIMES = ("baseline", "stabilized")
LAYERS = ("rnn", "encoder", "decoder")
# Gate order of the recurrent kernel, as rnnrobust.models.GATES (not imported here: that module imports torch).
GATE_ORDER = {"rnn": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}
STATUSES = ("converged", "not_converged", "diverged")

__all__ = [
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "TABLE3_QUANTITIES",
    "PaperCell",
    "RunKey",
    "display_frame",
    "latex_escape",
    "paper_blocks",
    "paper_henrici",
    "status_cell",
    "table1_accuracy",
    "table2_henrici",
    "table3_robustness",
    "to_latex",
    "to_markdown",
    "write_table",
]


# --------------------------------------------------------------------------------------------------
# The paper's numbers (protocol §4).


@dataclass(frozen=True)
class PaperCell:
    """One cell of a table of the paper: ``display`` as printed, ``values`` as numbers (None = lost), ``note``."""

    display: str
    values: tuple[float | None, ...] = ()
    note: str = ""


PAPER_TABLE1: dict[tuple[str, str], PaperCell] = {
    ("adding", "rnn"): PaperCell("99.73%", (99.73,)),
    ("adding", "lstm"): PaperCell("99.87%", (99.87,)),
    ("adding", "gru"): PaperCell("99.94%", (99.94,)),
    ("imdb", "rnn"): PaperCell("83.29%", (83.29,)),
    ("imdb", "lstm"): PaperCell("83.81%", (83.81,)),
    ("imdb", "gru"): PaperCell("85.96%", (85.96,)),
    ("mnist", "rnn"): PaperCell("26.11%", (26.11,)),
    ("mnist", "lstm"): PaperCell("non-convergence (3 seeds)", (), "3 random initialisations, none converged"),
    ("mnist", "gru"): PaperCell("19.37–22.47%", (19.37, 22.47), "range over random initialisations"),
}
"""Table 1 of the paper: test accuracy in % per (task, model). Adding = per-character accuracy (protocol §1.1)."""


def paper_blocks(task: str, model: str) -> tuple[str, ...]:
    """The matrices (block keys ``<layer>/<gate>``) of a (task, model), in the order the paper's Table 2 lists
    its values: the adding task has an encoder and a decoder layer, the others one layer ``rnn``."""
    layers = ("encoder", "decoder") if task == "adding" else ("rnn",)
    return tuple(f"{layer}/{gate}" for layer in layers for gate in GATE_ORDER[model])


_GATE_NOTE = "gate order {} assumed (Keras column order) [I]"
PAPER_TABLE2: dict[tuple[str, str], PaperCell] = {
    ("adding", "rnn"): PaperCell("1.6, 2.3", (1.6, 2.3), "encoder, decoder assignment inferred [I]"),
    ("adding", "lstm"): PaperCell("not reported", (None,) * 8, "cell lost from the paper's text"),
    ("adding", "gru"): PaperCell("not reported", (None,) * 6, "cell lost from the paper's text"),
    ("imdb", "rnn"): PaperCell("0.2", (0.2,)),
    ("imdb", "lstm"): PaperCell("2.6, 3.8, 1.2, 2.4", (2.6, 3.8, 1.2, 2.4), _GATE_NOTE.format("i, f, c, o")),
    ("imdb", "gru"): PaperCell("0.9, 1.8, 0.8", (0.9, 1.8, 0.8), _GATE_NOTE.format("z, r, h")),
    ("mnist", "rnn"): PaperCell("1.8", (1.8,)),
    ("mnist", "lstm"): PaperCell("non-convergence", (None,) * 4, "not analysed in the paper"),
    ("mnist", "gru"): PaperCell("4.7, 5.9, 6", (4.7, 5.9, 6.0), _GATE_NOTE.format("z, r, h")),
}
"""Table 2 of the paper: absolute Henrici departure from normality per (task, model), one value per matrix in
the order of :func:`paper_blocks` (None where the paper lost or did not report the value).

The adding row printed only "1.6,2.3"; assigning it to the RNN's encoder and decoder is our inference
(two matrices of a "2 layer RNN", protocol §4); the LSTM and GRU cells of that row are lost. The gate order of
the LSTM/GRU values is assumed to be Keras' column order."""


def paper_henrici(task: str, model: str, block: str) -> tuple[float | None, str, str]:
    """(value, display string, note) of the paper's Henrici value for one matrix; ``None`` and
    ``"not reported"`` (or ``"non-convergence"``) where the paper has no number for it."""
    cell = PAPER_TABLE2.get((task, model))
    if cell is None:
        return None, "not reported", ""
    blocks = paper_blocks(task, model)
    value = cell.values[blocks.index(block)] if block in blocks else None
    if value is None:
        return None, cell.display if cell.display == "non-convergence" else "not reported", cell.note
    return value, f"{value:g}", cell.note


# --------------------------------------------------------------------------------------------------
# Helpers.


def _rank(value: str, canonical: Sequence[str]) -> tuple[int, str]:
    return (canonical.index(value) if value in canonical else len(canonical), value)


def _block_rank(model: str, block: str) -> tuple:
    layer, _, gate = block.partition("/")
    return (_rank(layer, LAYERS), _rank(gate, GATE_ORDER.get(model, ())))


def _mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean and sample std (ddof = 1; NaN for fewer than 2 values) and the count. ∞ propagates to the mean."""
    arr = np.asarray(list(values), dtype=float)
    n = int(arr.size)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(arr.mean()) if n else math.nan
        std = float(arr.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def _load_runs(paths: Mapping[RunKey, PathLike], kind: str) -> dict[RunKey, Any]:
    runs = {}
    for key, path in paths.items():
        if len(key) != 4:
            raise ValueError(f"run keys are (task, model, regime, seed), got {key!r}")
        task, model, regime, seed = key
        data = read_json(path)
        if kind == "metrics":
            recorded = (data.get("task"), data.get("model"), data.get("seed"))
            if recorded != (task, model, seed):
                raise ValueError(f"{path}: metrics of {recorded}, but the run key is {key!r}")
            hp_regime = (data.get("hyperparameters") or {}).get("regime")
            if hp_regime is not None and hp_regime != regime:
                raise ValueError(f"{path}: hyperparameters say regime {hp_regime!r}, but the run key is {key!r}")
        runs[(task, model, regime, int(seed))] = data
    return runs


def _group(runs: Mapping[RunKey, Any]) -> dict[tuple[str, str], dict[str, list[tuple[int, Any]]]]:
    """(task, model) -> regime -> [(seed, data)] sorted by seed, both levels in canonical order."""
    groups: dict[tuple[str, str], dict[str, list[tuple[int, Any]]]] = {}
    for (task, model, regime, seed), data in runs.items():
        groups.setdefault((task, model), {}).setdefault(regime, []).append((seed, data))
    ordered = {}
    for tm in sorted(groups, key=lambda tm: (_rank(tm[0], TASKS), _rank(tm[1], MODELS))):
        ordered[tm] = {r: sorted(groups[tm][r], key=lambda s: s[0]) for r in sorted(groups[tm], key=_regime_rank)}
    return ordered


def _regime_rank(regime: str) -> tuple[int, str]:
    return _rank(regime, REGIMES)


def _regimes(runs: Mapping[RunKey, Any]) -> list[str]:
    return sorted({key[2] for key in runs}, key=_regime_rank)


def status_cell(statuses: Sequence[str]) -> str:
    """Status of a cell of seeds: ``"converged"`` when every seed converged, ``"non-convergence (…)"`` when
    none did (not converged or diverged, with counts), else counts such as ``"1/3 not converged"``."""
    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown run status {sorted(unknown)}; expected one of {STATUSES}")
    n = len(statuses)
    if n == 0:
        return ""
    counts = [(statuses.count(s), s.replace("_", " ")) for s in ("not_converged", "diverged")]
    parts = ", ".join(f"{c}/{n} {label}" for c, label in counts if c)
    failed = sum(c for c, _ in counts)
    if failed == 0:
        return "converged"
    if failed == n:
        return f"non-convergence ({parts})"
    return parts


def _statuses(metrics: Mapping[RunKey, PathLike] | None) -> dict[RunKey, str]:
    if metrics is None:
        return {}
    return {key: data["status"] for key, data in _load_runs(metrics, "metrics").items()}


def _pct(x: float | None) -> float:
    return math.nan if x is None else 100.0 * float(x)


def _frame(rows: list[dict], columns: list[str], headers: dict[str, str], hidden: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["headers"] = dict(headers)
    df.attrs["hidden"] = list(hidden)
    return df


# --------------------------------------------------------------------------------------------------
# Table 1: accuracy.


def table1_accuracy(metrics: Mapping[RunKey, PathLike]) -> pd.DataFrame:
    """Test accuracy per task × model (rows), with per-regime columns, in %:

    - ``<regime>_n``: number of seeds; ``<regime>_accuracy_mean`` / ``_std`` over seeds (every seed counts,
      converged or not); ``<regime>_accuracy_per_seed``: ``{seed: accuracy}``;
    - ``<regime>_exact_match_mean`` / ``_std``: whole-answer exact match (adding task; NaN elsewhere);
    - ``<regime>_before_rescale_accuracy_mean`` / ``_std``: accuracy before the final rescale, present when
      any run of the regime records ``test_before_final_rescale`` (stabilized runs);
    - ``<regime>_status``: :func:`status_cell` over the seeds;
    - ``chance_accuracy``: mean chance (majority-class) accuracy of the row's runs;
    - ``paper_accuracy`` (as printed), ``paper_accuracy_low`` / ``_high`` (numbers; equal unless the paper gave a
      range; NaN for non-convergence) and ``paper_note``.
    """
    runs = _load_runs(metrics, "metrics")
    regimes = _regimes(runs)
    groups = _group(runs)
    has_exact = {r for (_, _, r, _), m in runs.items() if "exact_match" in m["test"]}
    has_before = {r for (_, _, r, _), m in runs.items() if "test_before_final_rescale" in m}

    columns, headers = ["task", "model"], {}
    for r in regimes:
        columns += [f"{r}_n", f"{r}_accuracy_mean", f"{r}_accuracy_std", f"{r}_accuracy_per_seed"]
        headers |= {f"{r}_n": f"{r} n", f"{r}_accuracy": f"{r} accuracy (%)"}
        headers[f"{r}_accuracy_per_seed"] = f"{r} per seed (%)"
        if r in has_exact:
            columns += [f"{r}_exact_match_mean", f"{r}_exact_match_std"]
            headers[f"{r}_exact_match"] = f"{r} exact match (%)"
        if r in has_before:
            columns += [f"{r}_before_rescale_accuracy_mean", f"{r}_before_rescale_accuracy_std"]
            headers[f"{r}_before_rescale_accuracy"] = f"{r} before final rescale (%)"
        columns.append(f"{r}_status")
        headers[f"{r}_status"] = f"{r} status"
    columns += ["chance_accuracy", "paper_accuracy", "paper_accuracy_low", "paper_accuracy_high", "paper_note"]
    headers |= {"chance_accuracy": "chance (%)", "paper_accuracy": "paper", "paper_note": "paper note"}

    rows = []
    for (task, model), by_regime in groups.items():
        row: dict[str, Any] = {"task": task, "model": model}
        chance = []
        for r in regimes:
            seeds = by_regime.get(r, [])
            acc = {seed: _pct(m["test"]["accuracy"]) for seed, m in seeds}
            row[f"{r}_accuracy_mean"], row[f"{r}_accuracy_std"], row[f"{r}_n"] = _mean_std(acc.values())
            row[f"{r}_accuracy_per_seed"] = acc
            if r in has_exact:
                exact = [_pct(m["test"].get("exact_match")) for _, m in seeds]
                row[f"{r}_exact_match_mean"], row[f"{r}_exact_match_std"], _ = _mean_std(exact)
            if r in has_before:
                before = [_pct((m.get("test_before_final_rescale") or {}).get("accuracy")) for _, m in seeds]
                row[f"{r}_before_rescale_accuracy_mean"], row[f"{r}_before_rescale_accuracy_std"], _ = _mean_std(before)
            row[f"{r}_status"] = status_cell([m["status"] for _, m in seeds])
            chance += [_pct(m.get("chance_accuracy")) for _, m in seeds]
        row["chance_accuracy"] = _mean_std(chance)[0]
        paper = PAPER_TABLE1.get((task, model), PaperCell("not reported"))
        numbers = [v for v in paper.values if v is not None]
        row["paper_accuracy"] = paper.display
        row["paper_accuracy_low"] = min(numbers, default=math.nan)
        row["paper_accuracy_high"] = max(numbers, default=math.nan)
        row["paper_note"] = paper.note
        rows.append(row)
    return _frame(rows, columns, headers, hidden=["paper_accuracy_low", "paper_accuracy_high"])


# --------------------------------------------------------------------------------------------------
# Table 2: Henrici departure from normality.


def table2_henrici(
    analysis: Mapping[RunKey, PathLike], *, metrics: Mapping[RunKey, PathLike] | None = None
) -> pd.DataFrame:
    """Henrici departure from normality per task × model × matrix (rows; ``matrix`` = block ``<layer>/<gate>``):

    - ``<regime>_n``; ``<regime>_henrici_mean`` / ``_std`` (absolute, ‖N‖_F of the Schur form; the paper's
      number) and ``<regime>_henrici_relative_mean`` / ``_std`` (‖N‖_F / ‖W‖_F) over seeds;
    - ``<regime>_status`` (:func:`status_cell`) when ``metrics`` is given;
    - ``paper_henrici`` (display: the value, ``"not reported"`` where the paper lost it, ``"non-convergence"``
      for MNIST LSTM), ``paper_henrici_value`` (number or NaN) and ``paper_note`` (see :data:`PAPER_TABLE2`).
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    regimes = _regimes(runs)
    groups = _group(runs)

    columns, headers = ["task", "model", "matrix"], {}
    for r in regimes:
        columns += [f"{r}_n", f"{r}_henrici_mean", f"{r}_henrici_std"]
        headers |= {f"{r}_n": f"{r} n", f"{r}_henrici": f"{r} Henrici"}
    for r in regimes:
        columns += [f"{r}_henrici_relative_mean", f"{r}_henrici_relative_std"]
        headers[f"{r}_henrici_relative"] = f"{r} Henrici / ‖W‖_F"
    if statuses:
        columns += [f"{r}_status" for r in regimes]
        headers |= {f"{r}_status": f"{r} status" for r in regimes}
    columns += ["paper_henrici", "paper_henrici_value", "paper_note"]
    headers |= {"paper_henrici": "paper Henrici", "paper_note": "paper note"}

    rows = []
    for (task, model), by_regime in groups.items():
        blocks = {b for seeds in by_regime.values() for _, data in seeds for b in data}
        for block in sorted(blocks, key=lambda b: _block_rank(model, b)):
            row: dict[str, Any] = {"task": task, "model": model, "matrix": block}
            for r in regimes:
                present = [(seed, data[block]) for seed, data in by_regime.get(r, []) if block in data]
                for q in ("henrici", "henrici_relative"):
                    row[f"{r}_{q}_mean"], row[f"{r}_{q}_std"], row[f"{r}_n"] = _mean_std(s[q] for _, s in present)
                if statuses:
                    row[f"{r}_status"] = status_cell([statuses[(task, model, r, seed)] for seed, _ in present])
            value, display, note = paper_henrici(task, model, block)
            row["paper_henrici"] = display
            row["paper_henrici_value"] = math.nan if value is None else value
            row["paper_note"] = note
            rows.append(row)
    return _frame(rows, columns, headers, hidden=["paper_henrici_value"])


# --------------------------------------------------------------------------------------------------
# Table 3: robustness scalars.

TABLE3_QUANTITIES: tuple[tuple[str, str, str], ...] = (
    ("spectral_radius", "max", "spectral radius ρ"),
    ("spectral_norm", "max", "spectral norm ‖W‖₂"),
    ("pseudospectral_radius", "max", "ρ_ε"),
    ("kreiss_lower_bound", "max", "Kreiss bound"),
    ("transient_peak", "max", "transient peak max_k ‖W^k‖"),
    ("distance_to_instability", "min", "distance to instability"),
)
"""(summary key, aggregation over a run's blocks, header) of the columns of :func:`table3_robustness`."""


def _eps_value(levels: Mapping[str, float], eps: float, where: str) -> float:
    if repr(float(eps)) in levels:
        return float(levels[repr(float(eps))])
    for key, value in levels.items():
        if math.isclose(float(key), eps, rel_tol=1e-9):
            return float(value)
    raise KeyError(f"{where}: no pseudospectral radius for eps = {eps!r}; levels there: {sorted(levels, key=float)}")


def table3_robustness(
    analysis: Mapping[RunKey, PathLike], eps: float, *, metrics: Mapping[RunKey, PathLike] | None = None
) -> pd.DataFrame:
    """Robustness scalars per task × model × regime (rows).

    Aggregation: each run is reduced to one number per quantity over its matrices (gate blocks, both layers
    of the adding task) — the **maximum** over blocks for the spectral radius, spectral norm, ε-pseudospectral
    radius ρ_ε at ``eps``, Kreiss lower bound and transient peak max_k ‖W^k‖ (the least robust block), the
    **minimum** over blocks for the distance to instability (the block closest to instability). Columns
    ``<key>_mean`` / ``<key>_std`` are then over seeds (see :data:`TABLE3_QUANTITIES`), with ``n`` seeds,
    ``n_blocks`` matrices per run, ``eps``, and ``status`` (:func:`status_cell`) when ``metrics`` is given.
    """
    runs = _load_runs(analysis, "analysis")
    statuses = _statuses(metrics)
    groups = _group(runs)
    eps = float(eps)

    columns = ["task", "model", "regime", "n", "n_blocks", "eps"]
    headers = {"n_blocks": "matrices"}
    for key, agg, label in TABLE3_QUANTITIES:
        columns += [f"{key}_mean", f"{key}_std"]
        headers[key] = f"{label} ({agg})" if key != "pseudospectral_radius" else f"ρ_ε, ε = {eps:g} ({agg})"
    if statuses:
        columns.append("status")

    rows = []
    for (task, model), by_regime in groups.items():
        for regime, seeds in by_regime.items():
            per_run: dict[str, list[float]] = {key: [] for key, _, _ in TABLE3_QUANTITIES}
            for seed, data in seeds:
                if not data:
                    raise ValueError(f"analysis of {(task, model, regime, seed)} has no matrices")
                for key, agg, _ in TABLE3_QUANTITIES:
                    if key == "pseudospectral_radius":
                        where = f"{(task, model, regime, seed)}"
                        values = [_eps_value(s[key], eps, f"{where} {b}") for b, s in data.items()]
                    else:
                        values = [float(s[key]) for s in data.values()]
                    per_run[key].append(max(values) if agg == "max" else min(values))
            row: dict[str, Any] = {"task": task, "model": model, "regime": regime, "eps": eps}
            row["n"] = len(seeds)
            row["n_blocks"] = max(len(data) for _, data in seeds)
            for key, _, _ in TABLE3_QUANTITIES:
                row[f"{key}_mean"], row[f"{key}_std"], _ = _mean_std(per_run[key])
            if statuses:
                row["status"] = status_cell([statuses[(task, model, regime, seed)] for seed, _ in seeds])
            rows.append(row)
    return _frame(rows, columns, headers, hidden=["eps"])


# --------------------------------------------------------------------------------------------------
# Output.


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        x = float(x)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return f"{x:.4g}"
    if isinstance(x, Mapping):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ", ".join(_fmt(v) for v in x)
    return str(x)


def _mean_pm_std(mean: Any, std: Any) -> str:
    text = _fmt(mean)
    if text and isinstance(std, float | np.floating) and not math.isnan(std):
        text += f" ± {_fmt(std)}"
    return text


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def display_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, list[bool]]:
    """The printed form of a table: every ``X_mean`` / ``X_std`` pair becomes one column ``X`` of
    ``"mean ± std"`` strings (just the mean where the std is NaN), numbers get 4 significant digits, dicts
    ``"k: v; …"``, NaN an empty cell; hidden columns (``df.attrs["hidden"]``) are dropped and headers come
    from ``df.attrs["headers"]`` (else the column name with spaces for underscores).
    Returns the string frame and, per column, whether it is numeric (right-aligned in LaTeX)."""
    headers = df.attrs.get("headers", {})
    hidden = set(df.attrs.get("hidden", ()))
    out, numeric = {}, []
    for col in df.columns:
        if col in hidden:
            continue
        name = str(col)
        if name.endswith("_std") and f"{name[:-4]}_mean" in df.columns:
            continue
        if name.endswith("_mean") and f"{name[:-5]}_std" in df.columns:
            prefix = name[:-5]
            values = [_mean_pm_std(m, s) for m, s in zip(df[col], df[f"{prefix}_std"], strict=True)]
            key, is_num = prefix, True
        else:
            values = [_fmt(v) for v in df[col]]
            key, is_num = name, _numeric(df[col])
        header = headers.get(key, key.replace("_", " "))
        if header in out:
            raise ValueError(f"two columns of the table print as {header!r}")
        out[header] = values
        numeric.append(is_num)
    return pd.DataFrame(out, dtype=object), numeric


def _csv_cell(x: Any) -> Any:
    if isinstance(x, Mapping):
        return ";".join(f"{k}:{float(v)!r}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ";".join(repr(v) for v in x)
    return x


def to_markdown(df: pd.DataFrame, caption: str = "") -> str:
    """GitHub markdown: the caption as a bold paragraph, then a pipe table of :func:`display_frame`."""
    shown, numeric = display_frame(df)

    def cell(text: Any) -> str:
        return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"**{cell(caption)}**", ""] if caption else []
    lines.append("| " + " | ".join(cell(h) for h in shown.columns) + " |")
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_LATEX_TEXT = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "–": "--",
    "—": "---",
}
_LATEX_MATH = {
    "±": r"\pm",
    "−": "-",
    "∞": r"\infty",
    "ε": r"\varepsilon",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "κ": r"\kappa",
    "‖": r"\|",
    "₂": "_2",
    "≤": r"\leq",
    "≥": r"\geq",
    "×": r"\times",
}


def latex_escape(text: Any) -> str:
    """Escape LaTeX specials (``\\ & % $ # _ { } ~ ^ < >``) and write the unicode symbols the tables use as
    inline maths (adjacent symbols share one ``$…$``)."""
    out: list[str] = []
    maths: list[str] = []
    for ch in str(text):
        if ch in _LATEX_MATH:
            maths.append(_LATEX_MATH[ch])
            continue
        if maths:
            out.append("$" + " ".join(maths) + "$")
            maths = []
        out.append(_LATEX_TEXT.get(ch, ch))
    if maths:
        out.append("$" + " ".join(maths) + "$")
    return "".join(out)


def to_latex(df: pd.DataFrame, caption: str = "", label: str | None = None) -> str:
    """A booktabs table (``\\toprule``/``\\midrule``/``\\bottomrule``; needs ``\\usepackage{booktabs}``)."""
    shown, numeric = display_frame(df)
    spec = "".join("r" if num else "l" for num in numeric)
    lines = [
        "% Generated by rnnrobust.tables.write_table; needs \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
    ]
    if caption:
        lines.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines.append(" & ".join(latex_escape(h) for h in shown.columns) + " \\\\")
    lines.append("\\midrule")
    lines += [" & ".join(latex_escape(v) for v in row) + " \\\\" for row in shown.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: PathLike, caption: str, *, label: str | None = None) -> list[Path]:
    """Write ``stem.csv`` (every column, full precision; dict cells as ``seed:value;…``), ``stem.md``
    (:func:`to_markdown`) and ``stem.tex`` (:func:`to_latex`, label ``tab:<name of stem>`` by default), each
    atomically. Returns the three paths."""
    stem = Path(stem)
    paths = [stem.parent / f"{stem.name}.{ext}" for ext in ("csv", "md", "tex")]
    csv = df.copy()
    for col in csv.columns:
        if csv[col].dtype == object:
            csv[col] = csv[col].map(_csv_cell)
    write_text(paths[0], csv.to_csv(index=False, lineterminator="\n"))
    write_text(paths[1], to_markdown(df, caption))
    write_text(paths[2], to_latex(df, caption, label if label is not None else f"tab:{stem.name}"))
    return paths
