"""Checkers for the GPT-1 chapter (the L3 objective, the similarity input, the multiple-choice
loss)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from labgpt.checks.core import CheckFailed, check_close, check_scalar, exercise


@exercise("labgpt.fine_tuning.l3_loss")
def check_l3_loss(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(class_logits (b, C), labels (b,), lm_logits (b, t, V), lm_targets (b, t),
    aux_weight)`` = L2 + aux_weight * L1: the labels' cross-entropy plus the mean next-token
    cross-entropy over the targets that are not -100 (padding)."""
    from labgpt.logprobs import lm_loss

    g = torch.Generator().manual_seed(seed)
    class_logits, labels = torch.randn(4, 2, generator=g), torch.tensor([0, 1, 1, 0])
    lm_logits = torch.randn(4, 6, 11, generator=g)
    targets = torch.randint(11, (4, 6), generator=g)
    targets[0, 3:] = -100  # shorter sequences: padding
    targets[2, 5:] = -100
    for aux in (0.5, 2.0, 0.0):
        got = fn(class_logits, labels, lm_logits, targets, aux)
        check_scalar(got, "l3_loss")
        l2, l1 = F.cross_entropy(class_logits, labels), lm_loss(lm_logits, targets)
        if aux and torch.isclose(got, l1 + aux * l2, atol=1e-5):
            raise CheckFailed(f"aux_weight={aux}: the weight multiplies L1, the auxiliary "
                              "language-model loss, not L2, the task's loss")
        if aux and torch.isclose(got, l2 + aux * lm_loss(lm_logits, targets, reduction="sum"),
                                 atol=1e-4):
            raise CheckFailed("L1 must be the mean over predicted tokens, not their sum (a sum "
                              "grows with the batch's length and swamps L2)")
        if aux and torch.isclose(got, l2 + aux * lm_loss(lm_logits, targets.clamp(min=0)),
                                 atol=1e-5):
            raise CheckFailed("positions whose target is -100 are padding: skip them in L1 "
                              "(ignore_index=-100)")
        check_close(got, l2 + aux * l1, f"l3_loss with aux_weight={aux}")
    print("l3_loss passes all 3 checks.")


@exercise("labgpt.fine_tuning.similarity")
def check_similarity_input(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(a, b, specials)`` -> the two sequences GPT-1 builds for a similarity pair:
    ``start a delim b extract`` and ``start b delim a extract``."""
    from labgpt.fine_tuning import Specials, similarity

    sp = Specials(start=100, delim=101, extract=102)
    for a, b in (([5, 6, 7], [8, 9]), _token_lists(seed)):
        _check_similarity(fn, a, b, sp, similarity)
    print("the similarity input passes.")


def _token_lists(seed: int) -> tuple[list[int], list[int]]:
    g = torch.Generator().manual_seed(seed)
    a, b = (torch.randint(0, 100, (int(n),), generator=g).tolist()
            for n in torch.randint(1, 12, (2,), generator=g))
    return a, b


def _check_similarity(fn: Callable, a: list[int], b: list[int], sp, similarity) -> None:
    got = fn(list(a), list(b), sp)
    expected = similarity(a, b, sp)
    if not isinstance(got, (list, tuple)) or len(got) != 2:
        raise CheckFailed("a similarity pair becomes two sequences, one per order (similarity "
                          f"has no order); got {got!r}")
    got = [list(map(int, s)) for s in got]
    if sorted(got) == sorted(expected) and got != expected:
        raise CheckFailed(f"expected the order (a, b) first, then (b, a): {expected}, got {got}")
    for seq in got:
        if seq[:1] != [sp.start] or seq[-1:] != [sp.extract]:
            raise CheckFailed(f"every sequence starts with start={sp.start} and ends with "
                              f"extract={sp.extract}, where the classifier reads; got {seq}")
        if seq.count(sp.delim) != 1:
            raise CheckFailed(f"one delimiter ({sp.delim}) between the two texts; got {seq}")
    if got != expected:
        raise CheckFailed(f"expected {expected}, got {got}")


@exercise("torch.nn.functional.cross_entropy")
def check_choice_loss(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(scores (b, m), right (b,))``: the multiple-choice loss, a softmax over each
    question's m answer scores and the cross-entropy of the right one, averaged over b."""
    g = torch.Generator().manual_seed(seed)
    scores, right = torch.randn(5, 4, generator=g), torch.tensor([0, 3, 1, 1, 2])
    got = fn(scores, right)
    check_scalar(got, "choice_loss")
    expected = F.cross_entropy(scores, right)
    wrong_axis = -scores.log_softmax(0)[torch.arange(5), right].mean()
    per_answer = F.binary_cross_entropy_with_logits(scores, F.one_hot(right, 4).float())
    if torch.isclose(got, per_answer, atol=1e-5):
        raise CheckFailed("the answers compete: take a softmax over a question's m scores, not a "
                          "sigmoid of each answer on its own")
    if torch.isclose(got, wrong_axis, atol=1e-5):
        raise CheckFailed("softmax over the answers (dim=-1), not over the questions")
    check_close(got, expected, "choice_loss")
    print("the multiple-choice loss passes.")
