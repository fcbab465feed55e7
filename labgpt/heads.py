"""A GPT with a small head on top: GPT-1's classifier, and later the reward and value models.

The head is one linear layer on the trunk's final hidden state at the last real token of each
sequence (``pool="last"``). In a left-to-right model that is the only position that has read
the whole input, which is why GPT-1 ends every task input with an *extract* token and
classifies from there. ``pool="mean"`` reads the mean of the sequence's final states instead,
which puts every pre-trained state to use at once. Sequences come right-padded with their
``lengths``: causal attention keeps every real position blind to the padding after it, so no
attention mask is needed.
"""

from __future__ import annotations

import torch
from torch import nn

from labgpt.gpt import GPT


class GPTWithHead(nn.Module):
    """``gpt`` plus a linear head of ``n_outputs`` (2 for a binary classifier, 1 for a score),
    reading the last token's state (``pool="last"``) or the mean of all states (``"mean"``)."""

    def __init__(self, gpt: GPT, n_outputs: int, pool: str = "last"):
        super().__init__()
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
        if pool not in ("last", "mean"):
            raise ValueError(f"pool must be 'last' or 'mean', got {pool!r}")
        self.gpt = gpt
        self.pool = pool
        self.head = nn.Linear(gpt.config.n_embd, n_outputs)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def features(self, idx: torch.Tensor,
                 lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """idx (b, t) right-padded, lengths (b,) -> (what the head reads (b, d): the state at
        each sequence's last real token, or the mean over its real tokens; every hidden state
        (b, t, d))."""
        if lengths.shape != idx.shape[:1]:
            raise ValueError(f"lengths must have shape ({idx.shape[0]},), one per sequence, got "
                             f"{tuple(lengths.shape)}")
        if lengths.numel() and (lengths.min() < 1 or lengths.max() > idx.shape[1]):
            raise ValueError(f"lengths must lie in [1, {idx.shape[1]}] (the padded width), got "
                             f"{lengths.min().item()}..{lengths.max().item()}")
        hidden = self.gpt.trunk(idx)  # (b, t, d)
        if self.pool == "mean":
            real = torch.arange(idx.shape[1], device=idx.device)[None] < lengths[:, None]
            pooled = (hidden * real[..., None]).sum(1) / lengths[:, None]  # (b, d)
            return pooled, hidden
        return hidden[torch.arange(idx.shape[0], device=idx.device), lengths - 1], hidden

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """idx (b, t), lengths (b,) -> the head's outputs (b, n_outputs)."""
        return self.head(self.features(idx, lengths)[0])
