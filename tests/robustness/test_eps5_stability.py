"""``RunFragility.linear_unstable``: the most amplifying layer's linear block is unstable in the precision of the
run's weights (``layout.stability``), so that a block Algorithm 1's exact float32 rescale left at ρ = 1 + 5e-8 (on
the circle) is not flagged, while the same radius of float64 weights is."""

from __future__ import annotations

import pytest

from rnnrobust.robustness.perturbation.eps5 import run_fragility

ON_CIRCLE = 1 + 5e-8


def _record(radius, *, precision=None, label=None):
    """A minimal perturbation record of one run: one Gaussian curve, one layer whose linear block has ``radius``
    (with the stage's ``stability`` label and the record's ``precision`` where given, as newer records have them)."""
    block = {"spectral_radius": radius} | ({"stability": label} if label else {})
    record = {
        "task": "imdb", "model": "rnn", "regime": "baseline", "seed": 0,
        "reference": {"accuracy": 0.9}, "chance_accuracy": 0.5,
        "sweep": [{"family": "gaussian", "sample": 0, "eps_log10": x, "accuracy": a, "grid": True}
                  for x, a in ((-3.0, 0.9), (-2.0, 0.88), (-1.0, 0.5))],
        "blocks": {"rnn/h": block},
        "state": {"rnn": {"amplification": {"4": {"median": 2.0}}, "linear_block": "rnn/h",
                          "linear": {"transient_peak": 3.0}}},
    }  # fmt: skip
    if precision is not None:
        record["precision"] = precision
    return record


@pytest.mark.parametrize(
    ("radius", "precision", "unstable"),
    [
        (ON_CIRCLE, "float32", False),  # on the circle in float32
        (ON_CIRCLE, "float64", True),
        (ON_CIRCLE, None, False),  # a record without its precision: float32, training's default
        (1.01, "float32", True),
        (1.01, "float64", True),
        (0.9, "float64", False),
    ],
)
def test_linear_block_is_unstable_in_the_weights_precision(radius, precision, unstable):
    run = run_fragility(_record(radius, precision=precision))
    assert run.amplification_layer == "rnn" and run.linear_unstable is unstable


def test_the_stage_s_own_label_decides():
    assert run_fragility(_record(ON_CIRCLE, precision="float64", label="on_circle")).linear_unstable is False
    assert run_fragility(_record(0.5, precision="float32", label="unstable")).linear_unstable is True


def test_a_block_without_a_radius_is_not_unstable():
    record = _record(0.5, precision="float32")
    record["blocks"] = {}
    assert run_fragility(record).linear_unstable is False
