"""Front dominance between two sets of runs (rnnrobust.robustness.pareto.dominates)."""

import numpy as np

from rnnrobust.robustness.pareto import dominates, front


def test_dominance_is_every_front_point_covered_and_one_beaten():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a, b = rng.integers(0, 5, size=(4, 2)).astype(float), rng.integers(0, 5, size=(4, 2)).astype(float)
        b_front = b[front(b)]
        covered = all(any(np.all(p >= q) for p in a) for q in b_front)
        beaten = any(any(np.all(p >= q) and np.any(p > q) for p in a) for q in b_front)
        assert dominates(a, b) == (covered and beaten)
        assert not (dominates(a, b) and dominates(b, a))  # never both ways
    assert dominates(np.vstack([b, [[9.0, 9.0]]]), b)  # one point beyond them all
    assert not dominates(b, [[np.nan, 1.0]]) and not dominates([[np.nan, 1.0]], b)
