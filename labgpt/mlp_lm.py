"""Bengio et al.'s (2003) neural probabilistic language model: an MLP over learned embeddings.

The previous ``context`` tokens are looked up in an embedding table ``C``, concatenated into
one vector ``x``, and mapped to next-token logits as in the paper's equation,

    logits = b + W x + U tanh(d + H x),

where ``W x`` is the paper's optional *direct connection* from the input to the output.
Because similar tokens get similar embeddings, what the model learns about one context
carries over to contexts it has never seen, which counting cannot do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labgpt.logprobs import lm_loss
from labgpt.tokenization import check_token_ids


class MLPLM(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        context: int,
        n_embd: int = 16,
        n_hidden: int = 256,
        direct: bool = True,
    ):
        super().__init__()
        if context < 1:
            raise ValueError(f"context must be at least 1 token, got {context}")
        self.vocab_size, self.context = vocab_size, context
        self.embed = nn.Embedding(vocab_size, n_embd)  # the paper's C
        self.hidden = nn.Linear(context * n_embd, n_hidden)  # H and d
        self.out = nn.Linear(n_hidden, vocab_size)  # U and b
        self.direct = nn.Linear(context * n_embd, vocab_size, bias=False) if direct else None

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx`` (b, t) with t >= context. Predicts the token after each window of
        ``context`` tokens: logits (b, t - context + 1, vocab) for positions context-1 .. t-1;
        the loss compares them with ``targets[:, context - 1:]``."""
        b, t = idx.shape
        if t < self.context:
            raise ValueError(f"need at least context={self.context} tokens per row, got {t}")
        check_token_ids(idx, self.vocab_size)
        windows = idx.unfold(1, self.context, 1)  # (b, t-c+1, c)
        x = self.embed(windows).flatten(2)  # (b, t-c+1, c*e)
        logits = self.out(torch.tanh(self.hidden(x)))  # (b, t-c+1, V)
        if self.direct is not None:
            logits = logits + self.direct(x)
        if targets is None:
            return logits, None
        return logits, lm_loss(logits, targets[:, self.context - 1:])  # targets (b, t-c+1)

    @torch.no_grad()
    def next_token_probs(self, ids: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """P(ids[i] | the ``context`` ids before it) for i = context .. len(ids)-1, (n,)."""
        windows = ids[:-1].unfold(0, self.context, 1)  # (n, c)
        targets = ids[self.context:]  # (n,)
        probs = []
        for start in range(0, len(targets), batch_size):
            logits, _ = self(windows[start:start + batch_size])  # (chunk, 1, V)
            p = F.softmax(logits[:, -1], dim=-1)
            probs.append(p.gather(1, targets[start:start + batch_size, None])[:, 0])
        return torch.cat(probs)
