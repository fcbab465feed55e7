"""Checkers for the embeddings chapter (Bengio's MLP, word2vec, PPMI)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from labgpt.checks.core import CheckFailed, check_close, check_scalar, exercise


@exercise("labgpt.word2vec.negative_sampling_loss")
def check_negative_sampling_loss(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(center (b, d), positive (b, d), negatives (b, k, d))`` -> scalar loss."""
    from labgpt.word2vec import negative_sampling_loss

    generator = torch.Generator().manual_seed(seed)
    for b, k, d in ((4, 3, 8), (1, 5, 2), (16, 1, 16)):
        center = torch.randn(b, d, generator=generator, dtype=torch.double)
        positive = torch.randn(b, d, generator=generator, dtype=torch.double)
        negatives = torch.randn(b, k, d, generator=generator, dtype=torch.double)
        got = fn(center, positive, negatives)
        check_scalar(got, "ns_loss", ": take the mean over the batch")
        expected = negative_sampling_loss(center, positive, negatives)
        if torch.isclose(got, expected * b, rtol=1e-6) and b > 1:
            raise CheckFailed("ns_loss returns the sum over the batch; take the mean")
        check_close(got, expected, f"ns_loss with b={b}, k={k}, d={d}", atol=1e-8)
    huge = torch.full((2, 4), 30.0, dtype=torch.double)
    got = fn(-huge, huge, huge[:, None].expand(2, 3, 4).clone())
    if not torch.isfinite(got):
        raise CheckFailed("ns_loss overflows for large scores: use F.logsigmoid")
    print("ns_loss passes all 4 checks.")


@exercise("labgpt.word2vec.cosine_similarities")
def check_cosine_similarities(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(vectors (n, d), query (d,)) -> (n,)`` cosine similarities (NumPy arrays)."""
    from labgpt.word2vec import cosine_similarities

    rng = np.random.default_rng(seed)
    for n, d in ((5, 3), (20, 16), (1, 2)):
        vectors = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=(n, 1))
        query = rng.normal(size=d) * 7
        got = np.asarray(fn(vectors.copy(), query.copy()), dtype=float)
        expected = cosine_similarities(vectors, query)
        if got.shape != (n,):
            raise CheckFailed(f"expected shape ({n},), one similarity per row, got {got.shape}")
        if np.allclose(got, expected, atol=1e-8):
            continue
        hint = ""
        if np.allclose(got, vectors @ query):
            hint = ": that is the dot product; divide by both vectors' lengths"
        elif np.allclose(got * np.linalg.norm(query), vectors @ query / np.linalg.norm(
                vectors, axis=1)) or np.allclose(got, vectors @ query / np.linalg.norm(query)):
            hint = ": normalise both the rows and the query"
        raise CheckFailed(f"cosine similarities of {n} vectors of size {d}: expected "
                          f"{np.round(expected, 4).tolist()}, got "
                          f"{np.round(got, 4).tolist()}{hint}")
    print("cosine_similarities passes all 3 checks.")


@exercise("labgpt.word2vec.ppmi")
def check_ppmi(fn: Callable, seed: int = 0) -> None:
    """Check ``fn(cooc (V, C)) -> (V, C)`` positive PMI of a co-occurrence count matrix."""
    from labgpt.word2vec import ppmi

    cases = [np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 4.0], [1.0, 4.0, 0.0]]),
             np.array([[10.0, 0.0], [1.0, 3.0], [0.0, 5.0]])]
    counts = np.random.default_rng(seed).integers(0, 5, size=(4, 6)).astype(float)
    counts[:, 0] += 1  # every word and every context seen at least once
    counts[0, :] += 1
    cases.append(counts)  # drawn afresh
    for cooc in cases:
        got = np.asarray(fn(cooc.copy()), dtype=float)
        expected = ppmi(cooc)
        if got.shape != cooc.shape:
            raise CheckFailed(f"expected shape {cooc.shape}, got {got.shape}")
        if not np.isfinite(got).all():
            raise CheckFailed("ppmi contains -inf or NaN: a pair never seen (count 0) has "
                              "log 0 = -inf, and positive PMI makes it 0")
        if (got < 0).any():
            raise CheckFailed("ppmi has negative entries: positive PMI clips them to 0")
        if not np.allclose(got, expected, atol=1e-9):
            raise CheckFailed(f"ppmi of {cooc.tolist()}: expected {np.round(expected, 4).tolist()}"
                              f", got {np.round(got, 4).tolist()} (PMI = log p(w,c) / (p(w) p(c)),"
                              f" each probability a count over the total)")
    print(f"ppmi passes all {len(cases)} checks.")
