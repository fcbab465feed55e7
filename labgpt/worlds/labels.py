"""A world of labelled lists: what labels mean, and what a prompt can make them mean.

Wei et al. (2023) asked whether in-context learning reads the input-label mapping from the
demonstrations or falls back on what the labels mean. This world makes that checkable. Its
words are 48 things in six categories (animals, foods, colours, places, tools, body parts), and
its documents are lists that label each thing, two categories per list:
``cat : animal . bread : food . dog : animal .``

* Half of the lists use the categories' own names as labels (*semantic* labels): a model
  learns what each thing is, its **semantic prior**.
* The other half use two words with no meaning, drawn per list from eight (``foo``, ``dax``...),
  consistently within the list: the label of a thing can only be read from the list itself
  (*semantically unrelated* labels, Wei et al.'s SUL-ICL).
* Of the semantic lists, a share (:data:`SWAPPED_SHARE`) swaps the two names throughout, as a
  quiz with the answers crossed over would: the web's labels are not always right, and a
  model can only tell from the rest of the list.

At test time a prompt shows ``k`` labelled things and asks for one more; some of its
demonstrations' labels can be flipped (:func:`labelled_prompt`). A model that predicts from its
prior answers the thing's category whatever the demonstrations say; a model that reads the
mapping from the context follows the flips.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import torch

from labgpt.tokenization import WordTokenizer

CATEGORIES = {
    "animal": ("cat", "dog", "cow", "horse", "pig", "sheep", "goat", "duck"),
    "food": ("bread", "rice", "cake", "soup", "meat", "egg", "apple", "cheese"),
    "color": ("red", "blue", "green", "yellow", "black", "white", "pink", "brown"),
    "place": ("park", "city", "beach", "forest", "river", "hill", "town", "lake"),
    "tool": ("hammer", "saw", "knife", "drill", "spoon", "brush", "needle", "axe"),
    "body": ("hand", "foot", "head", "arm", "leg", "eye", "ear", "nose"),
}
ARBITRARY = ("foo", "bar", "zap", "kip", "dax", "wug", "tup", "mib")  # labels with no meaning
SEMANTIC_SHARE = 0.5  # lists labelled with category names
SWAPPED_SHARE = 0.15  # of those, lists whose two names are swapped throughout
MIN_ITEMS, MAX_ITEMS = 4, 10
END = "<eot>"
INSTRUCTION_WORDS = ("does", "belong", "to", "?", "yes", "no")  # never in the lists


def _labelled(rng: random.Random, cats: tuple[str, str], labels: tuple[str, str], n: int,
              categories: dict[str, tuple[str, ...]]) -> list[str]:
    """``n`` things of the two categories, each followed by ``:``, its label and ``.``."""
    words = []
    for _ in range(n):
        side = rng.randrange(2)
        words += [rng.choice(categories[cats[side]]), ":", labels[side], "."]
    return words


def list_document(rng: random.Random,
                  categories: dict[str, tuple[str, ...]] = CATEGORIES) -> list[str]:
    """One document of the world: a list of 4 to 10 labelled things of two categories (of
    ``categories``: a larger world, :mod:`labgpt.worlds.kinds`, writes its lists this way)."""
    cats = tuple(rng.sample(list(categories), 2))
    if rng.random() < SEMANTIC_SHARE:
        labels = cats[::-1] if rng.random() < SWAPPED_SHARE else cats
    else:
        labels = tuple(rng.sample(ARBITRARY, 2))
    return _labelled(rng, cats, labels, rng.randint(MIN_ITEMS, MAX_ITEMS), categories)


def documents(n: int, seed: int = 0,
              categories: dict[str, tuple[str, ...]] = CATEGORIES) -> list[list[str]]:
    rng = random.Random(seed)
    return [list_document(rng, categories) for _ in range(n)]


@lru_cache(maxsize=1)
def tokenizer() -> WordTokenizer:
    """Every word of the world, and the instruction words, which no list contains: they are
    in the vocabulary the ``label_family`` record was made with (instruction tuning uses the
    larger world of :mod:`labgpt.worlds.kinds`)."""
    words = [w for things in CATEGORIES.values() for w in things]
    words += list(CATEGORIES) + list(ARBITRARY) + [":", "."] + list(INSTRUCTION_WORDS)
    return WordTokenizer(words, unk=False, specials=[END])


def encode(docs: list[list[str]], tok: WordTokenizer | None = None) -> torch.Tensor:
    """Token ids of ``docs`` (by ``tok``, this world's tokenizer by default), each followed by
    ``<eot>``."""
    tok = tok or tokenizer()
    end = tok.encode([END])
    return torch.tensor([i for d in docs for i in tok.encode(d) + end])


@dataclass
class LabelledPrompt:
    """A k-shot prompt (``words`` ends with the query thing and ``:``), the query's label
    under the unflipped mapping (``answer``: its category's name, or with arbitrary labels the
    label its category was given) and the other label (``other``)."""

    words: list[str]
    answer: str
    other: str


def labelled_prompt(rng: random.Random, k: int = 8, flipped: float = 0.0,
                    arbitrary: bool = False) -> LabelledPrompt:
    """A prompt of ``k`` demonstrations (half of each of two categories, in random order) and
    a query of one of the two. ``flipped``: the share of demonstrations shown with the other
    category's label. ``arbitrary``: labels drawn from :data:`ARBITRARY` instead of the names,
    so that no prior can help. Accuracy against ``answer`` is Wei et al.'s measure: with every
    demonstration flipped, a model that follows the demonstrations scores 0."""
    if k % 2 or k < 2:
        raise ValueError(f"k must be a positive even number, got {k}")
    if not 0.0 <= flipped <= 1.0:
        raise ValueError(f"flipped is a share in [0, 1], got {flipped}")
    cats = tuple(rng.sample(list(CATEGORIES), 2))
    labels = tuple(rng.sample(ARBITRARY, 2)) if arbitrary else cats
    sides = [0, 1] * (k // 2)
    rng.shuffle(sides)
    flips = set(rng.sample(range(k), k)[:round(flipped * k)])  # same draws for every share
    words = []
    for i, side in enumerate(sides):
        shown = 1 - side if i in flips else side
        words += [rng.choice(CATEGORIES[cats[side]]), ":", labels[shown], "."]
    side = rng.randrange(2)
    words += [rng.choice(CATEGORIES[cats[side]]), ":"]
    return LabelledPrompt(words, labels[side], labels[1 - side])
