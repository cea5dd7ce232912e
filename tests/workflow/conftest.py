"""The ``workflow`` marker for every test in this folder, and the tiny config's finished run."""

from __future__ import annotations

import pytest
from workflow_runs import copy_workflow, snakemake


def pytest_collection_modifyitems(items):
    """Every test in this folder runs the workflow (or a cluster): marked ``workflow``, left out of the inner loop."""
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.workflow)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, http_mirror):
    """The tiny config run end to end in a copy of the workflow, fetching its data from the loopback HTTP mirror.

    ``(workdir, mirror URL)``; the tests of one module share it.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("run"))
    snakemake(workdir, "--config", f"data_mirror={http_mirror.url}")
    return workdir, http_mirror.url
