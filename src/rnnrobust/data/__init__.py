"""Data for the three tasks (protocol §1.1–1.3), one submodule per concern; nothing is re-exported here.

* :mod:`~rnnrobust.data.fetch`: :class:`DataError`, where a file is looked for (``data_mirror`` or
  the canonical URLs), atomic copies and downloads, SHA-256 and gzip helpers, and the "Fix:" line
  of a bad file (replace it in the mirror, or delete the cached copy).
* :mod:`~rnnrobust.data.mirror`: :func:`~rnnrobust.data.mirror.check_mirror`, the parse-time check
  of ``data_mirror`` (the only module that knows every task's files).
* :mod:`~rnnrobust.data.archive`: which tar members are unsafe to read (absolute paths, ``..``, links, devices).
* :mod:`~rnnrobust.data.adding`: the adding-two-numbers generator (Keras ``addition_rnn.py``).
* :mod:`~rnnrobust.data.mnist`: the four MNIST IDX files, verified by the SHA-256 of their decompressed bytes.
* :mod:`~rnnrobust.data.imdb`: the raw ``aclImdb`` tarball, its content digest, the tokenizer and the
  Keras ``imdb.load_data`` encoding.

The prepared ``data.npz`` + ``meta.json`` files are written and read by :mod:`rnnrobust.io`.

Import the submodule you need: a workflow rule's code dependency is the closure of the modules its
script imports, so preparing MNIST must not depend on the IMDB tokenizer.
"""
