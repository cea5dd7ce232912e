"""Generate the adding-two-numbers data set (Keras addition_rnn)."""

import sys
from pathlib import Path

from rnnrobust import data

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

arrays = data.generate_adding(**sm.params.options)
meta = {"task": "adding", "chars": data.ADDING_CHARS, **sm.params.options}
data.save_prepared(Path(sm.output.data).parent, arrays, meta)
print(meta)
