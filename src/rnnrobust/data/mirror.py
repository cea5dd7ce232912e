"""The parse-time check of ``data_mirror``: a bad mirror fails in seconds, before any job runs.

A module of its own because it knows every task's files: :mod:`~rnnrobust.data.fetch` cannot import
:mod:`~rnnrobust.data.mnist` and :mod:`~rnnrobust.data.imdb` (they import it), and the scripts that
fetch or prepare one task must not depend on the other task's code.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from rnnrobust.data.fetch import DataError, candidate_sources, local_path
from rnnrobust.data.imdb import IMDB_ARCHIVES
from rnnrobust.data.mnist import MNIST_FILES

__all__ = ["check_mirror"]

_MIRROR_FIX = (
    "point data_mirror at a directory or http(s):// URL holding the MNIST/IMDB files "
    "(see README 'Data sources'), or remove it to download from the canonical URLs"
)


def _is_file(location: str) -> bool:
    path = local_path(location)
    return path is not None and path.is_file()


def _mirror_files(tasks: Iterable[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Per task that downloads data: the files a mirror must hold, each as a group of alternative names."""
    needs = {"mnist": tuple((name,) for name in MNIST_FILES), "imdb": (IMDB_ARCHIVES,)}
    return {task: needs[task] for task in dict.fromkeys(tasks) if task in needs}


def check_mirror(mirror: str, tasks: Iterable[str]) -> None:
    """Check a ``data_mirror`` setting without any network access; raise :class:`DataError` if it is bad.

    A local directory (or ``file://`` URL) must exist and hold, for each of ``tasks`` that downloads
    data, the expected file names, directly or in the task's subfolder (``mnist/``, ``imdb/``), as
    :func:`candidate_sources` looks for them: the four MNIST ``<name>.gz`` and one of the accepted
    IMDB archives; ``adding`` needs nothing. An ``http(s)://`` URL is checked for syntax only
    (scheme and host). Anything else is an error. The one-line message names ``data_mirror``, the
    value, what is missing and the fix.
    """
    value = str(mirror)
    shown = f"data_mirror = {value!r}"
    if not value.strip():
        raise DataError(f"{shown} is empty; {_MIRROR_FIX}")
    parts = urllib.parse.urlsplit(value)
    scheme = parts.scheme.lower() if "://" in value else ""
    if scheme in {"http", "https"}:
        try:
            _ = parts.port  # urlsplit parses the port lazily
        except ValueError as exc:
            raise DataError(f"{shown} has a bad port ({exc}); {_MIRROR_FIX}") from exc
        if not parts.hostname:
            raise DataError(f"{shown} has no host; {_MIRROR_FIX}")
        return
    if scheme not in {"", "file"}:
        raise DataError(f"{shown} is neither a local directory nor an http(s):// URL; {_MIRROR_FIX}")
    root = local_path(value)
    assert root is not None  # a local path or file:// URL
    if not root.exists():
        raise DataError(f"{shown} does not exist; {_MIRROR_FIX}")
    if not root.is_dir():
        raise DataError(f"{shown} is not a directory; {_MIRROR_FIX}")
    missing: list[str] = []
    for task, groups in _mirror_files(tasks).items():
        absent = [
            " or ".join(names)
            for names in groups
            if not any(_is_file(location) for location in candidate_sources(names, [], value, task))
        ]
        if absent:
            missing.append(f"{', '.join(absent)} (looked in it and in {task}/)")
    if missing:
        raise DataError(
            f"{shown} lacks {' and '.join(missing)}; put the missing files there (see README 'Data sources'), "
            "or remove data_mirror to download from the canonical URLs"
        )
