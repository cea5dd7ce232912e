"""The largest Ritz value of many Lanczos tridiagonals at once, shared by the numpy and torch back ends.

``xp`` is the array namespace (``numpy`` or ``torch``): only operations both spell the same way are used,
so one kernel serves both and neither back end imports the other.
"""

from __future__ import annotations

_EPS = 2.220446049250313e-16
_TINY = 1e-300
_NEWTON_MAXIT = 60


def top_ritz(xp, alphas, betas, k: int, theta_prev):
    """Largest eigenvalue of each tridiagonal T_k = tridiag(betas, alphas, betas), vectorised over shifts.

    ``alphas[j]`` and ``betas[j]`` hold step j of every shift (arrays of shape (steps, m)); ``theta_prev`` is
    the largest eigenvalue of T_{k-1} (ignored for k = 1).

    Newton's method on det(T_k - lambda I) started above the largest root converges monotonically to it
    (all roots are real).  The start is the bound lambda_max(T_k) <= lambda_max([[t, b], [b, a_k]]) with
    t >= lambda_max(T_{k-1}) (the previous value), b = beta_{k-1}, a_k = alpha_k.  Above lambda_max every
    pivot of the LDL^T factorisation of T_k - lambda I is negative, so the recurrences never divide by 0.
    It replaces a batched dense eigvalsh: cheaper on a CPU (a few vector operations per step and shift)
    and much cheaper on a GPU, where tens of thousands of tiny eigenproblems are slow.
    """
    if k == 1:
        return alphas[0] * 1.0
    a = alphas[:k]
    b2 = betas[: k - 1] ** 2
    ak, bk = a[k - 1], betas[k - 2]
    half = 0.5 * (theta_prev - ak)
    lam = 0.5 * (theta_prev + ak) + xp.sqrt(half * half + bk * bk)
    # The bound can be tight, and theta_prev is itself only accurate to rounding: a start a few ulps below
    # lambda_max would lose the monotone convergence from above, so nudge it up (the 1e-300 covers lam = 0).
    lam = lam + 4 * _EPS * abs(lam) + _TINY
    return _newton(xp, a, b2, lam, _NEWTON_MAXIT)


def _newton(xp, a, b2, lam, iterations: int):
    """Newton steps on det(T_k - lambda I) from above, for every column until its step is below rounding.

    Most columns settle within a few steps and a few take many; once at most half of the columns are still
    moving, the rest continue on their own (boolean-mask indexing, the same in numpy and torch).
    """
    k = a.shape[0]
    for used in range(1, iterations + 1):
        d = a[0] - lam
        dp = xp.full_like(lam, -1.0)
        ssum = dp / d
        for j in range(1, k):
            r = b2[j - 1] / d
            dp = -1.0 + r * dp / d
            d = a[j] - lam - r
            d = xp.where(d == 0, -_TINY, d)
            ssum = ssum + dp / d
        step = 1.0 / ssum
        step = xp.where(xp.isfinite(step) & (step > 0), step, 0.0)
        lam = lam - step
        moving = step > 1e-15 * abs(lam)
        n_moving = int(moving.sum())
        if n_moving == 0:
            break
        if n_moving <= moving.shape[0] // 2 and used < iterations:
            lam[moving] = _newton(xp, a[:, moving], b2[:, moving], lam[moving], iterations - used)
            break
    return lam
