"""The gallery of docs/analyze-a-network.md: three matrices through ``python -m rnnrobust.analyze``'s own reader,
grids and figure code, written as small PNGs beside this script.

    python docs/gallery/make_gallery.py [--save-lstm PATH]

- ``grcar.png``: the Grcar matrix (n = 32), the classic non-normal example of EigTool;
- ``jordan.png``: a Jordan block 0.9·I + N (n = 8): ρ = 0.9, yet ρ_ε > 1 already for ε = 10⁻³;
- ``lstm.png``: the four gate blocks of an ``nn.LSTM(1, 16)`` trained here for 300 Adam steps (a few seconds on
  one CPU thread, seed 0) to predict the next sample of a sine wave; its state_dict is read back by
  ``read_network`` exactly as a user's checkpoint is (``--save-lstm PATH`` keeps it, e.g. to run the command on it).

Needs the ``[train]`` and ``[plot]`` extras (torch, matplotlib). The matrices' tables are printed as the command
prints them.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnrobust.analyze import block_label, contour_levels, layer_grids, layer_heading, main
from rnnrobust.networks.read import read_network
from rnnrobust.reporting.figure_style import save_figure
from rnnrobust.reporting.network_report import build_layer_figure, layer_panels

HERE = Path(__file__).resolve().parent
EPS_LOG10 = contour_levels([1e-3, 1e-1])


def grcar(n: int) -> np.ndarray:
    """−1 on the subdiagonal, 1 on the diagonal and the three superdiagonals."""
    return np.diag(-np.ones(n - 1), -1) + sum(np.diag(np.ones(n - k), k) for k in range(4))


def jordan(n: int, eigenvalue: float) -> np.ndarray:
    return eigenvalue * np.eye(n) + np.diag(np.ones(n - 1), 1)


def train_lstm(path: Path, steps: int = 300) -> float:
    """An ``nn.LSTM(1, 16)`` + linear read-out trained to predict the next sample of sin(t); its state_dict to
    ``path``. Returns the final mean squared error."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    lstm, head = nn.LSTM(1, 16, batch_first=True), nn.Linear(16, 1)
    optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(steps):
        start = torch.rand(32, 1) * 2 * torch.pi
        wave = torch.sin(start + 0.2 * torch.arange(41))
        out, _ = lstm(wave[:, :-1, None])
        loss = nn.functional.mse_loss(head(out).squeeze(-1), wave[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save(lstm.state_dict(), path)  # the recurrent layer alone: keys weight_hh_l0, ...

    return loss.item()


def draw(layer, stem: str) -> Path:
    """One layer's figure (one panel per block) as a small PNG beside this script."""
    grids = layer_grids(layer, 200)
    panels = layer_panels(grids, {block.key: block_label(block.key, block.gate) for block in layer.blocks})
    figure = build_layer_figure(panels, layer_heading(layer), EPS_LOG10, panel_size=2.8)
    return save_figure(figure, HERE / stem, formats=("png",), dpi=80)[0]


def gallery(save_lstm: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        matrices = Path(tmp) / "gallery.npz"
        np.savez(matrices, grcar=grcar(32), jordan=jordan(8, 0.9))
        lstm = save_lstm or Path(tmp) / "lstm_sine.pt"
        print(f"trained LSTM: final MSE {train_lstm(lstm):.2e}")
        for path in (matrices, lstm):
            main([str(path)])
        (group,) = read_network(matrices).layers
        for block in group.blocks:
            print("wrote", draw(replace(group, name=block.key, blocks=(block,)), block.key))
        print("wrote", draw(read_network(lstm).layers[0], "lstm"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save-lstm", type=Path, help="keep the trained LSTM's state_dict here")
    gallery(parser.parse_args().save_lstm)
