"""Checkers for the in-context learning chapters (the induction score, least squares in
context, a flipped-label prompt, the targets of instruction tuning)."""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from labgpt import induction, instruction_tuning, regression
from labgpt.checks.core import CheckFailed, check_close, check_shape, exercise
from labgpt.logprobs import IGNORE_INDEX


@exercise("labgpt.induction.induction_scores")
def check_induction_scores(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(weights, length)`` -> (n_layer, n_head): the mean attention, over the second
    half of sequences that repeat their first ``length`` tokens, from each position i to
    i - length + 1, the token after i's earlier occurrence."""
    g = torch.Generator().manual_seed(seed)
    length = 6
    weights = torch.rand(2, 3, 4, 2 * length, 2 * length, generator=g).tril()
    weights = weights / weights.sum(-1, keepdim=True)  # causal rows of probabilities
    got = fn(weights, length)
    check_shape(got, (2, 4), "the scores (one per layer and head)")
    expected = induction.induction_scores(weights, length)
    i = torch.arange(length, 2 * length)
    same_token = weights[:, :, :, i, i - length].mean(dim=(1, 3))
    if torch.allclose(got, same_token, atol=1e-6):
        raise CheckFailed("that is the attention to the earlier occurrence of the same token "
                          "(i - length); an induction head looks one further, at the token that "
                          "followed it (i - length + 1), which is what it copies")
    everywhere = torch.arange(length - 1, 2 * length)  # every query with a target in range
    whole = weights[:, :, :, everywhere, everywhere - length + 1].mean(dim=(1, 3))
    if torch.allclose(got, whole, atol=1e-6) and not torch.allclose(got, expected):
        raise CheckFailed("average over the queries of the second half only (positions length "
                          "to 2 length - 1): before it nothing has repeated yet")
    check_close(got, expected, "the induction scores")
    print("the induction scores pass.")


@exercise("labgpt.regression.least_squares")
def check_least_squares(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(xs, ys)`` -> (b, k) predictions, entry i from the minimum-norm least-squares
    fit to the pairs before i (0 at i = 0)."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = regression.regression_prompts(8, g, points=7, dim=3)
    ys = ys + 0.1 * torch.randn(ys.shape, generator=g)  # noisy: no w fits every pair exactly
    got = fn(xs, ys)
    check_shape(got, tuple(ys.shape), "the predictions (one per prompt and position)")
    expected = regression.least_squares(xs, ys)
    if not torch.allclose(got[:, 0], torch.zeros(8), atol=1e-6):
        raise CheckFailed("before any example there is nothing to fit: predict 0 at i = 0 "
                          f"(the prior mean of y); got {got[0, 0].item():.4g}")
    if torch.allclose(got[:, 1:], ys[:, 1:], atol=1e-4):
        raise CheckFailed("the predictions equal the targets: the fit for position i must use "
                          "only the pairs before i, not (x_i, y_i) itself")
    leaky = torch.zeros_like(ys)
    for i in range(1, xs.shape[1]):
        w = torch.linalg.pinv(xs[:, :i + 1]) @ ys[:, :i + 1, None]
        leaky[:, i] = (xs[:, i:i + 1] @ w)[:, 0, 0]
    if torch.allclose(got, leaky, atol=1e-4):
        raise CheckFailed("the fit for position i includes the pair (x_i, y_i) itself: use "
                          "xs[:, :i] and ys[:, :i]")
    close = (got - expected).abs() < 1e-3
    if close[:, 3:].all() and not close[:, 1:3].all():
        raise CheckFailed("with fewer examples than dimensions many w fit exactly: take the one "
                          "of least norm (torch.linalg.pinv), the posterior mean for w ~ N(0, I)")
    check_close(got, expected, "the least-squares predictions", atol=1e-3)
    print("the least-squares predictions pass.")


@exercise()
def check_flipped_prompt(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(demos, query, flip)`` -> the words of a prompt: each demonstration
    ``(thing, label)`` written ``thing : label .``, with the demonstrations whose index is in
    ``flip`` showing the other of the prompt's two labels, then ``query :``."""
    demos = [("cat", "animal"), ("bread", "food"), ("dog", "animal"), ("rice", "food")]
    cases = [(set(), "cat : animal . bread : food . dog : animal . rice : food . cow :"),
             ({0, 3}, "cat : food . bread : food . dog : animal . rice : animal . cow :"),
             ({0, 1, 2, 3}, "cat : food . bread : animal . dog : food . rice : animal . cow :")]
    flip = set(random.Random(seed).sample(range(4), 2))  # and a flip drawn afresh
    other = {"animal": "food", "food": "animal"}
    cases.append((flip, " ".join(f"{t} : {other[y] if i in flip else y} ."
                                 for i, (t, y) in enumerate(demos)) + " cow :"))
    for flip, want in cases:
        got = fn(list(demos), "cow", set(flip))
        if isinstance(got, str):
            raise CheckFailed(f"return a list of words, not one string: got {got!r}")
        got, want = list(got), want.split()
        if got == want:
            continue
        if len(got) == len(want) and got[:-2] == want[:-2]:
            raise CheckFailed(f"end with the query and ':' (the model's next word is its "
                              f"label); got {got[-2:]}")
        if len(got) == len(want) - 1 and got == want[:-1]:
            raise CheckFailed("end with ':' after the query: the demonstrations each show "
                              "'thing : label', so the label comes after the colon")
        if flip and got == cases[0][1].split():
            raise CheckFailed(f"flip={sorted(flip)}: these demonstrations should show the other "
                              "label, but every label is the true one")
        shown = got[2::4][:len(demos)]
        if flip and any(label not in ("animal", "food") for label in shown):
            raise CheckFailed("a flipped demonstration shows the *other* of the prompt's two "
                              f"labels, not a new word; got labels {shown}")
        raise CheckFailed(f"with flip={sorted(flip)}: expected {want}, got {got}")
    print("the flipped-label prompt passes.")


@exercise("labgpt.instruction_tuning.answer_only_targets")
def check_answer_only_targets(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(ids)`` -> (inputs, targets) for a question followed by its one-token answer:
    inputs all ids but the last, targets the next ids with every one but the answer's replaced
    by ``IGNORE_INDEX``."""
    rng = random.Random(seed)  # and ids drawn afresh
    drawn = [rng.randrange(100) for _ in range(rng.randrange(3, 20))]
    for ids in ([11, 12, 13, 14, 15], [3, 1, 4, 1, 5, 9, 2], drawn):
        got = fn(list(ids))
        if not isinstance(got, tuple) or len(got) != 2:
            raise CheckFailed(f"return a pair (inputs, targets); got {type(got).__name__}")
        x, y = (list(v.tolist() if hasattr(v, "tolist") else v) for v in got)
        want_x, want_y = instruction_tuning.answer_only_targets(list(ids))
        if (x, y) == (want_x, want_y):
            continue
        if len(y) == len(ids) or len(x) == len(ids):
            raise CheckFailed("inputs and targets are one shorter than the ids: the model reads "
                              "ids[:-1] and predicts ids[1:], each target the token after its "
                              f"input; got lengths {len(x)} and {len(y)} for {len(ids)} ids")
        if y == ids[1:]:
            raise CheckFailed("every target is kept: that tunes the model to write the question "
                              f"too; replace all targets but the answer by IGNORE_INDEX "
                              f"({IGNORE_INDEX})")
        if y[-1] != ids[-1]:
            raise CheckFailed(f"the last target is the answer, ids[-1] = {ids[-1]}; got {y[-1]}")
        if y[:-1] != want_y[:-1]:
            raise CheckFailed(f"the targets before the answer must be IGNORE_INDEX "
                              f"({IGNORE_INDEX}), which the loss skips; got {y[:-1]}")
        raise CheckFailed(f"for ids {ids}: expected inputs {want_x}, got {x}")
    print("the answer-only targets pass.")
