"""Atomic file writes and the prepared data files: a crash or a full disk never leaves half an output.

:class:`DataError` is defined here, at the bottom of the import graph, so that :func:`load_prepared`
(which every training job calls) raises it without importing the download code of
:mod:`rnnrobust.data`; :mod:`rnnrobust.data.fetch` re-exports it as the data package's error.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: A file path as the library takes it.
PathLike = str | os.PathLike[str]


class DataError(RuntimeError):
    """A data file is missing, unreadable, malformed, unsafe or has the wrong digest."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    ``suffix`` keeps an extension that a writer insists on (``np.savez`` appends ``.npz``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], compressed: bool = False) -> None:
    """Save named arrays to ``path`` (an .npz file) atomically."""
    writer = np.savez_compressed if compressed else np.savez
    with atomic_path(path, suffix=".npz") as tmp:
        writer(tmp, **arrays)


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load every array of an .npz file (no pickles)."""
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


def save_prepared(out_dir: str | os.PathLike[str], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``out_dir/data.npz`` (uncompressed, no pickles) and ``out_dir/meta.json``, each atomically.

    ``meta.json`` holds ``meta`` plus each array's shape and dtype under ``"arrays"``. An array of
    dtype object raises ValueError: it could not be loaded back without pickles.
    """
    out_dir = Path(out_dir)
    for key, arr in arrays.items():
        if np.asarray(arr).dtype.hasobject:
            raise ValueError(f"array {key!r} has dtype object; it could not be loaded without pickles")
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    save_npz(out_dir / "data.npz", arrays)
    shapes = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()}
    write_json(out_dir / "meta.json", {**meta, "arrays": shapes})


def load_prepared(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load a ``data.npz`` written by :func:`save_prepared` (no pickles).

    An unreadable file raises :class:`DataError` naming it and saying to delete it.
    """
    try:
        return load_npz(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: cannot load prepared data: {type(exc).__name__}: {exc}\n"
            "Fix: delete it so that the workflow prepares it again."
        ) from exc
