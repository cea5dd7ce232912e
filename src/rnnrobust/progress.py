"""The one-line-per-epoch progress format of training logs: written by ``train``, read by ``status``.

Torch-free, so that ``python -m rnnrobust.status`` reads logs without importing torch.

>>> line = progress_line(2, 10, {"epoch": 2, "test_accuracy": 0.8125, "seconds": 3.0}, elapsed=6.0)
>>> line
'epoch 2/10  test_accuracy 0.8125  3.0 s  ETA 24 s'
>>> parse_progress(line)
{'epoch': 2, 'epochs': 10, 'test_accuracy': 0.8125, 'seconds': 3.0, 'eta_s': 24.0}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_LINE = re.compile(r"^epoch (\d+)/(\d+)  (.*?)  ?([\d.]+) s  ETA (-|[\d.]+ s)$")


def format_values(values: Mapping[str, float]) -> str:
    """``name value`` pairs, 4 decimals: ``train_loss 0.6931, test_accuracy 0.5000``."""
    return ", ".join(f"{k} {v:.4f}" for k, v in values.items())


def progress_line(epoch: int, epochs: int, row: Mapping[str, float], elapsed: float) -> str:
    """The log line of one epoch: its metrics, seconds and the ETA of the rest of the run.

    Per-block columns of ``row`` (e.g. ``radius_est/encoder/f``) stay in history.csv; the line
    shows their maximum (``max radius_est``).
    """
    done = max(epoch, 1)
    eta = f"{elapsed / done * (epochs - epoch):.0f} s" if epoch else "-"
    skip = ("epoch", "seconds")
    shown = {k: v for k, v in row.items() if k not in skip and "/" not in k and not math.isnan(v)}
    for prefix in sorted({k.split("/", 1)[0] for k in row if "/" in k}):
        shown[f"max {prefix}"] = max(v for k, v in row.items() if k.startswith(prefix + "/"))
    return f"epoch {epoch}/{epochs}  {format_values(shown)}  {row['seconds']:.1f} s  ETA {eta}"


def parse_progress(line: str) -> dict[str, float] | None:
    """The epoch, epochs, logged values, seconds and ETA (``eta_s``, None at epoch 0) of a progress line."""
    match = _LINE.match(line.strip())
    if match is None:
        return None
    epoch, epochs, values, seconds, eta = match.groups()
    parsed: dict[str, float] = {"epoch": int(epoch), "epochs": int(epochs)}
    for part in values.split(", ") if values else []:
        name, _, number = part.rpartition(" ")
        try:
            parsed[name] = float(number)
        except ValueError:
            continue
    parsed["seconds"] = float(seconds)
    parsed["eta_s"] = None if eta == "-" else float(eta.removesuffix(" s"))
    return parsed
