"""Checkers for exercises: each runs the learner's code and says *what* is wrong, not just "no".

A checker raises :class:`CheckFailed` (an AssertionError, so nbval and graders see a failure)
with a message that names the expectation and what was got, and prints one line on success.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


class CheckFailed(AssertionError):
    """The learner's answer is wrong; the message says how."""


def check_shape(got: torch.Tensor, expected: tuple[int, ...], name: str = "output") -> None:
    if not torch.is_tensor(got):
        raise CheckFailed(f"{name} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(expected):
        raise CheckFailed(f"{name}: expected shape {tuple(expected)}, got {tuple(got.shape)}")


def check_close(
    got: torch.Tensor, expected: torch.Tensor, name: str = "output", atol: float = 1e-5
) -> None:
    """Shapes equal and every entry within ``atol`` (plus a relative 1e-5) of the expected."""
    check_shape(got, tuple(expected.shape), name)
    got, expected = got.detach().double(), expected.detach().double()
    if not torch.isfinite(got).all():
        raise CheckFailed(f"{name} contains inf or NaN")
    if not torch.allclose(got, expected, atol=atol, rtol=1e-5):
        diff = (got - expected).abs()
        where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        raise CheckFailed(
            f"{name} differs from the expected values: largest gap {diff.max().item():.3g} at "
            f"index {where} (got {got[where].item():.6g}, expected {expected[where].item():.6g})"
        )


def check_cross_entropy(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(logits (n, v), targets (n,)) -> mean negative log-likelihood`` (a scalar)."""
    generator = torch.Generator().manual_seed(0)
    cases = [(4, 3), (32, 65), (1, 10)]
    for n, v in cases:
        logits = torch.randn(n, v, generator=generator) * 3
        targets = torch.randint(v, (n,), generator=generator)
        got = fn(logits, targets)
        expected = F.cross_entropy(logits, targets)
        if not torch.is_tensor(got):
            raise CheckFailed(f"cross_entropy should return a tensor, got {type(got).__name__}")
        if got.shape != ():
            raise CheckFailed(
                f"cross_entropy should return a scalar (shape ()), got shape {tuple(got.shape)}:"
                " take the mean over the examples"
            )
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
