"""The base model of Part II: a character-level GPT of Tiny Shakespeare, trained once and shipped.

Its training costs about ten CPU-minutes, more than a chapter's budget, so it is a record
(``python -m labgpt.records make base_model``): the weights in half precision, with the
whole-validation-text loss measured on those very weights. Chapters load it with :func:`load`
and sample from it, decode it, or fine-tune it, instead of training a model of their own.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from labgpt.batching import lm_batches
from labgpt.environment import seed_everything
from labgpt.gpt import GPT, GPTConfig
from labgpt.ladder import char_data
from labgpt.tokenization import CharTokenizer
from labgpt.training import TrainConfig, train

# 4 blocks of 192 wide, 128 characters of context: 1.8M parameters, ~0.4 s a step on 2 cores.
CONFIG = GPTConfig(vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=192, dropout=0.1)
TRAIN = TrainConfig(steps=1500, lr=2e-3, min_lr=2e-4, warmup_steps=100, weight_decay=0.1,
                    grad_clip=1.0, eval_every=250, eval_batches=20)
BATCH_SIZE = 32


def make(seed: int = 0, steps: int = TRAIN.steps) -> tuple[dict[str, torch.Tensor], dict]:
    """Train the base model from scratch: its half-precision weights and what they score."""
    chars, train_ids, val_ids = char_data()
    if chars.vocab_size != CONFIG.vocab_size:
        raise ValueError(f"Tiny Shakespeare has {chars.vocab_size} characters, the config "
                         f"{CONFIG.vocab_size}")
    seed_everything(seed)
    model = GPT(CONFIG)
    history = train(model, lm_batches(train_ids, val_ids, CONFIG.block_size, BATCH_SIZE),
                    replace(TRAIN, steps=steps, seed=seed))
    state = model.half_state()
    model = GPT.from_half_state(CONFIG, state)  # score exactly what is shipped
    return state, {"val_loss": round(model.stream_loss(val_ids), 4),
                   "params": model.n_params, "steps": steps, "batch_size": BATCH_SIZE,
                   "train_loss_last_100": round(sum(history.train_loss[-100:]) / 100, 4)}


def load() -> tuple[GPT, CharTokenizer, dict]:
    """The shipped base model (eval mode, float32), its character tokenizer, and its record's
    numbers (``val_loss`` in nats per character over the whole validation text)."""
    from labgpt import records

    record = records.load("base_model")
    model = GPT.from_half_state(CONFIG, record.state_dict, "the base_model record's weights")
    chars, _, _ = char_data()
    return model, chars, {**record.result, "describe": record.describe()}
