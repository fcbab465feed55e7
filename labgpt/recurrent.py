"""Recurrent language models: the RNN, LSTM and GRU cells, and a character LM built on them.

The cell functions are the formulas, written with PyTorch's weight layout (``weight_ih``
stacks the gates in PyTorch's order), so they reproduce ``torch.nn.RNN/LSTM/GRU`` exactly given
the same weights. :class:`RecurrentLM` uses the fused torch modules for speed.

Truncated backpropagation through time (TBPTT): :func:`tbptt_batches` cuts the training text
into ``batch_size`` contiguous streams and serves consecutive chunks of ``bptt`` tokens; with
``carry_state=True`` the model starts each chunk from the (detached) final state of the
previous one, so it can use context longer than a chunk while gradients stop at the chunk
boundary.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from labgpt.batching import BatchFn, random_windows
from labgpt.logprobs import lm_loss
from labgpt.tokenization import check_token_ids

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> torch.Tensor:
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh). x (b, d), h (b, H) -> (b, H)."""
    return torch.tanh(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)


def lstm_cell(
    x, state, weight_ih, weight_hh, bias_ih, bias_hh
) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM (Hochreiter & Schmidhuber 1997, with a forget gate). state = (h, c), each (b, H).

    Gates in PyTorch's order: input i, forget f, candidate g, output o.
    c' = f * c + i * g,  h' = o * tanh(c')."""
    h, c = state
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh  # (b, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> torch.Tensor:
    """GRU (Cho et al. 2014). Gates in PyTorch's order: reset r, update z, candidate n.
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h."""
    xr, xz, xn = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    hr, hz, hn = (h @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


CELLS: dict[str, Callable] = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}
MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def cell_weights(module: nn.RNNBase) -> tuple[torch.Tensor, ...]:
    """The first layer's (weight_ih, weight_hh, bias_ih, bias_hh) of a torch RNN/LSTM/GRU."""
    return module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0


def unroll(kind: str, xs: torch.Tensor, state: State, weights) -> tuple[list[State], State]:
    """Run a cell over time. xs (b, t, d) -> the state after every step (a list of t)."""
    cell = CELLS[kind]
    states = []
    for step in range(xs.shape[1]):
        state = cell(xs[:, step], state, *weights)
        states.append(state)
    return states, state


class RecurrentLM(nn.Module):
    """Embedding -> RNN/LSTM/GRU -> linear head to next-token logits.

    With ``carry_state=True`` (for TBPTT training) each training-mode call starts from the
    detached final state of the previous call, when the batch size matches; evaluation calls
    start from zeros unless given a ``state``.
    """

    def __init__(self, vocab_size: int, kind: str = "lstm", n_embd: int = 64,
                 n_hidden: int = 256, forget_bias: float = 1.0, carry_state: bool = True):
        super().__init__()
        if kind not in MODULES:
            raise ValueError(f"kind must be one of {sorted(MODULES)}, got {kind!r}")
        self.kind, self.vocab_size, self.carry_state = kind, vocab_size, carry_state
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.rnn = MODULES[kind](n_embd, n_hidden, batch_first=True)
        self.head = nn.Linear(n_hidden, vocab_size)
        if kind == "lstm":
            with torch.no_grad():  # remember by default at the start (Gers et al. 2000)
                n = n_hidden
                self.rnn.bias_ih_l0[n:2 * n].fill_(forget_bias)
                self.rnn.bias_hh_l0[n:2 * n].zero_()
        self._state: State | None = None

    def reset_state(self) -> None:
        self._state = None

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                state: State | None = None):
        """idx (b, t) -> logits (b, t, vocab), loss (or None); the final state is kept in
        ``self.last_state``."""
        if idx.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        check_token_ids(idx, self.vocab_size)
        if state is None and self.training and self.carry_state and self._state is not None:
            previous = self._state[0] if isinstance(self._state, tuple) else self._state
            if previous.shape[1] == idx.shape[0]:
                state = self._state
        out, last = self.rnn(self.embed(idx), state)  # (b, t, H)
        detached = tuple(s.detach() for s in last) if isinstance(last, tuple) else last.detach()
        self.last_state = detached
        if self.training and self.carry_state:
            self._state = detached  # no gradient flows back across the chunk boundary
        logits = self.head(out)  # (b, t, V)
        if targets is None:
            return logits, None
        return logits, lm_loss(logits, targets)

    @torch.no_grad()
    def stream_loss(self, ids: torch.Tensor, n_streams: int = 32, chunk: int = 256) -> float:
        """Mean cross-entropy over all of ``ids`` read left to right, carrying the state:
        the text is cut into ``n_streams`` contiguous streams run side by side."""
        was_training = self.training
        self.eval()
        length = (len(ids) - 1) // n_streams
        x = ids[: n_streams * length].view(n_streams, length)  # (s, L)
        y = ids[1: n_streams * length + 1].view(n_streams, length)
        total, state = 0.0, None
        for start in range(0, length, chunk):
            logits, _ = self(x[:, start:start + chunk], state=state)
            state = self.last_state
            total += lm_loss(logits, y[:, start:start + chunk], reduction="sum").item()
        self.train(was_training)
        return total / y.numel()

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state: State | None = None,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Decoding (:mod:`labgpt.decoding`): read ``ids`` (b, t) from ``state`` (None: zeros)
        and return the next-token logits (b, vocab) and the hidden state after them. ``mask``
        (b, t), False at left padding, is for a first call (prompts of different lengths):
        each row is read from its first real token, as it would be alone."""
        if ids.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(ids.shape)}")
        check_token_ids(ids, self.vocab_size)
        x = self.embed(ids)  # (b, t, d)
        if mask is None or bool(mask.all()):
            out, state = self.rnn(x, state)  # (b, t, H)
            return self.head(out[:, -1]), state
        if state is not None:
            raise ValueError("left padding (mask) is for the prompt, the first call only")
        t = ids.shape[1]
        lengths = mask.sum(dim=1)  # (b,)
        # Move each row's padding to its end, then let the packed RNN stop at each row's length.
        source = (torch.arange(t, device=ids.device)[None, :] + (t - lengths)[:, None]) % t
        x = x.gather(1, source[..., None].expand_as(x))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, state = self.rnn(packed)
        h = state[0] if isinstance(state, tuple) else state  # (1, b, H)
        return self.head(h[-1]), state

    @staticmethod
    def reorder(state: State, rows: torch.Tensor) -> State:
        if isinstance(state, tuple):
            return tuple(s[:, rows] for s in state)
        return state[:, rows]


def tbptt_batches(train_ids: torch.Tensor, val_ids: torch.Tensor, bptt: int,
                  batch_size: int) -> BatchFn:
    """Batches for truncated BPTT. Train: consecutive ``bptt``-token chunks of ``batch_size``
    contiguous streams (wrapping around at the end), so a carried state continues the text it
    has read. Val: random windows, read from a zero state."""
    length = len(train_ids) // batch_size
    streams = train_ids[: batch_size * length].view(batch_size, length)  # (b, L)
    n_chunks = (length - 1) // bptt
    position = 0

    def get_batch(split: str, generator: torch.Generator):
        nonlocal position
        if split == "val":
            return random_windows(val_ids, bptt, batch_size, generator)
        start = (position % n_chunks) * bptt
        position += 1
        return streams[:, start:start + bptt], streams[:, start + 1:start + bptt + 1]

    return get_batch
