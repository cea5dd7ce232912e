"""Accuracy–robustness fronts: which runs no other run beats on both counts, and the area they dominate.

Numbers only (Table 7 and Figure 9 put them in words and pictures). A run is a point (accuracy, robustness), both
to be maximised: its test accuracy in % and its log10 ε₅ (``rnnrobust.robustness.perturbation.eps5``: the relative
weight perturbation at which accuracy falls 5 points; larger is more robust).

- **Front** (:func:`front`): the points that no other point dominates, i.e. none is at least as good on both
  counts and better on one. Points with a NaN coordinate are never on it.
- **Dominated hypervolume** (:func:`hypervolume`): the area of the set of (a, r) with a ≥ a_ref, r ≥ r_ref that
  some point dominates. For the front sorted by accuracy, a₁ < … < a_k (so r₁ > … > r_k),
  HV = Σ_i (a_i − a_{i−1}) · (r_i − r_ref) with a₀ = a_ref. Points at or below the reference on either count add
  nothing. A larger HV is a better front; comparing two methods' HV needs the same reference point.
- **Methods** (:func:`regime_method`): a regime's training method, read from its settings, so that the arms of one
  method (its values of β or γ) share a front; **references** (:func:`paired_references`): the arm each arm is
  compared with seed by seed.

>>> points = np.array([[90.0, -1.0], [80.0, -0.5], [85.0, -1.2], [np.nan, 0.0]])
>>> front(points).tolist()
[True, True, False, False]
>>> hypervolume(points, reference=(50.0, -2.0))  # (80 − 50)·1.5 + (90 − 80)·1.0
55.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["MATCH_POINTS", "dominates", "front", "hypervolume", "paired_references", "regime_method"]

#: Runs (or arms) whose test accuracies differ by at most this many percentage points count as matched: only they
#: are compared on fragility, so that no method is credited with robustness it bought with accuracy.
MATCH_POINTS = 1.0


def _points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    return np.asarray(points, dtype=float).reshape(-1, 2)


def front(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (n × 2, both columns maximised; NaN rows never).

    Equal points are all on the front (none is better than the other on either count).

    >>> front([[1.0, 1.0], [1.0, 1.0], [0.5, 0.5]]).tolist()
    [True, True, False]
    """
    p = _points(points)
    finite = ~np.isnan(p).any(axis=1)
    mask = np.zeros(len(p), dtype=bool)
    for i in np.flatnonzero(finite):
        others = p[finite]
        dominated = np.any(np.all(others >= p[i], axis=1) & np.any(others > p[i], axis=1))
        mask[i] = not dominated
    return mask


def dominates(points: Sequence[Sequence[float]] | np.ndarray, other: Sequence[Sequence[float]] | np.ndarray) -> bool:
    """Does the front of ``points`` dominate that of ``other``: is every point of ``other``'s front matched or beaten
    on both counts by a point of ``points``, and some point of ``other`` beaten on one? False when either has no
    finite point.

    >>> dominates([[90.0, -1.0], [85.0, -0.5]], [[88.0, -1.0], [80.0, -0.6]])
    True
    >>> dominates([[90.0, -1.0]], [[88.0, -0.5]]), dominates([[1.0, 1.0]], [[1.0, 1.0]])
    (False, False)
    """
    a, b = _points(points), _points(other)
    a, b = a[~np.isnan(a).any(axis=1)], b[~np.isnan(b).any(axis=1)]
    if not len(a) or not len(b):
        return False
    b = b[front(b)]
    covered = all(np.any(np.all(a >= q, axis=1)) for q in b)
    beaten = any(np.any(np.all(a >= q, axis=1) & np.any(a > q, axis=1)) for q in b)
    return bool(covered and beaten)


def hypervolume(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float]) -> float:
    """The area dominated by ``points`` (both columns maximised) above ``reference`` = (a_ref, r_ref).

    0 for no point beyond the reference on both counts; NaN for a NaN reference.

    >>> hypervolume([[1.0, 2.0], [2.0, 1.0]], reference=(0.0, 0.0))  # 2 + 2 − 1 overlapping
    3.0
    >>> hypervolume([[1.0, 1.0]], reference=(1.0, 0.0))
    0.0
    """
    a_ref, r_ref = (float(x) for x in reference)
    if np.isnan(a_ref) or np.isnan(r_ref):
        return float("nan")
    p = _points(points)
    p = p[~np.isnan(p).any(axis=1)]
    p = p[(p[:, 0] > a_ref) & (p[:, 1] > r_ref)]
    if not len(p):
        return 0.0
    p = p[front(p)]
    p = p[np.lexsort((-p[:, 1], p[:, 0]))]  # accuracy ascending (robustness descending along a front)
    previous, area = a_ref, 0.0
    for accuracy, robustness in p:
        area += (accuracy - previous) * (robustness - r_ref)
        previous = accuracy
    return float(area)


#: Method labels, in the order a legend lists them.
METHODS = (
    "plain training",
    "Algorithm 1 per epoch",
    "Algorithm 1 per step",
    "norm projection",
    "stability barrier",
    "Schur parametrisation",
    "Schur, eigenvalues frozen",
)


def regime_method(name: str, settings: Mapping[str, Any]) -> str:
    """The training method of a regime (one of :data:`METHODS`), from its settings in ``config["regimes"]``.

    A regime that only changes ``train`` options (an ablation) is its own method, named after it.

    >>> regime_method("baseline", {}), regime_method("stabilized", {"stabilization": {}})
    ('plain training', 'Algorithm 1 per epoch')
    >>> regime_method("b", {"robust_training": {"barrier": 0.001, "gamma": 0.95}})
    'stability barrier'
    """
    robust = settings.get("robust_training") or {}
    if robust.get("parametrization") == "schur":
        return METHODS[6] if robust.get("init_from") else METHODS[5]
    if robust.get("barrier") is not None:
        return METHODS[4]
    projection = robust.get("projection", "none")
    if projection != "none" and robust:
        return METHODS[2] if projection == "radius" else METHODS[3]
    if settings.get("stabilization") is not None:
        return METHODS[1]
    return METHODS[0] if not settings.get("train") else name


def paired_references(regimes: Mapping[str, Mapping[str, Any]], baseline: str) -> dict[str, str | None]:
    """The arm each regime is compared with, seed by seed (None for the baseline itself).

    A regime that starts from another's runs (``robust_training.init_from``) is compared with its control: the
    configured regime with the same settings but no penalty on ‖N‖_F (``nonnormality`` 0), else with the regime it
    starts from. Every other regime is compared with ``baseline``.

    >>> frozen = {"parametrization": "schur", "init_from": "s", "freeze_eigenvalues": True}
    >>> regimes = {"baseline": {}, "s": {"robust_training": {"parametrization": "schur"}},
    ...            "f0": {"robust_training": frozen}, "f1": {"robust_training": {**frozen, "nonnormality": 0.1}}}
    >>> paired_references(regimes, "baseline")
    {'baseline': None, 's': 'baseline', 'f0': 's', 'f1': 'f0'}
    """
    out: dict[str, str | None] = {}
    for name, settings in regimes.items():
        robust = dict(settings.get("robust_training") or {})
        if name == baseline:
            out[name] = None
        elif robust.get("init_from"):
            control = {**robust, "nonnormality": 0.0}
            matches = [
                other
                for other, s in regimes.items()
                if other != name
                and {**(s.get("robust_training") or {}), "nonnormality": 0.0} == control
                and not (s.get("robust_training") or {}).get("nonnormality")
                and s.get("train") == settings.get("train")
            ]
            out[name] = matches[0] if matches else robust["init_from"]
        else:
            out[name] = baseline
    return out
