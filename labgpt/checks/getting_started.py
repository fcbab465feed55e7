"""Checkers for the Getting-started chapter."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from labgpt.checks.core import CheckFailed, check_close, check_scalar, exercise


@exercise("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss")
def check_cross_entropy(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                        seed: int = 0) -> None:
    """Check ``fn(logits (n, v), targets (n,)) -> mean negative log-likelihood`` (a scalar)."""
    generator = torch.Generator().manual_seed(seed)
    cases = [(4, 3), (32, 65), (1, 10)]
    for n, v in cases:
        logits = torch.randn(n, v, generator=generator) * 3
        targets = torch.randint(v, (n,), generator=generator)
        got = fn(logits, targets)
        expected = F.cross_entropy(logits, targets)
        check_scalar(got, "cross_entropy", ": take the mean over the examples")
        if torch.isclose(got, -expected, atol=1e-5) and expected.abs() > 1e-3:
            raise CheckFailed("cross_entropy has the wrong sign: it is the *negative* log-prob")
        check_close(got, expected, f"cross_entropy on logits of shape ({n}, {v})")
    # Logits of a trained model can be large: exp(1000) overflows without the max-shift trick.
    big = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])
    got = fn(big, torch.tensor([0, 2]))
    if not torch.isfinite(torch.as_tensor(got)).all():
        raise CheckFailed(
            "cross_entropy overflows on logits near 1000: subtract each row's max before "
            "exponentiating (log-sum-exp), or use torch.logsumexp"
        )
    check_close(got, F.cross_entropy(big, torch.tensor([0, 2])), "cross_entropy on large logits")
    print(f"cross_entropy passes all {len(cases) + 1} checks.")
