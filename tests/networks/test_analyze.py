"""``python -m rnnrobust.analyze``: the table, the JSON record, the files of ``--out``, one line for a bad file, and
an ``.npz`` analysed where neither torch nor matplotlib can be imported."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnrobust import spectra
from rnnrobust.analyze import contour_levels, main
from rnnrobust.layout import CELLS, GATES
from rnnrobust.reporting.network_report import MATPLOTLIB_MISSING

SRC = Path(__file__).resolve().parents[2] / "src"
LSTM = CELLS[1]


def grcar(n: int) -> np.ndarray:
    """The Grcar matrix: −1 on the subdiagonal, 1 on the diagonal and the three superdiagonals."""
    return np.diag(-np.ones(n - 1), -1) + sum(np.diag(np.ones(n - k), k) for k in range(4))


@pytest.fixture
def weights(tmp_path) -> Path:
    """A weights file as the workflow writes it (``<layer>/<gate>``), plus a matrix of its own and a vector."""
    rng = np.random.default_rng(0)
    arrays = {f"rnn/{gate}": rng.standard_normal((4, 4)) * 0.3 for gate in GATES[LSTM]}
    path = tmp_path / "weights.npz"
    np.savez(path, **arrays, grcar=grcar(6), vector=np.ones(3))
    return path


def test_table_rows_are_the_spectra_tables(weights, capsys):
    assert main([str(weights), "--eps", "0.01", "0.1"]) == 0
    out, err = capsys.readouterr()
    assert "skipped vector: shape (3,) is not a square matrix" in err
    assert f"# rnn: NumPy {LSTM.upper()}, H = 4" in out and "# weights: NumPy matrices\n" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {f"rnn/{gate} ({gate})" for gate in GATES[LSTM]} | {"grcar"} <= set(rows)
    summary = spectra.robustness_summary(grcar(6), [0.01, 0.1])
    cells = [c.strip() for c in rows["grcar"].split("|")[1:-1]]
    assert cells[1:3] == ["6", f"{summary['spectral_radius']:.4f}"]


def test_json_record(weights, capsys):
    assert main([str(weights), "--format", "json", "--no-refine", "--eps", "0.1"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["file"] == str(weights) and record["eps"] == [0.1]
    layer = record["layers"][0]
    assert (layer["name"], layer["framework"], layer["cell"], layer["hidden_size"]) == ("rnn", "NumPy", LSTM, 4)
    block = layer["blocks"][0]
    assert block["key"] == "rnn/i" and block["source_gate"] == block["gate"] == GATES[LSTM][0]
    assert set(spectra.robustness_summary(np.eye(2), [0.1])) == set(block["summary"])


def test_out_writes_the_record_grids_figures_and_one_page(weights, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    assert main([str(weights), "--out", str(out), "--grid", "21", "--no-refine"]) == 0
    record = json.loads((out / "analysis.json").read_text())
    assert [layer["name"] for layer in record["layers"]] == ["rnn", "weights"]
    with np.load(out / "pseudospectra.npz") as grids:
        assert grids["rnn/f/sigma_min"].shape == (21, 21)
        assert grids["rnn/f/x"][-1] == grids["rnn/o/x"][-1]  # one square per layer
    for stem in ("rnn", "weights"):
        assert (out / f"{stem}.png").stat().st_size > 1000 and (out / f"{stem}.pdf").exists()
    page = (out / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2 and "rnn/c (c)" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing to fetch


def test_a_bad_file_is_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert main([str(tmp_path / "bad.npz")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {tmp_path / 'bad.npz'}: expected")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert main([str(tmp_path / "objects.npy")]) == 2
    assert "allow_pickle=False" in capsys.readouterr().err


def test_non_finite_blocks_are_skipped_with_a_note(tmp_path, capsys):
    np.savez(tmp_path / "w.npz", ok=np.eye(2) * 0.5, diverged=np.full((2, 2), np.nan))
    assert main([str(tmp_path / "w.npz"), "--no-refine", "--grid", "5", "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert "skipped diverged:" in err and "| ok " in out
    with np.load(tmp_path / "out" / "pseudospectra.npz") as grids:
        assert "ok/x" in grids and not [key for key in grids if key.startswith("diverged")]


def test_contour_levels_are_half_decades():
    assert contour_levels([1e-3, 1e-1]) == [-3.0, -2.5, -2.0, -1.5, -1.0]
    assert contour_levels([0.05]) == [-2.0, -1.5, -1.0]
    assert contour_levels([0.01]) == [-2.0]


_WITHOUT = """
import sys
for name in ("torch", "matplotlib", "h5py"):
    sys.modules[name] = None  # importing it now fails, as where it is not installed
from rnnrobust.analyze import main
code = main(sys.argv[1:])
assert not [m for m in ("torch", "matplotlib", "h5py") if sys.modules.get(m) is not None]
sys.exit(code)
"""


def test_an_npz_needs_neither_torch_nor_matplotlib(weights, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = tmp_path / "out"
    args = [str(weights), "--out", str(out), "--grid", "11", "--no-refine", "--eps", "0.1"]
    result = subprocess.run([sys.executable, "-c", _WITHOUT, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "| rnn/i (i)" in result.stdout
    assert MATPLOTLIB_MISSING in result.stderr.splitlines()
    assert (out / "analysis.json").exists() and (out / "pseudospectra.npz").exists()
    page = (out / "index.html").read_text()
    assert html.escape(MATPLOTLIB_MISSING) in page and "<img" not in page and not list(out.glob("*.png"))
