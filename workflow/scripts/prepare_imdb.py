"""Tokenise and encode the IMDB reviews with the Keras imdb.load_data conventions."""

from pathlib import Path

from rnnrobust.data.imdb import prepare_imdb
from rnnrobust.io import save_prepared, write_json
from rnnrobust.job import start

sm = start(snakemake)

arrays, word_index = prepare_imdb(sm.input.raw[0], sm.params.digest, **sm.params.options)
write_json(sm.output.vocab, word_index)
meta = {"task": "imdb", "vocabulary": len(word_index), **sm.params.options}
save_prepared(Path(sm.output.data).parent, arrays, meta)
print(meta)
