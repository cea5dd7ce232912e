"""The predictors of one trained run's fragility: what its weights and its dynamics say before it is perturbed.

One job per trained run (``workflow/scripts/predict.py``) rebuilds the network from ``model.pt`` and
``metrics.json`` as the perturbation stage does (``rnnrobust.robustness.perturbation.run``) and computes, on the
examples that stage measures on, the numbers Table 6 ranks against the measured threshold ε_flip5
(:func:`predict_run`). The definitions, stated once; W is a recurrent gate block (``<layer>/<gate>``, an H × H row
block of ``weight_hh``, in float64), ‖·‖₂ the spectral norm, ρ_ε the ε-pseudospectral radius
(``rnnrobust.spectra``), and every relative size is divided by ‖W‖₂, as the perturbation stage's ε is.

Per block (``blocks``):

- ``norm2`` ‖W‖₂; ``spectral_radius`` ρ(W); ``stability`` ``layout.stability`` of ρ in the weights' precision.
- ``henrici_relative``: Henrici's departure from normality over the Frobenius norm, ‖N‖_F/‖W‖_F with N the
  strictly upper part of W's complex Schur factor (``spectra.henrici(W, relative=True)``): 0 for a normal W,
  at most 1.
- ``distance_to_instability`` d = min_{|z|=1} σ_min(zI − W) (``spectra``; for an unstable W the distance to
  the circle, not 0); ``eps_pred`` = d/‖W‖₂ for a ``stable`` block, None for the others.
- ``kreiss`` K(W) = sup_{ε>0} (ρ_ε(W) − 1)/ε ≥ 1 (1: the limit ε → ∞), +∞ when ρ(W) ≥ 1, as the larger of two
  lower bounds of the supremum: ``kreiss_search``, the 1-D search of :func:`kreiss_search`, and
  ``spectra.kreiss_constant`` (its own search, 3 points a decade).
- ``transient_peak`` max_k ‖W^k‖₂ (``spectra.transient_growth``; K ≤ peak ≤ e·H·K).
- ``horizon`` T, the number of steps of the block's layer (the length of the sequence the layer reads), and
  ``eps_horizon`` ε_T/‖W‖₂ with ε_T = min{ε : ρ_ε(W)^T ≥ g} (``rnnrobust.robustness.horizon``, g = ``growth``):
  0 when ρ^T ≥ g already, and → ``eps_pred`` as T → ∞.

Of the run's dynamics, on the first sequences of the evaluation subset:

- ``lyapunov``: per recurrent layer (``layers``) the finite-time Lyapunov summary of
  ``rnnrobust.robustness.lyapunov`` (``lambda_max``, the median over the sequences of λ₁, natural log per step,
  its 10 % and 90 % quantiles, ``n_positive``, ``horizon``, ``sequences``); at run level ``lambda_max``, the
  largest layer's, with that layer's ``n_positive`` and its name (``layer``).
- ``linear_response``: ε_flip5,lin of ``rnnrobust.robustness.linear_response`` (``eps_flip5_linear``), the
  first-order prediction of the measured ε_flip5, with ``n_examples``, ``n_predictions``, ``n_ties`` and, for
  context, ``log_eps_q01``, ``log_eps_q05``, ``log_eps_q50``: log10 of the 1 %, 5 % and 50 % quantiles of the
  per-prediction thresholds (``predicted_flip_quantile``, so that ``log_eps_q05`` = log10 ``eps_flip5_linear``).

``summary``, one number per predictor, what Table 6 ranks runs by (:data:`FRAGILE_WHEN_LARGER` says which way):
``log_norm`` = max_b log10 ‖W_b‖₂; ``henrici_relative`` = max_b; ``log_kreiss`` = max_b log10 K (+∞ with an
unstable block); ``log_transient_peak`` = max_b log10; ``log_eps_pred`` = min over the stable blocks of log10
ε_pred (None: no stable block); ``log_eps_horizon`` = min_b log10 ε_T/‖W_b‖₂ (−∞ when a block grows already);
``lambda_max`` and ``n_positive`` of ``lyapunov``; ``log_eps_flip5_linear``. Infinite values stay floats, which
``rnnrobust.io.write_json`` writes as ``Infinity`` (``docs/output-formats.md``); None is undefined.

**Examples read.** The perturbation stage's fixed evaluation subset (``n_eval`` test examples drawn with
``seed``; both default to ``PerturbationConfig``'s, and must be the stage's for the predictors to read its
examples): the first ``lyapunov_sequences`` of it for the exponents, the first ``n_linear`` for ε_flip5,lin.

**Cost**, one torch thread, random weights at the paper's shapes (Gaussian blocks scaled to ρ ≈ 0.9, so
‖W‖₂ ≈ 1.8; 16 sequences, 256 examples of 2000), measured on a shared 2-core machine under a load of about 3: an
adding GRU (H = 128, 6 blocks) took 109 s, of which 97 s linear algebra, 6 s exponents and 6 s linear response;
an IMDB GRU (H = 32, 80 steps, 3 blocks) 5 s (2, 1 and 2 s). At H = 128 one ρ_ε costs about 0.4 s and a block
about 13 s: the 1-D Kreiss search 7 s (about 17 ρ_ε), ``spectra.kreiss_constant`` 2 s, ε_T 3.5 s (about 8 ρ_ε),
d 0.5 s.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.optimize
from torch import Tensor, nn

from rnnrobust import spectra
from rnnrobust.layout import stability
from rnnrobust.robustness.horizon import DEFAULT_GROWTH, horizon_threshold
from rnnrobust.robustness.linear_response import linear_response, predicted_flip_quantile
from rnnrobust.robustness.lyapunov import finite_time_lyapunov
from rnnrobust.robustness.perturbation.settings import PerturbationConfig
from rnnrobust.robustness.perturbation.state import layer_inputs
from rnnrobust.robustness.perturbation.trained import Stopwatch, evaluation_subset, trained_run
from rnnrobust.training.tasks import load_tensors

__all__ = ["FRAGILE_WHEN_LARGER", "block_predictors", "kreiss_search", "predict_run", "run_summary"]

#: Per ``summary`` predictor: True when a larger value says the run is more fragile (it should flip at a smaller
#: ε, so its Spearman correlation with the measured log10 ε_flip5 is expected negative), False for a threshold.
FRAGILE_WHEN_LARGER = {
    "log_norm": True,
    "henrici_relative": True,
    "log_kreiss": True,
    "log_transient_peak": True,
    "log_eps_pred": False,
    "log_eps_horizon": False,
    "lambda_max": True,
    "n_positive": True,
    "log_eps_flip5_linear": False,
}
#: The Kreiss search's grid in log10 ε: its step and how far above log10 d it may go (decades).
KREISS_STEP = 0.25
KREISS_DECADES = 6.0
#: The refinement's tolerance in log10 ε: F is flat at its maximum, so an error δ costs about δ² in F.
KREISS_XTOL = 1e-4
#: The quantiles of ε_lin kept for context beside ε_flip5,lin.
CONTEXT_QUANTILES = {"log_eps_q01": 0.01, "log_eps_q05": 0.05, "log_eps_q50": 0.5}
#: The Lyapunov summary fields kept per layer.
LYAPUNOV_FIELDS = ("lambda_max", "lambda_max_q10", "lambda_max_q90", "n_positive", "horizon", "sequences")
_EVALUATION = PerturbationConfig()


def kreiss_search(W, *, distance: float | None = None) -> float:
    """K(W) = sup_{ε>0} F(ε), F(ε) = (ρ_ε(W) − 1)/ε, by a scan in log10 ε and a bounded 1-D refinement.

    F ≤ 0 below d (ρ_d = 1), and F(ε) ≤ 1 + (‖W‖₂ − 1)/ε since ρ_ε ≤ ‖W‖₂ + ε. The scan starts at x = log10 d
    and steps :data:`KREISS_STEP` decades up, at most :data:`KREISS_DECADES`; it stops as soon as that bound
    shows no larger ε can beat the best value so far, the limit 1 included (so a ‖W‖₂ ≤ 1 costs nothing). Around
    the best scanned point, ``scipy.optimize.minimize_scalar`` (bounded) maximises F over the two neighbouring
    intervals to :data:`KREISS_XTOL` in x. Every value is a global ρ_ε (criss-cross, ``spectra``), so the result
    is a lower bound of K(W), exact at the maximum found; a peak narrower than the scan's step can be missed.

    Parameters
    ----------
    W : (n, n) array_like or spectra.Prepared
        The block, or ``spectra.prepare(W)``.
    distance : float, optional
        d, when the caller has it already (``spectra.distance_to_instability(W)``).

    Returns
    -------
    float
        max(1, the largest F found); +∞ when ρ(W) ≥ 1 (or d rounds to 0).

    Examples
    --------
    A normal block: ρ_ε = ρ + ε, F = 1 − (1 − ρ)/ε < 1, K = 1. A Jordan-type block [[a, c], [0, a]] with
    c > 2(1 − a) has K = c/(4b) + b/c, b = 1 − a (its ρ_ε = a + √(ε(ε + c))):

    >>> kreiss_search([[0.5, 0.0], [0.0, -0.3]]), kreiss_search([[1.0, 0.0], [0.0, 0.5]])
    (1.0, inf)
    >>> print(round(kreiss_search([[0.5, 1.5], [0.0, 0.5]]), 9), round(1.5 / 2 + 0.5 / 1.5, 9))
    1.083333333 1.083333333
    """
    p = spectra.prepare(W, "W")
    if spectra.spectral_radius(p) >= 1.0:
        return math.inf
    if distance is None:
        distance = spectra.distance_to_instability(p)
    if not distance > 0.0:
        return math.inf  # on the circle to rounding: F has no finite supremum we could resolve

    @functools.cache
    def ratio(x: float) -> float:  # F at ε = 10^x, each level computed once
        eps = 10.0**x
        return (spectra.pseudospectral_radius(p, eps) - 1.0) / eps

    start = math.log10(distance)
    best_x = _best_scanned(ratio, start, excess=max(p.norm2 - 1.0, 0.0))
    if best_x is None:
        return 1.0
    bounds = (max(best_x - KREISS_STEP, start), best_x + KREISS_STEP)
    refined = scipy.optimize.minimize_scalar(
        lambda x: -ratio(float(x)), bounds=bounds, method="bounded", options={"xatol": KREISS_XTOL}
    )
    return max(1.0, ratio(best_x), float(-refined.fun))


def _best_scanned(ratio: Callable[[float], float], start: float, excess: float) -> float | None:
    """The x of the largest F on the scan of :func:`kreiss_search` from ``start`` = log10 d; None when the bound
    F ≤ 1 + ``excess``/ε (``excess`` = max(‖W‖₂ − 1, 0)) shows at once that no ε beats the limit 1."""
    best, best_x = 1.0, None  # the limit ε → ∞ is always a candidate
    for step in range(round(KREISS_DECADES / KREISS_STEP) + 1):
        x = start + step * KREISS_STEP
        if 1.0 + excess / 10.0**x <= best:
            break  # F ≤ 1 + (‖W‖₂ − 1)/ε ≤ best for this ε and every larger one
        if best_x is None or ratio(x) > ratio(best_x):
            best_x, best = x, max(best, ratio(x))
    return best_x


def _relative(value: float, norm: float) -> float:
    """``value`` / ‖W‖₂; a zero block (no relative scale) gives +∞ for a positive value, 0 for 0."""
    if norm > 0.0:
        return value / norm
    return math.inf if value > 0.0 else 0.0


def block_predictors(w, horizon: int, *, precision: str = "float64", growth: float = DEFAULT_GROWTH) -> dict[str, Any]:
    """The ``blocks`` record of one gate block ``w`` (module docstring) whose layer runs ``horizon`` steps.

    ``precision``: the weights' (``"float32"`` or ``"float64"``), which decides ``stability``.

    >>> record = block_predictors([[0.5, 0.0], [0.0, 0.25]], horizon=1)
    >>> record["kreiss"], record["eps_pred"], round(record["eps_horizon"], 9)  # ε_T = 2 − ρ, relative to 0.5
    (1.0, 1.0, 3.0)
    """
    p = spectra.prepare(w, "w")
    norm, radius = p.norm2, spectra.spectral_radius(p)
    label = stability(radius, precision)
    distance = spectra.distance_to_instability(p)
    search = kreiss_search(p, distance=distance)
    return {
        "norm2": norm,
        "spectral_radius": radius,
        "stability": label,
        "henrici_relative": spectra.henrici(p, relative=True),
        "distance_to_instability": distance,
        "eps_pred": _relative(distance, norm) if label == "stable" else None,
        "kreiss": max(search, spectra.kreiss_constant(p)),
        "kreiss_search": search,
        "transient_peak": spectra.transient_growth(p).peak,
        "horizon": int(horizon),
        "eps_horizon": _relative(horizon_threshold(p, horizon, growth=growth), norm),
    }


def _log10(value: float | None) -> float | None:
    """log10 that keeps None, and maps 0 to −∞ and +∞ to +∞."""
    if value is None:
        return None
    return -math.inf if value == 0.0 else math.log10(value)


def run_summary(
    blocks: Mapping[str, Mapping[str, Any]], lyapunov: Mapping[str, Any], linear: Mapping[str, Any]
) -> dict[str, Any]:
    """The run-level ``summary`` (module docstring) from the ``blocks``, ``lyapunov`` and ``linear_response``
    records; its keys are those of :data:`FRAGILE_WHEN_LARGER`."""
    records = list(blocks.values())
    predicted = [r["eps_pred"] for r in records if r["eps_pred"] is not None]
    return {
        "log_norm": max(_log10(r["norm2"]) for r in records),
        "henrici_relative": max(r["henrici_relative"] for r in records),
        "log_kreiss": max(_log10(r["kreiss"]) for r in records),
        "log_transient_peak": max(_log10(r["transient_peak"]) for r in records),
        "log_eps_pred": min(_log10(e) for e in predicted) if predicted else None,
        "log_eps_horizon": min(_log10(r["eps_horizon"]) for r in records),
        "lambda_max": lyapunov["lambda_max"],
        "n_positive": lyapunov["n_positive"],
        "log_eps_flip5_linear": _log10(linear["eps_flip5_linear"]),
    }


def _layer_horizons(model: nn.Module, x: Tensor) -> dict[str, int]:
    """The number of steps each recurrent layer runs on ``x`` (the same for every example)."""
    return {name: int(inputs.shape[1]) for name, inputs in layer_inputs(model, x[:1]).items()}


def _lyapunov(model: nn.Module, x: Tensor, sequences: int) -> dict[str, Any]:
    """The ``lyapunov`` record: the kept fields per layer, and the run-level λ₁ of the largest layer."""
    measured = finite_time_lyapunov(model, x, max_sequences=sequences)
    layers = {name: {key: summary[key] for key in LYAPUNOV_FIELDS} for name, summary in measured.items()}
    top = max(layers, key=lambda name: layers[name]["lambda_max"])
    return {
        "layers": layers,
        "layer": top,
        "lambda_max": layers[top]["lambda_max"],
        "n_positive": layers[top]["n_positive"],
    }


def _linear(model: nn.Module, x: Tensor) -> dict[str, Any]:
    """The ``linear_response`` record: ε_flip5,lin, its counts and the context quantiles (no per-example data)."""
    response = linear_response(model, x)
    record = {key: response[key] for key in ("eps_flip5_linear", "n_examples", "n_predictions", "n_ties")}
    for key, q in CONTEXT_QUANTILES.items():
        record[key] = _log10(predicted_flip_quantile(response["eps"], q))
    return record


def _check_counts(**counts: int) -> None:
    """Every count an integer ≥ 1, else a ValueError naming it."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def predict_run(
    state_dict: Mapping[str, Tensor],
    metrics: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    *,
    n_linear: int = 256,
    lyapunov_sequences: int = 16,
    growth: float = DEFAULT_GROWTH,
    n_eval: int = _EVALUATION.n_eval,
    seed: int = _EVALUATION.seed,
    code_digest: str | None = None,
    log: Callable[[str], None] = print,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The predictors record of one trained run (module docstring), JSON-ready.

    ``state_dict``: the run's ``model.pt``; ``metrics``: its ``metrics.json`` (the hyperparameters rebuild the
    model); ``arrays``: its task's prepared data (``x_test``, ``y_test``). ``n_eval`` and ``seed`` draw the
    perturbation stage's evaluation subset (pass the stage's settings). ``timings`` receives the seconds of the
    phases ``linear algebra``, ``lyapunov`` and ``linear response``.
    """
    _check_counts(n_linear=n_linear, lyapunov_sequences=lyapunov_sequences)
    watch = Stopwatch(timings if timings is not None else {})
    run = trained_run(state_dict, metrics)
    train, model, blocks, dtype = run.train, run.model, run.blocks, run.dtype
    task, cell = train.task, train.model
    n_test = len(arrays["y_test"])
    index = evaluation_subset(n_test, n_eval, seed)
    x = load_tensors(task, {"x_test": arrays["x_test"][index]}, dtype)["x_test"]
    log(f"{task} {cell}: {len(blocks)} blocks; exponents on {min(lyapunov_sequences, len(index))} and linear "
        f"response on {min(n_linear, len(index))} of {len(index)} evaluation examples")  # fmt: skip

    horizons = _layer_horizons(model, x)
    records = {key: block_predictors(w, horizons[key.split("/")[0]], precision=train.dtype, growth=growth)
               for key, w in blocks.items()}  # fmt: skip
    watch.lap("linear algebra")
    lyapunov = _lyapunov(model, x, lyapunov_sequences)
    watch.lap("lyapunov")
    linear = _linear(model, x[:n_linear])
    watch.lap("linear response")
    return {
        "task": task, "model": cell, "regime": train.regime, "seed": train.seed, "precision": train.dtype,
        "code_digest": code_digest, "n_linear": n_linear, "lyapunov_sequences": lyapunov_sequences,
        "growth": float(growth), "n_test": int(n_test), "n_eval": len(index), "eval_seed": int(seed),
        "blocks": records, "lyapunov": lyapunov, "linear_response": linear,
        "summary": run_summary(records, lyapunov, linear),
    }  # fmt: skip
