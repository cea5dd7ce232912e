"""Keras-2.1.6-faithful recurrent layers and the paper's three task models.

Every recurrent layer stores its weights in one layout, whatever the implementation:
``weight_ih`` (k·H × in), ``weight_hh`` (k·H × H) and ``bias`` (k·H), gate blocks stacked in Keras
order (LSTM i, f, c, o; GRU z, r, h; k = 1 for the simple RNN), in the column-vector convention
h_t = φ(W_ih x_t + W_hh h_{t−1} + b). Block g of ``weight_hh`` is the transpose of the Keras
``recurrent_kernel[:, gH:(g+1)H]`` (protocol §2.1), which leaves eigenvalues, pseudospectra and
Henrici numbers unchanged (protocol §2.2).

``cell_impl="faithful"`` (default) follows Keras exactly: hard_sigmoid with slope 0.2, GRU with
``reset_after=False``, Keras dropout and recurrent dropout (one mask per gate per sequence).
``cell_impl="builtin"`` runs the same parameters through PyTorch's fused kernels (``torch.lstm`` etc.),
a documented deviation: sigmoid gates, a reset-after GRU, no dropout of either kind.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layout import CELLS, GATES, TASKS
from .recurrence import KerasRecurrence

ADDING_SYMBOLS = 12  # ' +0123456789'
ADDING_OUTPUT_STEPS = 4  # digits + 1


def _dropout_masks(rate: float, k: int, like: Tensor) -> Tensor | None:
    """k independent Keras dropout masks (values 0 or 1/(1−rate)) shaped like ``like``."""
    if rate <= 0.0:
        return None
    keep = 1.0 - rate
    return torch.bernoulli(torch.full((k, *like.shape), keep, dtype=like.dtype, device=like.device)) / keep


class KerasRecurrent(nn.Module):
    """One recurrent layer (SimpleRNN, LSTM or GRU) with Keras 2.1.6 semantics.

    ``forward(x, state=None)`` takes batch-first ``x`` (B, T, in) and returns ``(outputs, final_state)``
    with outputs (B, T, H); the state is ``h`` (B, H), or ``(h, c)`` for the LSTM.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        *,
        activation: str = "tanh",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        recurrent_init: str = "orthogonal",
        cell_impl: str = "faithful",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {CELLS}")
        if activation not in ("tanh", "relu"):
            raise ValueError(f"unknown activation {activation!r}; expected 'tanh' or 'relu'")
        if cell_impl not in ("faithful", "builtin"):
            raise ValueError(f"unknown cell_impl {cell_impl!r}; expected 'faithful' or 'builtin'")
        if cell != "rnn" and activation != "tanh":
            raise ValueError(f"{cell} uses tanh; the activation option applies to the rnn cell only")
        self.cell = cell
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.activation = activation
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.cell_impl = cell_impl
        k = len(GATES[cell])
        self.weight_ih = nn.Parameter(torch.empty(k * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(k * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(k * hidden_size))
        self.reset_parameters(recurrent_init)

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]

    def reset_parameters(self, recurrent_init: str = "orthogonal") -> None:
        """Keras defaults: glorot_uniform input kernel, orthogonal over the whole stacked recurrent
        matrix (so LSTM/GRU gate blocks are not orthogonal), zero bias, LSTM forget bias 1."""
        nn.init.xavier_uniform_(self.weight_ih)
        if recurrent_init == "orthogonal":
            nn.init.orthogonal_(self.weight_hh)
        elif recurrent_init == "identity":
            with torch.no_grad():
                eye = torch.eye(self.hidden_size)
                self.weight_hh.copy_(eye.repeat(len(self.gates), 1))
        else:
            raise ValueError(f"unknown recurrent_init {recurrent_init!r}; expected 'orthogonal' or 'identity'")
        nn.init.zeros_(self.bias)
        if self.cell == "lstm":
            with torch.no_grad():
                self.bias[self.hidden_size : 2 * self.hidden_size] = 1.0

    def forward(self, x: Tensor, state: Tensor | tuple[Tensor, Tensor] | None = None):
        if self.cell_impl == "builtin":
            return self._forward_builtin(x, state)
        return self._forward_faithful(x, state)

    def _initial_state(self, x: Tensor, state):
        if state is not None:
            return state
        h = x.new_zeros(x.shape[0], self.hidden_size)
        return (h, h.clone()) if self.cell == "lstm" else h

    def _forward_faithful(self, x: Tensor, state):
        k, hid = len(self.gates), self.hidden_size
        batch, steps, _ = x.shape
        state = self._initial_state(x, state)
        h = state[0] if self.cell == "lstm" else state
        drop_in = _dropout_masks(self.dropout, k, x[:, 0]) if self.training else None
        drop_rec = _dropout_masks(self.recurrent_dropout, k, h) if self.training else None
        if drop_in is None:
            proj = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight_ih.t()).view(batch, steps, k * hid)
        else:  # Keras implementation=1: each gate sees its own dropout mask of the input
            w = self.weight_ih.view(k, hid, -1)
            proj = torch.einsum("kbti,khi->btkh", x.unsqueeze(0) * drop_in.unsqueeze(2), w)
            proj = proj.reshape(batch, steps, k * hid) + self.bias
        h0, c0 = state if self.cell == "lstm" else (state, None)
        outputs, h, c = KerasRecurrence.apply(proj, self.weight_hh, h0, c0, drop_rec, self.cell, self.activation)
        return outputs, ((h, c) if self.cell == "lstm" else h)

    def _forward_builtin(self, x: Tensor, state):
        hid = self.hidden_size
        state = self._initial_state(x, state)
        zero = torch.zeros_like(self.bias)
        args = (True, 1, 0.0, self.training, False, True)  # has_biases, layers, dropout, train, bidir, batch_first
        if self.cell == "lstm":
            h0, c0 = (s.unsqueeze(0).contiguous() for s in state)
            out, h_n, c_n = torch.lstm(x, (h0, c0), [self.weight_ih, self.weight_hh, self.bias, zero], *args)
            return out, (h_n[0], c_n[0])
        h0 = state.unsqueeze(0).contiguous()
        if self.cell == "gru":  # PyTorch stacks r, z, n; Keras z, r, h
            order = torch.cat([torch.arange(hid, 2 * hid), torch.arange(0, hid), torch.arange(2 * hid, 3 * hid)])
            params = [self.weight_ih[order], self.weight_hh[order], self.bias[order], zero]
            out, h_n = torch.gru(x, h0, params, *args)
        else:
            fn = torch.rnn_relu if self.activation == "relu" else torch.rnn_tanh
            out, h_n = fn(x, h0, [self.weight_ih, self.weight_hh, self.bias, zero], *args)
        return out, h_n[0]


def _dense(in_features: int, out_features: int) -> nn.Linear:
    """Keras Dense defaults: glorot_uniform kernel, zero bias."""
    layer = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class AddingModel(nn.Module):
    """Keras addition_rnn: encoder RNN → last output repeated as the decoder's input at each of the
    4 answer steps (decoder state starts at zero) → decoder RNN → per-step Dense(12)."""

    def __init__(self, cell: str, hidden_size: int, **layer_kwargs) -> None:
        super().__init__()
        self.encoder = KerasRecurrent(cell, ADDING_SYMBOLS, hidden_size, **layer_kwargs)
        self.decoder = KerasRecurrent(cell, hidden_size, hidden_size, **layer_kwargs)
        self.head = _dense(hidden_size, ADDING_SYMBOLS)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: (B, 7) symbol indices → logits (B, 4, 12)."""
        onehot = nn.functional.one_hot(x.long(), ADDING_SYMBOLS).to(self.head.weight.dtype)
        encoded, _ = self.encoder(onehot)
        repeated = encoded[:, -1:].expand(-1, ADDING_OUTPUT_STEPS, -1)
        decoded, _ = self.decoder(repeated)
        return self.head(decoded)


class ImdbModel(nn.Module):
    """Keras imdb_lstm: Embedding(vocab, 128) → RNN → Dense(1) logit (sigmoid lives in the loss)."""

    def __init__(self, cell: str, hidden_size: int, vocab_size: int, embed_dim: int, **layer_kwargs) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.rnn = KerasRecurrent(cell, embed_dim, hidden_size, **layer_kwargs)
        self.head = _dense(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: (B, T) word ids → logits (B,)."""
        outputs, _ = self.rnn(self.embedding(x.long()))
        return self.head(outputs[:, -1]).squeeze(-1)


class MnistModel(nn.Module):
    """MNIST read row by row: RNN over 28 rows of 28 pixels → Dense(10)."""

    def __init__(self, cell: str, hidden_size: int, input_size: int = 28, **layer_kwargs) -> None:
        super().__init__()
        self.rnn = KerasRecurrent(cell, input_size, hidden_size, **layer_kwargs)
        self.head = _dense(hidden_size, 10)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: (B, 28, 28) pixels in [0, 1] → logits (B, 10)."""
        outputs, _ = self.rnn(x)
        return self.head(outputs[:, -1])


def build_model(task: str, cell: str, *, hidden_size: int, rnn_activation: str = "tanh", **options) -> nn.Module:
    """Build the paper's model for ``task`` with recurrent ``cell``, Keras-initialised.

    ``options`` are ``TrainConfig.model_options()`` (``rnnrobust.config``): ``cell_impl``,
    ``recurrent_init``, ``dropout``, ``recurrent_dropout``; imdb also ``vocab_size`` and ``embed_dim``.
    ``rnn_activation`` applies to the rnn cell only (LSTM and GRU use tanh). Options left out take
    the Keras layer defaults of :class:`KerasRecurrent`. Initialisation draws from torch's global
    generator: seed it first for reproducible weights.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if cell not in CELLS:
        raise ValueError(f"unknown model {cell!r}; expected one of {CELLS}")
    if cell == "rnn":
        options["activation"] = rnn_activation
    model_cls = {"adding": AddingModel, "imdb": ImdbModel, "mnist": MnistModel}[task]
    try:
        return model_cls(cell, int(hidden_size), **options)
    except TypeError as err:
        raise ValueError(f"invalid model option for task {task!r}: {err}") from None


def recurrent_layers(model: nn.Module) -> dict[str, KerasRecurrent]:
    """The model's recurrent layers by attribute name (``rnn``, or ``encoder`` and ``decoder``)."""
    return {name: module for name, module in model.named_children() if isinstance(module, KerasRecurrent)}
