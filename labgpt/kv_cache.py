"""The key/value cache: what a GPT keeps between decoding steps so each step reads one token.

Without a cache, generating token t+1 re-runs the model over all t tokens of the context,
although the keys and values of the first t tokens are the same as at the step before (a
token's keys and values depend only on the tokens before it). A cache keeps them: a step then
computes the query, key and value of the new token only and attends over the stored keys. The
price is memory: 2 (keys and values) x ``n_layer`` x ``n_embd`` numbers per token read.

:class:`KVCache` is the decoding state of :meth:`labgpt.GPT.step`, as a hidden state is an
RNN's. Besides each layer's keys and values it keeps the ids of the tokens it holds (to re-read
them when the context window is full, see :meth:`labgpt.GPT.window_start`), which of them are
left padding, and where its window starts in the whole sequence.
"""

from __future__ import annotations

import torch


class LayerKV:
    """One attention layer's cached keys and values, each (b, n_head, t, head_dim).

    They live in buffers with room to spare, doubled when full, so appending a token writes
    one slice instead of copying everything cached so far."""

    def __init__(self):
        self._keys: torch.Tensor | None = None  # (b, h, capacity, dh)
        self._values: torch.Tensor | None = None
        self.length = 0

    @property
    def keys(self) -> torch.Tensor | None:
        return None if self._keys is None else self._keys[:, :, :self.length]

    @property
    def values(self) -> torch.Tensor | None:
        return None if self._values is None else self._values[:, :, :self.length]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' keys and values (b, h, t_new, dh); return all of them."""
        end = self.length + k.shape[2]
        if self._keys is None or end > self._keys.shape[2]:
            b, h, _, dh = k.shape
            capacity = max(2 * end, 16)
            keys, values = k.new_empty(b, h, capacity, dh), v.new_empty(b, h, capacity, dh)
            if self._keys is not None:
                keys[:, :, :self.length] = self.keys
                values[:, :, :self.length] = self.values
            self._keys, self._values = keys, values
        self._keys[:, :, self.length:end] = k
        self._values[:, :, self.length:end] = v
        self.length = end
        return self.keys, self.values

    def select(self, rows: torch.Tensor) -> LayerKV:
        out = LayerKV()
        if self._keys is not None:
            out._keys, out._values = self._keys[rows], self._values[rows]
            out.length = self.length
        return out


class KVCache:
    """Every layer's keys and values for a batch of sequences, and the tokens they came from.

    ``ids`` (b, t) are the tokens read so far in the current window, ``mask`` (b, t) is False
    where a token is left padding (a shorter prompt in a batch), and ``start`` is the index of
    the window's first token in the whole sequence.
    """

    def __init__(self, n_layer: int):
        self.layers = [LayerKV() for _ in range(n_layer)]
        self.ids: torch.Tensor | None = None  # (b, t)
        self.mask: torch.Tensor | None = None  # (b, t) bool, True for real tokens
        self.start = 0

    @property
    def length(self) -> int:
        """Number of positions held (padding included)."""
        return 0 if self.ids is None else self.ids.shape[1]

    def add_tokens(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Record the ids (b, t) and padding mask of the tokens about to be read (no mask: no
        padding)."""
        if mask is None:
            mask = torch.ones_like(ids, dtype=torch.bool)
        if self.ids is None:
            self.ids, self.mask = ids, mask
        else:
            self.ids = torch.cat([self.ids, ids], dim=1)
            self.mask = torch.cat([self.mask, mask], dim=1)

    def select(self, rows: torch.Tensor) -> KVCache:
        """The cache of sequences ``rows`` (a beam search keeps its best beams this way)."""
        out = KVCache(0)
        out.layers = [layer.select(rows) for layer in self.layers]
        if self.ids is not None:
            out.ids, out.mask = self.ids[rows], self.mask[rows]
        out.start = self.start
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held by the keys and values."""
        return sum(t.numel() * t.element_size() for layer in self.layers
                   for t in (layer.keys, layer.values) if t is not None)
