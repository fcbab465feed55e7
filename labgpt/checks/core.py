"""What every checker shares: the failure type, and checks of shape, scalars and closeness.

A checker raises :class:`CheckFailed` (an AssertionError, so nbval and graders see a failure)
with a message that names the expectation and what was got, and prints one line on success.
"""

from __future__ import annotations

import torch


class CheckFailed(AssertionError):
    """The learner's answer is wrong; the message says how."""


def exercise(*reimplements: str):
    """Mark a checker of an exercise, naming (dotted) the package or PyTorch functions that
    already compute the answer: the grader disables them while the learner's code runs, so a
    solution that merely calls them earns nothing (:mod:`labgpt.tools.verdict`)."""

    def mark(checker):
        checker.reimplements = reimplements
        return checker

    return mark


def check_shape(got: torch.Tensor, expected: tuple[int, ...], name: str = "output") -> None:
    if not torch.is_tensor(got):
        raise CheckFailed(f"{name} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(expected):
        raise CheckFailed(f"{name}: expected shape {tuple(expected)}, got {tuple(got.shape)}")


def check_scalar(got, name: str, hint: str = "") -> None:
    """``got`` is a 0-dimensional tensor; ``hint`` is added when it has other dimensions."""
    if not torch.is_tensor(got):
        raise CheckFailed(f"{name} should return a tensor, got {type(got).__name__}")
    if got.shape != ():
        raise CheckFailed(f"{name} should return a scalar (shape ()), got shape "
                          f"{tuple(got.shape)}{hint}")


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
