"""The published values of Sengupta & Friston (2018) as data: Tables 1 and 2 and the numbering of Figures 1–6.

Torch- and pandas-free, so that the workflow (``report.smk``) imports it for :data:`FIGURES`.

>>> FIGURES["figure4_adding"]
('adding', 'stabilized')
>>> paper_henrici("imdb", "lstm", "rnn/f")[:2]
(3.8, '3.8')
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnrobust.layout import block_keys

__all__ = ["FIGURES", "PAPER_TABLE1", "PAPER_TABLE2", "PaperCell", "paper_blocks", "paper_henrici"]


@dataclass(frozen=True)
class PaperCell:
    """One cell of a table of the paper.

    Attributes
    ----------
    display : str
        The cell as printed.
    values : tuple of float or None
        Its numbers; None where the paper lost or did not report one.
    note : str
        What we know or assumed about the cell.
    """

    display: str
    values: tuple[float | None, ...] = ()
    note: str = ""


#: The paper's figures: name -> (task, regime). Figures 1–3 after plain training, 4–6 after stabilization.
FIGURES: dict[str, tuple[str, str]] = {
    "figure1_adding": ("adding", "baseline"),
    "figure2_imdb": ("imdb", "baseline"),
    "figure3_mnist": ("mnist", "baseline"),
    "figure4_adding": ("adding", "stabilized"),
    "figure5_imdb": ("imdb", "stabilized"),
    "figure6_mnist": ("mnist", "stabilized"),
}

PAPER_TABLE1: dict[tuple[str, str], PaperCell] = {
    ("adding", "rnn"): PaperCell("99.73%", (99.73,)),
    ("adding", "lstm"): PaperCell("99.87%", (99.87,)),
    ("adding", "gru"): PaperCell("99.94%", (99.94,)),
    ("imdb", "rnn"): PaperCell("83.29%", (83.29,)),
    ("imdb", "lstm"): PaperCell("83.81%", (83.81,)),
    ("imdb", "gru"): PaperCell("85.96%", (85.96,)),
    ("mnist", "rnn"): PaperCell("26.11%", (26.11,)),
    ("mnist", "lstm"): PaperCell("non-convergence (3 seeds)", (), "3 random initialisations, none converged"),
    ("mnist", "gru"): PaperCell("19.37–22.47%", (19.37, 22.47), "range over random initialisations"),
}
"""Table 1 of the paper: test accuracy in % per (task, model). Adding = per-character accuracy (protocol §1.1)."""


def paper_blocks(task: str, model: str) -> tuple[str, ...]:
    """The matrices of a (task, model) in the order the paper's Table 2 lists its values.

    Returns
    -------
    tuple of str
        Block keys ``<layer>/<gate>`` (:func:`rnnrobust.layout.block_keys`): layers, then gates in Keras order.
    """
    return block_keys(task, model)


_GATE_NOTE = "gate order {} assumed (Keras column order) [I]"
PAPER_TABLE2: dict[tuple[str, str], PaperCell] = {
    ("adding", "rnn"): PaperCell("1.6, 2.3", (1.6, 2.3), "encoder, decoder assignment inferred [I]"),
    ("adding", "lstm"): PaperCell("not reported", (None,) * 8, "cell lost from the paper's text"),
    ("adding", "gru"): PaperCell("not reported", (None,) * 6, "cell lost from the paper's text"),
    ("imdb", "rnn"): PaperCell("0.2", (0.2,)),
    ("imdb", "lstm"): PaperCell("2.6, 3.8, 1.2, 2.4", (2.6, 3.8, 1.2, 2.4), _GATE_NOTE.format("i, f, c, o")),
    ("imdb", "gru"): PaperCell("0.9, 1.8, 0.8", (0.9, 1.8, 0.8), _GATE_NOTE.format("z, r, h")),
    ("mnist", "rnn"): PaperCell("1.8", (1.8,)),
    ("mnist", "lstm"): PaperCell("non-convergence", (None,) * 4, "not analysed in the paper"),
    ("mnist", "gru"): PaperCell("4.7, 5.9, 6", (4.7, 5.9, 6.0), _GATE_NOTE.format("z, r, h")),
}
"""Table 2 of the paper: absolute Henrici departure from normality per (task, model), one value per matrix in
the order of :func:`paper_blocks` (None where the paper lost or did not report the value).

The adding row printed only "1.6,2.3"; assigning it to the RNN's encoder and decoder is our inference
(two matrices of a "2 layer RNN", protocol §4); the LSTM and GRU cells of that row are lost. The gate order of
the LSTM/GRU values is assumed to be Keras' column order."""


def paper_henrici(task: str, model: str, block: str) -> tuple[float | None, str, str]:
    """The paper's Henrici value for one matrix.

    Returns
    -------
    value : float or None
        None where the paper has no number for the matrix.
    display : str
        The value as text, else ``"not reported"`` (or ``"non-convergence"`` for MNIST LSTM).
    note : str
        The note of the paper's cell (see :data:`PAPER_TABLE2`).
    """
    cell = PAPER_TABLE2.get((task, model))
    if cell is None:
        return None, "not reported", ""
    blocks = paper_blocks(task, model)
    value = cell.values[blocks.index(block)] if block in blocks else None
    if value is None:
        return None, cell.display if cell.display == "non-convergence" else "not reported", cell.note
    return value, f"{value:g}", cell.note
