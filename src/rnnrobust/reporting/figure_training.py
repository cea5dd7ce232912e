"""Training curves (``figure_training`` rule): test metrics against epoch for every model and regime of one task,
and their report caption.

Seeds: a curve of several seeds is their mean with a band from their minimum to their maximum, and its values after
the final rescale are drawn per seed as well as their mean. For rescaled runs the curves show the accuracy logged
before each rescale and a star for the value after the final rescale (Table 1's number). Epochs are integer ticks and
a positive loss is drawn on a log axis with plain labels. Conventions and helpers:
:mod:`rnnrobust.reporting.figure_style`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from rnnrobust.io import PathLike, read_json
from rnnrobust.layout import CELLS
from rnnrobust.reporting.figure_style import (
    PANEL_PREFIX,
    legend_below,
    model_colours,
    panel_grid,
    plain_log_axis,
    regime_styles,
    save_figure,
)
from rnnrobust.runs import rank, regime_order
from rnnrobust.stats import summarize

__all__ = ["build_training_curves_figure", "plot_training_curves", "training_caption", "training_description"]

Files = PathLike | Sequence[PathLike]
Key = tuple[str, str]

# Markers on at most about this many epochs per curve: a one-epoch history shows, a 200-epoch one stays legible.
_CURVE_MARKS = 25
_CHANCE_STYLE = dict(color="0.45", linestyle=":", linewidth=1.0, zorder=1, label="chance (majority class)")
_BAND_STYLE = dict(color="0.5", alpha=0.2, linewidth=0, label="band: min–max over seeds")


def _seed_files(paths: Files) -> list[PathLike]:
    """One file, or one per seed, as a list."""
    return [paths] if isinstance(paths, str | os.PathLike) else list(paths)


def _history(paths: Files, column: str) -> pd.DataFrame:
    """epoch -> one column per seed file (NaN where a run has no such epoch, e.g. after divergence)."""
    series = {}
    for i, path in enumerate(_seed_files(paths)):
        df = pd.read_csv(path)
        if column not in df.columns:
            raise KeyError(f"{path} has no column {column!r}; it has {list(df.columns)}")
        series[i] = df.set_index("epoch")[column].astype(float)
    return pd.DataFrame(series).sort_index()


def _has_rescale_columns(paths: Files) -> bool:
    """Whether a history logs an epoch-end rescale (``radius_after/<block>`` columns,
    ``rnnrobust.training.stabilize``)."""
    return any(c.startswith("radius_after/") for path in _seed_files(paths) for c in pd.read_csv(path, nrows=0).columns)


def _metrics_files(paths: Files, model: str) -> list[dict[str, Any]]:
    """The metrics of each seed; a file of another model is refused (it would label the curve wrongly)."""
    out = []
    for path in _seed_files(paths):
        data = read_json(path)
        if data.get("model") not in (None, model):
            raise ValueError(f"{path} holds metrics of model {data.get('model')!r}, not {model!r}")
        out.append(data)
    return out


def _diverged_note(metrics: Sequence[Mapping[str, Any]]) -> str:
    """``" (diverged)"`` when every seed's metrics say diverged, ``" (k/n diverged)"`` when some do."""
    statuses = [m["status"] for m in metrics]
    diverged = statuses.count("diverged")
    if diverged == 0:
        return ""
    return " (diverged)" if diverged == len(statuses) else f" ({diverged}/{len(statuses)} diverged)"


def _after_final_rescale(metrics: Sequence[Mapping[str, Any]], column: str) -> list[float]:
    """Per seed ``metrics["test"][<column without "test_">]``, the value after the final rescale (NaN if absent)."""
    name = column.removeprefix("test_")
    return [float((m.get("test") or {}).get(name, math.nan)) for m in metrics]


def _curve_label(column: str) -> str:
    label = column.removeprefix("test_").replace("_", " ")
    return f"test {label} (%)" if _is_percent(column) else f"test {label}"


def _is_percent(column: str) -> bool:
    return "accuracy" in column or "exact_match" in column


@dataclass
class _Curves:
    """The curves of one figure: their keys (model, regime) in drawing order, files, metrics and styles."""

    histories: Mapping[Key, Files]
    keys: list[Key]
    styles: dict[str, Any]
    colours: dict[str, str]
    metrics: dict[Key, list[dict[str, Any]]]
    rescaled: dict[Key, bool]
    banded: bool = False

    @classmethod
    def of(cls, histories: Mapping[Key, Files], metrics: Mapping[Key, Files] | None, regimes: Sequence[str] | None):
        # every regime of the config's order, present or not, so that a regime keeps its style in every figure
        order = regime_order([(None, model, regime, None) for model, regime in histories], regimes)
        styles = regime_styles(order)
        keys = sorted(histories, key=lambda k: (rank(k[0], CELLS), order.index(k[1])))
        missing = [k for k in keys if metrics is not None and k not in metrics]
        if missing:
            raise KeyError(f"no metrics for {missing}; metrics are given for {sorted(metrics or {})}")
        run_metrics = {k: _metrics_files(metrics[k], k[0]) if metrics is not None else [] for k in keys}
        rescaled = {
            k: any("test_before_final_rescale" in m for m in run_metrics[k]) or _has_rescale_columns(histories[k])
            for k in keys
        }
        colours = model_colours(k[0] for k in keys)
        return cls(histories, keys, styles, colours, run_metrics, rescaled)

    def draw(self, ax: Axes, key: Key, column: str) -> list[float]:
        """One curve: the mean over seeds, their band, and the values after the final rescale; the values drawn."""
        model, regime = key
        scale = 100.0 if _is_percent(column) else 1.0
        data = scale * _history(self.histories[key], column)
        mean = data.mean(axis=1)
        n = data.shape[1]
        label = f"{model.upper()} {regime}" + (f" (n={n})" if n > 1 else "") + _diverged_note(self.metrics[key])
        ax.plot(mean.index, mean.to_numpy(), color=self.colours[model], linestyle=self.styles[regime], marker="o",
                markersize=3, markevery=max(1, len(mean) // _CURVE_MARKS),
                label=label + (", before rescale" if self.rescaled[key] else ""), gid=model)  # fmt: skip
        shown: list[float] = []
        if n > 1:
            low, high = data.min(axis=1), data.max(axis=1)
            ax.fill_between(mean.index, low, high, **(_BAND_STYLE | {"color": self.colours[model], "label": None}))
            shown += list(low.to_numpy()) + list(high.to_numpy())
            self.banded = True
        shown += list(mean.to_numpy())
        if self.rescaled[key] and len(mean):
            after = [scale * v for v in _after_final_rescale(self.metrics[key], column)]
            shown += self._draw_after_rescale(ax, key, data, mean, after)
        return shown

    def _draw_after_rescale(self, ax: Axes, key: Key, data: pd.DataFrame, mean: pd.Series, after: list[float]):
        """The values after the final rescale: a star at the last epoch for their mean, and with several seeds a
        dot per seed at the epoch it ended; the finite values drawn."""
        model, regime = key
        colour = self.colours[model]
        finite = [v for v in after if math.isfinite(v)]
        if not finite:
            return []
        if len(after) > 1:  # every seed's value, at the epoch it ended
            ends = [data[i].last_valid_index() for i in data.columns]
            xs = [x if x is not None else mean.index[-1] for x in ends]
            ax.plot(xs, after, linestyle="None", marker="o", markersize=3.5, color=colour, markeredgecolor="k",
                    markeredgewidth=0.4, zorder=4, gid=f"{model}/seeds",
                    label=f"{model.upper()} {regime}, after final rescale, per seed")  # fmt: skip
        ax.plot([mean.index[-1]], [float(np.mean(finite))], linestyle="None", marker="*", markersize=9, color=colour,
                markeredgecolor="k", markeredgewidth=0.6, zorder=5, label=f"{model.upper()} {regime}, after final "
                "rescale", gid=model)  # fmt: skip
        return finite

    def draw_chance(self, ax: Axes) -> list[float]:
        """The chance accuracy (majority class), the mean over the runs' metrics; the value drawn, if any."""
        chance = [100.0 * float(m["chance_accuracy"]) for ms in self.metrics.values() for m in ms
                  if m.get("chance_accuracy") is not None]  # fmt: skip
        if not chance:
            return []
        ax.axhline(float(np.mean(chance)), **_CHANCE_STYLE)
        return [float(np.mean(chance))]

    def legend(self, fig: Figure, ax: Axes) -> None:
        """One legend column per model (its regimes, then its after-final-rescale stars), the chance line and the
        band last."""
        lines = ax.get_lines()
        groups = [[line for line in lines if line.get_gid() == model] for model in self.colours]
        groups += [[*(line for line in lines if line.get_gid() is None), *([Patch(**_BAND_STYLE)] if self.banded
                   else [])]]  # fmt: skip
        groups = [group for group in groups if group]
        depth = max(len(group) for group in groups)
        blank = {"linestyle": "None", "label": " "}
        handles = [h for g in groups for h in [*g, *(Line2D([], [], **blank) for _ in range(depth - len(g)))]]
        legend_below(fig, handles, ncols=len(groups))


def _finish_panel(ax: Axes, task: str, column: str, shown: list[float]) -> None:
    """Axes of one panel: a log axis for a positive loss, a padded % range for a percentage; labels and title."""
    finite = np.asarray([v for v in shown if math.isfinite(v)])
    if "loss" in column and finite.size and bool(np.all(finite > 0)):
        plain_log_axis(ax, "y", float(finite.min()), float(finite.max()))
    if _is_percent(column) and finite.size:
        low, high = float(finite.min()), float(finite.max())
        if high - low < 1.0:  # a flat curve: a 10-point window, not a zoom on rounding noise
            low, high = low - 5.0, high + 5.0
        pad = 0.05 * (high - low)
        ax.set_ylim(max(low - pad, -0.5), min(high + pad, 100.5))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(_curve_label(column))
    ax.set_title(f"{task}: {_curve_label(column)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.set_label(f"{PANEL_PREFIX}{column}")


def build_training_curves_figure(
    histories: Mapping[Key, Files],
    *,
    task: str,
    metrics: Mapping[Key, Files] | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    regimes: Sequence[str] | None = None,
) -> Figure:
    """Test metrics against epoch (epoch 0 = initialisation) for one task, one panel per column.

    One line per key (model, regime): colour per model, line style per regime in the regimes' order
    (:func:`~rnnrobust.reporting.figure_style.regime_styles`: the first solid, the second dashed, …), with markers,
    so that a run that stopped after its first epoch still shows. Accuracies are in %, the loss on a log axis (plain
    tick labels) when it is positive throughout; epochs are integers.

    **Seeds.** With several seeds per key the line is their mean and a band of the line's colour spans their
    minimum to maximum at each epoch (the legend says so); the legend gives n. An epoch that some seeds did not
    reach (a run that diverged) is the mean of those that did.

    **Rescaled regimes.** A regime has a final rescale when its metrics record the accuracy before it
    (``test_before_final_rescale``) or its history logs ``radius_after/<block>`` columns
    (``rnnrobust.training.stabilize``). Such a run is rescaled after each epoch's test evaluation (protocol §3.5):
    its line is the accuracy logged **before** each rescale (legend "…, before rescale"), and with ``metrics`` a
    star at its last epoch marks the mean value **after the final rescale** (``metrics.json["test"]``, the number
    of Table 1; legend "…, after final rescale"), with one small dot per seed when there are several.

    Parameters
    ----------
    histories
        (model, regime) -> history.csv, or one per seed.
    task
        The task, for titles and the default columns.
    metrics
        (model, regime) -> metrics.json (or one per seed, as ``histories``): a diverged run is labelled
        "(diverged)" in the legend, and a rescaled run gets its after-final-rescale star.
    columns
        History columns to plot; default ``test_accuracy`` and ``test_loss``, plus ``test_exact_match`` for the
        adding task.
    regimes
        The regimes' order (the config's), which sets their line styles; default: the order of ``histories``.
    """
    if columns is None:
        columns = ("test_accuracy", "test_loss", *(("test_exact_match",) if task == "adding" else ()))
    curves = _Curves.of(histories, metrics, regimes)
    fig = Figure(figsize=(4.6 * len(columns), 4.3), layout="constrained")
    axes = panel_grid(fig, len(columns), len(columns))
    for ax, column in zip(axes, columns, strict=True):
        shown = [v for key in curves.keys for v in curves.draw(ax, key, column)]
        if column == "test_accuracy" and any(curves.metrics.values()):
            shown += curves.draw_chance(ax)
        _finish_panel(ax, task, column, shown)
    curves.legend(fig, axes[0])
    if title:
        fig.suptitle(title)
    return fig


def plot_training_curves(
    histories: Mapping[Key, Files],
    out_stem: PathLike,
    *,
    task: str,
    metrics: Mapping[Key, Files] | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    regimes: Sequence[str] | None = None,
) -> list[Path]:
    """:func:`build_training_curves_figure`, saved as ``<out_stem>.png`` and ``.pdf``; returns the paths."""
    fig = build_training_curves_figure(
        histories, task=task, metrics=metrics, columns=columns, title=title, regimes=regimes
    )
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# Caption.


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def _pct_summary(values: Sequence[float]) -> str:
    """Accuracies (fractions) of the seeds as ``"mean ± sd % [lo, hi] (per seed a, b, c)"``; one seed: its value."""
    if len(values) == 1:
        return _pct(values[0])
    s = summarize(100 * v for v in values)
    per_seed = ", ".join(f"{100 * v:.2f}" for v in values)
    interval = "" if math.isnan(s.ci_low) else f" [95 % CI {s.ci_low:.2f}, {s.ci_high:.2f}]"
    return f"{s.mean:.2f} ± {s.sd:.2f} %{interval} (per seed {per_seed} %)"


def _curve_line(model: str, regime: str, runs: Sequence[Mapping[str, Any]]) -> str:
    """One curve's caption line: its seeds, epochs, final test accuracy (before and after a final rescale),
    chance level and statuses."""
    seeds = ", ".join(str(m.get("seed")) for m in runs)
    after = _pct_summary([m["test"]["accuracy"] for m in runs])
    before = [(m.get("test_before_final_rescale") or {}).get("accuracy") for m in runs]
    before = [v for v in before if v is not None]
    accuracy = f"after the final rescale {after}; before it {_pct_summary(before)}" if before else after
    epochs = "/".join(map(str, sorted({m["epochs_completed"] for m in runs})))
    statuses = [m["status"] for m in runs]
    status = ", ".join(f"{statuses.count(x)} {x}" for x in dict.fromkeys(statuses))
    return (
        f"- {model}, {regime} (seed{'s' if len(runs) > 1 else ''} {seeds}; {epochs} epochs): test accuracy "
        f"{accuracy}; chance {_pct(runs[0]['chance_accuracy'])}; status {status}."
    )


def training_caption(metrics: Mapping[Key, Files]) -> str:
    """Training figures, the numbers: per (model, regime) curve its seeds, the final test accuracy over them (mean ±
    sd, 95 % bootstrap CI, every seed's value), before and after the final rescale for a rescaled regime, with the
    epochs completed, chance level and statuses; then what the lines and bands are (or that one seed shows no
    spread)."""
    curves = {key: [read_json(path) for path in _seed_files(paths)] for key, paths in metrics.items()}
    if {len(runs) for runs in curves.values()} == {1}:
        tail = "One seed per curve: no spread over seeds is shown.\n"
    else:
        tail = (
            "Each line is the mean over seeds and the band around it spans their minimum to maximum; for a regime "
            "with a final rescale, each seed's value after it is a small dot and the star is their mean.\n"
        )
    lines = [_curve_line(model, regime, runs) for (model, regime), runs in curves.items()]
    return "\n".join(lines) + "\n\n" + tail


def training_description(metrics: Mapping[Key, Files]) -> str:
    """Training figures, what they are; the seeds from the runs' metrics."""
    seeds = sorted({int(read_json(path)["seed"]) for paths in metrics.values() for path in _seed_files(paths)})
    return (
        f"Test accuracy and loss per epoch (``figure_training`` rule) for every model of one task, the mean over seeds "
        f"{seeds} with a band from their minimum to their maximum; epoch 0 is the initialisation. One line style per "
        "regime, in the config's order (baseline solid, stabilized dashed). A rescaled run is tested before each "
        "epoch's rescale (as Keras logs it), so its line is the value **before** the rescale; the dots at its last "
        "epoch are each seed's value **after the final rescale** (the star their mean), the number reported in "
        "``table1_accuracy``. The dotted line is the chance accuracy (majority class). A run whose loss or weights "
        'became non-finite is labelled "(diverged)" in the legend.\n'
    )
