"""The labelled-lists world and the family's prompts (labgpt.worlds.labels, label_family)."""

import random

import pytest
import torch

from labgpt import label_family
from labgpt.gpt import GPT
from labgpt.worlds import labels

THING = {t: c for c, things in labels.CATEGORIES.items() for t in things}


def triples(words):
    """(thing, label) pairs of a list written as ``thing : label .``."""
    assert len(words) % 4 == 0 and words[1::4] == [":"] * (len(words) // 4)
    assert words[3::4] == ["."] * (len(words) // 4)
    return list(zip(words[0::4], words[2::4], strict=True))


def test_documents_mix_semantic_swapped_and_meaningless_labels():
    kinds = {"semantic": 0, "swapped": 0, "arbitrary": 0}
    for doc in labels.documents(2000, seed=0):
        pairs = triples(doc)
        assert labels.MIN_ITEMS <= len(pairs) <= labels.MAX_ITEMS
        mapping = {}
        for thing, label in pairs:  # one label per category within a document
            assert mapping.setdefault(THING[thing], label) == label
        assert len(set(THING[t] for t, _ in pairs)) <= 2
        if all(label in labels.ARBITRARY for _, label in pairs):
            kinds["arbitrary"] += 1
        elif all(THING[t] == label for t, label in pairs):
            kinds["semantic"] += 1
        else:
            kinds["swapped"] += 1
    share = {k: v / 2000 for k, v in kinds.items()}
    assert abs(share["arbitrary"] - (1 - labels.SEMANTIC_SHARE)) < 0.04
    # a one-category list with swapped labels still reads as swapped; as semantic otherwise
    assert 0.5 * labels.SEMANTIC_SHARE * labels.SWAPPED_SHARE < share["swapped"]
    assert share["swapped"] < labels.SEMANTIC_SHARE * labels.SWAPPED_SHARE + 0.03
    words = {w for doc in labels.documents(500) for w in doc}
    assert not words & set(labels.INSTRUCTION_WORDS)  # pre-training never shows instructions


def test_flipped_prompts_differ_only_in_their_labels():
    plain = label_family.prompts(0.0, n=20)
    for share in (0.25, 0.5, 1.0):
        for a, b in zip(plain, label_family.prompts(share, n=20), strict=True):
            assert a.words[0::4] == b.words[0::4] and (a.answer, a.other) == (b.answer, b.other)
            flipped = sum(x != y for x, y in zip(a.words[2::4], b.words[2::4], strict=True))
            assert flipped == round(share * label_family.K)
    for p in plain:
        pairs = triples(p.words[:-2])
        assert all(THING[t] == label for t, label in pairs)  # unflipped: the names
        assert p.answer == THING[p.words[-2]] and p.words[-1] == ":"
        assert sorted(set(label for _, label in pairs)) == sorted([p.answer, p.other])
    for p in label_family.prompts(arbitrary=True, n=20):
        mapping = dict((THING[t], label) for t, label in triples(p.words[:-2]))
        assert p.answer == mapping[THING[p.words[-2]]] and p.answer in labels.ARBITRARY


def test_bad_prompt_arguments_are_refused():
    rng = random.Random(0)
    with pytest.raises(ValueError, match="even"):
        labels.labelled_prompt(rng, k=3)
    with pytest.raises(ValueError, match="share"):
        labels.labelled_prompt(rng, flipped=1.5)


def test_label_accuracy_reads_the_two_labels_at_the_last_position():
    torch.manual_seed(0)
    model = GPT(label_family.config("1x16")).eval()
    batch = label_family.prompts(n=40)
    acc = label_family.label_accuracy(model, batch)
    swapped = [labels.LabelledPrompt(p.words, p.other, p.answer) for p in batch]
    assert acc + label_family.label_accuracy(model, swapped) == pytest.approx(1.0)
    assert label_family.config("2x64").n_layer == 2 and label_family.config("1x16").n_head == 2
