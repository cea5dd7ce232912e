"""The start of every workflow script: output to the job's log, and the proof of which library runs.

Snakemake runs each ``script:`` in a fresh Python process. ``workflow/rules/common.smk`` puts this
checkout's ``src/`` first on that process's path (``PYTHONPATH``), so a job imports the library
that the workflow tracks, not some other installed copy; :func:`start` logs the path it imported
and stops with a clear message if it is another checkout's.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import rnnrobust


def use_checkout_library(src: str | Path) -> None:
    """Put a checkout's ``src`` first on this process's path and, through ``PYTHONPATH``, on the path
    of every process it starts (the jobs of a local run, of conda environments and of cluster nodes)."""
    src = str(Path(src).resolve())
    if sys.path[:1] != [src]:
        sys.path.insert(0, src)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if paths[0] != src:
        os.environ["PYTHONPATH"] = os.pathsep.join([src, *filter(None, paths)])


def library_path() -> Path:
    """The folder of the ``rnnrobust`` package this process imported."""
    return Path(rnnrobust.__file__).resolve().parent


def start(snakemake: Any) -> Any:
    """Send stdout and stderr to the job's log; return ``snakemake``.

    An uncaught error is written to the log with its traceback and, as one line naming the rule
    and the log, to the terminal that runs Snakemake.
    """
    terminal = sys.stderr
    log_path = Path(snakemake.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr = log
    rule = getattr(snakemake, "rule", "job")

    def report(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        traceback.print_exception(kind, error, tb, file=log)
        print(f"{rule} failed: {kind.__name__}: {error}\n  (log: {log_path})", file=terminal, flush=True)

    sys.excepthook = report
    used = library_path()
    print(f"rnnrobust {rnnrobust.__version__} imported from {used}")
    expected = (Path(snakemake.scriptdir).resolve().parents[1] / "src" / "rnnrobust").resolve()
    if used != expected:
        raise RuntimeError(
            f"this job imported rnnrobust from {used}, not from this checkout's {expected}; "
            "run Snakemake from this checkout without a PYTHONPATH that puts another copy first"
        )
    return snakemake
