"""Figure 9 (rnnrobust.reporting.figure9_pareto): panels, run markers, fronts, arm means with t-intervals, files and
caption, on a synthetic frame of runs (2 tasks × 2 models × 3 regimes × 3 seeds)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

from rnnrobust.reporting.figure9_pareto import (
    X_LABEL,
    build_pareto_figure,
    pareto_figure_caption,
    pareto_figure_description,
    plot_pareto,
)
from rnnrobust.reporting.figure_style import MARKERS, panel_axes
from rnnrobust.reporting.pareto_runs import RUN_COLUMNS
from rnnrobust.robustness.pareto import front
from rnnrobust.stats import summarize

TASKS = ("imdb", "mnist")
MODELS = ("rnn", "gru")
#: Regime -> method: one arm of plain training, two arms of one robust method (they share a front).
METHOD_OF = {"baseline": "plain training", "schur_a": "Schur parametrisation", "schur_b": "Schur parametrisation"}
SEEDS = (0, 1, 2)
#: (task, model, regime, seed) of the runs with a NaN fragility, a NaN accuracy, and a censored ε₅.
NAN_FRAGILITY = ("imdb", "rnn", "schur_a", 1)
NAN_ACCURACY = ("mnist", "gru", "baseline", 2)
CENSORED = {("imdb", "rnn", "schur_b", 0): "above", ("mnist", "rnn", "baseline", 1): "below"}


def _runs() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    rows = []
    for task in TASKS:
        for model in MODELS:
            for i, regime in enumerate(METHOD_OF):
                for seed in SEEDS:
                    key = (task, model, regime, seed)
                    rows.append({
                        "task": task, "model": model, "regime": regime, "seed": seed, "method": METHOD_OF[regime],
                        "accuracy": math.nan if key == NAN_ACCURACY else 80.0 - 3.0 * i + rng.normal(0.0, 2.0),
                        "chance": 50.0 if task == "imdb" else 11.35,
                        "fragility": math.nan if key == NAN_FRAGILITY else -2.0 + 0.5 * i + rng.normal(0.0, 0.3),
                        "fragility_censored": CENSORED.get(key, ""),
                        "henrici": 1.0, "spectral_radius": 0.9, "kreiss": 2.0, "transient_peak": 1.5,
                        "grid_low": -4.0,
                    })  # fmt: skip
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return _runs()


@pytest.fixture(scope="module")
def fig(runs):
    return build_pareto_figure(runs, regimes=list(METHOD_OF))


def _cell(runs: pd.DataFrame, ax) -> pd.DataFrame:
    task, model = ax.get_label().removeprefix("panel:").split("/")
    return runs[(runs["task"] == task) & (runs["model"] == model)]


def _gid(ax, gid: str) -> list:
    return [a for a in [*ax.get_lines(), *ax.collections] if a.get_gid() == gid]


def test_one_panel_per_task_and_model_in_order(fig):
    panels = panel_axes(fig)
    assert [ax.get_label() for ax in panels] == [f"panel:{t}/{m}" for t in TASKS for m in MODELS]
    assert [ax.get_title() for ax in panels] == [f"{t} / {m.upper()}" for t in TASKS for m in MODELS]
    assert all(ax.get_xlabel() == X_LABEL for ax in panels)


def test_one_marker_per_run_with_both_numbers_at_its_values(runs, fig):
    for ax in panel_axes(fig):
        cell = _cell(runs, ax)
        drawn = cell[cell["accuracy"].notna() & cell["fragility"].notna()]
        markers = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("run/")]
        assert len(markers) == len(drawn)
        got = sorted((line.get_gid(), line.get_xdata()[0], line.get_ydata()[0]) for line in markers)
        want = sorted((f"run/{r.regime}", r.fragility, r.accuracy) for r in drawn.itertuples())
        assert got == want
    assert sum(len(_cell(runs, ax)) for ax in panel_axes(fig)) == len(runs) == 36


def test_censored_runs_are_drawn_open_and_the_others_filled(runs, fig):
    for ax in panel_axes(fig):
        for line in [line for line in ax.get_lines() if (line.get_gid() or "").startswith("run/")]:
            x, y = line.get_xdata()[0], line.get_ydata()[0]
            row = runs[(runs["fragility"] == x) & (runs["accuracy"] == y)].iloc[0]
            key = (row["task"], row["model"], row["regime"], row["seed"])
            assert (line.get_markerfacecolor() == "none") == (key in CENSORED)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(label.startswith("open: ε₅ censored") for label in labels)


def test_regimes_of_a_method_share_its_colour_and_differ_in_marker(fig):
    ax = panel_axes(fig)[0]
    style = {
        r: (_gid(ax, f"mean/{r}")[0].get_markerfacecolor(), _gid(ax, f"mean/{r}")[0].get_marker()) for r in METHOD_OF
    }
    assert style["schur_a"][0] == style["schur_b"][0] != style["baseline"][0]
    assert [style[r][1] for r in METHOD_OF] == [MARKERS[0], MARKERS[0], MARKERS[1]]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:5] == ["plain training", "Schur parametrisation", *METHOD_OF]


def test_the_regimes_order_assigns_the_markers(runs):
    ax = panel_axes(build_pareto_figure(runs, regimes=["schur_b", "schur_a", "baseline", "absent"]))[0]
    assert _gid(ax, "mean/schur_b")[0].get_marker() == MARKERS[0]
    assert _gid(ax, "mean/schur_a")[0].get_marker() == MARKERS[1]


def test_each_method_front_is_a_staircase_through_its_front_points(runs, fig):
    for ax in panel_axes(fig):
        cell = _cell(runs, ax)
        for method in set(METHOD_OF.values()):
            points = cell.loc[cell["method"] == method, ["fragility", "accuracy"]].to_numpy(dtype=float)
            want = points[front(points)]
            want = want[np.argsort(want[:, 0])]
            (line,) = _gid(ax, f"front/{method}")
            assert line.get_drawstyle() == "steps-pre"
            np.testing.assert_array_equal(line.get_xdata(), want[:, 0])
            np.testing.assert_array_equal(line.get_ydata(), want[:, 1])
            assert np.all(np.diff(line.get_ydata()) <= 0)  # along a front, more robust is less accurate


def _half_width(collection: LineCollection, axis: int) -> float:
    (segment,) = collection.get_segments()
    return float(abs(segment[1][axis] - segment[0][axis]) / 2)


def test_arm_means_sit_at_the_means_with_t_interval_bars(runs, fig):
    for ax in panel_axes(fig):
        cell = _cell(runs, ax)
        for regime in METHOD_OF:
            arm = cell[cell["regime"] == regime]
            sx, sy = summarize(arm["fragility"], interval="t"), summarize(arm["accuracy"], interval="t")
            (mean,) = _gid(ax, f"mean/{regime}")
            assert mean.get_xdata()[0] == pytest.approx(np.nanmean(arm["fragility"]))
            assert mean.get_ydata()[0] == pytest.approx(np.nanmean(arm["accuracy"]))
            assert mean.get_markeredgecolor() == "k"
            (xbar,) = _gid(ax, f"ci/{regime}/x")
            (ybar,) = _gid(ax, f"ci/{regime}/y")
            assert _half_width(xbar, 0) == pytest.approx(sx.ci_high - sx.mean)
            assert _half_width(ybar, 1) == pytest.approx(sy.ci_high - sy.mean)
            assert xbar.get_segments()[0][0][1] == pytest.approx(sy.mean)  # the bar passes through the mean


def test_an_arm_of_one_run_has_no_error_bars(runs):
    single = runs[(runs["regime"] != "baseline") | (runs["seed"] == 0)]
    ax = panel_axes(build_pareto_figure(single))[0]
    assert len(_gid(ax, "mean/baseline")) == 1
    assert _gid(ax, "ci/baseline/x") == _gid(ax, "ci/baseline/y") == []
    assert len(_gid(ax, "ci/schur_a/x")) == 1


def test_chance_line_at_the_panels_chance(runs, fig):
    for ax in panel_axes(fig):
        (line,) = _gid(ax, "chance")
        np.testing.assert_allclose(line.get_ydata(), _cell(runs, ax)["chance"].mean())


def test_no_runs_is_an_error(runs):
    with pytest.raises(ValueError, match="no runs"):
        build_pareto_figure(runs.iloc[:0])


def test_plot_pareto_writes_png_and_pdf(runs, tmp_path):
    paths = plot_pareto(runs, tmp_path / "figure9_pareto", regimes=list(METHOD_OF), title="t")
    assert [p.name for p in paths] == ["figure9_pareto.png", "figure9_pareto.pdf"]
    assert [p.read_bytes()[:4] for p in paths] == [b"\x89PNG", b"%PDF"]


def test_caption_counts_runs_arms_seeds_censored_and_left_out(runs):
    caption = pareto_figure_caption(runs)
    assert "- 36 runs in 12 arms" in caption and "of 2 methods (plain training, Schur parametrisation)" in caption
    assert "seeds 0, 1, 2; 34 drawn." in caption
    assert "2 drawn runs have a censored ε₅ (1 above the grid, a lower bound; 1 below the grid" in caption
    assert "2 runs not drawn (1 without a fragility, NaN;" in caption
    assert "imdb/rnn 50.0 %" in caption and "mnist/gru 11.3 %" in caption
    clean = runs.assign(fragility_censored="", accuracy=runs["accuracy"].fillna(70.0), fragility=-1.0)
    assert "No drawn run has a censored ε₅." in pareto_figure_caption(clean)
    assert "not drawn" not in pareto_figure_caption(clean)
    assert pareto_figure_description().startswith("Figure 9 (``figure9_pareto``): ")
