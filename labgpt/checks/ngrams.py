"""Checkers for the n-gram chapter."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labgpt.checks.core import CheckFailed, exercise


@exercise()
def check_add_k(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(count_hw, count_h, k, vocab_size)`` against the add-k formula."""
    cases = [(2, 2, 1.0, 3, 3 / 5), (0, 10, 0.5, 4, 0.5 / 12), (0, 0, 1.0, 65, 1 / 65)]
    rng = np.random.default_rng(seed)  # and one drawn afresh
    count_h, k = int(rng.integers(1, 100)), float(rng.uniform(0.01, 2))
    vocab = int(rng.integers(2, 500))
    count_hw = int(rng.integers(0, count_h + 1))
    cases.append((count_hw, count_h, k, vocab, (count_hw + k) / (count_h + k * vocab)))
    for count_hw, count_h, k, vocab_size, expected in cases:
        got = float(fn(count_hw, count_h, k, vocab_size))
        if abs(got - expected) > 1e-9:
            hint = ""
            if abs(got - (count_hw + k) / (count_h + k)) < 1e-9:
                hint = ": the denominator needs k once per vocabulary entry, k * vocab_size"
            raise CheckFailed(
                f"add_k_prob({count_hw}, {count_h}, k={k}, vocab_size={vocab_size}): expected "
                f"{expected:.6f}, got {got:.6f}{hint}"
            )
    counts = np.array([3.0, 0.0, 1.0])
    dist = np.asarray(fn(counts, counts.sum(), 0.1, 3))
    if dist.shape != (3,) or abs(dist.sum() - 1) > 1e-9:
        raise CheckFailed(f"over a whole vocabulary add-k must sum to 1; got {dist}")
    print(f"add_k_prob passes all {len(cases) + 1} checks.")


@exercise()
def check_continuation_counts(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(ids, vocab_size)``: the number of distinct left neighbours of each token."""
    cases = [
        ([0, 1, 0, 1, 2], 3, [1, 1, 1]),
        ([0, 2, 1, 2, 2, 2], 4, [0, 1, 3, 0]),  # 2 follows 0, 1 and 2 (twice); 3 never occurs
    ]
    rng = np.random.default_rng(seed)  # and one drawn afresh
    ids = rng.integers(0, 6, size=int(rng.integers(2, 40))).tolist()
    cases.append((ids, 7, [len({a for a, b in zip(ids, ids[1:]) if b == w})  # noqa: B905
                           for w in range(7)]))
    for ids, vocab_size, expected in cases:
        got = np.asarray(fn(np.array(ids), vocab_size))
        if got.shape != (vocab_size,):
            raise CheckFailed(f"expected shape ({vocab_size},), got {got.shape}")
        if not np.array_equal(got, expected):
            raw = np.bincount(np.array(ids[1:]), minlength=vocab_size)
            hint = ": count distinct left neighbours, not occurrences" if np.array_equal(
                got, raw) else ""
            raise CheckFailed(
                f"continuation_counts({ids}, {vocab_size}): expected {expected}, "
                f"got {got.tolist()}{hint}"
            )
    print(f"continuation_counts passes all {len(cases)} checks.")


@exercise("labgpt.ngram.NGramLM.perplexity")
def check_perplexity(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(probs) -> float``: the perplexity of the probabilities a model gave each token
    of a text, exp of the mean negative log-probability."""
    cases = [np.array([0.5, 0.5]), np.full(10, 1 / 65), np.array([0.9, 0.1, 0.5, 0.25]),
             np.full(2000, 1e-3)]  # the last one underflows if the probabilities are multiplied
    cases.append(np.random.default_rng(seed).uniform(1e-4, 1, size=50))  # one drawn afresh
    for probs in cases:
        expected = float(np.exp(-np.log(probs).mean()))
        got = float(fn(probs.copy()))
        if np.isfinite(got) and abs(got - expected) <= 1e-6 * expected:
            continue
        described = f"{len(probs)} probabilities starting {np.round(probs[:3], 4).tolist()}"
        hint = ""
        if abs(got - 1 / probs.mean()) < 1e-6 * expected:
            hint = ("; that is one over the *arithmetic* mean probability: perplexity is "
                    "exp(-mean(log p)), one over the geometric mean")
        elif abs(got + np.log(probs).mean()) < 1e-9:
            hint = "; that is the cross-entropy: exponentiate it"
        elif not np.isfinite(got) or got == 0:
            hint = ("; multiplying thousands of probabilities underflows to 0: average the "
                    "logs instead")
        elif abs(np.log(got) + np.log(probs).sum()) < 1e-6:
            hint = "; average the negative log-probs over the tokens, do not sum them"
        raise CheckFailed(f"perplexity of {described}: expected {expected:.6g}, "
                          f"got {got:.6g}{hint}")
    print(f"perplexity passes all {len(cases)} checks.")
