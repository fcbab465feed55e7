"""Log-probabilities of given tokens, computed in one place for every model and every loss.

A language model's logits (..., V) say how likely each next token is. Three quantities are
built from them throughout the course:

* :func:`token_logprobs`: log p(target) at every position, ``log_softmax`` then a gather,
  written as ``logit[target] - logsumexp(logits)`` so no (..., V) table of log-probs is kept;
* :func:`sequence_logprob`: the summed log-prob of a continuation, counting only the positions
  a mask selects (the answer after a prompt, a response after an instruction);
* :func:`lm_loss`: the language-model loss, the mean negative log-prob, skipping positions whose
  target is ``ignore_index`` (padding, or a prompt the loss should not train on).

GPT-1's auxiliary loss, few-shot scoring, the reward model, PPO and DPO all go through these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # targets equal to this are skipped (PyTorch's default)


def _check(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} do "
                         "not line up: logits must be targets' shape plus a vocabulary axis")
    if targets.dtype != torch.long:
        raise ValueError(f"targets must be torch.long token ids, got {targets.dtype}")


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor,
                   ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """log p(targets) under ``logits``: logits (..., V), targets (...) -> (...).

    Positions whose target is ``ignore_index`` get 0 (they add nothing to a sum). Computed in
    float32 at least, so bf16 logits do not lose the small differences between log-probs."""
    _check(logits, targets)
    logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    ignored = targets == ignore_index
    safe = targets.masked_fill(ignored, 0)
    picked = logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (...)
    return (picked - torch.logsumexp(logits, dim=-1)).masked_fill(ignored, 0.0)


def sequence_logprob(logits: torch.Tensor, targets: torch.Tensor,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Summed log-prob of each row's targets where ``mask`` is true: (b, t, V), (b, t) -> (b,).

    ``mask`` (b, t) selects the positions that belong to the continuation being scored; None
    scores every position."""
    lp = token_logprobs(logits, targets)  # (b, t)
    if mask is None:
        return lp.sum(-1)
    if mask.shape != targets.shape:
        raise ValueError(f"mask {tuple(mask.shape)} must have the targets' shape "
                         f"{tuple(targets.shape)}")
    return (lp * mask.to(lp.dtype)).sum(-1)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE_INDEX,
            reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of next-token ``logits`` (..., V) against ``targets`` (...), in nats.

    ``reduction="mean"`` averages over the positions not ignored (a scalar; NaN if every target
    is ignored), ``"sum"`` adds them, ``"none"`` returns one loss per position (targets' shape,
    0 where ignored)."""
    _check(logits, targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                             ignore_index=ignore_index, reduction=reduction)
    return losses.view(targets.shape) if reduction == "none" else losses
