"""Keras 3 ``.keras`` archives: a zip holding ``config.json``, ``metadata.json`` and ``model.weights.h5``.

The archive is read, never extracted: every member is checked first (no absolute or ``..`` path, no link, no
encryption, no duplicate name, no member that inflates more than 100-fold beyond 256 MiB: a zip bomb), then
``config.json`` is parsed in memory and ``model.weights.h5`` is copied, alone, into a private temporary
directory that is removed afterwards, where h5py opens it. A ``.keras`` saved with ``weights_format="npz"``
is refused with that reason.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from rnnrobust.networks.blocks import Network, NetworkFileError
from rnnrobust.networks.keras_files import class_hints, keras3_layers, model_config, open_h5

__all__ = ["read_keras_archive", "unsafe_zip_member"]

WEIGHTS_MEMBER = "model.weights.h5"
CONFIG_MEMBER = "config.json"
#: A member may inflate this many times its stored size ...
MAX_EXPANSION = 100
#: ... once it is larger than this (small members compress well without being bombs).
BOMB_FLOOR_BYTES = 256 << 20
#: config.json is read into memory: at most this much.
MAX_CONFIG_BYTES = 64 << 20


def unsafe_zip_member(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is unsafe to read, or None.

    >>> unsafe_zip_member(zipfile.ZipInfo("../../etc/passwd"))
    "'..' path component"
    >>> unsafe_zip_member(zipfile.ZipInfo("model.weights.h5")) is None
    True
    """
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' path component"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted member"
    if info.file_size > BOMB_FLOOR_BYTES and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
        return f"inflates from {info.compress_size} to {info.file_size} bytes (a zip bomb?)"
    return None


def _checked_members(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name, once each is known to be safe."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        reason = unsafe_zip_member(info)
        if info.filename in members:
            reason = "a second member of the same name"
        if reason:
            raise NetworkFileError(path, "a .keras archive of plain, safe members", f"{info.filename!r}: {reason}")
        members[info.filename] = info
    return members


#: What a damaged member raises while it is read: a bad CRC, a truncated or corrupt deflate stream.
_DAMAGED = (zipfile.BadZipFile, OSError, EOFError, zlib.error)


def _read_member(path: Path, name: str, read: Callable[[], Any]) -> Any:
    """``read()``, with a damaged member as one :class:`NetworkFileError` naming it."""
    try:
        return read()
    except _DAMAGED as exc:
        raise NetworkFileError(path, f"a readable {name}", f"{type(exc).__name__}: {exc}") from None


def _copy_member(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    with archive.open(name) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink)


def read_keras_archive(path: Path) -> Network:
    """The recurrent layers of a Keras 3 ``.keras`` archive, their cells checked against its ``config.json``."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise NetworkFileError(path, "a .keras zip archive", f"{type(exc).__name__}: {exc}") from None
    with archive:
        members = _checked_members(path, archive)
        if WEIGHTS_MEMBER not in members:
            npz = "model.weights.npz" in members
            found = "model.weights.npz (saved with weights_format='npz', not read here)" if npz else sorted(members)
            raise NetworkFileError(path, f"a .keras archive holding {WEIGHTS_MEMBER}", f"members {found}")
        hints = {}
        if CONFIG_MEMBER in members:
            if members[CONFIG_MEMBER].file_size > MAX_CONFIG_BYTES:
                raise NetworkFileError(path, f"{CONFIG_MEMBER} under {MAX_CONFIG_BYTES} bytes", "a larger one")
            text = _read_member(path, CONFIG_MEMBER, lambda: archive.read(CONFIG_MEMBER))
            hints = class_hints(model_config(path, text))
        with tempfile.TemporaryDirectory(prefix="rnnrobust-keras-") as tmp:
            local = Path(tmp) / WEIGHTS_MEMBER
            _read_member(path, WEIGHTS_MEMBER, lambda: _copy_member(archive, WEIGHTS_MEMBER, local))
            with open_h5(path, local) as h5:
                skipped: list[str] = []
                layers = keras3_layers(path, h5, hints, skipped)
    return Network(path, "Keras 3 archive (.keras)", tuple(layers), tuple(skipped))
