"""What a network file holds for the analysis: recurrent layers, their square gate blocks, and the one error.

A gate block is the H × H matrix W_g with which gate g of a recurrent cell reads the previous state, in the
column-vector convention ``pre-activation_g = W_g @ h + (input and bias terms)``. Frameworks store the blocks
stacked: PyTorch along the rows of ``weight_hh`` (k·H × H), Keras along the columns of ``recurrent_kernel``
(H × k·H, used as ``h @ U``, so that W_g is the transpose of column slice g). :func:`row_blocks` and
:func:`column_blocks` undo the two layouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnrobust.layout import CELLS, GATES

__all__ = [
    "FRAMEWORK_GATES",
    "GateBlock",
    "Network",
    "NetworkFileError",
    "RecurrentLayer",
    "cell_of_gate_count",
    "column_blocks",
    "layer_of",
    "row_blocks",
]

#: Gate names of each source framework, in its own stacking order: PyTorch's documented row order of
#: ``weight_hh`` (nn.LSTM i, f, g, o; nn.GRU r, z, n), Keras' column order of ``recurrent_kernel``, which
#: is this project's (``layout.GATES``). A plain RNN has one block, named ``h`` everywhere.
FRAMEWORK_GATES = {
    "PyTorch": {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")},
    "Keras": dict(GATES),
    "rnnrobust": dict(GATES),
}
#: This project's name of each PyTorch gate (the candidate/cell gate is ``g`` in an LSTM, ``n`` in a GRU).
_PROJECT_OF_TORCH_GATE = {
    "rnn": {"h": "h"},
    "lstm": dict(zip(FRAMEWORK_GATES["PyTorch"]["lstm"], GATES["lstm"], strict=True)),
    "gru": {"r": "r", "z": "z", "n": "h"},
}


class NetworkFileError(ValueError):
    """A file that cannot be read as a recurrent network: one line naming the file, what was expected and found.

    >>> print(NetworkFileError("net.pt", "a state_dict", "a list"))
    net.pt: expected a state_dict; found a list
    """

    def __init__(self, path: str | Path, expected: str, found: str) -> None:
        self.path, self.expected, self.found = str(path), expected, found
        super().__init__(f"{path}: expected {expected}; found {found}")


@dataclass(frozen=True)
class GateBlock:
    """One H × H gate block: ``key`` ``<layer>/<source gate>``, this project's gate name ``gate`` (None for a
    plain matrix) and the float64 matrix acting on the state column vector."""

    key: str
    source_gate: str
    gate: str | None
    matrix: np.ndarray


@dataclass(frozen=True)
class RecurrentLayer:
    """One recurrent layer: its ``name``, source ``framework``, ``cell`` (one of ``layout.CELLS``, or None for
    matrices of unknown origin), GRU ``reset_after`` (None where it does not apply or is unknown), its blocks in
    the framework's gate order and a ``note`` saying anything particular about what is analysed."""

    name: str
    framework: str
    cell: str | None
    blocks: tuple[GateBlock, ...]
    reset_after: bool | None = None
    note: str = ""

    @property
    def hidden_size(self) -> int:
        """H, the order of every gate block."""
        return int(self.blocks[0].matrix.shape[0])


@dataclass(frozen=True)
class Network:
    """What :func:`rnnrobust.networks.read.read_network` found in ``path``: its ``format`` in words, its
    recurrent ``layers`` in file order, and ``skipped``, one line per entry that was not analysed and why."""

    path: Path
    format: str
    layers: tuple[RecurrentLayer, ...]
    skipped: tuple[str, ...] = field(default=())

    def blocks(self) -> dict[str, GateBlock]:
        """Every gate block of every layer, by key ``<layer>/<gate>``."""
        return {block.key: block for layer in self.layers for block in layer.blocks}


def cell_of_gate_count(k: int) -> str | None:
    """The cell whose recurrent matrix stacks ``k`` gate blocks (1: rnn, 3: gru, 4: lstm), else None.

    >>> [cell_of_gate_count(k) for k in (1, 2, 3, 4)]
    ['rnn', None, 'gru', 'lstm']
    """
    return next((cell for cell in CELLS if len(GATES[cell]) == k), None)


def row_blocks(stacked: np.ndarray, k: int) -> list[np.ndarray]:
    """The ``k`` row blocks of a k·H × H matrix (PyTorch's ``weight_hh``), as contiguous float64 copies.

    >>> [b.tolist() for b in row_blocks(np.array([[1, 2], [3, 4], [5, 6], [7, 8]]), 2)]
    [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]
    """
    hidden = stacked.shape[0] // k
    return [np.array(stacked[g * hidden : (g + 1) * hidden], dtype=np.float64, order="C") for g in range(k)]


def column_blocks(kernel: np.ndarray, k: int) -> list[np.ndarray]:
    """The ``k`` gate blocks of an H × k·H Keras ``recurrent_kernel``: the transposes of its column slices.

    Keras computes ``h @ U`` with h a row vector, so gate g reads the column vector h through ``U[:, gH:(g+1)H].T``.

    >>> [b.tolist() for b in column_blocks(np.array([[1, 2, 3, 4], [5, 6, 7, 8]]), 2)]
    [[[1.0, 5.0], [2.0, 6.0]], [[3.0, 7.0], [4.0, 8.0]]]
    """
    hidden = kernel.shape[1] // k
    return [np.array(kernel[:, g * hidden : (g + 1) * hidden].T, dtype=np.float64, order="C") for g in range(k)]


def layer_of(
    name: str,
    framework: str,
    cell: str | None,
    matrices: Sequence[np.ndarray],
    *,
    source_gates: Sequence[str] | None = None,
    reset_after: bool | None = None,
    note: str = "",
) -> RecurrentLayer:
    """A :class:`RecurrentLayer` from its blocks in the framework's gate order (``FRAMEWORK_GATES``), naming each
    block ``<name>/<source gate>`` and mapping it to this project's gate; ``source_gates`` for plain matrices."""
    if source_gates is None:
        source_gates = FRAMEWORK_GATES[framework][cell]
    if framework == "PyTorch":
        project = [_PROJECT_OF_TORCH_GATE[cell][gate] for gate in source_gates]
    elif cell is not None:
        project = list(source_gates)  # Keras and this project share names and order
    else:
        project = [None] * len(source_gates)
    blocks = tuple(
        GateBlock(f"{name}/{gate}", gate, mine, np.asarray(matrix, dtype=np.float64))
        for gate, mine, matrix in zip(source_gates, project, matrices, strict=True)
    )
    return RecurrentLayer(name, framework, cell, blocks, reset_after, note)
