"""Checkers for the tokens chapter (byte-level BPE)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from labgpt.bpe import merge
from labgpt.checks.core import CheckFailed, exercise


@exercise("labgpt.bpe.merge")
def check_merge(fn: Callable[[list[int], tuple[int, int], int], list[int]],
                seed: int = 0) -> None:
    """Check ``fn(ids, pair, new_id)``: replace each occurrence of ``pair``, left to right."""
    cases = [
        ([1, 2, 3, 1, 2], (1, 2), 9, [9, 3, 9]),
        ([5, 5, 5], (5, 5), 256, [256, 5]),
        ([5, 5, 5, 5], (5, 5), 256, [256, 256]),
        ([1, 3, 2], (1, 2), 9, [1, 3, 2]),
        ([1], (1, 2), 9, [1]),
        ([], (1, 2), 9, []),
        ([2, 1], (1, 2), 9, [2, 1]),
    ]
    rng = random.Random(seed)  # and one drawn afresh
    ids = [rng.randrange(4) for _ in range(rng.randrange(2, 40))]
    cases.append((ids, (ids[0], ids[1]), 256, merge(ids, (ids[0], ids[1]), 256)))
    for ids, pair, new_id, expected in cases:
        original = list(ids)
        got = fn(ids, pair, new_id)
        if ids != original:
            raise CheckFailed(f"apply_merge modified its input list {original} in place")
        if list(got) != expected:
            repeated = len(set(ids)) == 1
            hint = " (scan left to right, and skip both ids of a merged pair)" if repeated else ""
            raise CheckFailed(
                f"merging {pair} -> {new_id} in {ids}: expected {expected}, got {got}{hint}"
            )
    print(f"apply_merge passes all {len(cases)} checks.")


@exercise("labgpt.bpe.pair_counts")
def check_pair_counts(fn: Callable[[list[list[int]]], dict], seed: int = 0) -> None:
    """Check ``fn(chunks) -> {pair: count}`` over a list of id lists."""
    cases = [
        ([[1, 2, 3]], {(1, 2): 1, (2, 3): 1}),
        ([[1, 2], [2, 1, 2]], {(1, 2): 2, (2, 1): 1}),
        ([[7, 7, 7]], {(7, 7): 2}),
        ([[1], [2]], {}),
    ]
    rng = random.Random(seed)  # and one drawn afresh
    chunks = [[rng.randrange(5) for _ in range(rng.randrange(1, 9))] for _ in range(4)]
    counts = Counter()
    for chunk in chunks:
        counts.update(zip(chunk, chunk[1:]))  # noqa: B905
    cases.append((chunks, dict(counts)))
    for chunks, expected in cases:
        got = dict(fn(chunks))
        crossing = {(a[-1], b[0]) for a, b in zip(chunks, chunks[1:])} - set(expected)  # noqa: B905
        if crossing & set(got):
            raise CheckFailed(
                f"counting pairs in {chunks}: got {got}, which counts a pair that spans two "
                "chunks; pairs must not cross from one chunk to the next"
            )
        if got != expected:
            missing = {p: c for p, c in expected.items() if got.get(p) != c}
            raise CheckFailed(
                f"counting pairs in {chunks}: expected {expected}, got {got}; wrong or missing: "
                f"{missing}"
            )
    print(f"pair_frequencies passes all {len(cases)} checks.")


@exercise("labgpt.bpe.BPETokenizer.decode")
def check_decode(fn: Callable[[list[int], dict[int, bytes]], str], seed: int = 0) -> None:
    """Check ``fn(ids, vocab) -> str``, where ``vocab`` maps each token id to its bytes."""
    from labgpt.bpe import BPETokenizer

    bytes_only = BPETokenizer({})  # 256 single-byte tokens: a Chinese character is 3 tokens
    trained = BPETokenizer.train("床前明月光，疑是地上霜。 hello world, hello there " * 8, 290)
    cases = [(trained, "hello world"), (bytes_only, "床前明月光"), (trained, "疑是地上霜 hello"),
             (trained, "naïve café")]
    rng = random.Random(seed)  # and a text drawn afresh
    letters = "床前明月光疑是地上霜 hello worldï"
    cases.append((trained, "".join(rng.choice(letters) for _ in range(12))))
    for tokenizer, text in cases:
        ids = tokenizer.encode(text)
        got = fn(ids, dict(tokenizer.vocab))
        if not isinstance(got, str):
            raise CheckFailed(f"decode should return a str, got {type(got).__name__}")
        if got != text:
            per_token = "".join(tokenizer.vocab[i].decode("utf-8", errors="replace") for i in ids)
            hint = ""
            if got == per_token:
                hint = ("; you decoded each token on its own, but a character's 2-4 UTF-8 bytes "
                        "can be split across tokens: join all the bytes first, decode once")
            raise CheckFailed(f"decode({ids}) should give {text!r}, got {got!r}{hint}")
    try:
        got = fn([0xE5, 0xBA], dict(bytes_only.vocab))  # the first 2 of 床's 3 bytes
    except UnicodeDecodeError:
        raise CheckFailed("decode raised UnicodeDecodeError on bytes that are not valid UTF-8 "
                          "(a model can generate any token sequence): decode with "
                          "errors='replace'") from None
    if got != "\ufffd":
        raise CheckFailed(f"invalid UTF-8 should decode to one replacement character '\\ufffd' "
                          f"(errors='replace'), got {got!r}")
    print(f"decode passes all {len(cases) + 1} checks.")
