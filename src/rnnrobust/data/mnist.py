"""Task 3, MNIST: the four IDX files, verified by the SHA-256 of their decompressed bytes (protocol §1.3)."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rnnrobust.data.fetch import GZIP_MAGIC, DataError, data_error, is_gzip, sha256_file

__all__ = ["MNIST_FILES", "MNIST_NAMES", "prepare_mnist", "read_idx", "verify_mnist"]

#: Canonical MNIST base names (the IDX files without ``.gz``).
MNIST_NAMES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
#: The four files as served and mirrored: gzip'd, ``<name>.gz``.
MNIST_FILES: tuple[str, ...] = tuple(f"{name}.gz" for name in MNIST_NAMES)


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise data_error(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc


_IDX_MAGICS = {0x00000803: 3, 0x00000801: 1}


def read_idx(path: str | Path) -> np.ndarray:
    """Read a gzip-compressed or plain IDX file of unsigned bytes into a uint8 array.

    Accepts the two MNIST kinds: magic ``0x00000803`` (images, dims ``N, rows, cols``) and
    ``0x00000801`` (labels, dim ``N``); dims are big-endian int32. The magic, the dims and the
    exact file length are checked; any mismatch raises :class:`DataError` naming the file.
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise data_error(f"{path}: not an IDX file: only {len(data)} bytes")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in _IDX_MAGICS:
        raise data_error(f"{path}: bad IDX magic 0x{magic:08x}; expected 0x00000803 (images) or 0x00000801 (labels)")
    ndim = _IDX_MAGICS[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise data_error(f"{path}: IDX header truncated: {len(data)} bytes, need {header}")
    dims = struct.unpack(f">{ndim}i", data[4:header])
    if any(d < 0 for d in dims) or (ndim == 3 and (dims[1] == 0 or dims[2] == 0)):
        raise data_error(f"{path}: bad IDX dims {dims}")
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise data_error(
            f"{path}: IDX length mismatch: dims {dims} need {expected} bytes, file has {len(data)} "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def verify_mnist(
    files: Mapping[str, Path], expected_sha256: Mapping[str, str], sources: Mapping[str, str] | None = None
) -> None:
    """Check the SHA-256 of the decompressed bytes of each MNIST file.

    ``files``, ``expected_sha256`` and ``sources`` are keyed by the canonical base names
    (:data:`MNIST_NAMES`, without ``.gz``); a file may be gzip-compressed or plain (detected by its
    magic bytes). ``sources`` are the locations the files were fetched from, if they were just
    fetched: they are named in the message and choose its "Fix:" line
    (:func:`~rnnrobust.data.fetch.fix_hint`). Every file is checked, then one :class:`DataError`
    lists each bad file with its expected and actual digest.
    """
    sources = sources or {}
    missing = [n for n in MNIST_NAMES if n not in files or n not in expected_sha256]
    if missing:
        raise data_error(f"MNIST: no file or no expected sha256 given for {missing}")
    problems: list[str] = []
    bad_sources: list[str] = []
    for name in MNIST_NAMES:
        path = Path(files[name])
        expected = str(expected_sha256[name]).strip().lower()
        where = f"{path} (from {sources[name]})" if name in sources else str(path)
        try:
            actual = sha256_file(path, gunzip=is_gzip(path))
        except DataError as exc:
            first_line = str(exc).splitlines()[0]
            problems.append(f"{where}: expected sha256 {expected} (decompressed), actual: unreadable ({first_line})")
        else:
            if actual == expected:
                continue
            problems.append(f"{where}: expected sha256 {expected} (decompressed), actual sha256 {actual}")
        if name in sources:
            bad_sources.append(sources[name])
    if problems:
        raise data_error("MNIST verification failed:\n  " + "\n  ".join(problems), bad_sources)


def prepare_mnist(files: Mapping[str, Path], expected_sha256: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Verify the four MNIST files (:func:`verify_mnist`), then read them.

    Returns ``x_train`` and ``x_test`` as uint8 ``(N, 28, 28)`` raw pixels (0 background, 255 ink)
    and ``y_train``, ``y_test`` as int64 labels 0–9. Pixels are **not** scaled here: training
    divides by 255 at load time, as ``examples/mnist_irnn.py`` does (protocol §1.3), which keeps
    the prepared file four times smaller than float32.
    """
    verify_mnist(files, expected_sha256)
    out: dict[str, np.ndarray] = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(files[f"{prefix}-images-idx3-ubyte"])
        labels = read_idx(files[f"{prefix}-labels-idx1-ubyte"])
        img_path, lab_path = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise data_error(f"{img_path}: expected (N, 28, 28) images, got {images.shape}")
        if labels.ndim != 1:
            raise data_error(f"{lab_path}: expected (N,) labels, got {labels.shape}")
        if len(images) != len(labels):
            raise data_error(
                f"MNIST {split}: {len(images)} images in {img_path} but {len(labels)} labels in {lab_path}"
            )
        if labels.size and labels.max() > 9:
            raise data_error(f"{lab_path}: label {int(labels.max())} outside 0..9")
        out[f"x_{split}"] = images
        out[f"y_{split}"] = labels.astype(np.int64)
    return out
