"""Checkers for the GPT-3 chapter (a k-shot prompt, a power-law fit, training compute)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch

from labgpt.checks.core import CheckFailed, exercise


@exercise()
def check_k_shot_prompt(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(template, demos, x)`` -> the words of a k-shot prompt: each demonstration
    ``(x_i, y_i)`` as ``template`` filled in and followed by a full stop, in order, then the
    query ``x`` in the same template, cut just before ``{y}``."""
    template = "{x} in french is {y}"
    demos = [("cat", "chat"), ("dog", "chien")]
    expected = "cat in french is chat . dog in french is chien . sun in french is".split()
    for k in (2, 0):
        got = fn(template, demos[:k], "sun")
        if isinstance(got, str):
            raise CheckFailed(f"return a list of words, not one string: got {got!r}")
        got = list(got)
        want = expected[-4:] if k == 0 else expected
        if k and got[:4] == ["sun", "in", "french", "is"]:
            raise CheckFailed("the demonstrations come first and the question last: the model "
                              f"continues the end of its prompt; got {got}")
        if k and "chat" not in got:
            raise CheckFailed("a demonstration shows the answer too: without y_i the model "
                              f"sees questions, not solved examples; got {got}")
        if len(got) > len(want) and got[:len(want)] == want:
            raise CheckFailed(f"cut the query just before {{y}}: the answer is what the model "
                              f"must produce; got {got}")
        if k and got != want and [w for w in got if w != "."] == [w for w in want if w != "."]:
            raise CheckFailed(f"end every demonstration with a full stop, as the web ends its "
                              f"sentences; got {got}")
        if got != want:
            raise CheckFailed(f"with {k} demonstrations: expected {want}, got {got}")
    rng = random.Random(seed)  # and demonstrations drawn afresh
    words = ["cat", "dog", "sun", "tree", "king", "moon", "fish", "bird"]
    demos = [(rng.choice(words), rng.choice(words)) for _ in range(rng.randrange(1, 5))]
    want = [w for x, y in demos for w in f"{x} means {y} .".split()] + ["sun", "means"]
    got = fn("{x} means {y}", demos, "sun")
    if isinstance(got, str) or list(got) != want:
        raise CheckFailed(f"template '{{x}} means {{y}}', demonstrations {demos}, query 'sun': "
                          f"expected {want}, got {got!r}")
    print("the k-shot prompt passes.")


@exercise("labgpt.scaling.fit_power_law")
def check_power_law_fit(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(x, y)`` -> ``(x_c, alpha)`` with ``y = (x_c / x) ** alpha``: least squares on
    log y against log x."""
    x = torch.tensor([1e4, 3e4, 1e5, 3e5, 1e6], dtype=torch.float64)
    rng = random.Random(seed)  # and one law drawn afresh
    for x_c, alpha in ((8.8e13, 0.076), (2e3, 0.3), (10 ** rng.uniform(3, 14),
                                                      rng.uniform(0.02, 0.8))):
        y = (x_c / x) ** alpha
        got = fn(x, y)
        try:
            got_c, got_alpha = (float(v) for v in got)
        except (TypeError, ValueError) as err:
            raise CheckFailed(f"return two numbers (x_c, alpha), got {got!r}") from err
        if math.isclose(got_alpha, -alpha, rel_tol=1e-4):
            raise CheckFailed(f"alpha is minus the slope of log y against log x: the loss falls "
                              f"as x grows, so alpha > 0; got {got_alpha}")
        if not math.isclose(got_alpha, alpha, rel_tol=1e-4):
            raise CheckFailed(f"alpha: expected {alpha}, got {got_alpha} (fit a straight line to "
                              "log y against log x, not to y against x)")
        if not math.isclose(got_c, x_c, rel_tol=1e-3):
            raise CheckFailed(f"x_c: expected {x_c:.4g}, got {got_c:.4g}; log y = alpha log x_c "
                              "- alpha log x, so x_c = exp(intercept / alpha) (natural logs "
                              "throughout)")
    print("the power-law fit passes.")


def _random_config(seed: int):
    from labgpt.gpt import GPTConfig

    rng = random.Random(seed)
    heads = rng.choice((1, 2, 4))
    config = GPTConfig(vocab_size=rng.randrange(10, 1000), block_size=rng.randrange(8, 512),
                       n_layer=rng.randrange(1, 8), n_head=heads,
                       n_embd=heads * rng.randrange(2, 64))
    return config, rng.randrange(10**5, 10**10)


@exercise("labgpt.scaling.training_flops")
def check_training_compute(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(config, tokens)`` -> ``(flops, weight_bytes)``: C = 6 N D for a GPT of
    ``config`` (N counts the tied output layer once) and the bytes its weights take in 16-bit
    floats."""
    from labgpt.gpt import GPT, GPTConfig

    for config, tokens in ((GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=2,
                                      n_embd=16), 10**6),
                           (GPTConfig.preset("gpt2"), 300 * 10**9), _random_config(seed)):
        with torch.device("meta"):
            n = GPT(config).n_params
        got = fn(config, tokens)
        try:
            flops, weight_bytes = (float(v) for v in got)
        except (TypeError, ValueError) as err:
            raise CheckFailed(f"return two numbers (flops, weight_bytes), got {got!r}") from err
        if math.isclose(flops, 2 * n * tokens, rel_tol=1e-3):
            raise CheckFailed("2 N D is the forward pass only; the backward pass costs about "
                              "twice as much again: C = 6 N D")
        untied = n + config.vocab_size * config.n_embd
        if math.isclose(flops, 6 * untied * tokens, rel_tol=1e-3):
            raise CheckFailed("the output layer shares its weights with the token embedding: "
                              "count them once")
        if not math.isclose(flops, 6 * n * tokens, rel_tol=1e-3):
            raise CheckFailed(f"flops: expected 6 N D = {6 * n * tokens:.4g} with N = {n:,}, "
                              f"got {flops:.4g}")
        if math.isclose(weight_bytes, 4 * n, rel_tol=1e-3):
            raise CheckFailed("16-bit floats take 2 bytes each, not 4")
        if not math.isclose(weight_bytes, 2 * n, rel_tol=1e-3):
            raise CheckFailed(f"weight_bytes: expected 2 N = {2 * n:,}, got {weight_bytes:,}")
    print("training compute passes.")
