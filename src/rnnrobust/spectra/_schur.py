"""Complex Schur form, eigenvalues, norms and non-normality measures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from ._validate import as_matrix

_U = np.finfo(np.float64).eps


@dataclass
class Prepared:
    """A validated matrix with its complex Schur form A = Z T Z* and a few norms, computed once.

    Made by :func:`prepare`; every public function accepts it in place of the matrix.

    Attributes
    ----------
    A : (n, n) ndarray
        The matrix, float64 or complex128.
    T, Z : (n, n) ndarray of complex128
        Complex Schur factors: T upper triangular, Z unitary.
    is_real : bool
        Whether A is real (its pseudospectra are then symmetric about the real axis).
    norm2, normF : float
        ||A||_2 and ||A||_F.
    cache : dict
        Solver data reused between calls (the blocking of T for the Lanczos back ends).
    """

    A: np.ndarray
    T: np.ndarray
    Z: np.ndarray
    is_real: bool
    norm2: float
    normF: float
    cache: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Order of the matrix."""
        return self.A.shape[0]

    @property
    def eigenvalues(self) -> np.ndarray:
        """Diagonal of T (Schur order, not sorted)."""
        return np.diag(self.T).copy()

    @property
    def floor(self) -> float:
        """Smallest |t_ii - z| used by the solvers: unit roundoff times ||T||_F (0 for A = 0)."""
        return _U * self.normF


def complex_schur(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complex Schur factors (T, Z) of an already validated matrix, with T exactly upper triangular."""
    n = A.shape[0]
    if n == 1:
        return A.astype(np.complex128).copy(), np.ones((1, 1), dtype=np.complex128)
    T, Z = scipy.linalg.schur(A, output="complex")
    return np.triu(T), Z


def prepare(A, name: str = "A") -> Prepared:
    """Validate a matrix and compute its complex Schur form and norms once, for several calls.

    Parameters
    ----------
    A : (n, n) array_like or Prepared
        Real or complex square matrix with finite entries; a Prepared object is returned as it is.
    name : str, optional
        Name of the argument in error messages.

    Returns
    -------
    Prepared

    Raises
    ------
    ValueError
        If ``A`` is not a non-empty, finite, numeric square matrix.

    Examples
    --------
    >>> from rnnrobust import spectra
    >>> p = spectra.prepare([[0.5, 2.0], [0.0, 0.5]])
    >>> p.n, p.is_real, spectra.henrici(p), spectra.spectral_radius(p)
    (2, True, 2.0, 0.5)
    """
    if isinstance(A, Prepared):
        return A
    arr = as_matrix(A, name)
    T, Z = complex_schur(arr)
    norm2 = float(scipy.linalg.svdvals(arr)[0]) if arr.shape[0] > 1 else float(abs(arr[0, 0]))
    return Prepared(
        A=arr,
        T=T,
        Z=Z,
        is_real=arr.dtype.kind == "f",
        norm2=norm2,
        normF=float(np.linalg.norm(arr)),
    )


def henrici_from_T(T: np.ndarray) -> float:
    """Frobenius norm of the strictly upper triangular part of a Schur factor."""
    return float(np.linalg.norm(np.triu(T, 1)))


def eigenvector_condition_of(A: np.ndarray) -> float:
    """kappa(V) = ||V||_2 ||V^-1||_2 for unit-norm eigenvector columns; inf if V is numerically singular."""
    n = A.shape[0]
    if n == 1:
        return 1.0
    _, V = np.linalg.eig(A)
    V = V / np.linalg.norm(V, axis=0, keepdims=True)
    s = scipy.linalg.svdvals(V)
    # A defective matrix has a singular eigenvector matrix; in floating point its computed V has
    # sigma_min at the roundoff level (relative to ||V||), so treat that as exactly singular.
    if not np.isfinite(s[0]) or s[-1] <= n * _U * s[0]:
        return float("inf")
    return float(s[0] / s[-1])
