"""Induction heads: the attention pattern behind in-context copying (Olsson et al., 2022).

An *induction head* completes ``[A][B] ... [A] -> [B]``: at a token, it attends to the token
that followed the previous occurrence of the same token, and copies it. It needs a second
head, a *previous-token head* in an earlier layer, which writes "the token before me was A"
into each position, so that the induction head's query ("A") can find the key of the position
after the earlier A. Two layers of attention are the least that can do it.

This module measures both patterns on any :class:`labgpt.GPT`: :func:`attention_patterns`
reads every head's attention weights, :func:`induction_scores` and
:func:`previous_token_scores` average them where each pattern puts its weight, on sequences
whose second half repeats the first (:func:`repeated_tokens`). :func:`repeat_batch` is the
training task: random noise, then a random stretch, then the same stretch again.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from labgpt.gpt import GPT


@contextmanager
def _unfused(model: GPT):
    """Every attention layer computes its weights explicitly (and keeps them) inside."""
    layers = [block.attn for block in model.h]
    saved = [layer.fused for layer in layers]
    try:
        for layer in layers:
            layer.fused = False
        yield layers
    finally:
        for layer, fused in zip(layers, saved, strict=True):
            layer.fused = fused


@torch.no_grad()
def attention_patterns(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Every head's attention weights on ``idx`` (b, t): (n_layer, b, n_head, t, t), row i
    holding where position i attends."""
    was_training = model.training
    model.eval()
    with _unfused(model) as layers:
        model(idx)
        weights = torch.stack([layer.last_weights for layer in layers])
    model.train(was_training)
    return weights


def repeated_tokens(batch: int, length: int, vocab_size: int,
                    generator: torch.Generator) -> torch.Tensor:
    """(batch, 2 * length) sequences of ``length`` random tokens followed by the same tokens."""
    first = torch.randint(vocab_size, (batch, length), generator=generator)
    return torch.cat([first, first], dim=1)


def induction_scores(weights: torch.Tensor, length: int) -> torch.Tensor:
    """Mean attention, over the second half of :func:`repeated_tokens` sequences, from each
    position i to position i - length + 1 (the token after i's earlier occurrence), per layer
    and head. ``weights``: (n_layer, b, n_head, 2 length, 2 length) -> (n_layer, n_head)."""
    i = torch.arange(length, 2 * length)
    return weights[:, :, :, i, i - length + 1].mean(dim=(1, 3))


def previous_token_scores(weights: torch.Tensor) -> torch.Tensor:
    """Mean attention from each position i >= 1 to position i - 1, per layer and head:
    (n_layer, b, n_head, t, t) -> (n_layer, n_head)."""
    i = torch.arange(1, weights.shape[-1])
    return weights[:, :, :, i, i - 1].mean(dim=(1, 3))


def repeat_batch(batch: int, block_size: int, vocab_size: int, generator: torch.Generator,
                 min_len: int = 4, max_len: int = 16,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training task: per row, noise, then a random stretch r of ``min_len`` to
    ``max_len`` tokens, then r again, ``block_size + 1`` tokens in all. Returns the inputs and
    next-token targets (b, block_size), and a (b, block_size) mask of the targets inside the
    second r: the only ones a model can predict better than chance."""
    if 2 * max_len > block_size + 1:
        raise ValueError(f"two stretches of up to {max_len} tokens do not fit {block_size + 1}")
    seq = torch.randint(vocab_size, (batch, block_size + 1), generator=generator)
    repeated = torch.zeros(batch, block_size + 1, dtype=torch.bool)
    lengths = torch.randint(min_len, max_len + 1, (batch,), generator=generator)
    for row, n in enumerate(lengths.tolist()):
        start = block_size + 1 - 2 * n  # r ends the row, twice
        seq[row, start + n:] = seq[row, start:start + n]
        repeated[row, start + n:] = True
    return seq[:, :-1], seq[:, 1:], repeated[:, 1:]
