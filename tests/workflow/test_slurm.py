"""The workflow on a real SLURM cluster, through workflow/profiles/slurm: what happens when a job fails.

A job that fails with an error that more time or memory cannot fix is reported once, with its log,
and never resubmitted; a training job that runs out of time is resubmitted with a longer limit and
resumes from its checkpoint.

These tests submit jobs, so they run only against a cluster: `bash .ci/slurm` brings up a
single-node SLURM on this machine (as root, from Debian's packages), runs them with RNNROBUST_SLURM=1
and tears the cluster down. Elsewhere they are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from workflow_runs import copy_workflow, snakemake, write_overlay

pytestmark = pytest.mark.skipif(
    os.environ.get("RNNROBUST_SLURM") != "1" or shutil.which("sbatch") is None,
    reason="needs a SLURM cluster: run `bash .ci/slurm` (as root), which brings one up on this machine "
    "and runs these tests, or `bash .ci/slurm -- python3 -m pytest tests/workflow/test_slurm.py`",
)

#: One run of the tiny config: prepare, train, then one post-processing job (the profile's groups).
ONE_RUN = {"tasks": ["adding"], "models": ["rnn"], "regimes": ["baseline"]}


def run_on_slurm(workdir: Path, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    """Snakemake on the tiny config's one run through the SLURM profile; the process and its output.

    The flags are the README's for a test cluster: the profile as it is, job states polled from 2 s on.
    """
    one_run = write_overlay(workdir / "one_run.yaml", ONE_RUN)
    flags = ("--workflow-profile", "workflow/profiles/slurm", "--slurm-init-seconds-before-status-checks", "2")
    proc = snakemake(workdir, *flags, *args, overlays=(one_run,), check=False)
    return proc, proc.stdout + proc.stderr


def slurm_jobs(output: str) -> list[dict[str, str]]:
    """The run's SLURM jobs in submission order (squeue keeps finished ones on the test cluster)."""
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-3000:]
    fields = ("id", "state", "time_limit", "comment")
    lines = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%l|%k", "--name", run_id.group(1)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return sorted((dict(zip(fields, line.split("|"), strict=True)) for line in lines), key=lambda j: int(j["id"]))


def inject(path: Path, after: str, code: str) -> None:
    """Insert ``code`` after the first line of ``path`` that starts with ``after``."""
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(after))
    path.write_text("".join([*lines[: at + 1], code, *lines[at + 1 :]]))


def test_a_code_error_is_reported_once_with_its_log(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    inject(workdir / "workflow/scripts/analyze.py", "sm = start(", 'raise ValueError("injected: a code error")\n')

    proc, output = run_on_slurm(workdir)

    assert proc.returncode != 0
    # The reason, the rule's log and the SLURM job's log, on the terminal.
    assert "analyze failed: ValueError: injected: a code error" in output, output[-4000:]
    log = re.search(r"log: (\S*logs/analyze/\S+\.log)", output)
    assert log and "ValueError: injected: a code error" in (workdir / log.group(1)).read_text(), output[-4000:]
    slurm_log = re.search(r"log: (\S*/slurm_logs/group_postprocess\S*\.log) \(check log", output)
    assert slurm_log and "injected: a code error" in Path(slurm_log.group(1)).read_text()
    # Submitted once, failed once: no retry of an error that more resources cannot fix.
    assert "Trying to restart" not in output
    # prepare, train, the post-processing group, the perturbation and the predictors job, once each
    jobs = slurm_jobs(output)
    assert len(jobs) == len({job["comment"] for job in jobs}) == 5, jobs
    assert [job["comment"] for job in jobs if job["state"] != "COMPLETED"] == [
        next(job["comment"] for job in jobs if "postprocess" in job["comment"])
    ], jobs
    assert [job["state"] for job in jobs if "postprocess" in job["comment"]] == ["FAILED"], jobs


def test_a_training_job_out_of_time_comes_back_with_more_and_resumes(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    # Requests of one minute for this run's first attempt (two for the second), from the costs file.
    costs_file = workdir / "workflow/resources.yaml"
    costs = yaml.safe_load(costs_file.read_text())
    costs.update(startup_minutes=0, floor_minutes=1, round_minutes=1)
    costs_file.write_text(yaml.safe_dump(costs))
    # A first attempt that needs more than its minute: after its first epoch's checkpoint, it waits.
    train_py = workdir / "workflow/scripts/train.py"
    inject(train_py, "sm = start(", (
        "import time\n\n"
        "class OutOfTime:  # injected\n"
        "    def __call__(self, model, epoch):\n"
        "        if epoch == 2 and sm.resources.runtime < 2:\n"
        "            time.sleep(600)\n"
        "        return {}\n\n"
    ))  # fmt: skip
    hooks = "hooks=stabilization_hooks,"
    assert hooks in train_py.read_text()
    train_py.write_text(
        train_py.read_text().replace(hooks, "hooks=lambda train: [*stabilization_hooks(train), OutOfTime()],")
    )

    proc, output = run_on_slurm(workdir, "--until", "train")

    assert proc.returncode == 0, output[-4000:]
    jobs = [job for job in slurm_jobs(output) if job["comment"].startswith("rule_train")]
    assert [(job["state"], job["time_limit"]) for job in jobs] == [("TIMEOUT", "1:00"), ("COMPLETED", "2:00")], jobs
    assert "Trying to restart" in output
    train_log = next(workdir.glob("results/**/logs/train/**/*.log"))
    assert "resuming from" in train_log.read_text() and "after epoch 1" in train_log.read_text()
