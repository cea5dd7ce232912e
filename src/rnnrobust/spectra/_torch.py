"""Optional torch back end of the multi-shift inverse Lanczos (complex128, any torch device).

torch is imported inside the function only, so ``import rnnrobust.spectra`` never loads it.  The
algorithm is the cold-start one of ``_lanczos``: the Schur form comes from the host, the triangular solves of
all shifts share one recursive blocking of T (one in-place GEMM per coupling block across all shifts, one
batched triangular solve per leaf of at most 16 rows), the top Ritz values come from the vectorised Newton
iteration of ``_ritz`` (shared with the numpy back end), and points that do not converge or overflow are
recomputed on the host by a dense SVD.  ``_grid`` imports
this module lazily and passes the step limit in, so nothing here imports ``_grid``.
"""

from __future__ import annotations

import numpy as np

from ._blas import _configured_threads
from ._ritz import top_ritz
from ._schur import Prepared
from ._svd import repair_with_svd


def _import_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError("device=... needs torch, which is not installed") from exc
    return torch


class _TorchPlan:
    """Recursive halving of T down to leaves of at most ``leaf`` rows.

    Coupling blocks are applied to all shifts by one in-place GEMM each; a leaf is solved for all shifts
    by one batched triangular solve with the (m, s, s) stack of T_leaf - z_j I (built once per chunk).
    That keeps the number of kernel launches per solve near 3 n / leaf, which is what bounds a GPU here.
    """

    def __init__(self, torch, T: np.ndarray, device, leaf: int):
        self.n = T.shape[0]
        self.back: list[tuple] = []
        self.fwd: list[tuple] = []
        self.leaves: list[tuple[int, int]] = []
        self.T = torch.as_tensor(T, dtype=torch.complex128, device=device)
        self._leaf = leaf
        # back substitution solves the lower half first, forward substitution the upper half first
        self._build_back(0, self.n)
        self._build_fwd(0, self.n)

    def _leaf_index(self, lo, hi):
        if (lo, hi) not in self.leaves:
            self.leaves.append((lo, hi))
        return self.leaves.index((lo, hi))

    def _build_back(self, lo, hi):
        if hi - lo <= self._leaf:
            self.back.append((lo, hi, None, self._leaf_index(lo, hi)))
            return
        mid = (lo + hi) // 2
        self._build_back(mid, hi)
        self.back.append((lo, mid, hi, self.T[lo:mid, mid:hi].contiguous()))
        self._build_back(lo, mid)

    def _build_fwd(self, lo, hi):
        if hi - lo <= self._leaf:
            self.fwd.append((lo, hi, None, self._leaf_index(lo, hi)))
            return
        mid = (lo + hi) // 2
        self._build_fwd(lo, mid)
        self.fwd.append((lo, mid, hi, self.T[lo:mid, mid:hi].conj().T.contiguous()))
        self._build_fwd(mid, hi)

    def leaf_blocks(self, torch, D):
        """(m, s, s) stacks of T_leaf - z_j I, with the floored diagonal D (n, m)."""
        m = D.shape[1]
        blocks = []
        for lo, hi in self.leaves:
            blk = self.T[lo:hi, lo:hi].expand(m, hi - lo, hi - lo).clone()
            torch.diagonal(blk, dim1=-2, dim2=-1).copy_(D[lo:hi].T)
            blocks.append(blk)
        return blocks

    def solve_upper(self, torch, X, blocks):
        """In place: column j of X becomes (T - z_j I)^-1 X[:, j]."""
        for lo, a, b, data in self.back:
            if b is None:
                rhs = X[lo:a].T.unsqueeze(-1)
                X[lo:a].copy_(torch.linalg.solve_triangular(blocks[data], rhs, upper=True).squeeze(-1).T)
            else:
                X[lo:a].addmm_(data, X[a:b], alpha=-1)

    def solve_lower(self, torch, X, blocks):
        """In place: column j of X becomes (T - z_j I)^-* X[:, j]."""
        for lo, a, b, data in self.fwd:
            if b is None:
                rhs = X[lo:a].T.unsqueeze(-1)
                X[lo:a].copy_(torch.linalg.solve_triangular(blocks[data].mH, rhs, upper=False).squeeze(-1).T)
            else:
                X[a:b].addmm_(data, X[lo:a], alpha=-1)


def _lanczos_chunk(torch, plan, d, z, floor, tol, maxit, stats):
    dev = d.device
    n, m = plan.n, z.shape[0]
    out = torch.full((m,), float("nan"), dtype=torch.float64, device=dev)
    D = d[:, None] - z[None, :]
    # floor |t_ii - z| at u ||A||_F, keeping the phase: see _lanczos.floored_inverse_diag for why
    absD = D.abs()
    phase = torch.where(absD > 0, D / torch.where(absD > 0, absD, torch.ones_like(absD)), torch.ones_like(D))
    D = torch.where(absD < floor, floor * phase, D)
    blocks = plan.leaf_blocks(torch, D)
    del D, absD, phase
    # the start vector of _lanczos (generic, so no M_z's top eigenvector is missed), so both back ends run the
    # same iteration
    rng = np.random.default_rng(12345)
    q0 = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    q0 /= np.linalg.norm(q0)
    Q = torch.as_tensor(q0, dtype=torch.complex128, device=dev)[:, None].repeat(1, m)
    Qprev = torch.zeros_like(Q)
    alphas = torch.zeros((maxit, m), dtype=torch.float64, device=dev)
    betas = torch.zeros((maxit, m), dtype=torch.float64, device=dev)
    theta_old = torch.zeros(m, dtype=torch.float64, device=dev)
    idx = torch.arange(m, device=dev)
    live = torch.ones(m, dtype=torch.bool, device=dev)
    for k in range(maxit):
        W = Q.clone()
        plan.solve_lower(torch, W, blocks)
        plan.solve_upper(torch, W, blocks)
        alpha = (Q.conj() * W).sum(dim=0).real
        W -= alpha * Q
        if k > 0:
            W -= betas[k - 1] * Qprev
        beta = torch.linalg.vector_norm(W, dim=0)
        broken = ~(torch.isfinite(alpha) & torch.isfinite(beta))
        alphas[k] = torch.where(broken, 0.0, alpha)
        betas[k] = torch.where(broken, 0.0, beta)
        theta = top_ritz(torch, alphas, betas, k + 1, theta_old)
        bad = broken | ~(torch.isfinite(theta) & (theta > 0))
        conv = ~bad & (k > 0) & ((theta - theta_old).abs() <= tol * theta)
        conv |= ~bad & (beta <= 1e-14 * theta)
        done = live & (conv | bad)
        n_done = int(done.sum())
        if n_done:
            ok = done & conv
            out[idx[ok]] = 1.0 / torch.sqrt(theta[ok])
            stats["iterations"] += (k + 1) * n_done
            live &= ~done
        n_live = int(live.sum())
        if n_live == 0:
            break
        theta_old = theta
        Qprev = Q
        Q = W / torch.where(beta > 0, beta, torch.ones_like(beta))
        # threshold and reasoning of _lanczos; the copies here include the leaf stacks (n * leaf entries per shift)
        if n_live <= 0.8 * live.numel():
            keep = live
            Q, Qprev = Q[:, keep], Qprev[:, keep]
            kidx = torch.nonzero(keep).squeeze(1)
            blocks = [blk.index_select(0, kidx) for blk in blocks]
            alphas, betas = alphas[:, keep], betas[:, keep]
            theta_old, idx = theta_old[keep], idx[keep]
            live = torch.ones(n_live, dtype=torch.bool, device=dev)
    else:
        stats["iterations"] += maxit * int(live.sum())
    return out


def sigma_min_points_torch(prep: Prepared, z: np.ndarray, *, tol: float, maxit: int, device, info=None) -> np.ndarray:
    """sigma_min(zI - A) at the points z with the torch back end on ``device`` (complex128), <= maxit steps."""
    torch = _import_torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"invalid torch device {device!r}: {exc}") from None
    T = prep.T
    n = T.shape[0]
    stats = {"iterations": 0, "fallback": 0}
    if z.size == 0:
        res = np.empty(0)
    elif not np.any(np.triu(T, 1)):
        res = np.min(np.abs(np.diag(T)[:, None] - z[None, :]), axis=0)
    else:
        key = ("torch_plan", str(dev))
        plan = prep.cache.get(key)
        if plan is None:
            plan = prep.cache[key] = _TorchPlan(torch, T, dev, leaf=16 if dev.type != "cpu" else 8)
        d = torch.as_tensor(np.diag(T).copy(), dtype=torch.complex128, device=dev)
        # per chunk: a few (n, m) vectors plus the leaf stacks (about n * leaf * m entries)
        chunk = max(1, 2**28 // (16 * n)) if dev.type != "cpu" else max(256, min(8192, 2**18 // n))
        parts = []
        # on the CPU, torch's intra-op threads hand off thousands of tiny GEMMs: run them single-threaded
        old_threads = torch.get_num_threads()
        if dev.type == "cpu":
            torch.set_num_threads(max(1, _configured_threads()))
        try:
            with torch.no_grad():
                for s in range(0, z.size, chunk):
                    zt = torch.as_tensor(z[s : s + chunk], dtype=torch.complex128, device=dev)
                    parts.append(_lanczos_chunk(torch, plan, d, zt, prep.floor, tol, maxit, stats).cpu().numpy())
        finally:
            if dev.type == "cpu":
                torch.set_num_threads(old_threads)
        res = np.concatenate(parts)
        repair_with_svd(res, T, z, stats)
    if info is not None:
        info.update(
            method=f"lanczos-torch:{dev}",
            fallback_svd=stats["fallback"],
            mean_iterations=stats["iterations"] / z.size if z.size else 0.0,
        )
    return res
