"""Attention: scaled dot-product attention, masks, and multi-head attention.

Each query takes a weighted average of the values, weighted by how well it matches each key:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V        (Vaswani et al., 2017)

Masks are boolean, ``True`` where a query *may* attend to a key, and broadcast against the
scores' shape (..., t_query, t_key). A query whose every key is masked (a padding row) gets a
zero output instead of NaN, as PyTorch's fused kernel does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from labgpt.kv_cache import LayerKV


def causal_mask(t: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(t, t) boolean mask: position i may attend to positions 0..i only."""
    return torch.ones(t, t, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, t: int) -> torch.Tensor:
    """(b, 1, 1, t) mask from sequence lengths (b,): keys past a sequence's end are hidden."""
    return (torch.arange(t, device=lengths.device)[None, :] < lengths[:, None])[:, None, None, :]


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size) -> None:
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be boolean (True = may attend), got {mask.dtype}")
    try:
        torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores' "
            f"shape {tuple(scores_shape)} (..., t_query, t_key)"
        ) from None


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The formula, written out. q (..., tq, d), k (..., tk, d), v (..., tk, dv).

    Returns the output (..., tq, dv) and the attention weights (..., tq, tk). ``scale=False``
    drops the 1/sqrt(d) factor (to show what it is for).
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"shape mismatch: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}; "
            "q and k need the same last dimension, k and v the same number of positions"
        )
    scores = q @ k.transpose(-2, -1)  # (..., tq, tk)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:  # a fully masked row is all -inf: softmax gives NaN; make it zero
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """h attention heads in parallel on d_model / h dimensions each, then one projection.

    Parameters follow ``torch.nn.MultiheadAttention``: ``in_proj`` stacks the query, key and
    value projections (3 d_model, d_model); ``out_proj`` mixes the heads. With ``fused=True``
    (the default) the heads run in PyTorch's fused ``scaled_dot_product_attention``; with
    ``fused=False`` in the formula above, which keeps the attention weights in
    ``last_weights`` (for plotting) and applies no attention dropout.
    """

    def __init__(self, d_model: int, n_head: int, bias: bool = True, dropout: float = 0.0,
                 fused: bool = True):
        super().__init__()
        if d_model % n_head != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_head={n_head}: each head gets "
                "d_model / n_head dimensions"
            )
        self.d_model, self.n_head, self.dropout, self.fused = d_model, n_head, dropout, fused
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.last_weights: torch.Tensor | None = None  # (b, h, tq, tk) when fused=False

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_head, self.d_model // self.n_head).transpose(1, 2)  # (b,h,t,dh)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, is_causal: bool = False,
                kv: LayerKV | None = None) -> torch.Tensor:
        """Self-attention over ``x`` (b, t, d), or cross-attention from ``x`` to ``context``
        (b, s, d). ``mask`` broadcasts to (b, h, t, s); ``is_causal`` adds the causal mask.
        With a key/value cache ``kv``, ``x`` holds only the new positions: their keys and values
        are appended to the cache and the queries attend over all of them."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"expected input (batch, time, {self.d_model}), got {tuple(x.shape)}")
        if context is None:
            q, k, v = self.in_proj(x).split(self.d_model, dim=-1)  # each (b, t, d)
        else:
            if context.dim() != 3 or context.shape[-1] != self.d_model:
                raise ValueError(f"expected context (batch, time, {self.d_model}), got "
                                 f"{tuple(context.shape)}")
            w_q, w_kv = self.in_proj.weight.split([self.d_model, 2 * self.d_model])
            b_q, b_kv = (self.in_proj.bias.split([self.d_model, 2 * self.d_model])
                         if self.in_proj.bias is not None else (None, None))
            q = F.linear(x, w_q, b_q)  # (b, t, d)
            k, v = F.linear(context, w_kv, b_kv).split(self.d_model, dim=-1)  # (b, s, d) each
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (b, h, ., dh)
        if kv is not None:
            k, v = kv.append(k, v)  # (b, h, past + t, dh)
        tq, tk = q.shape[-2], k.shape[-2]
        if mask is not None:
            _check_mask(mask, torch.Size((x.shape[0], self.n_head, tq, tk)))
        dropout = self.dropout if self.training else 0.0
        if self.fused and is_causal and mask is None and tq == tk:
            # The fast path: the kernel builds the causal mask itself.
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        else:
            if is_causal:
                causal = causal_mask(tk, x.device)[-tq:]  # (tq, tk): the last tq queries
                mask = causal if mask is None else mask & causal
            if self.fused:
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
            else:
                out, self.last_weights = scaled_dot_product_attention(q, k, v, mask)
        b, h, t, dh = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, t, h * dh))  # (b, t, d)
