"""Parse the verified MNIST IDX files into one array file (pixels stay uint8; training scales by 1/255)."""

from pathlib import Path

from rnnrobust.data.mnist import MNIST_NAMES, prepare_mnist
from rnnrobust.io import save_prepared
from rnnrobust.job import start

sm = start(snakemake)

files = {name: Path(path) for name, path in zip(MNIST_NAMES, sm.input.raw, strict=True)}
arrays = prepare_mnist(files, sm.params.sha256)
meta = {"task": "mnist", "scale": "pixels / 255 when training"}
save_prepared(Path(sm.output.data).parent, arrays, meta)
print(meta)
