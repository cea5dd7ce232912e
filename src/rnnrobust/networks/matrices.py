"""Square matrices saved with numpy (``.npy``, ``.npz``): what ``python -m rnnrobust.spectra`` analyses.

Keys ``<layer>/<gate>`` (this project's weights files) group into layers, whose cell is recognised when their
gates are one cell's (``layout.GATES``); any other key is a matrix of its own, in one group named after the file.
Nothing is unpickled (``allow_pickle=False``); numpy is all it needs.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from rnnrobust.layout import GATES
from rnnrobust.networks.blocks import GateBlock, Network, NetworkFileError, RecurrentLayer

__all__ = ["matrix_network", "read_square_matrices"]


def read_square_matrices(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The square numeric 2-D arrays of a ``.npz`` (by key) or ``.npy`` (keyed by the file's stem), and one note
    per array that is not one (``"<key>: shape (3,) is not a square matrix"``).

    Raises ``OSError`` or ``ValueError`` (numpy's) on a file that numpy cannot read without unpickling.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     np.savez(Path(tmp) / "w.npz", A=np.eye(2), b=np.ones(3))
    ...     matrices, skipped = read_square_matrices(Path(tmp) / "w.npz")
    >>> sorted(matrices), skipped
    (['A'], ['b: shape (3,) is not a square matrix'])
    """
    skipped = []
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.lib.npyio.NpzFile):  # by content, whatever the file's suffix
        with loaded:
            arrays = {k: loaded[k] for k in loaded.files}
    else:
        arrays = {path.stem: loaded}
    out = {}
    for name, arr in arrays.items():
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
            skipped.append(f"{name}: shape {arr.shape} is not a square matrix")
        elif arr.dtype.kind not in "iufc":
            skipped.append(f"{name}: dtype {arr.dtype} is not numeric")
        else:
            out[name] = arr
    return out, skipped


def _cell_of_gates(gates: list[str]) -> str | None:
    """The cell whose gates are exactly ``gates`` (in any order), else None."""
    return next((cell for cell, names in GATES.items() if sorted(names) == sorted(gates)), None)


def matrix_network(path: Path) -> Network:
    """The square matrices of a ``.npz``/``.npy`` file as layers of gate blocks (``<layer>/<gate>`` keys grouped
    by layer; other keys in one group named after the file). Complex matrices stay complex."""
    try:
        matrices, skipped = read_square_matrices(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise NetworkFileError(path, "a .npy or .npz of numeric arrays (nothing pickled)", str(exc)) from None
    if not matrices:
        found = "; ".join(skipped) or "no array"
        raise NetworkFileError(path, "at least one square 2-D numeric array", found)
    groups: dict[str, list[str]] = {}
    for key in matrices:
        layer = key.rpartition("/")[0] if "/" in key else ""
        groups.setdefault(layer, []).append(key)
    layers = []
    for layer, keys in groups.items():
        gates = [key.rpartition("/")[2] for key in keys]
        cell = _cell_of_gates(gates) if layer else None
        blocks = tuple(
            GateBlock(key, gate, gate if cell else None, _as_float(matrices[key]))
            for key, gate in zip(keys, gates, strict=True)
        )
        layers.append(RecurrentLayer(layer or path.stem, "NumPy", cell, blocks))
    kind = "NumPy arrays (.npy/.npz)"
    return Network(path, kind, tuple(layers), tuple(f"skipped {note}" for note in skipped))


def _as_float(matrix: np.ndarray) -> np.ndarray:
    """float64, or complex128 for a complex matrix (the spectra take both)."""
    return np.asarray(matrix, dtype=np.complex128 if matrix.dtype.kind == "c" else np.float64)
