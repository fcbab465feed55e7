"""The synthetic web (labgpt.worlds.web) and zero-shot prompting of its GPTs (labgpt.web_family)."""

import random
import re
from collections import Counter

import pytest
import torch

from labgpt import web_family
from labgpt.fine_tuning import Specials
from labgpt.gpt import GPT
from labgpt.logprobs import token_logprobs
from labgpt.worlds import web


@pytest.fixture(scope="module")
def docs():
    return web.web_documents(3000, seed=0), web.web_documents(3000, seed=0, with_tasks=False)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return GPT(web_family.config(16)).eval()


def test_the_web_is_deterministic_and_every_word_is_known(docs):
    assert web.web_documents(50, seed=0) == docs[0][:50]
    assert web.web_documents(50, seed=1) != docs[0][:50]
    ids = web.encode(docs[0][:200])  # raises on an unknown word
    assert (ids == web.tokenizer().encode([web.END])[0]).sum() == 200


def test_the_ablation_drops_every_task_sentence_and_keeps_the_amount_of_text(docs):
    with_tasks, without = docs
    assert len(with_tasks) == len(without)
    n_with, n_without = len(web.encode(with_tasks)), len(web.encode(without))
    assert abs(n_with - n_without) / n_with < 0.02
    text = " ".join(without)
    assert not set(web.FRENCH.values()) & set(text.split())  # no French without translations
    assert not any(web.tasks_in(d) for d in without)
    counts = Counter(t for d in with_tasks for t in web.tasks_in(d))
    share = web.TASK_SHARE * web.CARRY + web.LIST_SHARE  # of documents carrying some task
    expected = len(with_tasks) * share / len(web.TASKS)
    assert set(counts) == set(web.TASKS) and all(abs(c / expected - 1) < 0.2
                                                 for c in counts.values())


def test_held_out_phrasings_never_occur_in_the_web(docs):
    text = " ".join(docs[0])
    for task in web.TASKS.values():
        assert task.held_out not in task.phrasings
        for phrasing in task.phrasings + (task.held_out,):  # x: any word
            before = re.escape(phrasing.split("{y}")[0].strip()).replace(r"\{x\}", r"\S+")
            assert bool(re.search(before, text)) == (phrasing != task.held_out), phrasing


def test_examples_are_reproducible_and_well_formed():
    for name, task in web.TASKS.items():
        a, b = web_family.examples(name, 20), web_family.examples(name, 20)
        assert a == b
        for ex in a:
            assert ex.context[-1] != ex.answer[0]
            web.tokenizer().encode(ex.context + ex.answer)
            if task.scoring == "choice":
                assert ex.candidates[ex.label] == ex.answer
                assert len(ex.candidates) == round(1 / task.chance)
    ex = web_family.examples("qa", 1)[0]
    assert ex.body and ex.context[:len(ex.body)] == ex.body and ex.x[0] in ex.body


def test_choice_scores_are_summed_answer_logprobs(tiny):
    prompt, candidates = [3, 7, 1, 9], [[5], [2, 9], [4, 4, 11]]
    got = web_family.choice_scores(tiny, prompt, candidates)
    for score, c in zip(got, candidates, strict=True):
        seq = torch.tensor([prompt + c])
        logits, _ = tiny(seq)
        expected = token_logprobs(logits[0, :-1], seq[0, 1:])[len(prompt) - 1:].sum()
        assert torch.isclose(score, expected, atol=1e-5)


def test_accuracies_count_hits(tiny):
    exs = web_family.examples("translate", 30)
    prompts = [web_family.natural_prompt(ex) for ex in exs]
    acc = web_family.choice_accuracy(tiny, exs, prompts)
    assert 0 <= acc <= 0.25  # an untrained model is near chance (1/40)
    rev = web_family.examples("reverse", 10)
    assert web_family.generation_accuracy(tiny, rev, [web_family.natural_prompt(e)
                                                      for e in rev]) == 0.0

    class Oracle(torch.nn.Module):  # answers every reverse question right, through generate
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))  # generate reads its device

        def step(self, ids, state=None, mask=None):
            state = ids if state is None else torch.cat([state, ids], 1)
            logits = torch.full((len(ids), tiny.config.vocab_size), -1e9)
            for row, seq in enumerate(state.tolist()):
                words = web.tokenizer().decode(seq)
                digits = words[words.index("numbers") + 1:words.index(".")]
                done = len(words) - words.index(":") - 1
                logits[row, web.tokenizer().encode([digits[::-1][done % 3]])[0]] = 0
            return logits, state

    assert web_family.generation_accuracy(Oracle(), rev, [web_family.natural_prompt(e)
                                                          for e in rev]) == 1.0


def test_delimiter_prompts_hold_no_words_of_the_question(tiny):
    sp = Specials(start=200, delim=201, extract=202)
    ex = web_family.examples("qa", 1)[0]
    ids = web_family.delimiter_prompt(ex, sp)
    tok = web.tokenizer()
    assert ids == [200, *tok.encode(ex.body), *tok.encode(ex.x), 201]
    vocab = tiny.config.vocab_size
    web_family.zero_shot(tiny, "translate", n=5, delimiters=True)
    assert tiny.config.vocab_size == vocab and tiny.wte.num_embeddings == vocab  # a copy grew


def test_the_family_record_loads_by_member():
    models, result = web_family.load("w16")
    assert list(models) == ["w16"] and not models["w16"].training
    assert set(result["models"]) == {m for m, _, _ in web_family.members()}
    with pytest.raises(KeyError, match="no member"):
        web_family.load("w999")


def test_a_task_example_in_a_web_phrasing():
    ex = web.TASKS["translate"].example(random.Random(0), "the french word for {x} is {y} .")
    assert ex.context == ["the", "french", "word", "for", *ex.x, "is"]
    assert web.FRENCH[ex.x[0]] == ex.answer[0]


def test_few_shot_prompts_hold_k_solved_examples_then_the_question():
    tok = web.tokenizer()
    exs = web_family.examples("translate", 3, phrasing="what is {x} in french ? {y}")
    zero = web_family.few_shot_prompts("translate", exs, 0, "what is {x} in french ? {y}")
    assert zero == [web_family.natural_prompt(ex) for ex in exs]
    two = web_family.few_shot_prompts("translate", exs, 2, "what is {x} in french ? {y}",
                                      description="say it in french :")
    words = tok.decode(two[0])
    assert words[:5] == ["say", "it", "in", "french", ":"] and words[-6:] == exs[0].context
    demos = words[5:-6]
    assert len(demos) == 16 and demos[7] == "." and demos[-1] == "."  # 2 x 8 words
    assert demos[6] == web.FRENCH[demos[2]]  # a solved example: the right answer
    assert web_family.few_shot_prompts("translate", exs, 2, "what is {x} in french ? {y}") \
        != two  # the description is in front
    long = web_family.few_shot_prompts("summary", web_family.examples("summary", 2), 8)
    assert all(len(p) < web_family.BLOCK_SIZE for p in long)  # demonstrations dropped to fit
    with pytest.raises(ValueError, match="k must be"):
        web_family.few_shot_prompts("translate", exs, -1)


def test_answer_logprob_is_the_mean_over_answer_tokens(tiny):
    exs = web_family.examples("reverse", 4)
    prompts = [web_family.natural_prompt(e) for e in exs]
    got = web_family.answer_logprob(tiny, exs, prompts)
    tok = web.tokenizer()
    total = 0.0
    for ex, p in zip(exs, prompts, strict=True):
        seq = torch.tensor([p + tok.encode(ex.answer)])
        logits, _ = tiny(seq)
        total += token_logprobs(logits[0, :-1], seq[0, 1:])[len(p) - 1:].sum().item()
    assert got == pytest.approx(total / 12, abs=1e-5)  # 4 answers of 3 digits
