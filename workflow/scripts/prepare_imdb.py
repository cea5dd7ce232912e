"""Tokenise and encode the IMDB reviews with the Keras imdb.load_data conventions."""

import sys
from pathlib import Path

from rnnrobust import data
from rnnrobust.io import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

arrays, word_index = data.prepare_imdb(sm.input.raw[0], sm.params.digest, **sm.params.options)
write_json(sm.output.vocab, word_index)
meta = {"task": "imdb", "vocabulary": len(word_index), **sm.params.options}
data.save_prepared(Path(sm.output.data).parent, arrays, meta)
print(meta)
