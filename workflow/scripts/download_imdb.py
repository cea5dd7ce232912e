"""Fetch the IMDB reviews (official aclImdb_v1.tar.gz or a labelled-only tarball), verified."""

from pathlib import Path

from rnnrobust.config import data_mirror
from rnnrobust.data.fetch import DataError, candidate_sources, fetch
from rnnrobust.data.imdb import IMDB_ARCHIVES, verify_imdb
from rnnrobust.job import start

sm = start(snakemake)
# Where the files come from is not a param: switching mirrors must not re-fetch verified data.
mirror = data_mirror(sm.config)

dest = Path(sm.output[0])
source = fetch(candidate_sources(IMDB_ARCHIVES, sm.params.urls, mirror, "imdb"), dest)
print(f"fetched from {source}")
try:
    actual = verify_imdb(dest, sm.params.digest, source=source)
except DataError:
    dest.unlink(missing_ok=True)
    raise
print(f"digest of the labelled reviews verified: {actual}")
