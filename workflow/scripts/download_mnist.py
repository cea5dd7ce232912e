"""Fetch the four MNIST IDX files from the mirror or the canonical URLs, verified."""

import sys
from pathlib import Path

from rnnrobust import data
from rnnrobust.params import data_mirror

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821
# Where the files come from is not a param: switching mirrors must not re-fetch verified data.
mirror = data_mirror(sm.config)

files = {name: Path(dest) for name, dest in zip(data.MNIST_NAMES, sm.output, strict=True)}
for dest in files.values():
    urls = [base + dest.name for base in sm.params.urls]
    source = data.fetch(data.candidate_sources([dest.name], urls, mirror, "mnist"), dest)
    print(f"{dest.name}: fetched from {source}")
try:
    data.verify_mnist(files, sm.params.sha256)
except data.DataError:
    for dest in files.values():
        dest.unlink(missing_ok=True)
    raise
print("SHA-256 of every decompressed file verified")
