"""Byte-level byte-pair encoding (BPE): learn merges from text, then encode and decode with them.

Text is first pre-split with GPT-2's regular expression into chunks (words with their leading
space, runs of digits, punctuation, whitespace), so no merge ever crosses a chunk boundary.
Each chunk becomes its UTF-8 bytes, ids 0-255, and training repeats: find the most frequent
adjacent pair of ids, give it the next free id, replace it everywhere.

**Tie-breaking rule** (shared by both trainers, so they learn identical merges): among pairs
with the highest count, the smallest pair wins, comparing ``(left id, right id)``.

Two trainers:

- :func:`train_bpe_naive`, the textbook loop: recount every pair of every chunk after each
  merge. Easy to check, and slow (quadratic in practice).
- :func:`train_bpe`, the same merges, fast: it counts each *distinct* chunk once, weighted by
  how often it occurs, and after a merge updates the pair counts of only the chunks that
  contained the merged pair.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import regex
import tiktoken

from labgpt.tokenization import GPT2_PATTERN

Pair = tuple[int, int]

_SPLIT = regex.compile(GPT2_PATTERN)


def split_chunks(text: str) -> list[str]:
    """Pre-split ``text`` with GPT-2's pattern (merges never cross these boundaries)."""
    return _SPLIT.findall(text)


def pair_counts(ids: list[int], counts: Counter | None = None, weight: int = 1) -> Counter:
    """Add ``weight`` to the count of every adjacent pair in ``ids``; return the counter."""
    counts = Counter() if counts is None else counts
    for pair in zip(ids, ids[1:]):  # noqa: B905 (lengths differ by one on purpose)
        counts[pair] += weight
    return counts


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids``, left to right."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def best_pair(counts: dict[Pair, int]) -> Pair:
    """The most frequent pair; ties go to the smallest (left id, right id)."""
    return min(counts, key=lambda pair: (-counts[pair], pair))


def _check_vocab_size(vocab_size: int) -> int:
    if vocab_size < 256:
        raise ValueError(
            f"vocab_size={vocab_size} is below 256: a byte-level BPE vocabulary starts with all "
            "256 byte values"
        )
    return vocab_size - 256


def train_bpe_naive(text: str, vocab_size: int) -> dict[Pair, int]:
    """Learn ``vocab_size - 256`` merges the slow, obvious way. Returns ``{pair: new id}``."""
    n_merges = _check_vocab_size(vocab_size)
    chunks = [list(chunk.encode("utf-8")) for chunk in split_chunks(text)]
    merges: dict[Pair, int] = {}
    for new_id in range(256, 256 + n_merges):
        counts = Counter()
        for ids in chunks:
            pair_counts(ids, counts)
        if not counts:
            break  # every chunk is a single token: nothing left to merge
        pair = best_pair(counts)
        chunks = [merge(ids, pair, new_id) for ids in chunks]
        merges[pair] = new_id
    return merges


def train_bpe(text: str, vocab_size: int) -> dict[Pair, int]:
    """Learn the same merges as :func:`train_bpe_naive`, with incremental pair counts."""
    n_merges = _check_vocab_size(vocab_size)
    if not text:
        raise ValueError("cannot train BPE on empty text")
    chunk_freq = Counter(split_chunks(text))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_freq]  # distinct chunks
    freqs = list(chunk_freq.values())
    counts: Counter = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> words that contain it
    for w, ids in enumerate(words):
        pair_counts(ids, counts, freqs[w])
        for pair in zip(ids, ids[1:]):  # noqa: B905
            where[pair].add(w)

    merges: dict[Pair, int] = {}
    for new_id in range(256, 256 + n_merges):
        if not counts:
            break
        pair = best_pair(counts)
        merges[pair] = new_id
        for w in where.pop(pair):
            old = words[w]
            new = merge(old, pair, new_id)
            # Take the word's old pairs out of the counts and put its new pairs in.
            for p, c in pair_counts(old).items():
                counts[p] -= c * freqs[w]
                if counts[p] == 0:
                    del counts[p]
            for p, c in pair_counts(new).items():
                counts[p] += c * freqs[w]
                where[p].add(w)
            words[w] = new
    return merges


class BPETokenizer:
    """Encode and decode with a set of learned merges (``{(left, right): new id}``)."""

    def __init__(self, merges: dict[Pair, int]):
        self.merges = dict(merges)
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (left, right), new_id in sorted(self.merges.items(), key=lambda item: item[1]):
            self.vocab[new_id] = self.vocab[left] + self.vocab[right]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        return cls(train_bpe(text, vocab_size))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # Apply the earliest-learned merge present in the chunk, as training did.
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, float("inf")))  # noqa: B905
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text``. Any string works: every byte is in the vocabulary."""
        out: list[int] = []
        for chunk in split_chunks(text):
            ids = self._cache.get(chunk)
            if ids is None:
                ids = self._cache[chunk] = self._encode_chunk(chunk)
            out.extend(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text for ``ids``; byte sequences that are not valid UTF-8 become U+FFFD."""
        try:
            data = b"".join(self.vocab[i] for i in ids)
        except KeyError as err:
            raise ValueError(
                f"token id {err.args[0]} is not in this vocabulary of {self.vocab_size} tokens"
            ) from None
        return data.decode("utf-8", errors="replace")

    def to_tiktoken(self, name: str = "labgpt-bpe") -> tiktoken.Encoding:
        """The same tokenizer as a ``tiktoken.Encoding`` (tiktoken's Rust encoder is faster)."""
        return tiktoken.Encoding(
            name=name,
            pat_str=GPT2_PATTERN,
            mergeable_ranks={token: i for i, token in self.vocab.items()},
            special_tokens={},
        )

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"
