"""``read_network(path)``: the recurrent layers of a network file, whatever wrote it.

The format is told by the file's first bytes (and, for a zip, its member names), not by its suffix:

========================================  ===========================================================
first bytes / zip members                 read as
========================================  ===========================================================
HDF5 signature                            Keras 3 ``.weights.h5`` or Keras 2 ``.h5`` (h5py)
zip with ``model.weights.h5``             Keras 3 ``.keras`` archive (h5py)
zip with ``<name>/data.pkl``              PyTorch ``torch.save`` (torch, ``weights_only=True``)
zip of ``.npy`` members, or NPY magic     NumPy ``.npz``/``.npy`` matrices (numpy only)
pickle protocol byte (0x80)               PyTorch's legacy ``torch.save`` format (torch)
========================================  ===========================================================
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from rnnrobust.networks.blocks import Network, NetworkFileError
from rnnrobust.networks.keras_archive import read_keras_archive
from rnnrobust.networks.keras_files import read_keras_h5
from rnnrobust.networks.matrices import matrix_network
from rnnrobust.networks.pytorch_files import read_pytorch

__all__ = ["read_network"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOL = b"\x80"


def read_network(path: str | Path) -> Network:
    """The recurrent layers and H × H gate blocks of a PyTorch, Keras or NumPy file.

    Parameters
    ----------
    path
        A PyTorch ``state_dict`` or checkpoint (``nn.RNN``/``nn.LSTM``/``nn.GRU`` weights, or this project's
        ``model.pt``), Keras weights (``.weights.h5``, ``.keras``, Keras 2 ``.h5``) or ``.npz``/``.npy``
        matrices. torch and h5py are imported only for the files that need them.

    Returns
    -------
    Network
        Its layers in file order, each with its cell, framework and blocks keyed ``<layer>/<gate>`` (the source
        framework's gate names) beside this project's gate name, in the column-vector convention.

    Raises
    ------
    NetworkFileError
        One line naming the file, what was expected and what was found (no recurrent weights, inconsistent
        shapes, a pickled object, a corrupt archive, a missing optional dependency).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     np.savez(Path(tmp) / "w.npz", **{"rnn/h": np.eye(3)})
    ...     network = read_network(Path(tmp) / "w.npz")
    >>> [(block.key, block.gate, block.matrix.shape) for block in network.layers[0].blocks]
    [('rnn/h', 'h', (3, 3))]
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise NetworkFileError(path, "a readable file", f"{type(exc).__name__}: {exc.strerror or exc}") from None
    if head.startswith(_HDF5_SIGNATURE):
        return read_keras_h5(path)
    if head.startswith(_NPY_MAGIC):
        return matrix_network(path)
    if head.startswith(_ZIP_MAGIC):
        return _read_zip(path)
    if head.startswith(_PICKLE_PROTOCOL):
        return read_pytorch(path)
    found = "an empty file" if not head else f"a file starting with {head!r}"
    expected = "a PyTorch (torch.save), Keras (.weights.h5, .keras, .h5) or NumPy (.npz, .npy) file"
    raise NetworkFileError(path, expected, found)


def _read_zip(path: Path) -> Network:
    """A zip: a Keras archive, a torch.save file or an .npz, told apart by its member names."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise NetworkFileError(path, "a readable zip archive", f"{type(exc).__name__}: {exc}") from None
    if "model.weights.h5" in names or "model.weights.npz" in names:
        return read_keras_archive(path)
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return read_pytorch(path)
    if names and all(name.endswith(".npy") for name in names):
        return matrix_network(path)
    expected = "a .keras archive (model.weights.h5), a torch.save file (data.pkl) or an .npz (.npy members)"
    raise NetworkFileError(path, expected, f"a zip with members {names[:8]}")
