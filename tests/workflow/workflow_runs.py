"""Running the workflow from the tests: a copy of the checkout, Snakemake on the tiny config, what it plans.

Shared by the tests in this folder (their fixtures are in ``conftest.py``). Each test runs Snakemake in
its own copy of the workflow, so that it can edit library files and config without touching the checkout.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
#: The tiny config, relative to a copy of the workflow: every run starts from it.
TINY_CONFIG = "tests/config/config.yaml"


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow and its library, as a user's checkout would hold it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("workflow", "src", "envs", "tests", "profiles"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


def write_overlay(path: Path, settings: dict) -> str:
    """Write ``settings`` as a YAML config file at ``path`` (layered over the tiny config); its path."""
    path.write_text(yaml.safe_dump(settings))
    return str(path)


def job_environment() -> dict[str, str]:
    """This process's environment without ``PYTHONPATH``: each job imports the library of its own checkout."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def snakemake_command(*args: str, overlays: tuple[str, ...] = ()) -> list[str]:
    """The command line of Snakemake on the tiny config, plus overlay config files, on two cores."""
    return [sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile", TINY_CONFIG, *overlays]


def snakemake(workdir: Path, *args: str, overlays: tuple[str, ...] = (), check: bool = True):
    """Run Snakemake on the tiny config (plus overlay config files) in ``workdir``; the finished process.

    With ``check``, a failure raises an ``AssertionError`` that shows the end of Snakemake's output.
    """
    cmd = snakemake_command(*args, overlays=overlays)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=job_environment(), timeout=900)
    if check and proc.returncode != 0:
        output = f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output}")
    return proc


def pending(workdir: Path, *args: str, overlays: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Outputs that a run would (re)create, by rule, from `snakemake --summary`."""
    proc = snakemake(workdir, "--summary", *args, overlays=overlays)
    rows = csv.DictReader(io.StringIO(proc.stdout), delimiter="\t")
    out: dict[str, set[str]] = {}
    for row in rows:
        if row["plan"] == "update pending":
            out.setdefault(row["rule"], set()).add(row["output_file"])
    return out


def planned(workdir: Path, *args: str, overlays: tuple[str, ...] = ()) -> dict[str, int]:
    """Jobs per rule that `snakemake -n` plans (empty when there is nothing to do)."""
    proc = snakemake(workdir, "-n", *args, overlays=overlays)
    if "Nothing to be done" in proc.stdout + proc.stderr:
        return {}
    counts = {}
    in_stats = False
    for line in proc.stdout.splitlines():
        if line.startswith("job ") and "count" in line:
            in_stats = True
        elif in_stats and line.split() and line.split()[0] == "total":
            break
        elif in_stats and len(line.split()) == 2 and line.split()[1].isdigit():
            counts[line.split()[0]] = int(line.split()[1])
    return counts
