"""Recurrent networks saved by other code: their recurrent layers and square gate blocks, ready for the analysis.

One entry point, :func:`rnnrobust.networks.read.read_network`, reads a PyTorch ``state_dict`` (or a checkpoint
holding one), this project's ``model.pt``, Keras weights (Keras 3 ``.weights.h5`` and ``.keras``, Keras 2 ``.h5``)
or ``.npz``/``.npy`` matrices, and returns a :class:`rnnrobust.networks.blocks.Network`: every recurrent layer
with its cell, source framework and H × H gate blocks in the column-vector convention
``pre-activation_g = block_g @ h``, keyed ``<layer>/<gate>`` with the source framework's gate names and
mapped to this project's (``rnnrobust.layout.GATES``).

Modules: ``blocks`` (the types, the error, gate splitting), ``read`` (format detection), ``matrices``
(``.npz``/``.npy``), ``pytorch_files`` (torch imported lazily), ``keras_files`` and ``keras_archive``
(h5py imported lazily). Reading a matrix file never imports torch or h5py; nothing is unpickled.
"""
