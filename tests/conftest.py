import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
# TEMPORARY (layout move): builders still imported across test modules
for _sub in ("training", "workflow"):
    sys.path.insert(0, str(Path(__file__).resolve().parent / _sub))


@pytest.fixture
def one_thread():
    """One torch thread for the test, as the workflow trains: bitwise comparisons of batched and single
    products hold with it (with more threads MKL may split a product differently)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
