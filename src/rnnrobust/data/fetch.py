"""Where data files come from and how they get here: ``data_mirror`` or the canonical URLs.

Shared by the MNIST and IMDB modules: :class:`DataError`, the candidate locations of a file, atomic
copies and downloads, SHA-256 and gzip helpers, and the "Fix:" line of every data error.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from rnnrobust.io import DataError, atomic_path

__all__ = [
    "GZIP_MAGIC",
    "MIRROR_HINT",
    "DataError",
    "candidate_sources",
    "data_error",
    "fetch",
    "fix_hint",
    "is_gzip",
    "local_path",
    "sha256_file",
]

#: How to fix a bad file cached under ``resources/`` or downloaded from a URL (see :func:`fix_hint`).
MIRROR_HINT: str = (
    "Fix: delete the bad file so that the workflow fetches it again, or point the workflow at a "
    "good copy: set data_mirror: <dir or URL> in config.yaml or --config data_mirror=<dir or URL>."
)

#: The first two bytes of every gzip stream.
GZIP_MAGIC: bytes = b"\x1f\x8b"

_CHUNK = 1 << 20


def _is_url(location: str) -> bool:
    return urllib.parse.urlsplit(location).scheme.lower() in {"http", "https", "file"}


def local_path(location: str) -> Path | None:
    """The file system path of a candidate location: a local path or ``file://`` URL; None for an http(s) URL."""
    parts = urllib.parse.urlsplit(location)
    if parts.scheme.lower() == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if _is_url(location):
        return None
    return Path(location).expanduser()


def fix_hint(sources: Iterable[str] = ()) -> str:
    """The "Fix:" line for bad data files, given the locations they were fetched from.

    A file copied from a local mirror (a path or a ``file://`` URL) must be replaced there:
    deleting the copy under ``resources/`` would only fetch the same bad file again. For files
    downloaded from a URL, or with no ``sources`` (a file cached under ``resources/``), it is
    :data:`MIRROR_HINT`.
    """
    local = list(dict.fromkeys(str(path) for path in map(local_path, map(str, sources)) if path is not None))
    if not local:
        return MIRROR_HINT
    copies = "a good copy" if len(local) == 1 else "good copies"
    return (
        f"Fix: replace {', '.join(local)} in the data mirror (data_mirror) with {copies}; deleting the "
        "copy under resources/ would only fetch the same bad file again."
    )


def data_error(message: str, sources: Iterable[str] = ()) -> DataError:
    """A :class:`DataError` whose message is ``message`` followed by :func:`fix_hint` of ``sources``."""
    return DataError(f"{message}\n{fix_hint(sources)}")


def candidate_sources(
    filenames: Sequence[str], canonical_urls: Sequence[str], mirror: str | None, subdir: str
) -> list[str]:
    """The locations to try for one data file, in try order.

    ``filenames`` are alternative names of the same file. With a ``mirror`` (a local directory, or
    an ``http(s)://`` or ``file://`` base URL) each name is looked for as ``mirror/name`` and then
    as ``mirror/subdir/name``; the canonical URLs are not tried. Without a mirror the result is
    ``canonical_urls``.
    """
    if not mirror:
        return [str(url) for url in canonical_urls]
    mirror = str(mirror)
    subdir = str(subdir).strip("/")
    out: list[str] = []
    for name in filenames:
        rels = [name] if not subdir else [name, f"{subdir}/{name}"]
        for rel in rels:
            if _is_url(mirror):
                out.append(mirror.rstrip("/") + "/" + urllib.parse.quote(rel))
            else:
                out.append(str(Path(mirror).expanduser() / rel))
    return out


def _copy_stream(src: IO[bytes], dst: IO[bytes]) -> int:
    total = 0
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        total += len(chunk)
    return total


def _fetch_one(location: str, tmp: Path, timeout: float) -> None:
    if not _is_url(location):
        with open(location, "rb") as src, open(tmp, "wb") as dst:
            _copy_stream(src, dst)
        return
    request = urllib.request.Request(location, headers={"User-Agent": "rnnrobust-data-fetch"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as dst:
        n_read = _copy_stream(response, dst)
        # http.client reports a connection closed early as a normal end of body, so check here.
        length = response.headers.get("Content-Length") if response.headers is not None else None
        if length is not None and length.strip().isdigit() and int(length) != n_read:
            raise DataError(f"incomplete download: got {n_read} bytes, Content-Length says {length}")


def fetch(candidates: Sequence[str], dest: Path, *, timeout: float = 60) -> str:
    """Copy or download the first candidate that works to ``dest``; return the candidate used.

    Candidates are local paths or ``http://``, ``https://`` or ``file://`` URLs, tried in order.
    Each attempt writes a temporary file beside ``dest`` and renames it into place only when the
    whole file arrived (a body shorter than its ``Content-Length`` counts as a failure), so
    ``dest`` is never left partial and an existing ``dest`` is untouched by a failed fetch. If no
    candidate works, :class:`DataError` lists every location tried with its error.
    """
    dest = Path(dest)
    errors: list[str] = []
    for location in candidates:
        try:
            with atomic_path(dest) as tmp:
                _fetch_one(str(location), tmp, timeout)
            return str(location)
        except (OSError, ValueError, http.client.HTTPException, DataError) as exc:
            errors.append(f"  {location}: {type(exc).__name__}: {exc}")
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
    tried = "\n".join(errors) if errors else "  (no candidate locations)"
    raise DataError(
        f"could not fetch {dest.name} to {dest}; tried:\n{tried}\n"
        "Fix: set data_mirror: <dir or URL> in config.yaml or --config data_mirror=<dir or URL> "
        "(a directory or base URL holding the file, directly or in its subfolder)."
    )


def is_gzip(path: str | Path) -> bool:
    """Whether a file starts with the gzip magic bytes; an unreadable file raises :class:`DataError`."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == GZIP_MAGIC
    except OSError as exc:
        raise data_error(f"{path}: cannot read: {exc}") from exc


def sha256_file(path: str | Path, *, gunzip: bool = False) -> str:
    """Hex SHA-256 of a file, streamed; with ``gunzip=True`` of its decompressed bytes.

    A missing file or a truncated or corrupt gzip stream raises :class:`DataError` naming the file.
    """
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") if gunzip else open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        what = "decompress" if gunzip else "read"
        raise data_error(f"{path}: cannot {what}: {type(exc).__name__}: {exc}") from exc
    return digest.hexdigest()
