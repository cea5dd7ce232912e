"""Checks of a workflow run through the SLURM profile (called by .ci/slurm).

    python .ci/slurm_checks.py WORKDIR RUN_LOG SUMMARY_TSV

- every output of the run exists and is up to date (``snakemake --summary``);
- every job that is not a local rule went through sbatch: the run's log has one "submitted with
  SLURM jobid" line per job block (a rule, or a group of rules), and squeue, which keeps finished jobs
  on the test cluster (MinJobAge), shows every submission of the run, all COMPLETED;
- only the local rules (downloads, tables, figures, all) ran on the submit host.

Prints one line per check; exits 1 with the reason on the first that fails.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def local_rules(rules_dir: Path = REPO / "workflow" / "rules") -> set[str]:
    """The rules marked ``localrule: True`` in the workflow's rule files, and ``all``."""
    found = {"all"}  # Snakemake runs the target rule on the submit host
    for path in rules_dir.glob("*.smk"):
        rule = None
        for line in path.read_text().splitlines():
            if match := re.match(r"rule (\w+):", line):
                rule = match.group(1)
            elif rule and line.strip() == "localrule: True":
                found.add(rule)
    return found


LOCAL_RULES = local_rules()


def fail(message: str) -> None:
    print(f"FAILED: {message}")
    sys.exit(1)


def check_outputs(workdir: Path, summary: Path) -> None:
    rows = list(csv.DictReader(summary.open(), delimiter="\t"))
    if not rows:
        fail(f"snakemake --summary listed no outputs ({summary})")
    for row in rows:
        path = workdir / row["output_file"]
        if row["status"] != "ok" or row["plan"] != "no update" or not path.exists():
            fail(f"{row['output_file']}: status {row['status']!r}, plan {row['plan']!r}, exists {path.exists()}")
    print(f"ok: all {len(rows)} outputs exist and are up to date")


def check_submissions(log_text: str) -> None:
    """Each job block of the log (a rule, or a group of rules) has its sbatch submission line."""
    run_id = re.search(r"SLURM run ID: (\S+)", log_text)
    if not run_id:
        fail("the run's log has no 'SLURM run ID': it did not use the SLURM executor")
    remote, local, blocks, submitted = [], [], 0, 0
    for line in log_text.splitlines():
        if match := re.match(r"(\s*)(local)?rule (\w+):$", line):
            indent, is_local, rule = match.groups()
            (local if is_local else remote).append(rule)
            blocks += not is_local and not indent  # a rule inside a group block is indented
        elif re.search(r"\] Group job \w+ ", line):
            blocks += 1
        elif "has been submitted with SLURM jobid" in line:
            submitted += 1
    if not remote:
        fail("no job ran through SLURM")
    if set(remote) & LOCAL_RULES or not set(local) <= LOCAL_RULES:
        fail(f"rules ran in the wrong place: through sbatch {sorted(set(remote))}, locally {sorted(set(local))}")
    if submitted != blocks:
        fail(f"{blocks} job blocks but {submitted} sbatch submissions")
    states = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T", "--name", run_id.group(1)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if len(states) != submitted or any(not s.endswith("|COMPLETED") for s in states):
        fail(f"squeue shows {states} for the {submitted} submissions of run {run_id.group(1)}")
    print(f"ok: {len(remote)} jobs ({', '.join(sorted(set(remote)))}) in {submitted} sbatch submissions, "
          f"all COMPLETED in squeue; {len(local)} local jobs ({', '.join(sorted(set(local)))})")  # fmt: skip


def main() -> None:
    workdir, run_log, summary = (Path(arg) for arg in sys.argv[1:4])
    check_outputs(workdir, summary)
    check_submissions(run_log.read_text())


if __name__ == "__main__":
    main()
