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
training task: random tokens with a random stretch written twice somewhere in them, and
:func:`train_run` trains an attention-only GPT (:func:`attention_only_gpt`) on it, measuring
the loss on the repeated stretch and both scores as it learns.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from labgpt.gpt import GPT, GPTConfig
from labgpt.logprobs import IGNORE_INDEX
from labgpt.training import History, TrainConfig, train


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
    """The training task: per row, ``block_size + 1`` random tokens in which a random stretch
    r of ``min_len`` to ``max_len`` tokens is followed at once by r again, at a random place.
    Returns the inputs and next-token targets (b, block_size), and a (b, block_size) mask of
    the targets inside the second r: the only ones a model can predict better than chance."""
    if 2 * max_len > block_size + 1:
        raise ValueError(f"two stretches of up to {max_len} tokens do not fit {block_size + 1}")
    seq = torch.randint(vocab_size, (batch, block_size + 1), generator=generator)
    repeated = torch.zeros(batch, block_size + 1, dtype=torch.bool)
    lengths = torch.randint(min_len, max_len + 1, (batch,), generator=generator)
    starts = torch.rand(batch, generator=generator)
    for row, n in enumerate(lengths.tolist()):
        start = int(starts[row] * (block_size + 2 - 2 * n))  # anywhere r, r fits
        seq[row, start + n:start + 2 * n] = seq[row, start:start + n]
        repeated[row, start + n:start + 2 * n] = True
    return seq[:, :-1], seq[:, 1:], repeated[:, 1:]


def attention_only_gpt(n_layer: int, vocab_size: int = 32, block_size: int = 32,
                       n_embd: int = 64, n_head: int = 4, seed: int = 0) -> GPT:
    """The model of Olsson et al.'s toy experiments: attention-only blocks, an output head of
    its own, and token and position embeddings drawn at unit scale (PyTorch's default), the
    rest as in GPT-2. With GPT-2's initialisation (0.02-scale embeddings), tied or not, the
    plateau outlasts 2,000 steps of :func:`train_run` (measured at seed 0: the loss on the
    repeated stretch was still 2.7 nats, against about 1 with this model by step 500)."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer,
                          n_head=n_head, n_embd=n_embd, mlp=False, tie_embeddings=False))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for table in (model.wte, model.wpe):
            table.weight.normal_(0.0, 1.0, generator=generator)
    return model


@torch.no_grad()
def repeated_loss(model: GPT, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean cross-entropy on the targets inside the repeated stretch (``mask``), in nats: the
    model's own loss with every other target ignored."""
    _, loss = model(x, y.masked_fill(~mask, IGNORE_INDEX))
    return loss.item()


def train_run(n_layer: int, seed: int, steps: int = 1200, every: int = 50, lr: float = 3e-3,
              batch: int = 64, vocab_size: int = 32, block_size: int = 32,
              ) -> tuple[GPT, History]:
    """Train :func:`attention_only_gpt` on :func:`repeat_batch` sequences for ``steps`` steps
    (AdamW, constant ``lr``, no weight decay or clipping) and measure, every ``every`` steps,
    the loss on the repeated stretch (512 fixed sequences) and the best induction and
    previous-token scores of any head (64 fixed :func:`repeated_tokens` sequences of
    ``block_size // 2`` tokens twice): ``history.measures`` keys ``"repeated_loss"``,
    ``"induction"``, ``"previous_token"``, at ``history.val_steps``. Returns the trained model
    and the history."""
    model = attention_only_gpt(n_layer, vocab_size, block_size, seed=seed)
    held_out = repeat_batch(512, block_size, vocab_size, torch.Generator().manual_seed(10_000))
    half = block_size // 2
    probe = repeated_tokens(64, half, vocab_size, torch.Generator().manual_seed(10_001))

    def measure(m: GPT) -> dict[str, float]:
        weights = attention_patterns(m, probe)
        return {"repeated_loss": repeated_loss(m, *held_out),
                "induction": induction_scores(weights, half).max().item(),
                "previous_token": previous_token_scores(weights).max().item()}

    def get_batch(split: str, generator: torch.Generator):
        return repeat_batch(batch, block_size, vocab_size, generator)[:2]

    config = TrainConfig(steps=steps, lr=lr, min_lr=lr, weight_decay=0.0, grad_clip=None,
                         betas=(0.9, 0.999), eval_every=every, eval_batches=4, seed=seed,
                         quiet=True)
    return model, train(model, get_batch, config, measure=measure)
