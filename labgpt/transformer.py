"""Transformer building blocks: positions, the feed-forward layer, encoder and decoder blocks
with a pre-/post-LayerNorm switch, and an encoder-decoder model (Vaswani et al., 2017).

Post-LN, the original arrangement (and GPT-1's), normalises after each residual addition:
``x = LN(x + sublayer(x))``. Pre-LN (GPT-2 onwards) normalises the sublayer's input and leaves
the residual stream untouched: ``x = x + sublayer(LN(x))``, with one final LN at the end.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from labgpt.attention import MultiHeadAttention
from labgpt.kv_cache import LayerKV
from labgpt.logprobs import lm_loss


def sinusoidal_positions(t: int, d: int) -> torch.Tensor:
    """(t, d) sinusoidal encodings: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    if d % 2:
        raise ValueError(f"sinusoidal encodings need an even dimension, got {d}")
    position = torch.arange(t, dtype=torch.float)[:, None]  # (t, 1)
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float) / d)
    pe = torch.zeros(t, d)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe


class FeedForward(nn.Module):
    """Position-wise MLP: d -> hidden -> d, applied to every position independently."""

    def __init__(self, d_model: int, d_hidden: int | None = None, activation: str = "gelu",
                 dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(d_model, d_hidden or 4 * d_model, bias=bias)
        self.proj = nn.Linear(d_hidden or 4 * d_model, d_model, bias=bias)
        self.activation = {"gelu": lambda x: F.gelu(x, approximate="tanh"), "relu": F.relu}[
            activation]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.activation(self.fc(x))))


class Block(nn.Module):
    """One Transformer block: self-attention then feed-forward, each with a residual.

    ``pre_ln=True``: x + f(LN(x)) (GPT-2); ``pre_ln=False``: LN(x + f(x)) (2017 paper, GPT-1).
    ``cross=True`` adds cross-attention to an encoder's output between the two (a decoder).
    ``mlp=False`` leaves the feed-forward layer out: an attention-only block, the object of
    Elhage et al.'s (2021) and Olsson et al.'s (2022) analyses of induction heads.
    """

    def __init__(self, d_model: int, n_head: int, pre_ln: bool = True, cross: bool = False,
                 dropout: float = 0.0, activation: str = "gelu", bias: bool = True,
                 mlp: bool = True):
        super().__init__()
        self.pre_ln = pre_ln
        self.ln_1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_head, bias=bias, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_head, bias=bias) if cross else None
        self.ln_cross = nn.LayerNorm(d_model, bias=bias) if cross else None
        self.ln_2 = nn.LayerNorm(d_model, bias=bias) if mlp else None
        self.mlp = (FeedForward(d_model, activation=activation, dropout=dropout, bias=bias)
                    if mlp else None)
        self.dropout = nn.Dropout(dropout)

    def _residual(self, x, ln, sublayer):
        if self.pre_ln:
            return x + self.dropout(sublayer(ln(x)))
        return ln(x + self.dropout(sublayer(x)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, is_causal: bool = False,
                memory: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None,
                kv: LayerKV | None = None) -> torch.Tensor:
        """x (b, t, d) -> (b, t, d). ``memory`` (b, s, d): the encoder output to cross-attend.
        ``kv``: this block's key/value cache (``x`` then holds only the new positions)."""
        x = self._residual(x, self.ln_1,
                           lambda h: self.attn(h, mask=mask, is_causal=is_causal, kv=kv))
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("this decoder block needs the encoder output, memory=...")
            x = self._residual(x, self.ln_cross,
                               lambda h: self.cross_attn(h, context=memory, mask=memory_mask))
        return x if self.mlp is None else self._residual(x, self.ln_2, self.mlp)


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer for sequence-to-sequence tasks (translation, reversal...).

    Token embeddings (scaled by sqrt(d_model)) plus sinusoidal positions; ``n_layers`` encoder
    blocks over the source; ``n_layers`` decoder blocks with causal self-attention and
    cross-attention to the encoder; a linear head to the target vocabulary.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, n_head: int = 4,
                 n_layers: int = 2, max_len: int = 64, pre_ln: bool = False,
                 dropout: float = 0.0, pad_id: int = 0):
        super().__init__()
        self.d_model, self.pad_id, self.pre_ln = d_model, pad_id, pre_ln
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.encoder = nn.ModuleList(
            Block(d_model, n_head, pre_ln, dropout=dropout, activation="relu")
            for _ in range(n_layers))
        self.decoder = nn.ModuleList(
            Block(d_model, n_head, pre_ln, cross=True, dropout=dropout, activation="relu")
            for _ in range(n_layers))
        self.ln_enc = nn.LayerNorm(d_model) if pre_ln else nn.Identity()
        self.ln_dec = nn.LayerNorm(d_model) if pre_ln else nn.Identity()
        self.head = nn.Linear(d_model, tgt_vocab)

    def _embed(self, table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > len(self.positions):
            raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds max_len="
                             f"{len(self.positions)}; raise max_len")
        return table(ids) * math.sqrt(self.d_model) + self.positions[: ids.shape[1]]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (b, s) -> memory (b, s, d) and the source padding mask (b, 1, 1, s)."""
        src_mask = (src != self.pad_id)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for block in self.encoder:
            x = block(x, mask=src_mask)
        return self.ln_enc(x), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor,
               src_mask: torch.Tensor) -> torch.Tensor:
        """tgt_in (b, t) -> logits (b, t, tgt_vocab), each position seeing only its past."""
        y = self._embed(self.tgt_embed, tgt_in)
        for block in self.decoder:
            y = block(y, is_causal=True, memory=memory, memory_mask=src_mask)
        return self.head(self.ln_dec(y))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor | None = None):
        memory, src_mask = self.encode(src)
        logits = self.decode(tgt_in, memory, src_mask)
        if tgt_out is None:
            return logits, None
        return logits, lm_loss(logits, tgt_out, ignore_index=self.pad_id)

    # --- Decoding (the protocol of labgpt.decoding) ----------------------------------------

    @torch.no_grad()
    def start(self, src: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The decoding state for source ``src`` (b, s): the encoded source, its padding mask,
        and no target tokens yet. Pass it to ``labgpt.generate(model, bos, n, state=...)``."""
        memory, src_mask = self.encode(src)
        return memory, src_mask, src.new_zeros(src.shape[0], 0)

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state: tuple[torch.Tensor, ...],
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Read target tokens ``ids`` (b, t) after those in ``state`` (from :meth:`start`);
        return the next target token's logits (b, tgt_vocab). The decoder re-reads the whole
        target each step (no cache: these targets are short)."""
        if state is None:
            raise ValueError("an encoder-decoder decodes from its source: pass "
                             "state=model.start(src)")
        memory, src_mask, tgt = state
        tgt = torch.cat([tgt, ids], dim=1)
        return self.decode(tgt, memory, src_mask)[:, -1], (memory, src_mask, tgt)

    @staticmethod
    def reorder(state: tuple[torch.Tensor, ...], rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(s[rows] for s in state)
