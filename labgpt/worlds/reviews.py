"""A world of short film reviews, where what pre-training teaches is visible.

Every review is written with adjectives of one polarity. Unlabelled text (for pre-training)
uses all 48 adjectives, so a language model can learn which adjectives go together; the
labelled examples a classifier is fine-tuned on use only half of them, the ``"seen"`` ones, and
the test reviews only the other half. A classifier trained from scratch has never met a test
adjective, so it can only guess; a pre-trained one knows which seen adjectives each unseen one
keeps company with. Some unlabelled reviews end with a verdict (``"in short , very good ."``),
the kind of text that lets a language model classify with no labels at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import regex
import torch

from labgpt.tokenization import WordTokenizer

POSITIVE = (
    "great", "wonderful", "brilliant", "moving", "charming", "delightful", "superb",
    "gripping", "funny", "beautiful", "clever", "touching", "stunning", "witty", "fresh",
    "powerful", "engaging", "smart", "lovely", "excellent", "warm", "elegant", "vivid", "tender",
)
NEGATIVE = (
    "dull", "awful", "boring", "tedious", "clumsy", "bland", "weak", "messy", "silly", "flat",
    "lifeless", "tiresome", "stale", "shallow", "predictable", "forgettable", "pointless",
    "dreary", "sloppy", "lame", "poor", "terrible", "horrible", "hollow",
)
NOUNS = ("film", "movie", "story", "plot", "script", "cast", "acting", "ending", "score",
         "dialogue", "direction", "pacing", "camera", "lead", "soundtrack", "premise")
VERDICTS = ("bad", "good")  # a review's verdict word, by label: 0 negative, 1 positive
TEMPLATES = (
    "the {n} is {a} and {a} .",
    "a {a} , {a} {n} .",
    "the {n} feels {a} , the {n} {a} .",
    "what a {a} {n} , so {a} !",
    "i found the {n} {a} and the {n} {a} .",
    "{a} {n} , {a} {n} .",
    "it has a {a} {n} and a {a} {n} .",
    "the {n} stays {a} , even {a} .",
)
VERDICT = "in short , very {v} ."


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 1 positive, 0 negative


def adjectives(label: int, part: str = "all") -> tuple[str, ...]:
    """The adjectives of polarity ``label``: ``"seen"`` (the first half, the only ones labelled
    examples use), ``"unseen"`` (the second half, the test's) or ``"all"``."""
    words = POSITIVE if label == 1 else NEGATIVE
    half = len(words) // 2
    parts = {"seen": words[:half], "unseen": words[half:], "all": words}
    if part not in parts:
        raise ValueError(f"part must be one of {sorted(parts)}, got {part!r}")
    return parts[part]


def _sentence(rng: random.Random, words: tuple[str, ...]) -> str:
    template = rng.choice(TEMPLATES)
    while "{a}" in template or "{n}" in template:
        template = template.replace("{a}", rng.choice(words), 1).replace(
            "{n}", rng.choice(NOUNS), 1)
    return regex.sub(r"\ba (?=[aeiou])", "an ", template)  # "an elegant", "an ending"


def review(rng: random.Random, label: int, part: str = "all", sentences: int = 2) -> str:
    """One review of ``sentences`` sentences, every adjective of polarity ``label``."""
    words = adjectives(label, part)
    return " ".join(_sentence(rng, words) for _ in range(sentences))


def unlabelled_text(n_reviews: int, seed: int = 0, verdict_rate: float = 0.3) -> str:
    """Pre-training text: ``n_reviews`` reviews of 1-3 sentences over all adjectives, one per
    line, a fraction ``verdict_rate`` of them ending with a verdict sentence."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_reviews):
        label = rng.randrange(2)
        text = review(rng, label, "all", sentences=rng.randint(1, 3))
        if rng.random() < verdict_rate:
            text += " " + VERDICT.format(v=VERDICTS[label])
        lines.append(text)
    return "\n".join(lines) + "\n"


def labelled(n: int, part: str, seed: int = 0) -> list[Review]:
    """``n`` labelled two-sentence reviews, half of each polarity (shuffled), using the
    adjectives of ``part`` only."""
    rng = random.Random(seed)
    out = [Review(review(rng, i % 2, part), i % 2) for i in range(n)]
    rng.shuffle(out)
    return out


def vocabulary() -> list[str]:
    """Every word and mark the world writes, sorted."""
    words = set(POSITIVE + NEGATIVE + NOUNS + VERDICTS + ("an",))
    for text in TEMPLATES + (VERDICT,):
        words.update(w for w in text.split() if not w.startswith("{"))
    return sorted(words)


END = "<eot>"  # between reviews in the pre-training stream


def tokenizer() -> WordTokenizer:
    """The world's words, no ``<unk>`` (every word is known), and the end-of-review marker."""
    return WordTokenizer(vocabulary(), unk=False, specials=[END])


def encode_stream(text: str) -> torch.Tensor:
    """Token ids of unlabelled text, one review per line, each followed by ``<eot>``."""
    tok = tokenizer()
    end = tok.encode([END])
    return torch.tensor([i for line in text.splitlines() for i in tok.encode(line.split()) + end])


# --- GPT-1's four task formats, on this world -------------------------------------------------
# Each draws one example as (texts, label): the texts as word lists, and the label. ``part``
# picks the adjectives, as in :func:`labelled`.

def classification_example(rng: random.Random, part: str = "all") -> tuple[list[list[str]], int]:
    """One review; label 1 when positive."""
    label = rng.randrange(2)
    return [review(rng, label, part).split()], label


def entailment_example(rng: random.Random, part: str = "all") -> tuple[list[list[str]], int]:
    """Premise: a review; hypothesis: a verdict. Label 1 when the verdict follows."""
    label, verdict = rng.randrange(2), rng.randrange(2)
    premise = review(rng, label, part).split()
    return [premise, VERDICT.format(v=VERDICTS[verdict]).split()], int(label == verdict)


def similarity_example(rng: random.Random, part: str = "all") -> tuple[list[list[str]], int]:
    """Two reviews; label 1 when they share a polarity."""
    a, b = rng.randrange(2), rng.randrange(2)
    return [review(rng, a, part).split(), review(rng, b, part).split()], int(a == b)


def choice_example(rng: random.Random, part: str = "all",
                   n_answers: int = 4) -> tuple[list[list[str]], int]:
    """A review's first sentence and ``n_answers`` candidate next sentences, one of the
    review's polarity and the others of the opposite one; label: the index of the one that
    fits."""
    label = rng.randrange(2)
    context = review(rng, label, part, sentences=1).split()
    right = rng.randrange(n_answers)
    answers = [review(rng, label if i == right else 1 - label, part, sentences=1).split()
               for i in range(n_answers)]
    return [context, *answers], right


TASKS = {  # GPT-1's task formats (labgpt.fine_tuning.FORMATS) -> an example maker
    "classification": classification_example,
    "entailment": entailment_example,
    "similarity": similarity_example,
    "multiple choice": choice_example,
}
