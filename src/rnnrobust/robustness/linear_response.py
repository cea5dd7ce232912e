"""The first-order (linear-response) predictor of the perturbation size at which a network's predictions flip.

The perturbations are those of the perturbation stage (``rnnrobust.robustness.perturbation.directions``): every
recurrent gate block W_b (``<layer>/<gate>``, the H × H row blocks of ``weight_hh``, ``rnnrobust.layout.split_gates``)
becomes W_b + ΔW_b with ‖ΔW_b‖₂ ≤ ε‖W_b‖₂ for every block b at once (ε relative, as in ε₅). For one prediction with
scores z (logits) and predicted class c:

- **margin** m = z_c − z_k ≥ 0, k the runner-up, argmax over k ≠ c (:func:`prediction_margins`). A binary output (one
  logit s, class 1 when s > 0, i.e. p = σ(s) > 0.5: ``rnnrobust.training.tasks``) is the pair of logits (0, s), so
  m = |s|. A sequence output is one prediction per position: the adding task's 4 answer characters are 4
  predictions, each with its own margin (its accuracy counts characters).
- **gradient** G_b = ∂m/∂W_b, one backward pass per prediction (:func:`margin_gradients`), with k held at the
  runner-up. To first order the perturbation changes m by Σ_b ⟨G_b, ΔW_b⟩, whose least value over the allowed set
  is −ε Σ_b ‖W_b‖₂‖G_b‖_* (‖·‖_*: nuclear norm, the dual of the spectral norm), attained by ΔW_b = −ε‖W_b‖₂ U_b V_bᵀ
  for G_b = U_b Σ_b V_bᵀ. The runner-up stands in for the minimum over all k ≠ c, which would take one backward pass
  per class; the two agree when the slopes Σ_b ‖W_b‖₂‖∂(z_c − z_k)/∂W_b‖_* do not favour another class.
- **ε_lin** = m / Σ_b ‖W_b‖₂‖G_b‖_* (:func:`flip_threshold`): the predicted relative size at which the prediction
  flips; 0 for m = 0 (a tie has flipped already), ∞ when every G_b = 0 (no first-order effect).
- **ε_flip5,lin** (:func:`predicted_flip_quantile`): the 5 % quantile of ε_lin over all predictions, taken as the
  inverse of the empirical distribution: the smallest ε at which at least 5 % of the predictions have ε_lin ≤ ε, i.e.
  the ⌈0.05 N⌉-th smallest of N. It predicts ε_flip5, the relative size at which 5 % of the predictions flip (the
  measured ε₅ counts accuracy instead: only flips of correct predictions cost accuracy, and flipping a wrong binary
  prediction restores it).

For a model linear in its weights (logits z = Σ_b W_b h_b, h_b fixed) ε_lin is exact for two classes, and for more
classes whenever the runner-up has the least ratio (tests/robustness/test_predictors.py). For a trained network it
is a first-order prediction: curvature can move the true flip either way.

:func:`linear_response` computes it for a trained model of the project (``rnnrobust.training.models``) on a
float64 copy in eval mode (no dropout), one example at a time; ‖W_b‖₂ and ‖G_b‖_* in float64, the latter through
the rank bound of :func:`nuclear_norms`. On one loaded core 256 examples took about 2.5 s for an IMDB GRU (H = 32,
80 steps, 256 backward passes) and 8 s for an adding GRU (H = 128, 1024 backward passes), mostly backward passes.

>>> import numpy as np
>>> h = np.array([3.0, 4.0])  # z = W h, two classes, margin 1: G = (e_c − e_k) hᵀ, ‖G‖_* = √2‖h‖
>>> print(round(flip_threshold(1.0, [np.outer([1.0, -1.0], h)], [2.0]), 12), round(1 / (2 * 2**0.5 * 5), 12))
0.070710678119 0.070710678119
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnrobust.layout import split_gates
from rnnrobust.training.models import recurrent_layers

__all__ = [
    "QUANTILE",
    "flip_threshold",
    "linear_response",
    "margin_gradients",
    "nuclear_norms",
    "predicted_flip_quantile",
    "prediction_margins",
]

#: The share of predictions whose flip ε_flip5 marks.
QUANTILE = 0.05


def flip_threshold(margin: float, gradients: Sequence[np.ndarray], norms: Sequence[float]) -> float:
    """ε_lin = m / Σ_b ‖W_b‖₂‖G_b‖_*: the predicted relative perturbation size that flips one prediction.

    Parameters
    ----------
    margin : float
        m ≥ 0, the prediction's margin.
    gradients : sequence of 2-D arrays
        G_b = ∂m/∂W_b, one per block.
    norms : sequence of float
        ‖W_b‖₂ ≥ 0, one per block, in the order of ``gradients``.

    Returns
    -------
    float
        0 for m = 0; ∞ when the denominator is 0.

    Examples
    --------
    >>> import numpy as np
    >>> flip_threshold(0.5, [np.diag([1.0, -2.0]), np.ones((2, 2))], [1.0, 0.5])  # 0.5 / (1·3 + 0.5·2)
    0.125
    """
    m = float(margin)
    if not math.isfinite(m) or m < 0.0:
        raise ValueError(f"margin must be finite and >= 0, got {margin!r}")
    if len(gradients) != len(norms) or not len(gradients):
        raise ValueError(f"need one norm per gradient, at least one: got {len(gradients)} and {len(norms)}")
    denominator = 0.0
    for g, w_norm in zip(gradients, norms, strict=True):
        g = np.asarray(g, dtype=np.float64)
        if g.ndim != 2 or not np.all(np.isfinite(g)) or not (math.isfinite(w_norm) and w_norm >= 0.0):
            raise ValueError("each gradient must be a finite 2-D array and each norm finite and >= 0")
        denominator += float(w_norm) * float(np.linalg.svd(g, compute_uv=False).sum())
    if m == 0.0:
        return 0.0
    return m / denominator if denominator > 0.0 else math.inf


def predicted_flip_quantile(thresholds, q: float = QUANTILE) -> float:
    """The q-quantile of per-prediction thresholds: the smallest ε at which at least a share q have ε_lin ≤ ε.

    The ⌈qN⌉-th smallest of the N values (the inverse of the empirical distribution); ∞ values (predictions with no
    first-order effect) count as never flipping.

    >>> predicted_flip_quantile(np.arange(1.0, 101.0)), predicted_flip_quantile([0.3, np.inf, 0.1], q=0.5)
    (5.0, 0.3)
    """
    t = np.asarray(thresholds, dtype=np.float64).ravel()
    if not t.size or np.isnan(t).any() or (t < 0).any():
        raise ValueError("thresholds must be a non-empty array of values >= 0 (inf allowed, NaN not)")
    if not 0.0 < float(q) <= 1.0:
        raise ValueError(f"q must lie in (0, 1], got {q!r}")
    k = math.ceil(round(float(q) * t.size, 9))  # round: 0.05 · 100 is 5.000000000000001 in binary
    return float(np.partition(t, k - 1)[k - 1])


def prediction_margins(logits: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Margins z_c − z_k of the predictions in ``logits`` (P, K), with c and the runner-up k (module docstring).

    K = 1 is a binary output: the logits (0, s), so m = |s| with c = 1 for s > 0, else 0 (and k the other class).

    >>> m, c, k = prediction_margins(torch.tensor([[1.0, 3.0, 2.5], [0.0, -1.0, -4.0]]))
    >>> m.tolist(), c.tolist(), k.tolist()
    ([0.5, 1.0], [1, 0], [2, 1])
    >>> [v.tolist() for v in prediction_margins(torch.tensor([[-0.25]]))]
    [[0.25], [0], [1]]
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (P, K), got shape {tuple(logits.shape)}")
    if logits.shape[1] == 1:
        logits = torch.cat([torch.zeros_like(logits), logits], dim=1)
    top = logits.topk(2, dim=1)
    rows = torch.arange(logits.shape[0])
    c, k = top.indices[:, 0], top.indices[:, 1]
    return logits[rows, c] - logits[rows, k], c, k


def _predictions(output: Tensor) -> Tensor:
    """One example's output as (P, K): (1,) binary → (1, 1); (1, K) → (1, K); (1, P, K) → (P, K)."""
    if output.shape[0] != 1 or output.dim() > 3:
        raise ValueError(f"expected the output of one example, got shape {tuple(output.shape)}")
    return output.reshape(-1, 1) if output.dim() == 1 else output.reshape(-1, output.shape[-1])


def _block_keys(model: nn.Module, blocks: Sequence[str] | None) -> list[str]:
    """The ``<layer>/<gate>`` keys to perturb: all of the model's (layer then gate order), or ``blocks``."""
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError("the model has no recurrent layer")
    known = [f"{name}/{gate}" for name, layer in layers.items() for gate in layer.gates]
    if blocks is None:
        return known
    keys = list(blocks)
    unknown = [key for key in keys if key not in known]
    if unknown or not keys or len(set(keys)) != len(keys):
        raise ValueError(f"blocks must be distinct keys among {known}, got {keys}")
    return keys


def margin_gradients(model: nn.Module, example: Tensor, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Margins of one example's predictions and their gradients with respect to the gate blocks ``keys``.

    Parameters
    ----------
    model : nn.Module
        A model of ``rnnrobust.training.models`` in eval mode; its ``weight_hh`` must require gradients
        (:func:`linear_response` passes a float64 copy).
    example : Tensor
        One example with its batch dimension of 1.
    keys : sequence of str
        Gate blocks ``<layer>/<gate>``.

    Returns
    -------
    margins : (P,) ndarray
        m of each of the example's P predictions.
    gradients : (P, len(keys), H, H) ndarray
        ∂m/∂W_b, one backward pass per prediction.
    """
    margins, gradients = _gradients(model, example, keys)
    return margins.detach().cpu().numpy(), gradients.cpu().numpy()


def _gradients(model: nn.Module, example: Tensor, keys: Sequence[str]) -> tuple[Tensor, Tensor]:
    """:func:`margin_gradients` as tensors: margins (P,) and gradients (P, len(keys), H, H)."""
    layers = recurrent_layers(model)
    names = list(dict.fromkeys(key.split("/")[0] for key in keys))
    weights = [layers[name].weight_hh for name in names]
    margins, _, _ = prediction_margins(_predictions(model(example)))
    out = []
    for p in range(margins.shape[0]):
        grads = torch.autograd.grad(margins[p], weights, retain_graph=p + 1 < margins.shape[0])
        gates = {
            f"{name}/{gate}": block
            for name, grad in zip(names, grads, strict=True)
            for gate, block in split_gates(grad, layers[name].cell).items()
        }
        out.append(torch.stack([gates[key] for key in keys]))
    return margins.detach(), torch.stack(out)


def _layer_steps(model: nn.Module, example: Tensor) -> dict[str, int]:
    """The number of steps each recurrent layer runs on ``example`` (the same for every example of a batch)."""
    steps: dict[str, int] = {}
    hooks = [
        layer.register_forward_hook(lambda _, args, __, name=name: steps.__setitem__(name, int(args[0].shape[-2])))
        for name, layer in recurrent_layers(model).items()
    ]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    return steps


def nuclear_norms(gradients: Tensor, ranks: Sequence[int]) -> Tensor:
    """‖G‖_* of every block of ``gradients`` (P, B, H, H), block b of rank at most ``ranks[b]``: (P, B).

    A block's gradient over T steps is a sum of T outer products (Σ_t δ_t h_{t−1}ᵀ), so its rank is at most T.
    When T + 4 < H (the adding task's 7 and 4 steps at H = 128) the SVD runs on Qᵀ G (k × H, k = T + 4), Q an
    orthonormal basis of the range of G Ω for a Gaussian Ω (H × k, fixed seed): for rank(G) ≤ T that range is the
    range of G, so ‖Qᵀ G‖_* = ‖G‖_* up to rounding. Otherwise a dense SVD of G.

    >>> a, b = torch.arange(1.0, 9.0, dtype=torch.float64), torch.ones(8, dtype=torch.float64)
    >>> g = torch.outer(a, b).reshape(1, 1, 8, 8)  # rank one: ‖a bᵀ‖_* = ‖a‖‖b‖ = √204 · √8
    >>> print(round(float(nuclear_norms(g, [1])), 9), round((204 * 8) ** 0.5, 9))
    40.398019753 40.398019753
    """
    out = gradients.new_empty(gradients.shape[:2])
    size = gradients.shape[-1]
    generator = torch.Generator(device=gradients.device).manual_seed(0)
    for rank in sorted(set(ranks)):
        index = [b for b, r in enumerate(ranks) if r == rank]
        g = gradients[:, index]
        k = int(rank) + 4  # oversampling keeps G Ω well conditioned on the range of G
        if k < size:
            omega = torch.randn(size, k, generator=generator, dtype=g.dtype, device=g.device)
            g = torch.linalg.qr(g @ omega).Q.mT @ g
        out[:, index] = torch.linalg.svdvals(g).sum(-1)
    return out


def _float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy in eval mode whose only parameters that require gradients are the ``weight_hh``."""
    net = copy.deepcopy(model).to(torch.float64).eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    for layer in recurrent_layers(net).values():
        if layer.weight_hh.dim() != 2:
            raise ValueError("a stacked model (stack_models) holds several runs: pass one run's model")
        layer.weight_hh.requires_grad_(True)
    return net


def _block_norms(model: nn.Module, keys: Sequence[str]) -> np.ndarray:
    """‖W_b‖₂ of the blocks ``keys``, in float64."""
    blocks = {
        f"{name}/{gate}": block
        for name, layer in recurrent_layers(model).items()
        for gate, block in split_gates(layer.weight_hh.detach().cpu().to(torch.float64).numpy(), layer.cell).items()
    }
    return np.array([np.linalg.norm(blocks[key], 2) for key in keys])


def _inputs(x, like: Tensor) -> Tensor:
    """The examples as a tensor on the model's device; floating inputs (pixels) in float64."""
    x = torch.as_tensor(x, device=like.device)
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError(f"x must hold at least one example along its first dimension, got shape {tuple(x.shape)}")
    return x.to(torch.float64) if x.is_floating_point() else x


def linear_response(model: nn.Module, x, *, blocks: Sequence[str] | None = None) -> dict[str, Any]:
    """ε_lin of every prediction of a project model on the examples ``x``, and its 5 % quantile.

    Parameters
    ----------
    model : nn.Module
        A single-run model of ``rnnrobust.training.models``; left unchanged (a float64 copy is differentiated).
    x : Tensor or array_like
        Examples (N, ...), as the model takes them.
    blocks : sequence of str, optional
        The gate blocks ``<layer>/<gate>`` that are perturbed (default: all of them).

    Returns
    -------
    dict
        ``eps`` (N, P) ε_lin, relative, P predictions per example (1, or the adding task's 4 characters);
        ``eps_example`` (N,) the least over an example's predictions (adding: the first of its characters to
        flip); ``margin`` (N, P); ``slope`` (N, P) the denominator Σ_b ‖W_b‖₂‖G_b‖_*; ``eps_flip5_linear`` the
        :data:`QUANTILE` quantile of ``eps``; ``block_norms`` {key: ‖W_b‖₂}; ``blocks``, the keys;
        ``n_examples``, ``n_predictions``, ``n_backward`` (= ``n_predictions``); ``n_ties`` the predictions with
        margin 0 (ε_lin = 0).
    """
    net = _float64_copy(model)
    keys = _block_keys(net, blocks)
    norms = torch.from_numpy(_block_norms(net, keys)).to(next(net.parameters()).device)
    x = _inputs(x, next(net.parameters()))
    steps = _layer_steps(net, x[:1])
    ranks = [steps[key.split("/")[0]] for key in keys]
    margins, slopes = [], []
    for i in range(x.shape[0]):
        m, grads = _gradients(net, x[i : i + 1], keys)
        margins.append(m.cpu().numpy())
        slopes.append((nuclear_norms(grads, ranks) @ norms).cpu().numpy())
    margin, slope = np.stack(margins), np.stack(slopes)
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.where(margin == 0.0, 0.0, margin / slope)
    return {
        "eps": eps,
        "eps_example": eps.min(axis=1),
        "margin": margin,
        "slope": slope,
        "eps_flip5_linear": predicted_flip_quantile(eps),
        "block_norms": dict(zip(keys, norms.cpu().tolist(), strict=True)),
        "blocks": keys,
        "n_examples": int(eps.shape[0]),
        "n_predictions": int(eps.size),
        "n_backward": int(eps.size),
        "n_ties": int((margin == 0.0).sum()),
    }
