"""Tokenizers: GPT-2's byte-level BPE (offline, through tiktoken) and a character tokenizer."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import regex
import tiktoken
import torch

from labgpt.corpus import corpus_path

# GPT-2's pre-split pattern, as tiktoken writes it for r50k_base (possessive quantifiers make it
# faster than the original regex; it splits text identically).
GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)
END_OF_TEXT = "<|endoftext|>"


def load_ranks(path) -> dict[bytes, int]:
    """Parse a ``.tiktoken`` file: one ``base64(token) rank`` pair per line."""
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


@lru_cache(maxsize=1)
def gpt2_encoding() -> tiktoken.Encoding:
    """GPT-2's tokenizer (50,257 tokens) built from the ranks shipped with labgpt, no network.

    It is the same encoding as ``tiktoken.get_encoding("gpt2")``: ``"Hello world"`` encodes to
    ``[15496, 995]`` and ``<|endoftext|>`` is token 50256.
    """
    ranks = load_ranks(corpus_path("gpt2_ranks"))
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={END_OF_TEXT: len(ranks)},
        explicit_n_vocab=len(ranks) + 1,
    )


def check_token_ids(idx: torch.Tensor, vocab_size: int) -> None:
    """Raise a ValueError naming the first id outside ``[0, vocab_size)``: an embedding
    lookup would otherwise fail with an index error far from the cause."""
    if idx.numel() and (idx.min() < 0 or idx.max() >= vocab_size):
        bad = idx[(idx < 0) | (idx >= vocab_size)][0].item()
        raise ValueError(f"token id {bad} is outside the vocabulary [0, {vocab_size})")


class CharTokenizer:
    """Maps each distinct character of a text to an id, in sorted order of the characters."""

    def __init__(self, chars: Iterable[str]):
        self.chars: list[str] = sorted(set(chars))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as err:
            position = next(i for i, ch in enumerate(text) if ch not in self.stoi)
            raise ValueError(
                f"character {err.args[0]!r} at position {position} is not in this tokenizer's "
                f"vocabulary of {self.vocab_size} characters; build the tokenizer from text "
                "that contains it"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary [0, {self.vocab_size})")
        return "".join(self.chars[i] for i in ids)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


WORD_PATTERN = r"[a-z]+(?:'[a-z]+)?|[^\sa-z]"  # lowercase words (with "'s", "'d"...) or one symbol
UNK = "<unk>"


def split_words(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words and single punctuation marks."""
    return regex.findall(WORD_PATTERN, text.lower())


class WordTokenizer:
    """Maps words to ids. Words seen fewer than ``min_count`` times share the id of ``<unk>``.

    With ``unk=False`` there is no unknown token, and encoding an unseen word is an error.
    ``specials`` are extra tokens text never contains (an end-of-text marker): they get the
    ids right after ``<unk>``.
    """

    def __init__(self, words: Iterable[str], min_count: int = 2, unk: bool = True,
                 specials: Iterable[str] = ()):
        counts = Counter(words)
        if not counts:
            raise ValueError("cannot build a word vocabulary from an empty corpus")
        specials = list(specials)
        kept = sorted(w for w, c in counts.items()
                      if c >= (min_count if unk else 1) and w not in specials)
        self.words: list[str] = ([UNK] if unk else []) + specials + kept
        self.stoi = {w: i for i, w in enumerate(self.words)}
        self.unk_id: int | None = 0 if unk else None

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, words: Iterable[str]) -> list[int]:
        if self.unk_id is not None:
            return [self.stoi.get(w, self.unk_id) for w in words]
        out = []
        for w in words:
            if w not in self.stoi:
                raise ValueError(f"unknown word {w!r}, and this tokenizer has no <unk> token")
            out.append(self.stoi[w])
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[int(i)] for i in ids]

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"
