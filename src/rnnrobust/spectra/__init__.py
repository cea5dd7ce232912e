"""Spectra, pseudospectra and robustness scalars of square matrices (numpy in, numpy out).

Every function takes a real or complex square matrix (converted to float64 / complex128; bad input
raises ValueError) or the :class:`Prepared` object returned by :func:`prepare`, which holds the complex
Schur form so that it is computed once per matrix.  torch is imported only by ``device=...``.

Functions
---------
prepare                  -- validate a matrix and compute its Schur form once (returns :class:`Prepared`)
eigenvalues              -- eigenvalues, by decreasing modulus
spectral_radius          -- rho(A)
spectral_norm            -- ||A||_2
schur                    -- complex Schur form (T, Z)
henrici                  -- Henrici departure from normality
eigenvector_condition    -- condition number of the eigenvector matrix
transient_growth         -- ||A^k||_2 and its peak (returns :class:`TransientGrowth`)
sigma_min                -- sigma_min(zI - A) at points
sigma_min_grid           -- sigma_min(zI - A) on a rectangular grid (for pseudospectra plots)
pseudospectral_radius    -- rho_eps(A)
pseudospectral_abscissa  -- alpha_eps(A)
distance_to_instability  -- distance to the nearest unstable matrix, discrete or continuous time
real_distance_to_instability -- the same over real perturbations only, for a real matrix (discrete time)
instability_minimizer    -- the point z attaining it, with the singular vectors of zI - A there
kreiss_constant          -- lower bound of the discrete-time Kreiss constant
robustness_summary       -- all of the scalars as one JSON-ready dict

Definitions (A is n x n, ||.|| the spectral norm, sigma_min the smallest singular value):

* Complex Schur form A = Z T Z*, Z unitary, T upper triangular with the eigenvalues on its diagonal.
* Henrici departure from normality dep(A) = ||N||_F, N the strictly upper triangular part of T
  (= sqrt(||A||_F^2 - sum |lambda_i|^2) in exact arithmetic, but computed from N, which does not cancel);
  relative version dep(A) / ||A||_F (0 for A = 0).  It is the same for A and A^T.
* eps-pseudospectrum Lambda_eps(A) = {z : sigma_min(zI - A) <= eps}.
* pseudospectral radius rho_eps = max |z| and abscissa alpha_eps = max Re z over Lambda_eps(A).
* distance to instability: discrete d = min_{|z|=1} sigma_min(zI - A); continuous
  d = min_{w real} sigma_min(iwI - A).
* real structured distance to instability (real A, discrete): d_R = min_{|z|=1} tau_R(zI - A) >= d, the
  smallest ||E|| over real E with an eigenvalue of A + E on the unit circle, where tau_R(M) = sup over
  gamma in (0, 1] of sigma_{2n-1}([[Re M, -gamma Im M], [Im M / gamma, Re M]]) (Qiu et al., Automatica 1995).
* Kreiss constant (discrete time) K(A) = sup_{|z|>1} (|z| - 1) ||(zI - A)^-1|| = sup_{eps>0} (rho_eps - 1) / eps
  (>= 1, inf if rho(A) > 1), with K(A) <= max_k ||A^k|| <= e n K(A).

Algorithm for sigma_min on many points (``sigma_min``, ``sigma_min_grid``): the complex Schur factor T is
computed once; sigma_min(zI - A) = sigma_min(T - zI).  For n <= 32 a batched dense SVD is used.  Otherwise
inverse Lanczos runs on (T - zI)^-1 (T - zI)^-* for all points together: the two triangular solves per step
share the z-independent off-diagonal part of T (recursive blocking, one in-place GEMM per coupling block
across all shifts), each shift stops when its top Ritz value changes by less than ``tol`` (relative), and
shifts that do not converge in 60 steps or overflow are recomputed by dense SVD.  For real A the conjugate
half of a symmetric grid is mirrored.  On a grid, each column is swept with every point's Lanczos started
from its neighbours' extrapolated singular vectors (about 6 steps a point instead of 9), and every value is
clipped to the distance to the nearest eigenvalue (an upper bound, exact for normal matrices); a value that a
warm start may have taken from the wrong singular value is recomputed cold.  ``sigma_min_grid(..., levels=...)``
computes exactly only the points a contour at those levels passes next to, and certifies the rest by the
1-Lipschitz bound.  The optional torch back end (``device="cuda"``, or ``"cpu"``) runs the same algorithm in
complex128.

Scalars: a grid stage samples the relevant curve or region with the batched evaluator and keeps only
verified points, so it is one-sided (rho_eps, alpha_eps and K from below, the distance to instability from
above).  Refinement (the default) adds 1-D Brent searches with dense SVDs and global level-set tests with
Hamiltonian matrices and symplectic pencils (criss-cross: Burke, Lewis & Overton 2003; Mengi & Overton 2005;
Boyd-Balakrishnan for the distance to instability).  The Kreiss constant is searched in eps over the global
rho_eps, so it cannot miss a maximiser in angle; the real structured distance scans the circle where
sigma_min (a lower bound of tau_R) is small, then refines in angle, with a bounded 1-D search in gamma at
each angle.

Accuracy: with the default ``tol=1e-10`` the Lanczos values are accurate to about 1e-11 relative, and every
value of sigma_min agrees with a dense SVD to within rounding of ||A|| (|t_ii - z| is floored at
u ||A||_F, so z exactly on an eigenvalue gives a finite value of the order of the rounding error).  The
refined rho_eps and alpha_eps are accurate to about 1e-12 relative, the grid-only ones (``refine=False``)
to about 1e-2, from below.  The Kreiss constant stays a lower bound, exact at the maximum its search finds
(a ratio evaluated by a dense SVD at a point where rho_eps is attained); certified values need Mitchell's
algorithms (SIAM J. Matrix Anal. Appl. 2020, 2021).
"""

from ._instability import InstabilityMinimizer, instability_minimizer
from ._pseudospectrum import (
    distance_to_instability,
    kreiss_constant,
    pseudospectral_abscissa,
    pseudospectral_radius,
    real_distance_to_instability,
    sigma_min,
    sigma_min_grid,
)
from ._scalars import TransientGrowth
from ._schur import Prepared, prepare
from ._spectrum import (
    eigenvalues,
    eigenvector_condition,
    henrici,
    schur,
    spectral_norm,
    spectral_radius,
    transient_growth,
)
from ._summary import DEFAULT_EPS as DEFAULT_EPS  # the default eps levels; public, but not in __all__
from ._summary import robustness_summary

__all__ = [
    "InstabilityMinimizer",
    "Prepared",
    "TransientGrowth",
    "distance_to_instability",
    "eigenvalues",
    "eigenvector_condition",
    "henrici",
    "instability_minimizer",
    "kreiss_constant",
    "prepare",
    "pseudospectral_abscissa",
    "pseudospectral_radius",
    "real_distance_to_instability",
    "robustness_summary",
    "schur",
    "sigma_min",
    "sigma_min_grid",
    "spectral_norm",
    "spectral_radius",
    "transient_growth",
]
