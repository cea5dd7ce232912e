"""benchmarks/keras_compare.py: Keras' recurrent_kernel read as our gate blocks, the per-block numbers, the table and
the verdict; one tiny end-to-end run where Keras is installed (the test extra installs it).

The conversion is checked without Keras: a random ``recurrent_kernel`` (H, k·H) in Keras' row-vector convention
against hand-sliced blocks, and ``h @ K`` against the stacked blocks applied to ``h`` as a column vector.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rnnrobust.layout import CELLS, GATES, LAYERS, TASKS, block_keys, split_gates

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "keras_compare.py"
spec = importlib.util.spec_from_file_location("keras_compare", SCRIPT)
keras_compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(keras_compare)

ADDING, RNN = TASKS[0], CELLS[0]


@pytest.mark.parametrize("cell", CELLS)
def test_keras_blocks_are_the_transposed_column_slices(cell):
    rng = np.random.default_rng(7)
    hidden, k = 5, len(GATES[cell])
    kernel = rng.standard_normal((hidden, k * hidden)).astype(np.float32)
    blocks = keras_compare.keras_gate_blocks(kernel, cell)
    assert list(blocks) == list(GATES[cell])
    for g, gate in enumerate(GATES[cell]):
        by_hand = kernel[:, g * hidden : (g + 1) * hidden].T
        assert blocks[gate].dtype == np.float64 and blocks[gate].shape == (hidden, hidden)
        np.testing.assert_array_equal(blocks[gate], by_hand.astype(np.float64))
    # Keras: h (row) @ K; ours: W_hh h (column), W_hh the blocks stacked top to bottom in the same gate order
    h = rng.standard_normal((3, hidden))
    weight_hh = np.vstack([blocks[gate] for gate in GATES[cell]])
    np.testing.assert_allclose(h @ kernel.astype(np.float64), (weight_hh @ h.T).T, rtol=1e-12, atol=1e-12)
    # and the stacked matrix splits back into the same blocks as the project splits a weight_hh
    for gate, block in split_gates(weight_hh, cell).items():
        np.testing.assert_array_equal(block, blocks[gate])


@pytest.mark.parametrize("shape", [(4, 12), (4, 4, 4), (3, 8)])
def test_a_kernel_of_the_wrong_shape_is_refused(shape):
    with pytest.raises(ValueError, match="recurrent_kernel"):
        keras_compare.keras_gate_blocks(np.zeros(shape), CELLS[1])


def test_block_metrics_of_a_known_matrix():
    a = np.array([[0.5, 2.0], [0.0, -0.3]])
    metrics = keras_compare.block_metrics({"x/h": a})
    assert metrics["x/h/rho"] == pytest.approx(0.5)
    assert metrics["x/h/henrici"] == pytest.approx(2.0)
    assert metrics["x/h/norm"] == pytest.approx(np.linalg.norm(a, 2))


def rows(scale: float, epochs=(1, 2)) -> dict[int, dict[str, float]]:
    out = {}
    for epoch in epochs:
        row = {"epoch": epoch, "accuracy": 0.9, "wall_s": 1.0, "cpu_s": 1.0}
        for block in block_keys(ADDING, RNN):
            row |= {f"{block}/rho": scale * epoch, f"{block}/norm": 2 * scale, f"{block}/henrici": 10 * scale}
        out[epoch] = row
    return out


def test_the_table_shows_keras_and_ours_per_block():
    train = SimpleNamespace(task=ADDING, model=RNN, seed=0)
    table = keras_compare.markdown_table(train, rows(1.0), rows(2.0), [1, 2])
    lines = table.splitlines()
    assert all(f"ρ {block}" in lines[0] for block in block_keys(ADDING, RNN))
    assert lines[0].count("|") - 1 <= 9
    assert lines[3].startswith("| 2 | 0.9000 | 0.9000 | 2.00 / 4.00 |")


def test_the_table_of_a_gated_cell_shows_each_layer_s_largest_gate():
    train = SimpleNamespace(task=TASKS[1], model=CELLS[1], seed=0)
    row = {"accuracy": 0.8} | {
        f"{b}/{q}": i + 1.0 for i, b in enumerate(block_keys(TASKS[1], CELLS[1])) for q in ("rho", "henrici")
    }
    table = keras_compare.markdown_table(train, {1: row}, {1: row}, [1])
    (layer,) = LAYERS[TASKS[1]]
    assert f"ρ {layer} (max)" in table and "| 4.00 / 4.00 | 4.00 / 4.00 |" in table


def test_the_verdict_reads_the_ratios():
    train = SimpleNamespace(task=ADDING, model=RNN, seed=3)
    same = keras_compare.verdict(train, rows(1.0)[2], rows(1.1)[2], 2)
    assert "Every ratio lies within" in same and "seed 3" in same and "(×1.10)" in same
    assert "paper's Table 2" in same
    apart = keras_compare.verdict(train, rows(1.0)[2], rows(2.0)[2], 2)
    assert "Some ratios lie outside" in apart


def test_a_tiny_run_of_both_frameworks(tmp_path):
    """One epoch of 256 adding questions with each framework: both CSVs, the merged one and the table."""
    pytest.importorskip("torch")
    if importlib.util.find_spec("keras") is None:
        pytest.skip("Keras is not installed (the compare and test extras install it)")
    command = [sys.executable, str(SCRIPT), "--task", ADDING, "--epochs", "1", "--max-samples", "256",
               "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=os.environ | {"KERAS_BACKEND": "torch"}
    )
    assert result.returncode == 0, result.stderr
    for suffix in ("-keras.csv", "-ours.csv", ".csv"):
        assert (tmp_path / f"{ADDING}-{RNN}-seed0{suffix}").exists()
    merged = (tmp_path / f"{ADDING}-{RNN}-seed0.csv").read_text().splitlines()
    assert (
        len(merged) == 2 and "keras_accuracy" in merged[0] and f"ours_{block_keys(ADDING, RNN)[0]}/henrici" in merged[0]
    )
    assert "| epoch | acc Keras | acc ours |" in result.stdout and "After epoch 1" in result.stdout
