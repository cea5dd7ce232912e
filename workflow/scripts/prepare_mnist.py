"""Parse the verified MNIST IDX files into one array file (pixels stay uint8; training scales by 1/255)."""

import sys
from pathlib import Path

from rnnrobust import data

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

files = {name: Path(path) for name, path in zip(data.MNIST_NAMES, sm.input.raw, strict=True)}
arrays = data.prepare_mnist(files, sm.params.sha256)
meta = {"task": "mnist", "scale": "pixels / 255 when training"}
data.save_prepared(Path(sm.output.data).parent, arrays, meta)
print(meta)
