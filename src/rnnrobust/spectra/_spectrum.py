"""Public functions of A itself: eigenvalues, norms, Schur form, departure from normality, powers."""

from __future__ import annotations

import numpy as np

from . import _scalars
from ._blas import single_threaded
from ._scalars import TransientGrowth
from ._schur import eigenvector_condition_of, henrici_from_T, prepare

__all__ = [
    "eigenvalues",
    "eigenvector_condition",
    "henrici",
    "schur",
    "spectral_norm",
    "spectral_radius",
    "transient_growth",
]


@single_threaded
def eigenvalues(A) -> np.ndarray:
    """Eigenvalues of a square matrix, sorted by decreasing modulus, then by angle.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.

    Returns
    -------
    lam : (n,) ndarray of complex128
        The eigenvalues.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> spectra.eigenvalues(np.diag([1.0, -3.0, 2.0])).real.tolist()
    [-3.0, 2.0, 1.0]
    """
    p = prepare(A)
    lam = np.linalg.eigvals(p.A).astype(np.complex128)
    order = np.lexsort((np.angle(lam), -np.abs(lam)))
    return lam[order]


@single_threaded
def spectral_radius(A) -> float:
    """Spectral radius rho(A) = max |lambda_i|.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.

    Returns
    -------
    rho : float
        The largest eigenvalue modulus.

    Examples
    --------
    A rotation by 90 degrees, scaled by 0.5:

    >>> from rnnrobust import spectra
    >>> print(round(spectra.spectral_radius([[0.0, -0.5], [0.5, 0.0]]), 12))
    0.5
    """
    return float(np.abs(eigenvalues(A)).max())


@single_threaded
def spectral_norm(A) -> float:
    """Spectral norm ||A||_2, the largest singular value of A.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.

    Returns
    -------
    norm : float
        sigma_max(A).

    Examples
    --------
    For the shear [[1, 1], [0, 1]] it is the golden ratio (1 + sqrt(5)) / 2, although rho(A) = 1:

    >>> from rnnrobust import spectra
    >>> print(f"{spectra.spectral_norm([[1.0, 1.0], [0.0, 1.0]]):.10f}")
    1.6180339887
    """
    return prepare(A).norm2


@single_threaded
def schur(A) -> tuple[np.ndarray, np.ndarray]:
    """Complex Schur form A = Z T Z*.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.

    Returns
    -------
    T : (n, n) ndarray of complex128
        Upper triangular (exactly: entries below the diagonal are 0), with the eigenvalues on its diagonal.
    Z : (n, n) ndarray of complex128
        Unitary.

    Examples
    --------
    A real rotation has no real Schur triangle, but a complex one:

    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> A = np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> T, Z = spectra.schur(A)
    >>> bool(np.all(np.tril(T, -1) == 0)), bool(np.allclose(Z @ T @ Z.conj().T, A))
    (True, True)
    >>> sorted(np.round(np.diag(T).imag, 12).tolist())
    [-1.0, 1.0]
    """
    p = prepare(A)
    return p.T.copy(), p.Z.copy()


@single_threaded
def henrici(A, relative: bool = False) -> float:
    """Henrici departure from normality ||triu(T, 1)||_F of the complex Schur factor T.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    relative : bool, optional
        Divide by ||A||_F (0 for A = 0).  Default False.

    Returns
    -------
    dep : float
        0 exactly for a matrix with a diagonal Schur factor, otherwise > 0; the same for A and A^T.

    Notes
    -----
    Computed from the strictly upper triangular part of the *complex* Schur factor, neither from the real
    Schur form (whose 2 x 2 blocks would count) nor from sqrt(||A||_F^2 - sum |lambda|^2), which cancels
    catastrophically for nearly normal A.

    Examples
    --------
    A 2 x 2 Jordan-type block [[a, c], [0, a]] has departure |c|:

    >>> from rnnrobust import spectra
    >>> J = [[0.5, 2.0], [0.0, 0.5]]
    >>> print(round(spectra.henrici(J), 12), round(spectra.henrici(J, relative=True), 6))
    2.0 0.942809
    """
    p = prepare(A)
    dep = henrici_from_T(p.T)
    if relative:
        return dep / p.normF if p.normF > 0 else 0.0
    return dep


@single_threaded
def eigenvector_condition(A) -> float:
    """Condition number kappa(V) = ||V||_2 ||V^-1||_2 of the eigenvector matrix V with unit-norm columns.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.

    Returns
    -------
    kappa : float
        1 for normal matrices with distinct eigenvalues; inf when the computed V is singular to working
        precision (sigma_min(V) <= n u sigma_max(V)), e.g. for a Jordan block.  A defective matrix given in
        a rotated basis is diagonalisable after rounding and then gets a huge finite value (>= ~1e8).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnrobust import spectra
    >>> print(spectra.eigenvector_condition(np.diag([1.0, 2.0])))
    1.0
    >>> print(spectra.eigenvector_condition([[1.0, 1.0], [0.0, 1.0]]))
    inf
    """
    return eigenvector_condition_of(prepare(A).A)


@single_threaded
def transient_growth(A, kmax: int | None = None) -> TransientGrowth:
    """Norms of the powers ||A^k||_2 for k = 0..K, by repeated products.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix, or the result of :func:`prepare`.
    kmax : int or None, optional
        Last power K.  None (default): stop once ||A^k|| has fallen below 1e-3 of the peak after the peak
        (or is 0), at the latest at k = 500.  Either way the products stop early if the norm exceeds 1e250.

    Returns
    -------
    TransientGrowth
        ``norms`` (||A^0|| = 1 first), ``peak`` = max(norms) and ``peak_k``, the first k where the norm is
        within 1e-12 relative of the peak (so rounding noise on a plateau, e.g. an orthogonal A, leaves it
        at 0).

    Examples
    --------
    A nilpotent matrix is stable, yet ||A|| = 2 before A^2 = 0:

    >>> from rnnrobust import spectra
    >>> tg = spectra.transient_growth([[0.0, 2.0], [0.0, 0.0]])
    >>> tg.norms.tolist(), tg.peak, tg.peak_k
    ([1.0, 2.0, 0.0], 2.0, 1)
    """
    p = prepare(A)
    if kmax is not None:
        if isinstance(kmax, bool) or not isinstance(kmax, (int, np.integer)) or kmax < 0:
            raise ValueError(f"kmax must be a non-negative integer or None, got {kmax!r}")
        kmax = int(kmax)
    return _scalars.transient_growth(p, kmax)
