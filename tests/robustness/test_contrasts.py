"""One family against another, paired by run (rnnrobust.robustness.perturbation.contrasts)."""

import math

import pytest

from rnnrobust.layout import REFERENCE
from rnnrobust.robustness.perturbation.contrasts import family_contrasts
from rnnrobust.robustness.perturbation.eps5 import FamilyThreshold, RunFragility, Threshold
from rnnrobust.stats import holm, paired_difference


def _run(key, thresholds):
    flips = {f: FamilyThreshold(tuple(Threshold(*t) for t in samples)) for f, samples in thresholds.items()}
    return RunFragility(key, 0.9, (), {}, {}, math.nan, math.nan, flip5=flips)


def test_the_contrast_pairs_runs_leaves_out_bounds_and_adjusts_across_tasks():
    runs = {}
    for task, shift in (("adding", -1.0), ("imdb", 0.2)):
        for seed in range(6):
            key = (task, "gru", REFERENCE, seed)
            control = [(0.5 + seed / 10,), (0.7,), (1.0, "above")]  # median 0.7 with one sample censored: exact
            runs[key] = _run(key, {"instability": [(0.5 + shift + seed / 20,)], "gaussian_rank": control})
    censored = ("imdb", "gru", REFERENCE, 6)
    runs[censored] = _run(censored, {"instability": [(1.0, "above")], "gaussian_rank": [(0.1,)]})
    alone = ("imdb", "gru", REFERENCE, 7)  # no instability direction (no stable block): not a pair, not censored
    runs[alone] = _run(alone, {"gaussian_rank": [(0.1,)]})
    adding, imdb = family_contrasts(runs)
    assert (adding.task, adding.a, adding.b, adding.threshold) == ("adding", "instability", "gaussian_rank", "flip5")
    for contrast in (adding, imdb):
        keys = [(contrast.task, "gru", REFERENCE, s) for s in range(6)]
        a = {k: runs[k].flip5["instability"].log10 for k in keys}
        b = {k: runs[k].flip5["gaussian_rank"].log10 for k in keys}
        assert contrast.difference == paired_difference(a, b, interval="auto")
        assert contrast.difference.n == 6
    assert adding.censored == 0 and imdb.censored == 1
    assert adding.difference.mean < 0 and adding.difference.ci_high < 0
    p = holm([adding.difference.p_value, imdb.difference.p_value])
    assert (adding.p_holm, imdb.p_holm) == pytest.approx(tuple(p))
