"""Figures from synthetic per-run files: panel counts, colour bar, titles, contour levels (absolute and
relative to ‖W‖₂), line styles of the training curves, eigenvalue markers, and the PNG / PDF outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet

from rnnrobust import figures as F
from rnnrobust.analysis import analyze_blocks, pseudospectrum_grids
from rnnrobust.io import save_npz, write_json
from rnnrobust.layout import REGIMES

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
    return [F.Panel("imdb", "lstm", regime, 0, b, npz, **kw) for b in blocks]


def _contours(ax) -> ContourSet:
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(sets) == 1
    return sets[0]


# --------------------------------------------------------------------------------------------------
# Pseudospectra.


def test_pseudospectra_figure_has_one_panel_per_entry_a_colour_bar_and_titles(run_files):
    panels = _panels(run_files) + _panels(run_files, "stabilized", ("rnn/o",))
    fig = F.build_pseudospectra_figure(panels, eps_log10=EPS_LOG10, title="IMDB, LSTM")
    axes = F.panel_axes(fig)
    assert F.panel_count(fig) == len(panels) == 4
    # Independent of the helper: every axes that is not a colour bar is a panel.
    assert sum(ax.get_label() != "<colorbar>" for ax in fig.axes) == 4
    cbars = F.colorbar_axes(fig)
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
    fig = F.build_pseudospectra_figure(panels, eps_log10=EPS_LOG10)
    assert F.panel_count(fig) == 7  # 2 rows of 4, the empty slot removed
    assert len(fig.axes) == 8  # 7 panels + 1 colour bar
    fig = F.build_pseudospectra_figure(panels, eps_log10=EPS_LOG10, ncols=2, filled=True)
    assert F.panel_count(fig) == 7
    assert len({round(ax.get_position().x0, 3) for ax in F.panel_axes(fig)}) == 2


def test_panels_show_eigenvalues_and_the_unit_circle(run_files):
    fig = F.build_pseudospectra_figure(_panels(run_files, blocks=("rnn/f",)), eps_log10=EPS_LOG10)
    (ax,) = F.panel_axes(fig)
    lines = {line.get_label(): line for line in ax.get_lines()}
    eigs = np.linalg.eigvals(_blocks()["rnn/f"])
    dots = lines["eigenvalues"]
    assert dots.get_color() == "k" and dots.get_linestyle() == "None"
    got = np.sort_complex(dots.get_xdata() + 1j * dots.get_ydata())
    np.testing.assert_allclose(got, np.sort_complex(eigs), atol=1e-12)
    circle = lines["unit circle"]
    assert circle.get_linestyle() == "--"
    np.testing.assert_allclose(np.hypot(circle.get_xdata(), circle.get_ydata()), 1.0)


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
    panel = F.Panel("imdb", "lstm", "baseline", 0, "rnn/c", npz, analysis_path=js)
    fig = F.build_pseudospectra_figure([panel], eps_log10=levels, relative=relative)
    (ax,) = F.panel_axes(fig)
    eigs = np.diag(_blocks()["rnn/c"]).astype(complex)
    scale = 0.5 if relative else 1.0
    for level, radii in zip(levels, _contour_radii(ax, eigs), strict=True):
        assert radii.size > 10
        np.testing.assert_allclose(radii, scale * 10**level, atol=5e-3)
    label = F.colorbar_axes(fig)[0].get_ylabel()
    assert label.startswith("log10 ε") and (("‖W‖₂" in label) == relative)


def test_relative_levels_take_the_norm_from_the_field_or_the_analysis_file(run_files):
    npz, js = run_files["stabilized"]
    with pytest.raises(ValueError, match="spectral_norm"):
        F.build_pseudospectra_figure(
            [F.Panel("imdb", "lstm", "stabilized", 0, "rnn/f", npz)], eps_log10=EPS_LOG10, relative=True
        )
    from_file = F.Panel("imdb", "lstm", "stabilized", 0, "rnn/f", npz, analysis_path=js)
    norm = 0.8 * np.linalg.norm(_blocks()["rnn/f"], 2)
    assert from_file.norm() == pytest.approx(norm, rel=1e-12)
    given = F.Panel("imdb", "lstm", "stabilized", 0, "rnn/f", npz, spectral_norm=norm)
    segs = []
    for panel in (from_file, given):
        (ax,) = F.panel_axes(F.build_pseudospectra_figure([panel], eps_log10=EPS_LOG10, relative=True))
        segs.append(np.concatenate([p.vertices for p in _contours(ax).get_paths()]))
    np.testing.assert_allclose(segs[0], segs[1])


def test_missing_block_names_the_file_and_its_blocks(run_files):
    npz, _ = run_files["baseline"]
    with pytest.raises(KeyError, match="rnn/h"):
        F.build_pseudospectra_figure([F.Panel("imdb", "lstm", "baseline", 0, "rnn/h", npz)], eps_log10=EPS_LOG10)


def _check_outputs(paths, stem):
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    assert sorted(p.name for p in stem.parent.iterdir()) == sorted(p.name for p in paths)  # no temp files left


def test_plot_pseudospectra_writes_png_and_pdf(run_files, tmp_path):
    stem = tmp_path / "figures" / "pseudospectra_imdb_baseline"
    paths = F.plot_pseudospectra(_panels(run_files), stem, eps_log10=EPS_LOG10, title="IMDB")
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
                path = root / f"{model}/{regime}/seed{seed}/history.csv"
                path.parent.mkdir(parents=True)
                df.to_csv(path, index=False)
                paths.append(path)
            out[model, regime] = paths if len(paths) > 1 else paths[0]
    return out


def test_training_curves_panels_and_styles(histories, tmp_path):
    fig = F.build_training_curves_figure(histories, task="imdb")
    axes = F.panel_axes(fig)
    assert len(axes) == 2
    assert "accuracy" in axes[0].get_ylabel() and "loss" in axes[1].get_ylabel()
    for ax in axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"RNN baseline (n=2)", "RNN stabilized (n=2)", "GRU baseline", "GRU stabilized"}
        assert lines["RNN baseline (n=2)"].get_linestyle() == "-"
        assert lines["RNN stabilized (n=2)"].get_linestyle() == "--"
        assert lines["GRU baseline"].get_linestyle() == "-"
        assert lines["GRU stabilized"].get_linestyle() == "--"
        assert lines["RNN baseline (n=2)"].get_color() == lines["RNN stabilized (n=2)"].get_color()
        assert lines["GRU baseline"].get_color() != lines["RNN baseline (n=2)"].get_color()
    # Values: accuracy in %, mean over seeds; epoch 0 included.
    lines = {line.get_label(): line for line in axes[0].get_lines()}
    gru = pd.read_csv(histories["gru", "baseline"])
    np.testing.assert_allclose(lines["GRU baseline"].get_xdata(), gru["epoch"])
    np.testing.assert_allclose(lines["GRU baseline"].get_ydata(), 100 * gru["test_accuracy"])
    rnn = [pd.read_csv(p)["test_accuracy"] for p in histories["rnn", "stabilized"]]
    np.testing.assert_allclose(lines["RNN stabilized (n=2)"].get_ydata(), 100 * (rnn[0] + rnn[1]) / 2)
    # The adding task adds the exact-match panel.
    assert F.panel_count(F.build_training_curves_figure(histories, task="adding")) == 3
    stem = tmp_path / "curves"
    _check_outputs(F.plot_training_curves(histories, stem, task="imdb"), stem)


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
    fig = F.build_training_curves_figure(curves, task="imdb", metrics=metrics)
    for ax in F.panel_axes(fig):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"GRU baseline", "LSTM stabilized (diverged)"}
        single = lines["LSTM stabilized (diverged)"]
        assert len(single.get_xdata()) == 1 and single.get_marker() not in (None, "", "None", " ")
        assert all(line.get_marker() not in (None, "", "None", " ") for line in lines.values())
    legend = [t.get_text() for t in F.panel_axes(fig)[0].get_legend().get_texts()]
    assert "LSTM stabilized (diverged)" in legend
    # Several seeds of which some diverged: the count.
    seeds = {("lstm", "stabilized"): [one_row, histories["gru", "baseline"]]}
    both = [metrics["lstm", "stabilized"], _metrics(tmp_path / "lstm1.json", "lstm", "converged")]
    fig = F.build_training_curves_figure(seeds, task="imdb", metrics={("lstm", "stabilized"): both})
    assert [line.get_label() for line in F.panel_axes(fig)[0].get_lines()] == ["LSTM stabilized (n=2) (1/2 diverged)"]
    # A metrics file of another model is refused; a curve without metrics too.
    with pytest.raises(ValueError, match="model 'gru'"):
        F.build_training_curves_figure(
            curves, task="imdb", metrics={**metrics, ("lstm", "stabilized"): metrics["gru", "baseline"]}
        )
    with pytest.raises(KeyError, match="no metrics"):
        F.build_training_curves_figure(curves, task="imdb", metrics={("gru", "baseline"): metrics["gru", "baseline"]})


# --------------------------------------------------------------------------------------------------
# Eigenvalues.


def test_eigenvalue_panels(run_files, tmp_path):
    _, baseline = run_files["baseline"]
    _, stabilized = run_files["stabilized"]
    analysis = {"lstm": baseline, "rnn": stabilized}
    fig = F.build_eigenvalues_figure(analysis, task="imdb", regime="baseline", seed=0)
    axes = F.panel_axes(fig)
    assert len(axes) == 2
    assert [ax.get_title() for ax in axes] == ["imdb · RNN · baseline, seed 0", "imdb · LSTM · baseline, seed 0"]
    data = json.loads(baseline.read_text())
    scatters = {c.get_label(): c for c in axes[1].collections if isinstance(c, PathCollection)}
    assert list(scatters) == ["rnn/i", "rnn/f", "rnn/c", "rnn/o"]  # gate order of the LSTM
    for block, summary in data.items():
        np.testing.assert_allclose(scatters[block].get_offsets(), np.asarray(summary["eigenvalues"]))
    assert len({tuple(c.get_facecolor()[0]) for c in scatters.values()}) == 4
    assert len({c.get_paths()[0].vertices.tobytes() for c in scatters.values()}) == 4  # distinct markers
    circle = [line for line in axes[1].get_lines() if line.get_label() == "unit circle"]
    assert len(circle) == 1 and circle[0].get_linestyle() == "--"
    stem = tmp_path / "eig"
    _check_outputs(F.plot_eigenvalues(analysis, stem, task="imdb", regime="baseline"), stem)
