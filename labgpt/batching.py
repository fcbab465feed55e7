"""From a long sequence of token ids to (input, target) batches for next-token prediction."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from labgpt.logprobs import IGNORE_INDEX

BatchFn = Callable[[str, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def train_val_split(
    ids: Sequence[int] | torch.Tensor, val_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a token sequence into a leading train part and a trailing validation part.

    The split is by position, not at random: the validation text is a contiguous stretch the
    model never saw, so a model cannot score well by memorising neighbouring windows.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of token ids, got shape {tuple(ids.shape)}")
    n_train = int(len(ids) * (1.0 - val_fraction))
    return ids[:n_train], ids[n_train:]


def random_windows(
    ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows of ``block_size`` tokens and their next tokens.

    Returns ``x, y`` of shape (batch_size, block_size) with ``y[:, i] == ids[start + i + 1]``:
    every position of a window is a training example for the token that follows it.
    """
    if len(ids) <= block_size:
        raise ValueError(
            f"sequence of {len(ids)} tokens is too short for windows of block_size={block_size}"
            "; use a smaller block_size or more text"
        )
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)  # (b,)
    offsets = torch.arange(block_size)  # (t,)
    x = ids[starts[:, None] + offsets]  # (b, t)
    y = ids[starts[:, None] + offsets + 1]  # (b, t)
    return x, y


def lm_batches(
    train_ids: torch.Tensor, val_ids: torch.Tensor, block_size: int, batch_size: int
) -> BatchFn:
    """A batch function for :func:`labgpt.train`: ``get_batch(split, generator) -> (x, y)``."""
    splits = {"train": train_ids, "val": val_ids}

    def get_batch(split: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in splits:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return random_windows(splits[split], block_size, batch_size, generator)

    return get_batch


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = 0,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token sequences of different lengths into one batch.

    Returns ``ids`` (n, longest) with ``pad_id`` after each sequence's end, and ``lengths``
    (n,). Padding sits after the real tokens, so a causal model's real positions never see it;
    losses skip it through ``lengths``."""
    if not seqs:
        raise ValueError("no sequences to pad")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    if lengths.min() == 0:
        raise ValueError(f"sequence {int((lengths == 0).nonzero()[0])} is empty")
    ids = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.as_tensor(s, dtype=torch.long)
    return ids, lengths


def prompt_response_batch(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = 0,
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Supervised fine-tuning rows: each prompt followed by its response, right-padded.

    Returns ``x`` (n, longest - 1), every sequence but its last token, and ``y``, the tokens
    that follow, with each prompt's positions and the padding set to ``IGNORE_INDEX``: the loss
    trains the model to write the response, not to write prompts."""
    if any(not p or not r for p, r in pairs):
        raise ValueError("every prompt and every response needs at least one token")
    ids, lengths = pad_sequences([list(p) + list(r) for p, r in pairs], pad_id)
    y = ids[:, 1:].clone()
    positions = torch.arange(y.shape[1])[None]  # (1, t - 1): y[:, j] is token j + 1
    prompt_lengths = torch.tensor([len(p) for p, _ in pairs])[:, None]
    y[(positions < prompt_lengths - 1) | (positions >= lengths[:, None] - 1)] = IGNORE_INDEX
    return ids[:, :-1], y
