"""A larger world of labelled lists, for instruction tuning: 36 kinds of three things each.

The lists are those of :mod:`labgpt.worlds.labels` (``oak : tree . rose : flower .``, half of
them labelled with the kinds' names, some swapped, half with meaningless labels), written about
more kinds, so that "a task" can be one kind and there are enough of them to tune on many and
still hold some out. A model pre-trained on the lists knows what each thing is; it has never
seen a question. The question words (:data:`QUESTION`) are in the tokenizer so that a tuned
model can be asked one: ``what is oak ?`` has the answer ``tree``.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from labgpt.tokenization import WordTokenizer
from labgpt.worlds import labels

KINDS = {kind: tuple(things.split()) for kind, things in {
    "animal": "cat dog cow", "bird": "owl duck hen", "fish": "cod trout salmon",
    "insect": "ant bee fly", "fruit": "apple pear plum", "vegetable": "carrot onion potato",
    "drink": "tea coffee milk", "meal": "breakfast lunch dinner", "color": "red blue green",
    "shape": "circle square triangle", "number": "one two three", "metal": "iron gold copper",
    "tree": "oak pine birch", "flower": "rose tulip daisy", "tool": "hammer saw drill",
    "weapon": "sword spear bow", "vehicle": "car bus train", "boat": "ship canoe yacht",
    "building": "house church tower", "room": "kitchen bedroom hall",
    "furniture": "chair table bed", "clothing": "shirt coat hat", "body": "hand foot head",
    "weather": "rain snow wind", "season": "spring summer winter",
    "day": "monday friday sunday", "month": "may june july", "planet": "mars venus jupiter",
    # the last eight are never tuned on (HELD_OUT)
    "instrument": "piano drum violin", "sport": "tennis golf football",
    "game": "chess poker checkers", "emotion": "joy anger fear", "job": "doctor farmer teacher",
    "country": "france spain japan", "city": "paris london rome", "river": "nile thames amazon",
}.items()}
HELD_OUT = tuple(KINDS)[-8:]
TUNABLE = tuple(KINDS)[:-8]
QUESTION = ("what", "is", "?")  # never in the lists


def documents(n: int, seed: int = 0) -> list[list[str]]:
    """``n`` lists of the world, written as :func:`labgpt.worlds.labels.list_document` writes
    them."""
    return labels.documents(n, seed, categories=KINDS)


@lru_cache(maxsize=1)
def tokenizer() -> WordTokenizer:
    words = [w for things in KINDS.values() for w in things] + list(KINDS)
    words += list(labels.ARBITRARY) + [":", "."] + list(QUESTION)
    return WordTokenizer(words, unk=False, specials=[labels.END])


def encode(docs: list[list[str]]) -> torch.Tensor:
    """Token ids of ``docs``, each followed by ``<eot>``."""
    return labels.encode(docs, tokenizer())


def kind_of(thing: str) -> str:
    for kind, things in KINDS.items():
        if thing in things:
            return kind
    raise ValueError(f"{thing!r} is not a thing of this world")
