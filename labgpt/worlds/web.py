"""A small synthetic "web" in which tasks occur naturally, for zero-shot and few-shot prompting.

GPT-2's claim is that a language model trained on enough varied text meets tasks in the wild
(WebText holds sentences like ``"I'm not the cleverest man in the world, but like they say in
French: Je ne suis pas un imbecile"``) and so learns to perform them with no fine-tuning. This
world makes that claim checkable on a CPU. Its documents are plain prose about a few people,
places and things, and four kinds of document that happen to carry a task:

* ``translate``: prose that mentions the French word for an English one
  (``the french word for cat is chat .``);
* ``qa``: short passages of facts, sometimes followed by a question about them and its answer;
* ``reverse``: lists of numbers, sometimes followed by the same list backwards;
* ``summary``: little stories, sometimes followed by a one-word ``tl;dr`` line.

Each task is written in several phrasings; one more phrasing per task never occurs in the web
and is kept for evaluation, so a model is asked the way a user would ask, not the way it
memorised. Some documents are lists, several items of one task in one phrasing (a vocabulary
list, a page of exercises): the repeated structure few-shot prompts imitate.
:func:`web_documents` writes the web; ``with_tasks=False`` writes the same documents with every
task-bearing sentence replaced by prose (the data ablation): the model trained on it has seen
the same facts, words and lists, but never a task being done.

Each task owns its generator, its prompts and its scorer (:class:`Task`); the GPT-2 and GPT-3
chapters prompt the same trained family (:mod:`labgpt.web_family`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import regex
import torch

from labgpt.tokenization import WordTokenizer

# --- The world's things ----------------------------------------------------------------------
FRENCH = {  # a toy English-French lexicon: 40 nouns
    "cat": "chat", "dog": "chien", "house": "maison", "bread": "pain", "water": "eau",
    "book": "livre", "tree": "arbre", "car": "voiture", "apple": "pomme", "horse": "cheval",
    "fish": "poisson", "bird": "oiseau", "milk": "lait", "cheese": "fromage", "sun": "soleil",
    "moon": "lune", "sea": "mer", "door": "porte", "chair": "chaise", "flower": "fleur",
    "hat": "chapeau", "boat": "bateau", "king": "roi", "queen": "reine", "road": "route",
    "garden": "jardin", "window": "fenetre", "cake": "gateau", "egg": "oeuf", "wine": "vin",
    "friend": "ami", "child": "enfant", "school": "ecole", "key": "cle", "cup": "tasse",
    "bed": "lit", "star": "etoile", "snow": "neige", "wolf": "loup", "mouse": "souris",
}
NOUNS = tuple(FRENCH)
PEOPLE = ("anna", "tom", "eve", "max", "lea", "sam", "ida", "ben", "zoe", "leo", "mia", "jack",
          "rosa", "omar", "nina", "paul")
CITIES = ("paris", "rome", "oslo", "lima", "cairo", "delhi", "tokyo", "berlin", "madrid",
          "dublin", "vienna", "quito")
DIGITS = tuple("123456789")

PROSE = (  # everyday sentences; they also carry the words the held-out prompts use
    "the {n} is near the {n} .", "i like the {n} and the {n} .", "we saw a {n} by the {n} .",
    "how do you like the {n} ?", "you say the {n} is old .", "{p} has a {n} .",
    "{p} went to {c} with a {n} .", "the {n} in {c} is big .", "{p} and {p} live in the city .",
    "which {n} do you like ?", "{p} reads a book about the {n} .", "the other way is long .",
    "in the end the {n} was fine .", "from {c} to {c} is a long road .",
    "the text is about a {n} .", "{p} says the {n} is new .",
)


def _fill(rng: random.Random, template: str) -> str:
    """Fill a template's ``{n}`` (things), ``{p}`` (people) and ``{c}`` (cities) slots, each
    with its own draw; other slots are left for the caller."""
    for key, pool in (("{n}", NOUNS), ("{p}", PEOPLE), ("{c}", CITIES)):
        while key in template:
            template = template.replace(key, rng.choice(pool), 1)
    return template


def an_articles(text: str) -> str:
    """``a`` before a vowel becomes ``an``."""
    return regex.sub(r"\ba (?=[aeiou])", "an ", text)  # "an apple", "an egg"


def prose(rng: random.Random, sentences: int) -> str:
    return " ".join(_fill(rng, rng.choice(PROSE)) for _ in range(sentences))


# --- Tasks -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    """One evaluation item, as words: the document it is about (``body``, maybe empty), the
    input (``x``, maybe empty), the whole prompt in natural language (``context``: the body,
    then the phrasing up to its answer), the right answer, and the candidates it is compared
    with (empty for a task scored by generation)."""

    body: list[str]
    x: list[str]
    context: list[str]
    answer: list[str]
    candidates: list[list[str]]

    @property
    def label(self) -> int:
        return self.candidates.index(self.answer)


@dataclass(frozen=True)
class Document:
    """A web document: its text without the task, and the task-bearing sentence after it."""

    body: str
    task: str


@dataclass(frozen=True)
class Task:
    """A task of the web: how it occurs in documents, how it is asked, how it is scored.

    ``phrasings``: the ways the web writes it (templates over ``{x}``, the input, and ``{y}``,
    the answer); ``held_out``: the phrasing kept for evaluation, never in the web.
    ``document(rng, phrasing=None)`` draws a web document (in ``phrasing``, default: one of
    the web's at random); ``item(rng)`` draws ``(body, x, y, candidates)``
    for evaluation. ``scoring`` is ``"choice"`` (the most likely candidate) or ``"generate"``
    (greedy decoding, exact match). ``standalone``: the task sentence makes sense without its
    document's body (a translation does; a question about a passage does not), so list
    documents write it alone."""

    name: str
    phrasings: tuple[str, ...]
    held_out: str
    document: Callable[..., Document]
    item: Callable[[random.Random], tuple[str, str, str, list[str]]]
    scoring: str
    chance: float
    description: str
    standalone: bool = False

    def example(self, rng: random.Random, phrasing: str | None = None) -> Example:
        """An evaluation example in ``phrasing`` (default: the held-out one): the body, then
        the phrasing up to its answer."""
        body, x, y, candidates = self.item(rng)
        template = phrasing or self.held_out
        before = template.split("{y}")[0].replace("{x}", x)
        return Example(an_articles(body).split(), x.split(),
                       an_articles(f"{body} {before}").split(), y.split(),
                       [c.split() for c in candidates])


def fill(template: str, x: str, y: str) -> str:
    """A phrasing with its input ``{x}`` and answer ``{y}`` written in."""
    return template.replace("{x}", x).replace("{y}", y)


def _phrase(rng: random.Random, phrasings: tuple[str, ...], x: str, y: str,
            phrasing: str | None = None) -> str:
    return fill(phrasing or rng.choice(phrasings), x, y)


TRANSLATE_PHRASINGS = ("the french word for {x} is {y} .", "in french , {x} is {y} .",
                       "{x} , or {y} as they say in france .", "they call a {x} {y} in french .")


def _translate_doc(rng: random.Random, phrasing: str | None = None) -> Document:
    noun = rng.choice(NOUNS)
    body = _fill(rng, rng.choice(("we saw a {x} by the {n} .", "{p} has a {x} .",
                                  "the {x} in {c} is big .", "i like the {x} .")))
    return Document(body.replace("{x}", noun), _phrase(rng, TRANSLATE_PHRASINGS, noun,
                                                        FRENCH[noun], phrasing))


def _translate_item(rng: random.Random):
    noun = rng.choice(NOUNS)
    return "", noun, FRENCH[noun], sorted(FRENCH.values())


QA_PHRASINGS = ("where does {x} live ? in {y} .", "what city is {x} from ? {y} .",
                "{x} lives in which city ? {y} .", "where is the home of {x} ? {y} .")


def _facts(rng: random.Random) -> tuple[str, list[str], list[str]]:
    people = rng.sample(PEOPLE, 3)
    cities = rng.sample(CITIES, 3)
    facts = [f"{p} lives in {c} ." for p, c in zip(people, cities, strict=True)]
    facts.append(f"{rng.choice(people)} has a {rng.choice(NOUNS)} .")
    rng.shuffle(facts)
    return " ".join(facts), people, cities


def _qa_doc(rng: random.Random, phrasing: str | None = None) -> Document:
    body, people, cities = _facts(rng)
    i = rng.randrange(3)
    return Document(body, _phrase(rng, QA_PHRASINGS, people[i], cities[i], phrasing))


def _qa_item(rng: random.Random):
    body, people, cities = _facts(rng)
    i = rng.randrange(3)
    return body, people[i], cities[i], sorted(cities)


REVERSE_PHRASINGS = ("backwards they read {y} .", "reversed : {y} .",
                     "read from the end they are {y} .", "the other way round : {y} .")


def _numbers(rng: random.Random, lo: int = 2, hi: int = 5) -> list[str]:
    return [rng.choice(DIGITS) for _ in range(rng.randint(lo, hi))]


def _reverse_doc(rng: random.Random, phrasing: str | None = None) -> Document:
    digits = _numbers(rng)
    body = f"{rng.choice(PEOPLE)} wrote the numbers {' '.join(digits)} ."
    return Document(body, _phrase(rng, REVERSE_PHRASINGS, "", " ".join(digits[::-1]),
                                  phrasing))


def _reverse_item(rng: random.Random):
    digits = _numbers(rng, 3, 3)
    body = f"{rng.choice(PEOPLE)} wrote the numbers {' '.join(digits)} ."
    return body, "", " ".join(digits[::-1]), []


SUMMARY_PHRASINGS = ("tl;dr : the {y} .", "in short , it is about the {y} .",
                     "all in all : the {y} .", "the text is about the {y} .")
STORY = ("the {t} ran to the {n} .", "a {t} sat by the {n} .", "{p} fed the {t} .",
         "the {t} was happy .", "{p} saw the {t} in {c} .")


def _story(rng: random.Random) -> tuple[str, str, list[str]]:
    """Three to four sentences: two or three about the topic, one about each of two others."""
    topic, *others = rng.sample(NOUNS, 3)
    lines = [rng.choice(STORY).replace("{t}", topic) for _ in range(rng.randint(2, 3))]
    lines += [rng.choice(STORY).replace("{t}", o) for o in others]
    rng.shuffle(lines)
    return " ".join(_fill(rng, s) for s in lines), topic, [topic, *others]


def _summary_doc(rng: random.Random, phrasing: str | None = None) -> Document:
    body, topic, _ = _story(rng)
    return Document(body, _phrase(rng, SUMMARY_PHRASINGS, "", topic, phrasing))


def _summary_item(rng: random.Random):
    body, topic, nouns = _story(rng)
    return body, "", topic, sorted(nouns)


TASKS: dict[str, Task] = {t.name: t for t in [
    Task("translate", TRANSLATE_PHRASINGS, "{x} in french is {y}",
         _translate_doc, _translate_item, "choice", 1 / len(FRENCH),
         "English to French, one word; the right French word among all 40", standalone=True),
    Task("qa", QA_PHRASINGS, "in which city does {x} live ? {y}", _qa_doc, _qa_item,
         "choice", 1 / 3, "a passage of facts, then a question; the right city among its 3"),
    Task("reverse", REVERSE_PHRASINGS, "from the end : {y}", _reverse_doc, _reverse_item,
         "generate", (1 / 9) ** 3, "three digits backwards, generated greedily, exact match"),
    Task("summary", SUMMARY_PHRASINGS, "in short : the {y}", _summary_doc, _summary_item,
         "choice", 1 / 3, "a story's topic (the thing it mentions most) among its 3 things"),
]}


# --- The web ---------------------------------------------------------------------------------
END = "<eot>"  # between documents
TASK_SHARE = 0.65  # of documents that are one of the task kinds
LIST_SHARE = 0.15  # of documents that are lists: several items of one task, one phrasing
CARRY = 0.7  # of task documents that carry their task-bearing sentence


def web_documents(n: int, seed: int = 0, with_tasks: bool = True) -> list[str]:
    """``n`` documents. A share ``TASK_SHARE`` are task documents, split evenly between the
    tasks, a share ``CARRY`` of them carrying their task-bearing sentence; a share
    ``LIST_SHARE`` are lists, three to five items of one task in one phrasing (a vocabulary
    list, a page of exercises: the repeated structure that few-shot prompts imitate); the rest
    are prose. ``with_tasks=False`` draws exactly the same documents with every task-bearing
    sentence replaced by a sentence of prose (the same amount of text, no task performed)."""
    rng, filler = random.Random(seed), random.Random(seed + 1)
    docs = []
    names = list(TASKS)

    def carried(doc: Document) -> str:  # the ablation puts prose in the task sentence's place
        return doc.task if with_tasks else prose(filler, 1)

    for _ in range(n):
        lead = prose(rng, rng.randint(1, 2))
        kind = rng.random()
        if kind < TASK_SHARE:
            doc = TASKS[rng.choice(names)].document(rng)
            if rng.random() < CARRY:  # this one carries its task
                docs.append(f"{lead} {doc.body} {carried(doc)}")
            else:
                docs.append(f"{lead} {doc.body}")
        elif kind < TASK_SHARE + LIST_SHARE:
            task = TASKS[rng.choice(names)]
            phrasing = rng.choice(task.phrasings)
            items = [task.document(rng, phrasing) for _ in range(rng.randint(3, 5))]
            bodies = [""] * len(items) if task.standalone else [d.body for d in items]
            docs.append(lead + "".join(f" {b} {carried(d)}" for b, d in zip(bodies, items,
                                                                             strict=True)))
        else:
            docs.append(lead + " " + prose(rng, rng.randint(1, 3)))
    return [an_articles(" ".join(d.split())) for d in docs]


@lru_cache(maxsize=64)
def _pattern(phrasing: str) -> regex.Pattern:
    """A phrasing as a regular expression: any word for ``{x}``, any words for ``{y}``."""
    text = regex.escape(phrasing.rstrip(" ."))
    return regex.compile(text.replace(r"\{x\}", r"\S+").replace(r"\{y\}", r"[^.?:]+"))


def tasks_in(document: str) -> list[str]:
    """The tasks whose web phrasings occur in ``document`` (for counting, and for checking the
    ablation has none)."""
    return [name for name, task in TASKS.items()
            if any(_pattern(p).search(document) for p in task.phrasings)]


def vocabulary() -> list[str]:
    """Every word the world writes, the held-out prompts' included, sorted."""
    words = set(NOUNS) | set(FRENCH.values()) | set(PEOPLE) | set(CITIES) | set(DIGITS)
    templates = PROSE + STORY + ("we saw a by the", "wrote the numbers", "lives in has an")
    for task in TASKS.values():
        templates += task.phrasings + (task.held_out,)
    for text in templates:
        words.update(w for w in text.split() if not w.startswith("{"))
    return sorted(words)


@lru_cache(maxsize=1)
def tokenizer() -> WordTokenizer:
    """The world's words (no ``<unk>``: every word is known) and the end-of-document mark."""
    return WordTokenizer(vocabulary() + ["an"], unk=False, specials=[END])


def encode(documents: list[str]) -> torch.Tensor:
    """Token ids of ``documents``, each followed by ``<eot>``."""
    tok = tokenizer()
    end = tok.encode([END])
    return torch.tensor([i for d in documents for i in tok.encode(d.split()) + end])
