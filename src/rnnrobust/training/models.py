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

Stacked runs: :func:`stack_models` turns R models of one class (runs that differ only in their
seed) into one model of that class whose every parameter carries a leading run dimension R
(``weight_hh`` (R, k·H, H), the embedding (R, V, E), each head (R, out, in)); its forward takes and
returns tensors with a leading R, and computes for run r exactly what run r's own model computes
(``rnnrobust.training.recurrence``). The same forward code serves both: it dispatches on the parameters'
number of dimensions. Dropout masks come from a ``generator`` per run.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnrobust.layout import CELLS, GATES, TASKS
from rnnrobust.training.recurrence import RESULT_ALIGNMENT_BYTES, KerasRecurrence, _addmm, _mm, _t

#: One generator, or one per run of a stack (None: torch's global generator).
Generators = torch.Generator | Sequence[torch.Generator | None] | None

ADDING_SYMBOLS = 12  # ' +0123456789'
ADDING_OUTPUT_STEPS = 4  # digits + 1


def _dropout_masks(rate: float, k: int, like: Tensor, generator: Generators = None) -> Tensor | None:
    """k independent Keras dropout masks (values 0 or 1/(1−rate)) shaped like ``like``.

    With one generator per run (a sequence), ``like`` is (R, ...) and the masks (R, k, ...): run r's
    masks are those its generator draws alone.
    """
    if rate <= 0.0:
        return None
    if isinstance(generator, Sequence):
        return torch.stack([_dropout_masks(rate, k, like[r], g) for r, g in enumerate(generator)])  # type: ignore[misc]
    keep = 1.0 - rate
    full = torch.full((k, *like.shape), keep, dtype=like.dtype, device=like.device)
    return torch.bernoulli(full, generator=generator) / keep


def _stacked_dropout_projection(x: Tensor, drop_in: Tensor, weight_ih: Tensor, k: int) -> Tensor:
    """W_ih,g (x ∘ m_g) for every gate g of every run: x (R, B, T, in), drop_in (R, k, B, in) → (R, B, T, k, H).

    One einsum over all runs is a batch of R·k products, run r's bitwise those of a single run when
    every run's block of each product's result starts where it would alone (16-byte steps, see
    ``rnnrobust.training.recurrence``); otherwise one einsum per run, each a single run's.
    """
    runs, batch, steps, n_in = x.shape
    hid = weight_ih.shape[1] // k
    w = weight_ih.view(runs, k, hid, n_in)
    masked = x.unsqueeze(1) * drop_in.unsqueeze(3)
    blocks = (batch * steps * hid, batch * steps * n_in, hid * n_in)  # output, input and weight gradients
    if x.device.type != "cpu" or all(k * n * x.element_size() % RESULT_ALIGNMENT_BYTES == 0 for n in blocks):
        return torch.einsum("rkbti,rkhi->rbtkh", masked, w)
    return torch.stack([torch.einsum("kbti,khi->btkh", masked[r], w[r]) for r in range(runs)])


def _runs(param: Tensor, single_dims: int) -> list[int]:
    """[R] when ``param`` is stacked (one more dimension than a single run's), else []."""
    return list(param.shape[:1]) if param.dim() > single_dims else []


def _per_run(bias: Tensor, runs: list[int], dims: int) -> Tensor:
    """A stacked bias (R, n) shaped (R, 1, ..., 1, n) to broadcast over ``dims`` middle dimensions."""
    return bias.view(bias.shape[0], *([1] * dims), bias.shape[-1]) if runs else bias


class StackedLinear(torch.autograd.Function):
    """bias + x wᵀ for every run: x (R, N, in), w (R, out, in), bias (R, out) → (R, N, out).

    A single run computes ``addmm(bias, x, w.t())`` (``nn.Linear``, the input projection), whose
    autograd forms the weight's gradient as (gradᵀ x), in the transposed weight's layout; autograd
    of ``baddbmm`` would form xᵀ grad, the same sums rounded in another order. This function gives
    each run of a stack the single run's products, so that its gradients are bitwise the same.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        return _addmm(bias.unsqueeze(-2), x, _t(weight))

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad_x = _mm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_w = _mm(_t(grad), x) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(-2) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """bias + x Wᵀ over the last dimension of ``x``, for one run (2-D weight) or a stack (3-D: x (R, ..., in))."""
    if weight.dim() == 2:
        return nn.functional.linear(x, weight, bias)
    flat = StackedLinear.apply(x.reshape(weight.shape[0], -1, x.shape[-1]), weight, bias)
    return flat.view(*x.shape[:-1], weight.shape[1])


def dense(layer: nn.Linear, x: Tensor) -> Tensor:
    """``layer(x)`` for a single or a stacked Dense layer (weight (R, out, in), x (R, ..., in))."""
    if layer.weight.dim() == 2:
        return layer(x)
    return linear(x, layer.weight, layer.bias)


def embed(layer: nn.Embedding, x: Tensor) -> Tensor:
    """``layer(x)`` for a single or a stacked embedding (weight (R, V, E), ids x (R, ...)).

    A stack looks run r's ids up in rows r·V … r·V + V − 1 of one (R·V, E) table: one gather, and
    a gradient whose rows of run r add up the same contributions in the same order as run r alone.
    """
    if layer.weight.dim() == 2:
        return layer(x.long())
    runs, vocab, width = layer.weight.shape
    first = torch.arange(runs, device=x.device).view(runs, *([1] * (x.dim() - 1))) * vocab
    return nn.functional.embedding(x.long() + first, layer.weight.view(runs * vocab, width))


class KerasRecurrent(nn.Module):
    """One recurrent layer (SimpleRNN, LSTM or GRU) with Keras 2.1.6 semantics.

    ``forward(x, state=None, generator=None)`` takes batch-first ``x`` (B, T, in) and returns
    ``(outputs, final_state)`` with outputs (B, T, H); the state is ``h`` (B, H), or ``(h, c)`` for
    the LSTM. Dropout masks are drawn from ``generator`` (torch's global one when None). Stacked
    (:func:`stack_models`), every shape has a leading R and ``generator`` is one per run.
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
        input_init: str = "glorot_uniform",
        init_stddev: float = 0.001,
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
        self.reset_parameters(recurrent_init, input_init, init_stddev)

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]

    def reset_parameters(
        self, recurrent_init: str = "orthogonal", input_init: str = "glorot_uniform", init_stddev: float = 0.001
    ) -> None:
        """Keras defaults: glorot_uniform input kernel, orthogonal over the whole stacked recurrent
        matrix (so LSTM/GRU gate blocks are not orthogonal), zero bias, LSTM forget bias 1.

        ``identity`` (IRNN) puts I in every gate block; ``random_normal`` draws N(0, ``init_stddev``²), as
        Keras' ``RandomNormal(stddev=0.001)`` of the ``mnist_irnn.py`` example (plain, not truncated).
        """
        if input_init == "glorot_uniform":
            nn.init.xavier_uniform_(self.weight_ih)
        elif input_init == "random_normal":
            nn.init.normal_(self.weight_ih, std=init_stddev)
        else:
            raise ValueError(f"unknown input_init {input_init!r}; expected 'glorot_uniform' or 'random_normal'")
        if recurrent_init == "orthogonal":
            nn.init.orthogonal_(self.weight_hh)
        elif recurrent_init == "identity":
            with torch.no_grad():
                eye = torch.eye(self.hidden_size)
                self.weight_hh.copy_(eye.repeat(len(self.gates), 1))
        elif recurrent_init == "random_normal":
            nn.init.normal_(self.weight_hh, std=init_stddev)
        else:
            raise ValueError(
                f"unknown recurrent_init {recurrent_init!r}; expected 'orthogonal', 'identity' or 'random_normal'"
            )
        nn.init.zeros_(self.bias)
        if self.cell == "lstm":
            with torch.no_grad():
                self.bias[self.hidden_size : 2 * self.hidden_size] = 1.0

    def forward(self, x: Tensor, state: Tensor | tuple[Tensor, Tensor] | None = None, generator: Generators = None):
        if self.cell_impl == "builtin":
            return self._forward_builtin(x, state)
        return self._forward_faithful(x, state, generator)

    def _initial_state(self, x: Tensor, state):
        if state is not None:
            return state
        h = x.new_zeros(*x.shape[:-2], self.hidden_size)
        return (h, h.clone()) if self.cell == "lstm" else h

    def _forward_faithful(self, x: Tensor, state, generator: Generators):
        k, hid = len(self.gates), self.hidden_size
        runs = _runs(self.weight_hh, 2)
        *_, batch, steps, _ = x.shape
        if runs and not isinstance(generator, Sequence):
            generator = [generator] * runs[0]
        state = self._initial_state(x, state)
        h = state[0] if self.cell == "lstm" else state
        drop_in = _dropout_masks(self.dropout, k, x[..., 0, :], generator) if self.training else None
        drop_rec = _dropout_masks(self.recurrent_dropout, k, h, generator) if self.training else None
        if drop_in is None and not runs:
            proj = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight_ih.t()).view(batch, steps, k * hid)
        elif drop_in is None:
            proj = linear(x, self.weight_ih, self.bias)
        elif not runs:  # Keras implementation=1: each gate sees its own dropout mask of the input
            w = self.weight_ih.view(k, hid, -1)
            proj = torch.einsum("kbti,khi->btkh", x.unsqueeze(0) * drop_in.unsqueeze(2), w)
            proj = proj.reshape(batch, steps, k * hid) + self.bias
        else:
            proj = _stacked_dropout_projection(x, drop_in, self.weight_ih, k)
            proj = proj.reshape(*runs, batch, steps, k * hid) + _per_run(self.bias, runs, 2)
        h0, c0 = state if self.cell == "lstm" else (state, None)
        outputs, h, c = KerasRecurrence.apply(proj, self.weight_hh, h0, c0, drop_rec, self.cell, self.activation)
        return outputs, ((h, c) if self.cell == "lstm" else h)

    def _forward_builtin(self, x: Tensor, state):
        state = self._initial_state(x, state)
        weights = (self.weight_ih, self.weight_hh, self.bias)
        if not _runs(self.weight_hh, 2):
            return self._builtin_run(x, state, *weights)
        # a stack: PyTorch's fused cells take one run at a time
        states = [tuple(s[r] for s in state) if self.cell == "lstm" else state[r] for r in range(x.shape[0])]
        per_run = [self._builtin_run(x[r], states[r], *(w[r] for w in weights)) for r in range(x.shape[0])]
        outputs = torch.stack([out for out, _ in per_run])
        if self.cell == "lstm":
            return outputs, (torch.stack([s[0] for _, s in per_run]), torch.stack([s[1] for _, s in per_run]))
        return outputs, torch.stack([s for _, s in per_run])

    def _builtin_run(self, x: Tensor, state, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor):
        hid = self.hidden_size
        zero = torch.zeros_like(bias)
        args = (True, 1, 0.0, self.training, False, True)  # has_biases, layers, dropout, train, bidir, batch_first
        if self.cell == "lstm":
            h0, c0 = (s.unsqueeze(0).contiguous() for s in state)
            out, h_n, c_n = torch.lstm(x, (h0, c0), [weight_ih, weight_hh, bias, zero], *args)
            return out, (h_n[0], c_n[0])
        h0 = state.unsqueeze(0).contiguous()
        if self.cell == "gru":  # PyTorch stacks r, z, n; Keras z, r, h
            order = torch.cat([torch.arange(hid, 2 * hid), torch.arange(0, hid), torch.arange(2 * hid, 3 * hid)])
            params = [weight_ih[order], weight_hh[order], bias[order], zero]
            out, h_n = torch.gru(x, h0, params, *args)
        else:
            fn = torch.rnn_relu if self.activation == "relu" else torch.rnn_tanh
            out, h_n = fn(x, h0, [weight_ih, weight_hh, bias, zero], *args)
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

    def forward(self, x: Tensor, generator: Generators = None) -> Tensor:
        """``x``: (B, 7) symbol indices → logits (B, 4, 12)."""
        onehot = nn.functional.one_hot(x.long(), ADDING_SYMBOLS).to(self.head.weight.dtype)
        encoded, _ = self.encoder(onehot, generator=generator)
        repeated = encoded[..., -1:, :].expand(*encoded.shape[:-2], ADDING_OUTPUT_STEPS, -1)
        decoded, _ = self.decoder(repeated, generator=generator)
        return dense(self.head, decoded)


class ImdbModel(nn.Module):
    """Keras imdb_lstm: Embedding(vocab, 128) → RNN → Dense(1) logit (sigmoid lives in the loss)."""

    def __init__(self, cell: str, hidden_size: int, vocab_size: int, embed_dim: int, **layer_kwargs) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.rnn = KerasRecurrent(cell, embed_dim, hidden_size, **layer_kwargs)
        self.head = _dense(hidden_size, 1)

    def forward(self, x: Tensor, generator: Generators = None) -> Tensor:
        """``x``: (B, T) word ids → logits (B,)."""
        outputs, _ = self.rnn(embed(self.embedding, x), generator=generator)
        return dense(self.head, outputs[..., -1, :]).squeeze(-1)


class MnistModel(nn.Module):
    """MNIST read row by row: RNN over 28 rows of 28 pixels → Dense(10)."""

    def __init__(self, cell: str, hidden_size: int, input_size: int = 28, **layer_kwargs) -> None:
        super().__init__()
        self.rnn = KerasRecurrent(cell, input_size, hidden_size, **layer_kwargs)
        self.head = _dense(hidden_size, 10)

    def forward(self, x: Tensor, generator: Generators = None) -> Tensor:
        """``x``: (B, 28, 28) pixels in [0, 1] → logits (B, 10)."""
        outputs, _ = self.rnn(x, generator=generator)
        return dense(self.head, outputs[..., -1, :])


def build_model(task: str, cell: str, *, hidden_size: int, rnn_activation: str = "tanh", **options) -> nn.Module:
    """Build the paper's model for ``task`` with recurrent ``cell``, Keras-initialised.

    ``options`` are ``TrainConfig.model_options()`` (``rnnrobust.config``): ``cell_impl``,
    ``recurrent_init``, ``input_init``, ``init_stddev``, ``dropout``, ``recurrent_dropout``; imdb also
    ``vocab_size`` and ``embed_dim``.
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


def stack_models(models: Sequence[nn.Module]) -> nn.Module:
    """One model of the runs' class whose parameters are the runs' parameters stacked (leading R).

    The runs must share their class and shapes (one task × cell, different seeds). Each given model
    stays usable as run r: its parameters become views of row r of the stacked ones, so reading,
    rescaling (an epoch-end hook) or loading a run's weights through its own model reads or writes
    the stack. Move the models to their device and dtype first.
    """
    if not models:
        raise ValueError("stack_models needs at least one model")
    first = models[0]
    names = [name for name, _ in first.named_parameters()]
    for model in models[1:]:
        if type(model) is not type(first) or [n for n, _ in model.named_parameters()] != names:
            raise ValueError("stacked runs must be models of one task and cell")
    stacked = copy.deepcopy(first)
    for name in names:
        values = [model.get_parameter(name) for model in models]
        if any(v.shape != values[0].shape for v in values):
            raise ValueError(f"parameter {name} differs in shape between the runs")
        data = torch.stack([v.detach() for v in values])
        owner, _, attr = name.rpartition(".")
        setattr(stacked.get_submodule(owner), attr, nn.Parameter(data))
        for r, value in enumerate(values):
            value.data = data[r]  # run r's parameter is now a view of the stack
    return stacked
