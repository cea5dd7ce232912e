"""Fetch the four MNIST IDX files from the mirror or the canonical URLs, verified."""

from pathlib import Path

from rnnrobust.config import data_mirror
from rnnrobust.data.fetch import DataError, candidate_sources, fetch
from rnnrobust.data.mnist import MNIST_FILES, MNIST_NAMES, verify_mnist
from rnnrobust.job import start

sm = start(snakemake)
# Where the files come from is not a param: switching mirrors must not re-fetch verified data.
mirror = data_mirror(sm.config)

files: dict[str, Path] = {}
sources: dict[str, str] = {}
for name, filename, dest in zip(MNIST_NAMES, MNIST_FILES, sm.output, strict=True):
    files[name] = Path(dest)
    urls = [base + filename for base in sm.params.urls]
    sources[name] = fetch(candidate_sources([filename], urls, mirror, "mnist"), files[name])
    print(f"{filename}: fetched from {sources[name]}")
try:
    verify_mnist(files, sm.params.sha256, sources)
except DataError:
    for dest in files.values():
        dest.unlink(missing_ok=True)
    raise
print("SHA-256 of every decompressed file verified")
