"""The smallest neural language model: the next token depends only on the current one."""

from __future__ import annotations

import torch
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
    def step(self, ids: torch.Tensor, state: None = None,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        """Decoding (:mod:`labgpt.decoding`): the next token depends on the last one only, so
        there is no state to carry. ids (b, t) -> logits (b, vocab)."""
        logits, _ = self(ids[:, -1:])
        return logits[:, -1], None

    @staticmethod
    def reorder(state: None, rows: torch.Tensor) -> None:
        return None
