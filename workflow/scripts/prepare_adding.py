"""Generate the adding-two-numbers data set (Keras addition_rnn)."""

from pathlib import Path

from rnnrobust.data.adding import ADDING_CHARS, generate_adding
from rnnrobust.io import save_prepared
from rnnrobust.job import start

sm = start(snakemake)

arrays = generate_adding(**sm.params.options)
meta = {"task": "adding", "chars": ADDING_CHARS, **sm.params.options}
save_prepared(Path(sm.output.data).parent, arrays, meta)
print(meta)
