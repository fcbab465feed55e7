"""The smallest neural language model: the next token depends only on the current one."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labgpt.logprobs import lm_loss
from labgpt.tokenization import check_token_ids


class BigramLM(nn.Module):
    """A table of logits, one row per current token: ``logits = W[idx]``.

    Trained with cross-entropy it learns log P(next | current), the same quantity a count
    bigram model estimates by counting.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.logits_table = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.logits_table.weight)  # start from the uniform distribution

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx``: (b, t) token ids. Returns logits (b, t, vocab) and the mean cross-entropy
        against ``targets`` (b, t) in nats, or None without targets."""
        if idx.dtype != torch.long:
            raise ValueError(f"token ids must be torch.long, got {idx.dtype}")
        check_token_ids(idx, self.vocab_size)
        logits = self.logits_table(idx)  # (b, t, vocab)
        if targets is None:
            return logits, None
        return logits, lm_loss(logits, targets)

    @torch.no_grad()
    def generate(
        self, idx: torch.Tensor, max_new_tokens: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Extend each row of ``idx`` (b, t) by sampling ``max_new_tokens`` tokens."""
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -1:])  # (b, 1, vocab)
            probs = F.softmax(logits[:, -1], dim=-1)  # (b, vocab)
            next_id = torch.multinomial(probs, 1, generator=generator)  # (b, 1)
            idx = torch.cat([idx, next_id], dim=1)
        return idx
