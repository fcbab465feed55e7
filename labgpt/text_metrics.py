"""What generated text looks like, in numbers: diversity and repetition.

- ``distinct_n`` (Li et al., 2016): the share of a text's n-grams that are different, 1 for
  text that never repeats an n-gram, near 0 for a loop.
- ``repeated_ngrams`` (seq-rep-n, Welleck et al., 2020): the share of a text's n-grams that
  already occurred earlier in it, 0 for no repeats. With characters and n = 8 it catches a
  loop of a few words while ignoring common short sequences ("the ").

Both take a sequence of items: characters of a string, words, or token ids.
"""

from __future__ import annotations

from collections.abc import Sequence


def ngrams(items: Sequence, n: int) -> list[tuple]:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


def distinct_n(items: Sequence, n: int = 2) -> float:
    """Number of different n-grams / number of n-grams (1.0 when there are none)."""
    grams = ngrams(items, n)
    return len(set(grams)) / len(grams) if grams else 1.0


def repeated_ngrams(items: Sequence, n: int = 8) -> float:
    """Share of n-grams that already occurred earlier in ``items`` (0.0 when there are none)."""
    grams = ngrams(items, n)
    return 1 - len(set(grams)) / len(grams) if grams else 0.0
