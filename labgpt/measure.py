"""Measuring models and code: parameter counts and wall-clock timings, done one way everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from torch import nn

T = TypeVar("T")


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of any model; a tensor shared by two modules (a tied output head)
    is counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """The fastest of ``repeats`` calls of ``fn()``, in seconds, after ``warmup`` untimed calls.

    The minimum is the figure least disturbed by other work on a shared machine. For CUDA work,
    make ``fn`` end with ``torch.cuda.synchronize()`` so the time covers the kernels it queued.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Call ``fn()`` once; return its result and the seconds it took. For work too long to
    repeat (training a tokenizer, say); for short work prefer :func:`best_time`."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
