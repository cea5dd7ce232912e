"""Figures from synthetic per-run files: panel counts, colour bar, titles, contour levels (absolute and
relative to ‖W‖₂), eigenvalue markers above the contours, legends, shared axes, line styles and the
after/before-rescale values of the training curves, integer epochs and plain log labels, eigenvalue small
multiples, and the PNG / PDF outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.contour import ContourSet

from rnnrobust.io import save_npz, write_json
from rnnrobust.layout import REGIMES, block_keys
from rnnrobust.reporting.figure_eigenvalues import (
    _eigenvalue_rows,
    build_eigenvalues_figure,
    eigenvalues_caption,
    eigenvalues_description,
    plot_eigenvalues,
)
from rnnrobust.reporting.figure_pseudospectra import (
    Panel,
    build_pseudospectra_figure,
    plot_pseudospectra,
    pseudospectra_caption,
    pseudospectra_description,
)
from rnnrobust.reporting.figure_style import (
    LINE_STYLES,
    colorbar_axes,
    panel_axes,
    panel_count,
    regime_styles,
    report_caption,
)
from rnnrobust.reporting.figure_training import (
    build_training_curves_figure,
    plot_training_curves,
    training_caption,
    training_description,
)
from rnnrobust.robustness.analysis import analyze_blocks, pseudospectrum_grids
from rnnrobust.stats import summarize

ROOT = Path(__file__).resolve().parents[2]
N = 5
# Contour levels log10 ε, as the config's analysis.eps_log10.
EPS_LOG10 = (-3.0, -2.5, -2.0, -1.5, -1.0)


def _blocks() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    jordan = np.diag(np.full(N, 0.9)) + np.diag(np.ones(N - 1), 1)
    return {
        "rnn/i": jordan,
        "rnn/f": rng.normal(size=(N, N)) / 2.5,
        "rnn/c": np.diag([0.5, -0.5, 0.2, 0.0, 0.1]),  # normal: σ_min(zI − W) = distance to the spectrum
        "rnn/o": 0.5 * jordan,
    }


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    blocks = _blocks()
    files = {}
    for regime, scale in (("baseline", 1.0), ("stabilized", 0.8)):
        scaled = {k: scale * w for k, w in blocks.items()}
        npz = root / f"pseudospectra/imdb/lstm/{regime}/seed0.npz"
        save_npz(npz, pseudospectrum_grids(scaled, resolution=101, margin=0.25))
        js = root / f"analysis/imdb/lstm/{regime}/seed0.json"
        write_json(js, analyze_blocks(scaled, [-2.0]))
        files[regime] = (npz, js)
    return files


def _panels(run_files, regime="baseline", blocks=("rnn/i", "rnn/f", "rnn/c"), **kw):
    npz, _ = run_files[regime]
    return [Panel("imdb", "lstm", regime, 0, b, npz, **kw) for b in blocks]


def _contours(ax) -> ContourSet:
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(sets) == 1
    return sets[0]


# --------------------------------------------------------------------------------------------------
# Pseudospectra.


def test_pseudospectra_figure_has_one_panel_per_entry_a_colour_bar_and_titles(run_files):
    panels = _panels(run_files) + _panels(run_files, "stabilized", ("rnn/o",))
    fig = build_pseudospectra_figure(panels, eps_log10=EPS_LOG10, title="IMDB, LSTM")
    axes = panel_axes(fig)
    assert panel_count(fig) == len(panels) == 4
    # Independent of the helper: every axes that is not a colour bar is a panel.
    assert sum(ax.get_label() != "<colorbar>" for ax in fig.axes) == 4
    cbars = colorbar_axes(fig)
    assert len(cbars) == 1
    assert cbars[0].get_ylabel() == "log10 ε"
    np.testing.assert_allclose(cbars[0].get_yticks(), EPS_LOG10)
    for ax, panel in zip(axes, panels, strict=True):
        title = ax.get_title()
        for part in ("imdb", "LSTM", panel.block, panel.regime, "seed 0"):
            assert part in title
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Re", "Im")
        assert ax.get_aspect() == 1.0
        np.testing.assert_allclose(_contours(ax).levels, EPS_LOG10)
    assert fig._suptitle.get_text() == "IMDB, LSTM"


def test_pseudospectra_grid_keeps_the_panel_count(run_files):
    panels = _panels(run_files, blocks=("rnn/i", "rnn/f", "rnn/c", "rnn/o")) + _panels(run_files, "stabilized")
    fig = build_pseudospectra_figure(panels, eps_log10=EPS_LOG10)
    assert panel_count(fig) == 7  # 2 rows of 4, the empty slot removed
    assert len(fig.axes) == 8  # 7 panels + 1 colour bar
    fig = build_pseudospectra_figure(panels, eps_log10=EPS_LOG10, ncols=2, filled=True)
    assert panel_count(fig) == 7
    assert len({round(ax.get_position().x0, 3) for ax in panel_axes(fig)}) == 2


def test_panels_show_eigenvalues_and_the_unit_circle(run_files):
    fig = build_pseudospectra_figure(_panels(run_files, blocks=("rnn/f",)), eps_log10=EPS_LOG10)
    (ax,) = panel_axes(fig)
    lines = {line.get_label(): line for line in ax.get_lines()}
    eigs = np.linalg.eigvals(_blocks()["rnn/f"])
    dots = lines["eigenvalues"]
    assert dots.get_color() == "k" and dots.get_linestyle() == "None"
    got = np.sort_complex(dots.get_xdata() + 1j * dots.get_ydata())
    np.testing.assert_allclose(got, np.sort_complex(eigs), atol=1e-12)
    circle = lines["unit circle"]
    assert circle.get_linestyle() == "--"
    np.testing.assert_allclose(np.hypot(circle.get_xdata(), circle.get_ydata()), 1.0)
    assert f"ρ = {np.abs(eigs).max():.4g}" in ax.get_title()


def test_eigenvalue_markers_are_small_outlined_and_above_the_contours(run_files):
    """Small hollow markers drawn above the contour lines and the unit circle, so that the smallest ε contours
    around each eigenvalue stay visible; one legend for the figure names the markers and the circle."""
    for filled in (False, True):
        fig = build_pseudospectra_figure(_panels(run_files), eps_log10=EPS_LOG10, filled=filled)
        for ax in panel_axes(fig):
            lines = {line.get_label(): line for line in ax.get_lines()}
            dots, circle = lines["eigenvalues"], lines["unit circle"]
            assert dots.get_markersize() <= 4 and dots.get_markerfacecolor() == "none"
            assert dots.get_markeredgecolor() == "k" and dots.get_markeredgewidth() > 0
            assert dots.get_zorder() > circle.get_zorder() > _contours(ax).get_zorder()
            assert ax.get_legend() is None  # no legend over the data
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()][:2] == ["eigenvalues", "unit circle"]
    assert legend.legend_handles[0].get_marker() == "o" and legend.legend_handles[1].get_linestyle() == "--"


@pytest.fixture(scope="module")
def wide_grid(tmp_path_factory):
    """A block with ρ = 1.8, whose grid spans [−2.25, 2.25]² against the others' [−1.25, 1.25]²."""
    npz = tmp_path_factory.mktemp("wide") / "seed0.npz"
    save_npz(npz, pseudospectrum_grids({"rnn/i": 2.0 * _blocks()["rnn/i"]}, resolution=41, margin=0.25))
    return Panel("imdb", "lstm", "stabilized", 0, "rnn/i", npz)


def test_panels_share_one_axis_range_unless_zoomed(run_files, wide_grid):
    panels = [*_panels(run_files), wide_grid]
    fig = build_pseudospectra_figure(panels, eps_log10=EPS_LOG10)
    axes = panel_axes(fig)
    for ax in axes:
        np.testing.assert_allclose(ax.get_xlim(), (-2.25, 2.25))
        np.testing.assert_allclose(ax.get_ylim(), (-2.25, 2.25))
    # The smaller grids are outlined (nothing is computed outside them); the largest is not.
    edges = [[line for line in ax.get_lines() if line.get_label() == "edge of the computed grid"] for ax in axes]
    assert [len(e) for e in edges] == [1, 1, 1, 0]
    np.testing.assert_allclose(np.abs(edges[0][0].get_xdata()).max(), 1.25)
    assert "edge of the computed grid" in [t.get_text() for t in fig.legends[0].get_texts()]
    zoomed = build_pseudospectra_figure(panels, eps_log10=EPS_LOG10, zoom_per_panel=True)
    limits = [ax.get_xlim() for ax in panel_axes(zoomed)]
    np.testing.assert_allclose(limits[0], (-1.25, 1.25))
    np.testing.assert_allclose(limits[-1], (-2.25, 2.25))
    assert not any(line.get_label().startswith("edge") for ax in panel_axes(zoomed) for line in ax.get_lines())


def _contour_radii(ax, eigenvalues):
    """Per level, the distances of the contour's vertices to the nearest eigenvalue."""
    cs = _contours(ax)
    radii = []
    for path in cs.get_paths():
        vertices = np.concatenate(path.to_polygons(closed_only=False))
        z = vertices[:, 0] + 1j * vertices[:, 1]
        radii.append(np.abs(z[:, None] - eigenvalues[None, :]).min(axis=1))
    return radii


@pytest.mark.parametrize("relative", [False, True])
def test_contours_are_at_eps_absolute_or_relative_to_the_norm(run_files, relative):
    """For a normal matrix ∂Λ_ε is the set of points at distance ε from the spectrum; with relative levels the
    distance is ε·‖W‖₂ (here ‖W‖₂ = 0.5)."""
    levels = (-1.0, -0.7)
    npz, js = run_files["baseline"]
    panel = Panel("imdb", "lstm", "baseline", 0, "rnn/c", npz, analysis_path=js)
    fig = build_pseudospectra_figure([panel], eps_log10=levels, relative=relative)
    (ax,) = panel_axes(fig)
    eigs = np.diag(_blocks()["rnn/c"]).astype(complex)
    scale = 0.5 if relative else 1.0
    for level, radii in zip(levels, _contour_radii(ax, eigs), strict=True):
        assert radii.size > 10
        np.testing.assert_allclose(radii, scale * 10**level, atol=5e-3)
    label = colorbar_axes(fig)[0].get_ylabel()
    assert label.startswith("log10 ε") and (("‖W‖₂" in label) == relative)


def test_relative_levels_take_the_norm_from_the_field_or_the_analysis_file(run_files):
    npz, js = run_files["stabilized"]
    with pytest.raises(ValueError, match="spectral_norm"):
        build_pseudospectra_figure(
            [Panel("imdb", "lstm", "stabilized", 0, "rnn/f", npz)], eps_log10=EPS_LOG10, relative=True
        )
    from_file = Panel("imdb", "lstm", "stabilized", 0, "rnn/f", npz, analysis_path=js)
    norm = 0.8 * np.linalg.norm(_blocks()["rnn/f"], 2)
    assert from_file.norm() == pytest.approx(norm, rel=1e-12)
    given = Panel("imdb", "lstm", "stabilized", 0, "rnn/f", npz, spectral_norm=norm)
    segs = []
    for panel in (from_file, given):
        (ax,) = panel_axes(build_pseudospectra_figure([panel], eps_log10=EPS_LOG10, relative=True))
        segs.append(np.concatenate([p.vertices for p in _contours(ax).get_paths()]))
    np.testing.assert_allclose(segs[0], segs[1])


def test_missing_block_names_the_file_and_its_blocks(run_files):
    npz, _ = run_files["baseline"]
    with pytest.raises(KeyError, match="rnn/h"):
        build_pseudospectra_figure([Panel("imdb", "lstm", "baseline", 0, "rnn/h", npz)], eps_log10=EPS_LOG10)


def _check_outputs(paths, stem):
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    assert sorted(p.name for p in stem.parent.iterdir()) == sorted(p.name for p in paths)  # no temp files left


def test_plot_pseudospectra_writes_png_and_pdf(run_files, tmp_path):
    stem = tmp_path / "figures" / "pseudospectra_imdb_baseline"
    paths = plot_pseudospectra(_panels(run_files), stem, eps_log10=EPS_LOG10, title="IMDB")
    _check_outputs(paths, stem)


# --------------------------------------------------------------------------------------------------
# Training curves.


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    root = tmp_path_factory.mktemp("histories")
    rng = np.random.default_rng(3)
    out = {}
    for model in ("rnn", "gru"):
        for regime in REGIMES:
            paths = []
            for seed in (0, 1) if model == "rnn" else (0,):
                epochs = np.arange(6)
                df = pd.DataFrame(
                    {
                        "epoch": epochs,
                        "train_loss": np.r_[np.nan, rng.uniform(0.1, 1, 5)],
                        "train_accuracy": np.r_[np.nan, rng.uniform(0, 1, 5)],
                        "test_loss": rng.uniform(0.1, 2, 6),
                        "test_accuracy": rng.uniform(0, 1, 6),
                        "test_exact_match": rng.uniform(0, 1, 6),
                        "seconds": 1.0,
                    }
                )
                if regime == REGIMES[1]:  # an epoch-end rescale logs the radius after it (rnnrobust.training.stabilize)
                    df["radius_after/rnn/h"] = np.r_[np.nan, np.ones(5)]
                path = root / f"{model}/{regime}/seed{seed}/history.csv"
                path.parent.mkdir(parents=True)
                df.to_csv(path, index=False)
                paths.append(path)
            out[model, regime] = paths if len(paths) > 1 else paths[0]
    return out


STAB = ", before rescale"  # a stabilized curve is logged before each epoch's rescale


def test_training_curves_panels_and_styles(histories, tmp_path):
    fig = build_training_curves_figure(histories, task="imdb")
    axes = panel_axes(fig)
    assert len(axes) == 2
    assert "accuracy" in axes[0].get_ylabel() and "loss" in axes[1].get_ylabel()
    rnn_b, rnn_s, gru_b, gru_s = (
        "RNN baseline (n=2)",
        f"RNN stabilized (n=2){STAB}",
        "GRU baseline",
        f"GRU stabilized{STAB}",
    )
    for ax in axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {rnn_b, rnn_s, gru_b, gru_s}  # no metrics: no after-rescale star, no chance line
        assert lines[rnn_b].get_linestyle() == "-" and lines[rnn_s].get_linestyle() == "--"
        assert lines[gru_b].get_linestyle() == "-" and lines[gru_s].get_linestyle() == "--"
        assert lines[rnn_b].get_color() == lines[rnn_s].get_color()
        assert lines[gru_b].get_color() != lines[rnn_b].get_color()
        assert ax.get_legend() is None
    # One legend below the panels, one column per model, then what the band is.
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts() if t.get_text().strip()]  # columns padded with blanks
    assert texts == [rnn_b, rnn_s, gru_b, gru_s, "band: min–max over seeds"]
    # Values: accuracy in %, mean over seeds; epoch 0 included.
    lines = {line.get_label(): line for line in axes[0].get_lines()}
    gru = pd.read_csv(histories["gru", "baseline"])
    np.testing.assert_allclose(lines[gru_b].get_xdata(), gru["epoch"])
    np.testing.assert_allclose(lines[gru_b].get_ydata(), 100 * gru["test_accuracy"])
    rnn = [pd.read_csv(p)["test_accuracy"] for p in histories["rnn", "stabilized"]]
    np.testing.assert_allclose(lines[rnn_s].get_ydata(), 100 * (rnn[0] + rnn[1]) / 2)
    # The seeds' spread: a band from their minimum to their maximum around each mean of 2 seeds, none for 1 seed.
    bands = [c for c in axes[0].collections if c.get_label() != "chance (majority class)"]
    assert len(bands) == 2  # RNN baseline and stabilized
    ys = np.concatenate([path.vertices[:, 1] for path in bands[1].get_paths()])
    assert ys.min() == pytest.approx(100 * np.minimum(rnn[0], rnn[1]).min())
    assert ys.max() == pytest.approx(100 * np.maximum(rnn[0], rnn[1]).max())
    # The adding task adds the exact-match panel.
    assert panel_count(build_training_curves_figure(histories, task="adding")) == 3
    stem = tmp_path / "curves"
    _check_outputs(plot_training_curves(histories, stem, task="imdb"), stem)


def _final_metrics(root, histories, chance=0.25):
    """metrics.json of each curve: the stabilized ones end 20 points lower after the final rescale."""
    out = {}
    for (model, regime), paths in histories.items():
        files = []
        for i, path in enumerate(paths if isinstance(paths, list) else [paths]):
            last = pd.read_csv(path).iloc[-1]
            test = {k: float(last[f"test_{k}"]) for k in ("loss", "accuracy", "exact_match")}
            m = {"task": "imdb", "model": model, "seed": i, "status": "converged", "chance_accuracy": chance,
                 "epochs_completed": 5}  # fmt: skip
            if regime == "stabilized":
                m["test_before_final_rescale"] = dict(test)
                test = {k: v - 0.2 if k != "loss" else 2 * v for k, v in test.items()}
            m["test"] = test
            path = root / f"{model}_{regime}_{i}.json"
            write_json(path, m)
            files.append(path)
        out[model, regime] = files if len(files) > 1 else files[0]
    return out


def test_training_curves_mark_the_value_after_the_final_rescale(histories, tmp_path):
    """The stabilized line is the accuracy logged before each rescale; a star at its last epoch is the accuracy
    after the final rescale (metrics.json "test", the number of Table 1)."""
    metrics = _final_metrics(tmp_path, histories)
    fig = build_training_curves_figure(histories, task="adding", metrics=metrics)
    acc, loss, exact = panel_axes(fig)
    for ax, name, scale in ((acc, "accuracy", 100.0), (loss, "loss", 1.0), (exact, "exact_match", 100.0)):
        lines = {line.get_label(): line for line in ax.get_lines()}
        for model, n in (("RNN", " (n=2)"), ("GRU", "")):
            star = lines[f"{model} stabilized, after final rescale"]
            before = lines[f"{model} stabilized{n}{STAB}"]
            assert star.get_marker() == "*" and star.get_linestyle() == "None"
            assert star.get_zorder() > before.get_zorder()
            assert star.get_xdata()[0] == before.get_xdata()[-1] == 5
            files = metrics[model.lower(), "stabilized"]
            data = [json.loads(p.read_text()) for p in (files if isinstance(files, list) else [files])]
            assert star.get_ydata()[0] == pytest.approx(scale * np.mean([d["test"][name] for d in data]))
            assert before.get_ydata()[-1] == pytest.approx(
                scale * np.mean([d["test_before_final_rescale"][name] for d in data])
            )
        assert not any("baseline, after" in label for label in lines)  # baseline runs are never rescaled
    chance = [line for line in acc.get_lines() if line.get_label() == "chance (majority class)"]
    assert len(chance) == 1 and chance[0].get_ydata()[0] == pytest.approx(25.0)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "RNN stabilized, after final rescale" in texts and f"RNN stabilized (n=2){STAB}" in texts
    assert "chance (majority class)" in texts
    # Several seeds: each seed's value after the final rescale is a dot at the epoch it ended, the star their mean.
    dots = {line.get_label(): line for line in acc.get_lines()}["RNN stabilized, after final rescale, per seed"]
    data = [json.loads(p.read_text()) for p in metrics["rnn", "stabilized"]]
    np.testing.assert_allclose(dots.get_ydata(), [100 * d["test"]["accuracy"] for d in data])
    np.testing.assert_allclose(dots.get_xdata(), [5, 5])
    assert "GRU stabilized, after final rescale, per seed" not in {line.get_label() for line in acc.get_lines()}
    assert "RNN stabilized, after final rescale, per seed" not in texts  # the dots need no legend entry of their own
    caption = training_caption(metrics)
    assert "(seeds 0, 1; 5 epochs)" in caption and "per seed" in caption and "minimum to maximum" in caption
    s = summarize([100 * d["test"]["accuracy"] for d in data])
    assert f"{s.mean:.2f} ± {s.sd:.2f} % [95 % CI {s.ci_low:.2f}, {s.ci_high:.2f}]" in caption


def test_training_curves_take_any_number_of_regimes(tmp_path):
    """Five regimes in the config's order: a line style each (cycled from LINE_STYLES), and "before rescale" for
    exactly those whose history logs radius_after columns or whose metrics record the accuracy before a final
    rescale, whatever their names."""
    base, stab = REGIMES
    regimes = [base, stab, "stabilized_norm", "stabilized_exact", "identity_init"]
    histories, metrics = {}, {}
    for i, regime in enumerate(regimes):
        df = pd.DataFrame({"epoch": [0, 1, 2], "test_loss": [1.0, 0.8, 0.7], "test_accuracy": [0.3, 0.5 + i / 50, 0.6]})
        if regime in (stab, "stabilized_norm"):
            df["radius_after/rnn/h"] = [np.nan, 1.0, 1.0]
        histories["gru", regime] = tmp_path / f"{regime}.csv"
        df.to_csv(histories["gru", regime], index=False)
        m = {"model": "gru", "seed": 0, "status": "converged", "chance_accuracy": 0.5, "epochs_completed": 2,
             "test": {"accuracy": 0.55, "loss": 0.7}}  # fmt: skip
        if regime == "stabilized_exact":
            m["test_before_final_rescale"] = {"accuracy": 0.6, "loss": 0.7}
        metrics["gru", regime] = tmp_path / f"{regime}.json"
        write_json(metrics["gru", regime], m)
    shuffled = {key: histories[key] for key in reversed(list(histories))}
    fig = build_training_curves_figure(shuffled, task="imdb", metrics=metrics, regimes=regimes)
    acc = panel_axes(fig)[0]
    curves = [line for line in acc.get_lines() if line.get_marker() == "o" and line.get_linestyle() != "None"]
    rescaled = {stab, "stabilized_norm", "stabilized_exact"}
    assert [line.get_label() for line in curves] == [
        f"GRU {r}" + (STAB if r in rescaled else "") for r in regimes
    ]  # in the config's order
    styles = regime_styles(regimes)
    assert len({str(styles[r]) for r in regimes}) == len(regimes)
    assert [styles[r] for r in regimes[:2]] == ["-", "--"]  # the paper's two regimes as before
    stars = [line.get_label() for line in acc.get_lines() if line.get_marker() == "*"]
    assert stars == [f"GRU {r}, after final rescale" for r in regimes if r in rescaled]
    assert regime_styles([str(i) for i in range(8)])["6"] == LINE_STYLES[0]  # cycled
    assert "One seed per curve" in training_caption(metrics)


def test_single_seed_figures_say_so_in_their_captions(run_files):
    _, js = run_files["baseline"]
    text = pseudospectra_caption([(("imdb", "lstm", "baseline", 0), "rnn/f", js)])
    assert text.startswith("- imdb/lstm/baseline/seed0, matrix rnn/f:")  # the numbers come first
    assert text.rstrip().endswith("One seed by design (config ``figures.seed``): seed 0; every seed's numbers are in "
                                  "``table3_robustness``.")  # fmt: skip
    assert "One seed by design" in eigenvalues_caption({"lstm": js}, seed=0)
    assert "One seed" not in eigenvalues_caption({"lstm": js})


def _run_metrics(path, model, regime, seed, stabilization):
    write_json(path, {"model": model, "regime": regime, "seed": seed, "status": "converged",
                      "hyperparameters": {"regime": regime, "seed": seed, "stabilization": stabilization}})  # fmt: skip
    return path


def test_eigenvalue_captions_take_the_stabilization_from_the_runs_records(run_files, tmp_path):
    """An ablation regime that rescales the spectral norm (``stabilized_norm`` overrides the config's top-level
    ``stabilization.quantity``) is captioned with the quantity its runs recorded in metrics.json; a regime without a
    rescale says so."""
    norm = {"apply": "always", "estimator": "norm_ratio", "gamma": 1.0, "n_iter": 1, "quantity": "norm",
            "scope": "per_gate_block", "vector": "persistent"}  # fmt: skip
    metrics = [_run_metrics(tmp_path / f"{m}.json", m, "stabilized_norm", 0, norm) for m in ("lstm", "gru")]
    text = eigenvalues_description(metrics, regime="stabilized_norm", seed=0)
    assert "seed 0:" in text
    assert (
        "For the stabilized_norm regime these are the weights after the final rescale, whose target is spectral norm "
        "γ = 1.0 per block as estimated by norm_ratio (1 power iteration(s))"
    ) in text
    exact = _run_metrics(tmp_path / "exact.json", "rnn", "stabilized_exact", 2, norm | {"quantity": "radius",
                         "estimator": "exact"})  # fmt: skip
    assert "spectral radius γ = 1.0 per block as estimated by exact" in eigenvalues_description(
        [exact], regime="x", seed=2
    )
    baseline = _run_metrics(tmp_path / "baseline.json", "lstm", "baseline", 0, None)
    text = eigenvalues_description([baseline], regime="baseline", seed=0)
    assert "The baseline regime has no rescale" in text and "γ" not in text
    # The job's whole caption: what the figure is, then this run's numbers.
    _, js = run_files["baseline"]
    whole = report_caption(eigenvalues_description(metrics, regime="stabilized_norm", seed=0),
                           eigenvalues_caption({"lstm": js}, seed=0))  # fmt: skip
    assert whole.index("spectral norm") < whole.index("This run:") < whole.index("- lstm: ρ per block")


def test_figure_descriptions_read_the_data_not_the_config(run_files, histories, tmp_path):
    """The seeds and levels a caption names are those of the runs and of the job's own drawing."""
    runs = [("imdb", "lstm", "baseline", 3), ("imdb", "gru", "baseline", 3)]
    text = pseudospectra_description(runs, eps_log10=[-3, -2.5, -2])
    assert "seed 3:" in text and "log10 ε ∈ [-3, -2.5, -2] (colour bar)" in text
    metrics = _final_metrics(tmp_path, histories)
    assert "the mean over seeds [0, 1] with a band" in training_description(metrics)


def test_figure_report_captions_are_the_jobs_own():
    """Each figure's report caption is the file its job wrote, whole: no report .rst reads the live config."""
    for name in ("pseudospectra", "training", "eigenvalues", "figure7_perturbation", "figure8_prediction"):
        text = (ROOT / "workflow" / "report" / f"{name}.rst").read_text()
        assert text == ".. include:: {{ snakemake.output.caption }}\n", name


def test_training_epochs_are_integers_and_log_labels_plain(histories, tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.ticker import MaxNLocator

    fig = build_training_curves_figure(histories, task="imdb")
    FigureCanvasAgg(fig).draw()
    for ax in panel_axes(fig):
        assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    loss = panel_axes(fig)[1]
    assert loss.get_yscale() == "log"
    labels = [t.get_text() for t in loss.yaxis.get_ticklabels(which="both") if t.get_text()]
    assert labels and not any("times" in x or "^" in x or "$" in x or "×" in x for x in labels), labels
    assert all(float(x) > 0 for x in labels)
    # A loss within one decade (2.43–2.49, as after two epochs): labelled ticks inside the range, all distinct.
    flat = tmp_path / "flat.csv"
    pd.DataFrame({"epoch": [0, 1, 2], "test_loss": [2.49, 2.46, 2.43], "test_accuracy": [0.1, 0.2, 0.3]}).to_csv(
        flat, index=False
    )
    fig = build_training_curves_figure({("rnn", "baseline"): flat}, task="imdb")
    FigureCanvasAgg(fig).draw()
    ax = panel_axes(fig)[1]
    low, high = ax.get_ylim()
    shown = [
        (t.get_position()[1], t.get_text())
        for t in ax.yaxis.get_ticklabels(which="both")
        if t.get_text() and low <= t.get_position()[1] <= high
    ]
    texts = [text for _, text in shown]
    assert len(texts) >= 2 and len(set(texts)) == len(texts), texts
    assert all(abs(float(text) - y) < 0.01 for y, text in shown) and not any("×" in x or "$" in x for x in texts)


def _metrics(path, model, status):
    write_json(path, {"task": "imdb", "model": model, "seed": 0, "status": status})
    return path


def test_a_run_that_diverged_in_epoch_1_shows_and_says_so(histories, tmp_path):
    """A run that diverged in its first epoch has a one-row history (epoch 0): its curve is one marker,
    and the legend says "(diverged)"."""
    one_row = tmp_path / "lstm/history.csv"
    one_row.parent.mkdir()
    pd.read_csv(histories["gru", "baseline"]).iloc[:1].assign(epoch=0).to_csv(one_row, index=False)
    curves = {("gru", "baseline"): histories["gru", "baseline"], ("lstm", "stabilized"): one_row}
    metrics = {
        ("gru", "baseline"): _metrics(tmp_path / "gru.json", "gru", "converged"),
        ("lstm", "stabilized"): _metrics(tmp_path / "lstm.json", "lstm", "diverged"),
    }
    fig = build_training_curves_figure(curves, task="imdb", metrics=metrics)
    for ax in panel_axes(fig):
        lines = {line.get_label(): line for line in ax.get_lines()}
        # It never reached an epoch-end rescale (no radius_after columns, no accuracy before a final rescale).
        assert set(lines) == {"GRU baseline", "LSTM stabilized (diverged)"}
        single = lines["LSTM stabilized (diverged)"]
        assert len(single.get_xdata()) == 1 and single.get_marker() not in (None, "", "None", " ")
        assert all(line.get_marker() not in (None, "", "None", " ") for line in lines.values())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "LSTM stabilized (diverged)" in legend
    # Several seeds of which some diverged: the count.
    seeds = {("lstm", "stabilized"): [one_row, histories["gru", "baseline"]]}
    both = [metrics["lstm", "stabilized"], _metrics(tmp_path / "lstm1.json", "lstm", "converged")]
    fig = build_training_curves_figure(seeds, task="imdb", metrics={("lstm", "stabilized"): both})
    labels = [line.get_label() for line in panel_axes(fig)[0].get_lines()]
    assert labels == ["LSTM stabilized (n=2) (1/2 diverged)"]
    # A metrics file of another model is refused; a curve without metrics too.
    with pytest.raises(ValueError, match="model 'gru'"):
        build_training_curves_figure(
            curves, task="imdb", metrics={**metrics, ("lstm", "stabilized"): metrics["gru", "baseline"]}
        )
    with pytest.raises(KeyError, match="no metrics"):
        build_training_curves_figure(curves, task="imdb", metrics={("gru", "baseline"): metrics["gru", "baseline"]})


# --------------------------------------------------------------------------------------------------
# Eigenvalues.


def test_eigenvalue_small_multiples(run_files, tmp_path):
    """One small panel per gate block, a row per model, every panel on the same axes; the markers are outlined
    and above the unit circle, and one legend names them."""
    _, baseline = run_files["baseline"]
    _, stabilized = run_files["stabilized"]
    analysis = {"lstm": baseline, "gru": stabilized}
    fig = build_eigenvalues_figure(analysis, task="imdb", regime="baseline", seed=0)
    axes = panel_axes(fig)
    data = {"lstm": json.loads(baseline.read_text()), "gru": json.loads(stabilized.read_text())}
    # LSTM before GRU; within a model the blocks in gate order (the GRU here holds LSTM blocks: sorted by name).
    expected = [("lstm", b) for b in ("rnn/i", "rnn/f", "rnn/c", "rnn/o")]
    expected += [("gru", b) for b in ("rnn/c", "rnn/f", "rnn/i", "rnn/o")]
    assert [ax.get_label() for ax in axes] == [f"panel:{m}/{b}" for m, b in expected]
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    assert len(rows) == 2  # a row per model
    for ax, (model, block) in zip(axes, expected, strict=True):
        summary = data[model][block]
        (dots,) = [line for line in ax.get_lines() if line.get_label() == "eigenvalues"]
        np.testing.assert_allclose(np.c_[dots.get_xdata(), dots.get_ydata()], np.asarray(summary["eigenvalues"]))
        assert dots.get_markeredgecolor() == "k" and dots.get_markersize() <= 4
        (circle,) = [line for line in ax.get_lines() if line.get_label() == "unit circle"]
        assert circle.get_linestyle() == "--" and dots.get_zorder() > circle.get_zorder()
        assert ax.get_title() == f"{model.upper()} · {block}, ρ = {summary['spectral_radius']:.4g}"
        assert ax.get_xlim() == axes[0].get_xlim() and ax.get_ylim() == axes[0].get_ylim()  # shared range
    radius = max(s["spectral_radius"] for d in data.values() for s in d.values())
    assert axes[0].get_xlim()[1] >= max(1.0, radius)
    assert fig._suptitle.get_text().startswith("imdb · baseline, seed 0")
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["eigenvalues (LSTM)", "eigenvalues (GRU)", "unit circle"]
    stem = tmp_path / "eig"
    _check_outputs(plot_eigenvalues(analysis, stem, task="imdb", regime="baseline"), stem)


def test_eigenvalue_rows_split_eight_blocks_by_layer():
    """The adding task's LSTM (8 blocks) and GRU (6) take one row per layer; 4 blocks or fewer share a row."""
    assert _eigenvalue_rows("adding", "lstm", block_keys("adding", "lstm")[::-1]) == [
        list(block_keys("adding", "lstm")[:4]),
        list(block_keys("adding", "lstm")[4:]),
    ]
    assert [len(r) for r in _eigenvalue_rows("adding", "gru", block_keys("adding", "gru"))] == [3, 3]
    assert _eigenvalue_rows("adding", "rnn", block_keys("adding", "rnn")) == [list(block_keys("adding", "rnn"))]
    assert _eigenvalue_rows("imdb", "lstm", block_keys("imdb", "lstm")) == [list(block_keys("imdb", "lstm"))]
