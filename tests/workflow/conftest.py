import pytest


def pytest_collection_modifyitems(items):
    """Every test in this folder runs the workflow (or a cluster): marked ``workflow``, left out of the inner loop."""
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.workflow)
