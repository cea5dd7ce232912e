"""All robustness scalars of one matrix in one JSON-ready dict."""

from __future__ import annotations

import numpy as np

from ._blas import single_threaded
from ._pseudospectrum import (
    distance_to_instability,
    kreiss_constant,
    pseudospectral_radius,
    real_distance_to_instability,
)
from ._schur import prepare
from ._spectrum import eigenvalues, eigenvector_condition, henrici, transient_growth
from ._validate import eps_list

__all__ = ["DEFAULT_EPS", "robustness_summary"]

DEFAULT_EPS = (1e-3, 1e-2, 1e-1)


@single_threaded
def robustness_summary(A, eps_levels=DEFAULT_EPS, *, refine: bool = True, kmax: int | None = None) -> dict:
    """All scalars of one matrix as a dict of plain python floats, ints and lists (``json.dumps``-able).

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    eps_levels : float or sequence of float, optional
        Levels of the pseudospectral radii, each > 0.  Default ``DEFAULT_EPS`` = (1e-3, 1e-2, 1e-1).
    refine : bool, optional
        Passed to :func:`distance_to_instability`, :func:`real_distance_to_instability`,
        :func:`pseudospectral_radius` and :func:`kreiss_constant`.  Default True.
    kmax : int or None, optional
        Passed to :func:`transient_growth`.

    Returns
    -------
    summary : dict
        Keys n, eigenvalues ([re, im] pairs, decreasing modulus), spectral_radius, spectral_abscissa,
        spectral_norm, henrici, henrici_relative, eigenvector_condition, distance_to_instability (discrete),
        distance_to_instability_real (the real structured one, discrete; None for a complex matrix),
        pseudospectral_radius ({repr(eps): rho_eps}), kreiss_lower_bound, transient_peak, transient_peak_k.
        Infinite values (eigenvector_condition of a defective matrix, Kreiss constant for rho > 1) are float
        ``inf``, which json writes as Infinity.

    Examples
    --------
    A scaled identity is normal, so every robustness scalar follows from its eigenvalue:

    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> s = spectra.robustness_summary(0.5 * np.eye(2), eps_levels=[0.1])
    >>> s["spectral_radius"], s["henrici"], s["eigenvector_condition"], s["kreiss_lower_bound"]
    (0.5, 0.0, 1.0, 1.0)
    >>> print(round(s["distance_to_instability"], 10), round(s["pseudospectral_radius"]["0.1"], 10))
    0.5 0.6
    >>> print(round(s["distance_to_instability_real"], 10))
    0.5
    """
    p = prepare(A)
    levels = eps_list(eps_levels)
    lam = eigenvalues(p)
    tg = transient_growth(p, kmax)
    return {
        "n": int(p.n),
        "eigenvalues": [[float(v.real), float(v.imag)] for v in lam],
        "spectral_radius": float(np.abs(lam).max()),
        "spectral_abscissa": float(lam.real.max()),
        "spectral_norm": float(p.norm2),
        "henrici": henrici(p),
        "henrici_relative": henrici(p, relative=True),
        "eigenvector_condition": eigenvector_condition(p),
        "distance_to_instability": distance_to_instability(p, "discrete", refine=refine),
        "distance_to_instability_real": real_distance_to_instability(p, refine=refine) if p.is_real else None,
        "pseudospectral_radius": {repr(e): pseudospectral_radius(p, e, refine=refine) for e in levels},
        "kreiss_lower_bound": kreiss_constant(p, refine=refine),
        "transient_peak": float(tg.peak),
        "transient_peak_k": int(tg.peak_k),
    }
