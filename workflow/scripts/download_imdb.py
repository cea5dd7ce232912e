"""Fetch the IMDB reviews (official aclImdb_v1.tar.gz or a labelled-only tarball), verified."""

import sys
from pathlib import Path

from rnnrobust import data
from rnnrobust.params import data_mirror

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821
# Where the files come from is not a param: switching mirrors must not re-fetch verified data.
mirror = data_mirror(sm.config)

dest = Path(sm.output[0])
names = ["aclImdb_v1.tar.gz", "aclImdb_labeled.tar.gz"]
source = data.fetch(data.candidate_sources(names, sm.params.urls, mirror, "imdb"), dest)
print(f"fetched from {source}")
actual = data.imdb_digest(dest)
if actual != sm.params.digest:
    dest.unlink(missing_ok=True)
    raise data.DataError(
        f"{source}: the labelled reviews have digest {actual}, expected {sm.params.digest}.\n{data.MIRROR_HINT}"
    )
print(f"digest of the labelled reviews verified: {actual}")
