"""Checkers for the GPT chapter (parameter count, sampling, learning-rate schedule)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from labgpt.checks.core import CheckFailed, check_shape, exercise


@exercise()
def check_gpt_params(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(vocab_size, block_size, n_layer, n_embd)`` against real GPT models."""
    from labgpt.gpt import GPT, GPTConfig

    g = torch.Generator().manual_seed(seed)  # one model drawn afresh
    v, b, n, w = (int(x) for x in torch.randint(2, 300, (4,), generator=g))
    for vocab, block, layers, width, heads in ((65, 64, 2, 128, 4), (50257, 1024, 12, 768, 12),
                                              (100, 8, 1, 8, 2), (v, b, 1 + n % 6, 4 * w, 4)):
        with torch.device("meta"):
            expected = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=layers,
                                     n_head=heads, n_embd=width)).n_params
        got = int(fn(vocab, block, layers, width))
        if got != expected:
            hint = ""
            if got - expected == vocab * width:
                hint = ": the output head is tied to the token embedding, count it once"
            elif got - expected == -block * width:
                hint = ": the position embedding is missing"
            raise CheckFailed(f"gpt_params({vocab}, {block}, {layers}, {width}): expected "
                              f"{expected:,}, got {got:,} (off by {got - expected:+,}){hint}")
    print("gpt_params matches 4 models, GPT-2 small included.")


@exercise("labgpt.decoding.top_k_filter")
def check_top_k(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(logits (b, vocab), k)``: all but the k largest per row become -inf."""
    from labgpt.decoding import top_k_filter

    generator = torch.Generator().manual_seed(seed)
    for b, v, k in ((1, 10, 3), (4, 50, 1), (2, 7, 7)):
        logits = torch.randn(b, v, generator=generator)
        original = logits.clone()
        got = fn(logits, k)
        if not torch.equal(logits, original):
            raise CheckFailed("top_k_filter changed its input in place; return a new tensor")
        check_shape(got, (b, v), f"top_k_filter(logits of shape ({b}, {v}), k={k})")
        kept = torch.isfinite(got).sum(-1)
        if not (kept == k).all():
            raise CheckFailed(f"each row should keep exactly k={k} logits, kept {kept.tolist()}")
        if not torch.equal(got, top_k_filter(logits, k)):
            raise CheckFailed("the kept logits must be the k largest of each row, unchanged")
    print("top_k_filter passes all 3 checks.")


@exercise("labgpt.training.lr_at")
def check_lr_schedule(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(step, lr, min_lr, warmup_steps, steps)`` against :func:`labgpt.lr_at`:
    linear warmup to ``lr`` over ``warmup_steps`` (step 0 already gets lr / warmup_steps), then
    a cosine from ``lr`` down to ``min_lr`` at the last step."""
    from labgpt.training import TrainConfig, lr_at

    checked = 0
    g = torch.Generator().manual_seed(seed)  # one schedule drawn afresh
    s, w = (int(x) for x in torch.randint(1, 400, (2,), generator=g))
    top = float(torch.rand((), generator=g)) * 1e-2
    for steps, warmup, lr, min_lr in ((100, 10, 1e-3, 1e-4), (50, 0, 6e-3, 6e-4),
                                      (1000, 100, 3e-4, 0.0), (s + w, w, top, top / 10)):
        config = TrainConfig(steps=steps, lr=lr, min_lr=min_lr, warmup_steps=warmup)
        for step in sorted({0, 1, warmup // 2, max(warmup - 1, 0), warmup, steps // 2,
                            steps - 1, steps}):
            expected = lr_at(step, config)
            got = float(fn(step, lr, min_lr, warmup, steps))
            checked += 1
            if abs(got - expected) <= 1e-9 + 1e-6 * expected:
                continue
            hint = ""
            if step < warmup and abs(got - lr * step / warmup) < 1e-12:
                hint = ": warmup starts at lr / warmup_steps on step 0, (step + 1) / warmup_steps"
            elif step >= warmup and abs(got - lr) < 1e-12 and step > warmup:
                hint = ": after warmup the rate decays along a cosine"
            raise CheckFailed(f"step {step} of {steps} (warmup {warmup}, lr {lr}, min_lr "
                              f"{min_lr}): expected {expected:.6g}, got {got:.6g}{hint}")
    print(f"lr_schedule matches labgpt.lr_at at {checked} steps of 4 schedules.")
